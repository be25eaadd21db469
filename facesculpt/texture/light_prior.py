"""A prior on the light's shape for the initial light fit (issue 12, session 7).

Over a face's cap of normals the SH terms 1 (ambient), z (band-1 frontal) and 3z^2 - 1 are nearly
collinear: the shading over the cap is matched about equally well by a light with a strong frontal
term and by a flatter one with more ambient. The seen skin's albedo variation (brows, lips, the
darker face border, ambient occlusion) then decides which, and differently for each light: on the
relight benchmark's side light the fitted band-1 z per unit ambient was 0.19 / 0.15 against a true
0.29 (docs/results.md, "Issue 12: clipped pixels (session 6)"). The band-1 ridge the fit used before
shrinks the frontal term towards zero, i.e. towards the ambient, which is that same bias.

The prior replaces the ridge. The light's shape ``u`` (its 8 band-1 and band-2 coefficients per unit
ambient) is Gaussian, ``u ~ N(m, S)``, learnt from a set of plausible lights (``light_shape_gaussian``):
a uniform ambient plus a round area light (a disc of angular radius 0 to ``max_radius_deg``: a point
light to a broad window) from a direction in the front hemisphere of the view frame (the light comes
from somewhere on the camera's side of the face), with the ambient's share of the total between
``min_ambient`` and ``max_ambient``. Each light's irradiance is projected onto the 9-term SH basis
numerically, so the mean and covariance carry the clamped cosine's band 2 and the coupling of the
terms (a light far to the side has a smaller frontal term: the covariance ties z to x and y, which
the cap does determine).

The fit (``fit_sh_shape_prior``) is then a linear MAP solve: with ``D c = c[1:] - m c0 AMBIENT_BASIS``
(zero for the mean shape at any scale) the objective is

    sum_i w_i (Y_i c - l_i)^2 + strength * sum_i w_i * (D c)^T S^-1 (D c)

— the data's squared residual and ``strength`` times the Mahalanobis distance of the shape per unit
weight (both scale with the light's level squared, so the balance does not depend on exposure) —
inside ``ops.sh.fit_sh_robust``'s robust reweighting (its ``penalty``).

Hand-written: a 9x9 Gaussian-prior least-squares solve; no installed library fits SH lights.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import torch

from facesculpt.ops.sh import AMBIENT_BASIS, fit_sh_robust, sh_basis


@dataclass(frozen=True)
class LightPriorConfig:
    """The initial light fit's options (``texture.light.initial_linear_light``): the light-shape prior
    (``texture.light_prior``), the channels and texels it fits, and a refit on the final head."""

    enabled: bool = False
    """Fit the initial light with the light-shape prior instead of the band-1 ridge (False: the ridge,
    as before session 7)."""
    strength: float = 3e-3
    """Weight of the prior's Mahalanobis distance per unit texel weight, against the data's squared
    residual per unit weight (in units of the light's level)."""
    min_ambient: float = 0.1
    """Smallest share of the ambient in a plausible light's total (ambient + area light)."""
    max_ambient: float = 0.9
    """Largest share of the ambient in a plausible light's total."""
    max_radius_deg: float = 60.0
    """Largest angular radius (degrees) of a plausible light's area light (0: a point light)."""
    floor: float = 0.05
    """Standard deviation added to every shape coefficient of the prior (lights outside the sampled
    family, e.g. several sources, stay possible)."""
    band2_ridge: float = 0.1
    """Band 2: shrunk towards zero by this ridge per unit weight, as ``ops.sh.fit_sh_robust`` does, and the
    prior on band 1 alone (its marginal); 0: the prior on bands 1 and 2 together (the clamped cosine's band
    2 tied to band 1)."""
    channels: tuple = (1.0, 1.0, 1.0)
    """Weights of the photo's red, green and blue in the luminance whose shading the light's shape is
    fitted to (with the prior on or off; (1, 1, 1): their mean, as before session 7). Skin's red
    reflectance varies least over a face: blood (cheeks, lips, blush) and melanin absorb green and blue,
    so (1, 0, 0) keeps that variation out of the light's shape."""
    outer: bool = False
    """Fit the light's shape on the face part's outer ring too (``face_model.REGION_OUTER``: towards the
    ears, the scalp line and the neck), not only the narrow face: more of the sphere of normals, where 1
    and z part (with the prior on or off; False: the narrow face, as before session 7)."""
    refit: bool = False
    """After the photometric stage, fit the light again the initial way (shape from the seen skin's
    shading, then the skin prior's split) on the final head and use it for the unwrap, instead of the
    photometric stage's light (False: the photometric stage's light, as before session 7). The
    photometric stage moves the light per channel with a free low-res albedo, differently for each
    photo of the same face (docs/results.md, session 7)."""
    refit_chroma_from_colour: bool = True
    """The refit's skin prior conditions the albedo's chromaticity on the seen chromaticity alone
    (``texture.skin_prior.SkinPriorConfig.chroma_from_colour``) whatever ``texture.skin`` says, so the
    photometric stage (and the fitted head) stay as they were and an exposure change scales the albedo
    by one factor."""
    samples: int = 3000
    """Plausible lights drawn to learn the Gaussian (fixed generator: the same prior every run)."""


def _sphere(n: int, g: torch.Generator) -> torch.Tensor:
    return torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)


