"""Per-pixel shading helpers: SH Lambertian shading and compositing over a background."""
from __future__ import annotations

import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_shape
from facesculpt.core.errors import ShapeError
from facesculpt.ops.sh import sh_shade


def lambertian_sh(albedo: torch.Tensor, normals: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Lambertian colour ``albedo * sh_shade(normalize(normals), coeffs)``.

    albedo:  (B, H, W, 3) float.
    normals: (B, H, W, 3) float — interpolated normals (normalised here), in the frame
             the SH coefficients are expressed in (see ``SHLighting``).
    coeffs:  (B, 9, 3) float — SH lighting (``facesculpt.ops.sh``).

    Returns (B, H, W, 3). Zero normals (background) get the ambient term only.
    """
    check_shape("albedo", albedo, ("B", "H", "W", 3))
    check_shape("normals", normals, albedo.shape)
    check_shape("coeffs", coeffs, (albedo.shape[0], 9, 3))
    n = F.normalize(normals, dim=-1, eps=1e-12)
    return albedo * sh_shade(n, coeffs.to(n.dtype))


def composite(fg: torch.Tensor, mask: torch.Tensor, bg) -> torch.Tensor:
    """``fg * mask + bg * (1 - mask)``.

    fg:   (B, H, W, C) float.
    mask: (B, H, W) bool or float in [0, 1].
    bg:   a number, a (C,) colour, or a (B, H, W, C) image.
    """
    check_shape("fg", fg, ("B", "H", "W", "C"))
    check_shape("mask", mask, fg.shape[:3])
    if not isinstance(bg, torch.Tensor):
        bg = torch.tensor(bg, dtype=fg.dtype, device=fg.device)
    bg = bg.to(fg.dtype)
    if bg.dim() not in (0, 1, 4) or (bg.dim() == 1 and bg.shape[0] != fg.shape[3]) or (
            bg.dim() == 4 and bg.shape != fg.shape):
        raise ShapeError(f"bg: expected a scalar, ({fg.shape[3]},) or {tuple(fg.shape)}, got {tuple(bg.shape)}")
    m = mask.to(fg.dtype)[..., None]
    return fg * m + bg * (1.0 - m)
