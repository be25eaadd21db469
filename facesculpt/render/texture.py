"""Texture lookup with the UV conventions of ``facesculpt.core.conventions``."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ShapeError

FILTERS = ("bilinear", "nearest", "bicubic")


def uv_to_grid(uv: torch.Tensor) -> torch.Tensor:
    """UV (..., 2) -> ``grid_sample`` coordinates (align_corners=False).

    u right, v up, row 0 of the texture at v = 1: texel (i, j) of an Ht x Wt texture has
    its centre at uv = ((j + 0.5)/Wt, 1 - (i + 0.5)/Ht), i.e. grid = (2u - 1, 1 - 2v).
    """
    u, v = uv.unbind(-1)
    return torch.stack([2.0 * u - 1.0, 1.0 - 2.0 * v], dim=-1)


def texture(tex: torch.Tensor, uv: torch.Tensor, *, filter: str = "bilinear") -> torch.Tensor:
    """Sample a texture at per-pixel UVs.

    tex: (B, Ht, Wt, C) float, channels last, row 0 at v = 1 (B may be 1 to share it).
    uv:  (B, H, W, 2) float — u right, v up, in [0, 1]; outside is clamped to the border.
    filter: "bilinear" (default), "nearest" or "bicubic".

    Returns (B, H, W, C). Differentiable w.r.t. ``tex`` and ``uv``. Background pixels
    (uv = 0 from ``interpolate``) sample the bottom-left texel: mask them afterwards.
    """
    check_shape("tex", tex, ("B", "Ht", "Wt", "C"))
    check_shape("uv", uv, ("B", "H", "W", 2))
    check_float("tex", tex)
    check_float("uv", uv)
    if filter not in FILTERS:
        raise ValueError(f"texture: unknown filter {filter!r}; expected one of {FILTERS}")
    B = uv.shape[0]
    if tex.shape[0] not in (1, B):
        raise ShapeError(f"tex: expected batch 1 or {B} (from uv {tuple(uv.shape)}), got {tuple(tex.shape)}")
    img = tex.permute(0, 3, 1, 2)
    if img.shape[0] != B:
        img = img.expand(B, -1, -1, -1)
    grid = uv_to_grid(uv).to(img.dtype)
    out = F.grid_sample(img, grid, mode=filter, padding_mode="border", align_corners=False)
    return out.permute(0, 2, 3, 1)
