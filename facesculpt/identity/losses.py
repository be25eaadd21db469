"""Identity and content losses over face-recognition features (GANFIT, eqs. 8-10).

Pure functions over tensors; the features come from ``DlibResNet.forward_features``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ShapeError


def _check_pair(emb_a: torch.Tensor, emb_b: torch.Tensor) -> None:
    check_shape("emb_a", emb_a, ("B", "D"))
    check_shape("emb_b", emb_b, ("B", "D"))
    check_float("emb_a", emb_a)
    check_float("emb_b", emb_b)
    if emb_a.shape != emb_b.shape:
        raise ShapeError(f"emb_a and emb_b: shapes differ, {tuple(emb_a.shape)} vs {tuple(emb_b.shape)}")


def identity_loss(emb_a: torch.Tensor, emb_b: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """1 - cos(emb_a, emb_b) per pair. emb_a, emb_b: (B, D) -> (B,), in [0, 2]."""
    _check_pair(emb_a, emb_b)
    return 1.0 - F.cosine_similarity(emb_a, emb_b, dim=1, eps=eps)


def identity_distance(emb_a: torch.Tensor, emb_b: torch.Tensor) -> torch.Tensor:
    """Euclidean distance per pair, dlib's metric. (B, D), (B, D) -> (B,).

    dlib calls two faces the same person below 0.6 (``SAME_PERSON_THRESHOLD``).
    """
    _check_pair(emb_a, emb_b)
    return torch.linalg.vector_norm(emb_a - emb_b, dim=1)


def content_loss(feats_a: Sequence[torch.Tensor], feats_b: Sequence[torch.Tensor],
                 layers: Sequence[int] | None = None) -> torch.Tensor:
    """Size-normalised feature distance, averaged over layers.

    feats_a, feats_b: lists of (B, C_l, H_l, W_l) activations (as ``forward_features``
    returns them); ``layers`` picks indices (default: all). Returns (B,):
    mean over the chosen layers of ``||a_l - b_l||^2 / (C_l * H_l * W_l)``.
    """
    if len(feats_a) != len(feats_b):
        raise ShapeError(f"feats_a and feats_b: {len(feats_a)} vs {len(feats_b)} layers")
    idx = list(range(len(feats_a))) if layers is None else list(layers)
    if not idx:
        raise ShapeError("content_loss: no layers chosen")
    terms = []
    for i in idx:
        if not -len(feats_a) <= i < len(feats_a):
            raise ShapeError(f"content_loss: layer index {i} out of range for {len(feats_a)} layers")
        a, b = feats_a[i], feats_b[i]
        check_shape(f"feats_a[{i}]", a, ("B", "C", "H", "W"))
        if a.shape != b.shape:
            raise ShapeError(f"feats[{i}]: shapes differ, {tuple(a.shape)} vs {tuple(b.shape)}")
        terms.append((a - b).pow(2).flatten(1).mean(dim=1))
    return torch.stack(terms, dim=0).mean(dim=0)
