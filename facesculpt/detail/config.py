"""Settings of the displacement detail stage."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DetailConfig:
    """Fine geometric detail by a displacement map along the normal (shape from shading in UV space)."""

    enabled: bool = False
    """Run the detail stage (the ``full`` preset turns it on)."""
    size: int = 512
    """Side of the UV displacement map, in texels."""
    coarse_size: int = 0
    """Side of a first, coarser solve whose result starts the solve at ``size`` (0: solve at ``size``
    only, the default since 2026-12-02: the 256 -> 512 schedule left the pore-scale detail, which only
    the 512 map carries, with 10 steps; see docs/detail.md)."""
    iterations: int = 60
    """Adam steps of the first solve (the only one when ``coarse_size`` is 0)."""
    fine_iterations: int = 10
    """Adam steps of the solve at ``size`` after a coarser one."""
    lr_displacement: float = 0.004
    """Adam step of the displacement, cm."""
    lr_albedo: float = 0.02
    """Adam step of the refined log-albedo."""
    w_laplacian: float = 0.5
    """Laplacian smoothness of the displacement (cm, per texel of the 512 map; L2R's smoothness of the detail).
    Tuned on synthetic seeds 100-102 (0.02 let the map absorb albedo texture)."""
    w_low: float = 10.0
    """Pull of the displacement's local mean (over ``low_cells`` texels) to zero, so detail cannot absorb coarse shape."""
    low_cells: int = 32
    """Side, in texels of the 512 map, of the blocks whose mean displacement is pulled to zero."""
    w_albedo_smooth: float = 5.0
    """Yang et al.'s edge-aware albedo smoothness: sum of w_ij |A_i - A_j|^2 over neighbouring texels."""
    alpha: float = 80.0
    """Yang et al.'s alpha: w_ij = exp(-alpha |A0_i - A0_j|) from the coarse albedo A0."""
    albedo_weights: str = "chroma"
    """What the albedo smoothness's edge weights are computed from: "albedo" (Yang et al.: the
    coarse albedo A0, w = exp(-alpha |A0_i - A0_j|)) or "chroma" (A0's chromaticity rgb / (r + g + b),
    w = exp(-chroma_alpha |c_i - c_j|), times the ``edge_log_step`` threshold on log A0's steps when
    that is on). A0 is the photo divided by the coarse shading, so the detail's own shading is baked
    into it; under the white-balanced light that shading is grey and leaves the chromaticity alone."""
    chroma_alpha: float = 150.0
    """With ``albedo_weights = "chroma"``: sharpness of the weights, per unit of chromaticity difference."""
    albedo_blur: int = 3
    """Side (texels of the 512 map) of the box filter that smooths the coarse albedo to start the refined albedo."""
    pyramid_levels: int = 1
    """Levels of the Laplacian pyramid (sides S, S/2, ...) that parametrises the displacement's correction
    in each solve; 1 = one value per texel."""
    pyramid_skip: int = 0
    """Finest pyramid levels left out (the correction is then smooth at their scale)."""
    w_edge: float = 30.0
    """Penalty on the displacement's gradient across the coarse albedo's colour edges (lip
    outlines, brows, moles), weighted by 1 - exp(-edge_alpha |c_i - c_j|) with c the albedo's
    chromaticity (rgb / (r + g + b)) and grown over the albedo box filter's reach: there a
    change of shading is taken as albedo, not as relief. Chromaticity, because the
    white-balanced light's shading (real creases baked into the coarse albedo included) is grey."""
    edge_alpha: float = 20.0
    """Sharpness of that edge map (per unit of chromaticity difference)."""
    edge_log_step: float = 0.1
    """With > 0, the edge map also marks steps of the coarse albedo's log (norm over RGB, per texel of
    the 512 map) well above this: 1 - exp(-(step / edge_log_step)^4), a soft threshold. Brows and
    moles change the albedo by tens of per cent from one texel to the next, a crease's or a pore's
    shading by a few."""
    saturation: float = 1.0
    """Texel channels of the unwrapped photo at or above this value are taken as clipped: they say
    only that the true colour is at least that bright, so the data term there is one-sided
    (max(T - pred, 0)^2); >= 1 would count only exact 1.0, > 1 turns it off."""
    data_blur: float = 0.5
    """Gaussian sigma (texels of the 512 map) applied to the predicted texture before the data term
    compares it with the unwrapped photo, whose texels were sampled (bilinearly) from pixels about a
    texel wide; 0 turns it off."""
    w_symmetry: float = 1.0
    """Left/right symmetry of the displacement (u -> 1 - u) where both sides were seen."""
    symmetry_scale: int = 17
    """Side (texels of the 512 map) of the box filter applied to the displacement before the
    symmetry term compares it with its mirror image; 0 or 1 compares texel by texel. Wrinkles and
    folds are roughly mirrored, pores and moles are not."""
    w_unseen: float = 1.0
    """Pull of the displacement to zero where the texel was not seen (weight 1 - visibility)."""
    max_displacement: float = 0.4
    """The displacement is clamped to +- this many cm."""
    mesh_levels: int = 1
    """Extra Loop subdivisions of the dense mesh that carry the displacement in ``mesh_detail.*``."""
