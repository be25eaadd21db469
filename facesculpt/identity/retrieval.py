"""Retrieval with identity embeddings: recall at K, and the embeddings of photos and renders.

A typical use: queries are the photos' embeddings, the gallery the embeddings of the
reconstructions' renders (or the other way round); R@K is the fraction of queries whose K
nearest gallery entries (Euclidean) include one of the same person.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np
import torch

from facesculpt.core.errors import ShapeError


def _as_matrix(name: str, x) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x), dtype=torch.float64)
    if t.dim() != 2:
        raise ShapeError(f"{name}: expected (N, D), got {tuple(t.shape)}")
    return t


def recall_at_k(query_emb, gallery_emb, query_ids: Sequence, gallery_ids: Sequence,
                ks: Iterable[int] = (1, 5)) -> dict:
    """Recall at K of nearest-neighbour retrieval.

    query_emb: (N, D); gallery_emb: (M, D) (tensors or arrays); query_ids: N labels;
    gallery_ids: M labels. Returns {"R@k": fraction of queries with a same-label gallery
    entry among their k nearest (k is capped at M), ..., "queries": N}. Ties in distance
    are broken by gallery order. Queries whose label is absent from the gallery count as
    misses (they cannot be retrieved).
    """
    q, g = _as_matrix("query_emb", query_emb), _as_matrix("gallery_emb", gallery_emb)
    if q.shape[1] != g.shape[1]:
        raise ShapeError(f"query_emb and gallery_emb: dimensions differ, {q.shape[1]} vs {g.shape[1]}")
    if len(query_ids) != q.shape[0] or len(gallery_ids) != g.shape[0]:
        raise ShapeError(f"ids: expected {q.shape[0]} query and {g.shape[0]} gallery labels, "
                         f"got {len(query_ids)} and {len(gallery_ids)}")
    if g.shape[0] == 0:
        raise ShapeError("gallery_emb: the gallery is empty")
    ks = [int(k) for k in ks]
    if any(k < 1 for k in ks):
        raise ShapeError(f"ks: expected positive integers, got {ks}")
    d = torch.cdist(q, g)                                                     # (N, M)
    order = torch.sort(d, dim=1, stable=True).indices
    gid = list(gallery_ids)
    hits = torch.tensor([[gid[j] == query_ids[i] for j in order[i].tolist()] for i in range(q.shape[0])],
                        dtype=torch.bool).reshape(q.shape[0], g.shape[0])
    out: dict = {}
    for k in ks:
        kk = min(k, g.shape[0])
        out[f"R@{k}"] = float(hits[:, :kk].any(dim=1).float().mean()) if q.shape[0] else 0.0
    out["queries"] = int(q.shape[0])
    return out


def photo_embeddings(images: Sequence[np.ndarray], landmarks=None) -> np.ndarray:
    """(N, 128) embeddings of the largest face of each photo ((H, W, 3) uint8).

    ``landmarks``: optional list of ``Landmarks`` (one per photo, e.g. ``rec.landmarks``);
    when missing the faces are detected.
    """
    from facesculpt.detect import detect_faces
    from facesculpt.metrics.identity import photo_embedding
    from facesculpt.topology import load_topology

    topo = load_topology()
    out = []
    for i, img in enumerate(images):
        lmk = landmarks[i] if landmarks is not None else detect_faces(img, max_faces=1, name=f"image {i}")[0]
        out.append(photo_embedding(img, lmk.points[topo.lmk68, :2]).numpy())
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 128), np.float32)


def render_embeddings(recs: Sequence, topo, yaw_deg: float = 0.0) -> np.ndarray:
    """(N, 128) embeddings of the reconstructions rendered over grey at ``yaw_deg``
    (see ``facesculpt.metrics.identity.render_embedding``)."""
    from facesculpt.metrics.identity import render_embedding

    out = [render_embedding(r, topo, yaw_deg).numpy() for r in recs]
    return np.stack(out).astype(np.float32) if out else np.zeros((0, 128), np.float32)


__all__ = ["recall_at_k", "photo_embeddings", "render_embeddings"]
