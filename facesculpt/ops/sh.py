"""Second-order spherical harmonics for Lambertian irradiance.

Basis order (band by band): Y00; Y1-1 (y), Y10 (z), Y11 (x); Y2-2 (xy), Y2-1 (yz),
Y20 (3z^2-1), Y21 (xz), Y22 (x^2-y^2). The basis returned by ``sh_basis`` already
includes the Lambertian cosine-lobe factors (pi, 2pi/3, pi/4 per band; Ramamoorthi &
Hanrahan 2001), so shading = basis(n) @ coeffs is irradiance / pi-free radiance
factor: an albedo a lit by coeffs renders as a * shading.
"""
from __future__ import annotations

import math

import torch

from facesculpt.core.checks import check_shape

_C0 = 0.5 * math.sqrt(1.0 / math.pi)
_C1 = math.sqrt(3.0 / (4.0 * math.pi))
_C2a = 0.5 * math.sqrt(15.0 / math.pi)
_C2b = 0.25 * math.sqrt(5.0 / math.pi)
_C2c = 0.25 * math.sqrt(15.0 / math.pi)
_A = (math.pi, 2.0 * math.pi / 3.0, math.pi / 4.0)
#: value of basis[0] for any normal; ambient light of level L has coeffs[0] = L / AMBIENT_BASIS.
AMBIENT_BASIS = _A[0] * _C0


def sh_basis(normals: torch.Tensor) -> torch.Tensor:
    """Irradiance SH basis of unit normals (..., 3) -> (..., 9)."""
    x, y, z = normals.unbind(-1)
    one = torch.ones_like(x)
    return torch.stack(
        [
            _A[0] * _C0 * one,
            _A[1] * _C1 * y,
            _A[1] * _C1 * z,
            _A[1] * _C1 * x,
            _A[2] * _C2a * x * y,
            _A[2] * _C2a * y * z,
            _A[2] * _C2b * (3.0 * z * z - 1.0),
            _A[2] * _C2a * x * z,
            _A[2] * _C2c * 2.0 * (x * x - y * y),
        ],
        dim=-1,
    )


def sh_shade(normals: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Shading (B, ..., 3) of unit normals (B, ..., 3) under SH coeffs (B, 9, 3)."""
    check_shape("coeffs", coeffs, ("B", 9, 3))
    B = coeffs.shape[0]
    basis = sh_basis(normals)
    flat = basis.reshape(B, -1, 9)
    return (flat @ coeffs).reshape(normals.shape[:-1] + (3,))


def sh_rotation(rotation: torch.Tensor) -> torch.Tensor:
    """(9, 9) matrix D of a rotation (3, 3) acting on order-2 SH: ``sh_basis(n @ rotation.T) ==
    sh_basis(n) @ D.T`` for every unit n (the same D rotates the plain harmonics without the
    cosine-lobe factors, which are constant within a band). D(QP) = D(Q) D(P); this basis is not
    orthonormal (its x^2 - y^2 term is twice the unit-norm one), so D is not orthogonal.

    Solved by least squares on a Fibonacci set of directions; exact up to rounding, since each band
    is closed under rotation."""
    check_shape("rotation", rotation, (3, 3))
    n = 64
    i = torch.arange(n, dtype=torch.float64) + 0.5
    z = 1.0 - 2.0 * i / n
    r = torch.sqrt((1.0 - z * z).clamp(min=0.0))
    phi = i * math.pi * (3.0 - math.sqrt(5.0))
    u = torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=-1)
    R = rotation.detach().to(torch.float64)
    B, Bq = sh_basis(u), sh_basis(u @ R.T)
    return torch.linalg.lstsq(B, Bq).solution.T.to(rotation.dtype)


def ambient_coeffs(batch: int = 1, level: float = 1.0, dtype=torch.float32) -> torch.Tensor:
    """(batch, 9, 3) coefficients of a uniform light that shades every normal to ``level``."""
    c = torch.zeros(batch, 9, 3, dtype=dtype)
    c[:, 0, :] = level / AMBIENT_BASIS
    return c


def fit_sh(normals: torch.Tensor, colors: torch.Tensor, weights: torch.Tensor | None = None,
           ridge: float = 1e-3) -> torch.Tensor:
    """Least-squares SH coeffs (9, 3) so that sh_basis(normals) @ coeffs ~= colors.

    normals: (N, 3), colors: (N, 3), weights: (N,) or None. Ridge-regularised towards
    zero for the non-constant bands.
    """
    Y = sh_basis(normals)
    w = torch.ones(Y.shape[0], dtype=Y.dtype) if weights is None else weights
    A = Y.T @ (Y * w[:, None])
    reg = torch.full((9,), ridge, dtype=Y.dtype)
    reg[0] = 0.0
    A = A + torch.diag(reg) * w.sum()
    b = Y.T @ (colors * w[:, None])
    return torch.linalg.solve(A, b)


def fit_sh_robust(normals: torch.Tensor, colors: torch.Tensor, weights: torch.Tensor | None = None,
                  ridge_band1: float = 1e-4, ridge_band2: float = 1e-1, iterations: int = 5,
                  scale: float = 2.0, penalty: torch.Tensor | None = None) -> torch.Tensor:
    """SH coeffs (9, 3) fitted to ``colors`` (N, 3) of a surface of one constant albedo per channel,
    by iteratively reweighted least squares that down-weights texels whose albedo deviates.

    normals: (N, 3) unit; weights: (N,) prior weights or None. The residual of a texel is taken
    relative to its predicted shading (``|col - sh| / sh``, i.e. the albedo's relative deviation),
    and weighted by Cauchy's function with ``scale`` x its robust standard deviation; brows,
    lips, freckles and moles drop out. Ridge: per band, times the total weight (no ridge on
    band 0). A face's normals cover a cap of the sphere, over which 1, z and 3z^2 - 1 are
    nearly collinear: a ridge on band 1 shrinks the directional part into the ambient term
    (the fitted light comes out flat while its shading over the cap still matches), so band 1
    gets almost none; band 2, which a Lambertian surface attenuates most, gets a little.
    ``penalty``: a (9, 9) quadratic penalty per unit weight used instead of the two ridges (e.g. the
    light-shape prior of ``texture.light_prior``).
    """
    check_shape("normals", normals, ("N", 3))
    check_shape("colors", colors, (normals.shape[0], 3))
    Y = sh_basis(normals)
    prior = torch.ones(Y.shape[0], dtype=Y.dtype) if weights is None else weights.to(Y.dtype)
    if penalty is None:
        penalty = torch.diag(torch.tensor([0.0] + [ridge_band1] * 3 + [ridge_band2] * 5, dtype=Y.dtype))
    penalty = penalty.to(Y.dtype)
    w = prior
    coeffs = None
    for it in range(iterations + 1):
        A = Y.T @ (Y * w[:, None]) + penalty * w.sum()
        coeffs = torch.linalg.solve(A, Y.T @ (colors * w[:, None]))
        if it == iterations:
            break
        pred = Y @ coeffs
        rel = ((colors - pred).abs() / pred.abs().clamp(min=1e-3)).mean(-1)
        sigma = 1.4826 * rel[prior > 0].median().clamp(min=1e-4)
        w = prior / (1.0 + (rel / (scale * sigma)) ** 2)
    return coeffs
