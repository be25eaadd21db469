"""Per-pixel interpolation of vertex attributes with the rasteriser's barycentrics."""
from __future__ import annotations

import torch

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ShapeError
from facesculpt.render.rasterize import Fragments, covered_pixels


def weighted_corners(corner: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """sum_k w[:, k] * corner[:, k]: corner (K, 3, C), w (K, 3) -> (K, C). Written out, the bytes of
    ``(corner * w[..., None]).sum(1)`` at half its cost on the CPU (no (K, 3, C) product kept)."""
    return corner[:, 0] * w[:, 0:1] + corner[:, 1] * w[:, 1:2] + corner[:, 2] * w[:, 2:3]


def interpolate(attrs: torch.Tensor, frags: Fragments, faces: torch.Tensor) -> torch.Tensor:
    """Interpolate vertex attributes over the visible surface.

    attrs: (B, V, C) or (V, C) float — per-vertex attributes (shared by the batch if 2-D).
    frags: Fragments of an image (B, H, W).
    faces: (F, 3) long — the faces that were rasterised.

    Returns (B, H, W, C): sum_k bary[..., k] * attrs[faces[pix_to_face, k]], perspective
    correct, zeros on background pixels. Differentiable w.r.t. ``attrs`` and, through
    ``frags.bary``, w.r.t. the screen vertices.
    """
    check_shape("frags.pix_to_face", frags.pix_to_face, ("B", "H", "W"))
    B, H, W = frags.pix_to_face.shape
    check_shape("frags.bary", frags.bary, (B, H, W, 3))
    check_shape("faces", faces, ("F", 3))
    if attrs.dim() == 2:
        attrs = attrs.unsqueeze(0)
    if attrs.dim() != 3 or attrs.shape[0] not in (1, B):
        raise ShapeError(f"attrs: expected shape ({B}, V, C) or (V, C), got {tuple(attrs.shape)}")
    check_float("attrs", attrs)
    V, C = attrs.shape[1], attrs.shape[2]
    if faces.numel() and int(faces.max()) >= V:
        raise ShapeError(f"attrs: expected at least {int(faces.max()) + 1} vertex rows (faces index "
                         f"vertex {int(faces.max())}), got V={V} (shape {tuple(attrs.shape)})")
    faces = faces.long().to(attrs.device)
    idx, b, _, _, f = covered_pixels(frags.pix_to_face)
    bsel = b if attrs.shape[0] == B else torch.zeros_like(b)
    vid = (bsel[:, None] * V + faces[f]).reshape(-1)
    corner = attrs.reshape(-1, C).index_select(0, vid).reshape(-1, 3, C)  # (K, 3, C)
    w = frags.bary.reshape(-1, 3).index_select(0, idx).to(attrs.dtype)  # (K, 3)
    vals = weighted_corners(corner, w)
    out = torch.zeros(B * H * W, C, dtype=vals.dtype, device=attrs.device).index_copy(0, idx, vals)
    return out.reshape(B, H, W, C)
