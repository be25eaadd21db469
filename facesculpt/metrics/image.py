"""L1, PSNR and SSIM over a masked region, images (B, H, W, C) float in [0, 1]."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_shape


def _mask(a: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    check_shape("image", a, ("B", "H", "W", "C"))
    if mask is None:
        return torch.ones(a.shape[:3], dtype=torch.bool)
    return mask.bool()


def l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean absolute difference over the masked pixels and channels (0-1 scale)."""
    m = _mask(a, mask)
    return float((a - b).abs()[m].mean())


def psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 1.0) over the masked pixels."""
    m = _mask(a, mask)
    mse = float((a - b).pow(2)[m].mean())
    return float("inf") if mse == 0 else 10.0 * math.log10(1.0 / mse)


def _gauss(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """Normalised 1D Gaussian window (size,)."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Per-pixel SSIM (Wang et al. 2004: 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03),
    averaged over channels. (B, H, W, C) -> (B, H, W). Borders are reflect-padded."""
    C = a.shape[-1]
    x = a.permute(0, 3, 1, 2).float()
    y = b.permute(0, 3, 1, 2).float()
    g = _gauss().float()
    pad = g.numel() // 2
    # the five moments blurred at once with a separable window
    stack = torch.cat([x, y, x * x, y * y, x * y], dim=1)
    n = stack.shape[1]
    gx = g.view(1, 1, 1, -1).repeat(n, 1, 1, 1)
    gy = g.view(1, 1, -1, 1).repeat(n, 1, 1, 1)
    blurred = F.conv2d(F.conv2d(F.pad(stack, (pad,) * 4, mode="reflect"), gx, groups=n), gy, groups=n)
    mx, my, xx, yy, xy = blurred.split(C, dim=1)
    sxx = xx - mx * mx
    syy = yy - my * my
    sxy = xy - mx * my
    c1, c2 = 0.01**2, 0.03**2
    s = ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2))
    return s.mean(1).float()


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None) -> float:
    """Mean SSIM over the masked pixels."""
    m = _mask(a, mask)
    return float(ssim_map(a, b)[m].mean())
