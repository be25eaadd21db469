"""Fine geometric detail: a UV displacement map along the normal (to be completed)."""
from __future__ import annotations


def refine_detail(image, rec, topo, cfg, progress=None):
    """Estimate the displacement detail of ``rec``; see the detail stage's docs."""
    raise NotImplementedError("the detail stage is not built yet")


def write_detail(folder, rec) -> None:
    """Write displacement.png, normal.png and mesh_detail.obj/.glb into ``folder``."""
    raise NotImplementedError("the detail stage is not built yet")
