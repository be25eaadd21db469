"""Fitting the identity refiner (``facesculpt train identity-refiner``; ``models.identity_refiner``).

Data: a rendered-landmarks file made with ``--embed`` (``training.rendered``): per rendered head mediapipe's 478
detected points, the photo's face-recognition embedding and the recogniser's last feature map (of the photo and the
mirrored photo), and the true parameters. The regressor (the packaged one,
or ``regressor_weights``) runs on the points; the refiner is the ridge map from (embedding, regressed identity) to
the true identity, fitted on all but the file's last ``val`` heads and measured on those. Use a file whose heads
the regressor was not trained on (another ``--seed`` than its own set's): on its own training heads the regressor
is better than on new ones, and the map would learn to trust it too much.

Validation (the regressor's own metric, ``training.regressor.validation_error_mm``): the mean narrow-face vertex
error (mm) of the head with the refined identity and the regressed expression against the truth, model frame, no
alignment; and the same after a similarity alignment (the synthetic benchmark's). Deterministic: no random draw.
"""
from __future__ import annotations

from pathlib import Path

import torch


@torch.no_grad()
def _errors_mm(model, identity: torch.Tensor, expression: torch.Tensor, truth_identity: torch.Tensor,
               truth_expression: torch.Tensor) -> tuple[float, float]:
    """(unaligned, similarity-aligned) mean narrow-face vertex error in mm."""
    from facesculpt.models.regressor import batch_procrustes
    from facesculpt.training.regressor import _eval_vertices, _Geometry

    geo = _Geometry(model, _eval_vertices(model)[1], False)
    a = geo(identity.float(), expression.float()).double()
    b = geo(truth_identity.float(), truth_expression.float()).double()
    s, R, t = batch_procrustes(a, b)
    aligned = s[:, None, None] * a @ R.transpose(1, 2) + t[:, None]
    return 10.0 * float((a - b).norm(dim=-1).mean()), 10.0 * float((aligned - b).norm(dim=-1).mean())


def train_identity_refiner(rendered: str, out, ridge: float = 1000.0, val: int = 500,
                           regressor_weights: str = "", features: str = "mean") -> dict:
    """Fit the refiner on ``rendered`` (see the module doc), write ``out/identity_refiner.pt`` atomically; returns
    its meta (settings, the file's digest, validation errors of the regressor alone and refined). ``features``:
    "mean" the mean of each photo's embedding and the mirrored photo's (what the pipeline feeds with
    ``regressor.identity_features_flip``; files made before session 21 have no mirrored embeddings: an error),
    "photo" the photo's embedding alone, "map" the mean of the two chips' last feature maps of the recogniser (1024
    numbers: the 256 channels on the 2 x 2 cells its embedding pools; files made before session 25 have none: an
    error; better on rendered heads, worse on the real scan: docs/results.md, session 25; not the packaged map)."""
    import os

    from facesculpt.face_model import load_face_model
    from facesculpt.models.identity_refiner import fit_identity_refiner, save_identity_refiner
    from facesculpt.models.regressor import get_regressor, regress
    from facesculpt.training.data import mean_frontal
    from facesculpt.training.rendered import load_rendered

    rs = load_rendered(rendered)
    if rs.embedding is None:
        raise ValueError(f"{rendered}: no embeddings in it (make it with 'facesculpt train render-landmarks --embed')")
    if features not in ("mean", "photo", "map"):
        raise ValueError(f"features: expected 'map', 'mean' or 'photo', got {features!r}")
    if features == "map" and (rs.feature_map is None or rs.feature_map_mirrored is None):
        raise ValueError(f"{rendered}: no feature maps in it (made before session 25: remake it with "
                         "'facesculpt train render-landmarks --embed', or use --features mean)")
    if features == "mean" and rs.embedding_mirrored is None:
        raise ValueError(f"{rendered}: no mirrored embeddings in it (made before session 21: remake it with "
                         "'facesculpt train render-landmarks --embed', or use --features photo)")
    n = len(rs.index)
    if not 0 < val < n - 1:
        raise ValueError(f"val: expected 1 to {n - 2} held-out heads of the file's {n}, got {val}")
    model = load_face_model()
    net, reg_meta = get_regressor(regressor_weights)
    ref = mean_frontal(model)
    ident, expr = [], []
    with torch.no_grad():
        for i in range(0, n, 256):
            o, _ = regress(net, rs.batch.points[i:i + 256], ref)
            ident.append(o.identity)
            expr.append(o.expression)
    ident, expr = torch.cat(ident), torch.cat(expr)
    emb = torch.from_numpy(rs.embedding)
    if features == "mean":
        emb = 0.5 * (emb + torch.from_numpy(rs.embedding_mirrored))
    elif features == "map":
        emb = 0.5 * (torch.from_numpy(rs.feature_map) + torch.from_numpy(rs.feature_map_mirrored))
    tr, va = slice(0, n - val), slice(n - val, n)
    b = rs.batch
    before = _errors_mm(model, ident[va], expr[va], b.identity[va], b.expression[va])
    meta = {"ridge": float(ridge), "train": n - val, "val": int(val), "rendered_sha": rs.meta["sha"],
            "rendered_seed": rs.meta["seed"], "features": features, "regressor": regressor_weights or "packaged",
            "regressor_val_error_mm": reg_meta.get("val_error_mm")}
    refiner = fit_identity_refiner(emb[tr], ident[tr], b.identity[tr], ridge, meta)
    after = _errors_mm(model, refiner(ident[va], emb[va]), expr[va], b.identity[va], b.expression[va])
    refiner.meta.update({"val_regressor_mm": before[0], "val_regressor_aligned_mm": before[1],
                         "val_error_mm": after[0], "val_aligned_mm": after[1]})
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / "identity_refiner.pt.tmp"
    save_identity_refiner(tmp, refiner)
    os.replace(tmp, out / "identity_refiner.pt")
    return refiner.meta


__all__ = ["train_identity_refiner"]
