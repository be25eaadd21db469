"""sRGB <-> linear light (IEC 61966-2-1 transfer function).

The photo is sRGB-encoded; shading multiplies reflectance by irradiance only in linear light. The
head pipeline decodes the photo crops before the fit and the unwrap, keeps albedo, texture and
light linear (``UVMaps.linear``), and encodes again wherever a map becomes a file or is compared
with the photo (``to_display``).
"""
from __future__ import annotations

import torch


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values in [0, 1] (any shape) -> linear light (same shape)."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    """Linear light (any shape; clamped to [0, 1]) -> sRGB-encoded values in [0, 1]."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, x * 12.92, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def to_display(x: torch.Tensor, linear: bool) -> torch.Tensor:
    """``x`` as sRGB for files and comparisons with the photo: encoded if ``linear``, else as is."""
    return linear_to_srgb(x) if linear else x


__all__ = ["srgb_to_linear", "linear_to_srgb", "to_display"]
