"""Settings of the displacement detail stage."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetailConfig:
    """Fine geometric detail by a displacement map along the normal."""

    enabled: bool = False
    """Run the detail stage (the ``full`` preset turns it on)."""
    size: int = 512
    """Side of the UV displacement map, in texels."""
