"""``VisibilityConfig``: the settings of ``render.visibility``, in a module of their own so that
``facesculpt.config`` can name them without importing numba (``render.visibility`` compiles kernels)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VisibilityConfig:
    """Self-visibility (ambient occlusion and cast shadows) of the fitted head (``texture.visibility``)."""

    enabled: bool = False
    """Shade with the fitted head's visibility in the photometric fit and de-light the texture
    with it, so ambient occlusion (eye sockets, nose sides, under the nose and chin) and cast
    shadows (a side light's nose shadow) stay out of the albedo. Off by default: such an albedo is
    right for a renderer that computes its own occlusion (Blender Cycles), but looks too bright in the
    creases in one that does not (three.js, the report's viewer, most real-time engines); on the
    bundled photos it raised the identity distance of the +-30 deg renders (docs/results.md, "Speed
    and defaults, session 3"); +0.3 dB relit PSNR on the relight benchmark's shadowed photos."""
    directions: int = 64
    """Number of ray directions (a Fibonacci sphere; half face away from any point)."""
    resolution: int = 192
    """Side of each direction's shadow map, pixels (over the mesh's bounding sphere)."""
    bias_px: float = 1.5
    """Depth bias against self-shadowing, in shadow-map pixels (scaled up at grazing angles)."""


__all__ = ["VisibilityConfig"]
