"""Shape checks at API boundaries: raise ShapeError that says expected vs actual."""
from __future__ import annotations

from typing import Sequence

import torch

from facesculpt.core.errors import ShapeError


def check_shape(name: str, t: torch.Tensor, shape: Sequence[int | None | str]) -> None:
    """Check ``t.shape`` against ``shape``; ``None`` or a string matches any size.

    Example: ``check_shape("verts", verts, ("B", "V", 3))``.
    """
    if not isinstance(t, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dim() != len(shape):
        raise ShapeError(f"{name}: expected {len(shape)} dims {tuple(shape)}, got shape {tuple(t.shape)}")
    for want, got in zip(shape, t.shape):
        if isinstance(want, int) and want != got:
            raise ShapeError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")


def check_float(name: str, t: torch.Tensor) -> None:
    if not t.is_floating_point():
        raise ShapeError(f"{name}: expected a floating-point tensor, got {t.dtype}")