@functools.lru_cache(maxsize=8)
def light_shape_gaussian(cfg: LightPriorConfig = LightPriorConfig()) -> tuple[torch.Tensor, torch.Tensor]:
    """(m (8,), S (8, 8)) float64: mean and covariance of plausible lights' SH shapes per unit ambient
    (``c[1:] / (c[0] AMBIENT_BASIS)``, in the order of ``ops.sh``), view frame (x right, y up, z to the
    camera); ``floor``^2 added to the diagonal. Computed on first call per config, cached."""
    g = torch.Generator().manual_seed(0)
    normals = _sphere(1500, g)
    Y = sh_basis(normals)
    pinv = torch.linalg.pinv(Y)  # least squares over uniform normals: the SH projection (order 2)
    K = 48  # directions sampled inside each area light
    n = cfg.samples
    d = _sphere(n, g)
    d = d * torch.sign(d[:, 2:3])  # front hemisphere (towards the camera)
    radius = torch.rand(n, generator=g, dtype=torch.float64) * math.radians(cfg.max_radius_deg)
    share = cfg.min_ambient + (cfg.max_ambient - cfg.min_ambient) * torch.rand(n, generator=g, dtype=torch.float64)
    # directions uniform (in solid angle) in a cap of angular radius ``radius`` around +z, then rotated to d
    cos_t = 1 - torch.rand(n, K, generator=g, dtype=torch.float64) * (1 - torch.cos(radius))[:, None]
    phi = 2 * math.pi * torch.rand(n, K, generator=g, dtype=torch.float64)
    sin_t = (1 - cos_t ** 2).clamp(min=0).sqrt()
    local = torch.stack([sin_t * torch.cos(phi), sin_t * torch.sin(phi), cos_t], -1)  # (n, K, 3)
    ref = torch.where(d[:, 2:3].abs() < 0.9, d.new_tensor([0.0, 0.0, 1.0]), d.new_tensor([1.0, 0.0, 0.0]))
    e1 = torch.nn.functional.normalize(torch.linalg.cross(ref.expand_as(d), d), dim=-1)
    e2 = torch.linalg.cross(d, e1)
    dirs = local[..., 0:1] * e1[:, None] + local[..., 1:2] * e2[:, None] + local[..., 2:3] * d[:, None]
    shapes = []
    for i0 in range(0, n, 100):  # irradiance (normals, lights) in chunks
        cos = (normals @ dirs[i0:i0 + 100].reshape(-1, 3).T).clamp(min=0).reshape(-1, dirs[i0:i0 + 100].shape[0], K)
        # a light of unit total: ambient ``share`` plus an area light of 1 - share, both as irradiance
        # of a surface facing them (the area light's irradiance on its own axis is about (1 - share))
        s = share[i0:i0 + 100]
        E = s[None] + (1 - s)[None] * cos.mean(-1)  # (normals, lights)
        c = pinv @ E  # (9, lights)
        shapes.append((c[1:] / (c[0:1] * AMBIENT_BASIS)).T)
    u = torch.cat(shapes)
    m = u.mean(0)
    S = torch.cov(u.T) + cfg.floor ** 2 * torch.eye(8, dtype=torch.float64)
    return m, S


def fit_sh_shape_prior(normals: torch.Tensor, lum: torch.Tensor, weights: torch.Tensor,
                       cfg: LightPriorConfig = LightPriorConfig(), strength: float | None = None,
                       iterations: int = 5, scale: float = 2.0) -> torch.Tensor:
    """(9,) SH coefficients of a one-channel shading ``lum`` (N,) of normals (N, 3) with texel weights
    (N,): the MAP fit under the light-shape prior (module docstring), robustly reweighted as
    ``ops.sh.fit_sh_robust`` (Cauchy weights on the relative residual, ``scale`` x its robust std).
    ``strength``: the prior's weight, ``cfg.strength`` when None."""
    m, S = light_shape_gaussian(cfg)
    lam = cfg.strength if strength is None else strength
    k = 8 if cfg.band2_ridge <= 0 else 3  # the whole shape, or band 1's marginal (band 2 ridged to zero)
    D = torch.cat([-(m[:k] * AMBIENT_BASIS)[:, None], torch.eye(8, dtype=torch.float64)[:k]], 1)  # (k, 9)
    P = D.T @ torch.linalg.solve(S[:k, :k], D)  # (9, 9), zero along the mean shape
    R = torch.diag(torch.tensor([0.0] * 4 + [max(cfg.band2_ridge, 0.0)] * 5, dtype=torch.float64))
    lum3 = lum.double()[:, None].expand(-1, 3)
    return fit_sh_robust(normals.double(), lum3, weights.double(), iterations=iterations, scale=scale,
                         penalty=lam * P + R)[:, 0]


__all__ = ["LightPriorConfig", "light_shape_gaussian", "fit_sh_shape_prior"]
