"""Per-texel illumination: a smooth light-ratio map L(u) on top of the global SH light (issue 12,
item 2), in the spirit of Yang et al.'s split of a detailed albedo from a per-texel illumination.

The unwrapped photo T(u) (linear light) is explained as

    T(u) = A(u) * s(u) * exp(l(u)),

with s the global shading (SH light, with the head's visibility when that is on) and l the log
light ratio: 0 where the global light explains the photo, negative in a cast shadow or crease the
global light does not have. In log space the model is linear, a + l = d with d = log T - log s,
and the terms of the split are quadratic:

* data: a + l = d on the seen texels. Held exactly (its weight taken to infinity): A(u) = T(u) /
  (s(u) exp(l(u))), so the albedo written explains the photo and keeps every fine gradient of the
  photo except those of the smooth l (the *gradient term*, exact at the full resolution);
* L smooth: l lives on a coarse grid (``light_size``) and is upsampled bilinearly, with a
  first-difference penalty on that grid (``w_light_smooth``);
* L prior: l pulled towards 0, i.e. L towards the global SH light (``w_light_prior``);
* A weighted smoothness (Yang et al.): sum over neighbouring texels i, j of the solve grid
  (``solve_size``) of w_ij (a_i - a_j)^2, with w_ij = exp(-alpha |c_i - c_j|) from the coarse
  albedo's chromaticity c (alpha = 80, as in ``detail.sfs``), times 0 across the model's texel
  classes (skin / brow / lip / opening / outer: ``texture.completion.texel_classes``) and times
  the two texels' confidences. A shadow changes brightness, not chromaticity, so this term moves
  it into l; a lip or brow edge has a small weight and stays in A;
* A symmetry: a_i = a at the mirror image of i (the model's mirror map, ``texture.head.
  texel_mirror_grid``, sampled bilinearly; never an array flip), weighted by both confidences: a
  shadow on one side of the face only moves into l.

With a = d - P l (P the bilinear upsampling) the energy is a quadratic in l alone: one sparse
symmetric positive-definite solve of light_size^2 unknowns, one factorisation for the three
channels (their matrices are the same). Hand-written because it is a specific least-squares
problem; the sparse algebra is scipy's.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla
import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_shape


@dataclass(frozen=True)
class LocalLightConfig:
    """Per-texel light ratio on top of the global SH light (``texture.local_light``)."""

    enabled: bool = False
    """Solve the per-texel light ratio and de-light with it (False: the global SH light alone)."""
    solve_size: int = 128
    """Side of the grid (texels) the albedo's smoothness and symmetry terms are evaluated on (the
    unwrap's map is pooled to it, confidence-weighted)."""
    light_size: int = 64
    """Side of the grid the log light ratio l is solved on (upsampled bilinearly): how local the
    correction can be (a cell is 1/64 of the chart, 8 texels of a 512 map)."""
    alpha: float = 80.0
    """Yang et al.'s edge weight exp(-alpha |c_i - c_j|) on the coarse albedo's chromaticity
    (rgb / (r + g + b))."""
    edge_step: float = 0.0
    """Log-brightness step between neighbouring solve-grid texels at which the smoothness weight
    falls to 1/e (times exp(-(step / edge_step)^2)): sharp steps (lashes, brow and lid edges) stay in
    the albedo, the gentle ramps of SH shade go into the light. 0: no such cut."""
    w_albedo_smooth: float = 30.0
    """Weight of the albedo's weighted smoothness."""
    w_symmetry: float = 0.0
    """Weight of the albedo's symmetry through the model's mirror map."""
    w_light_prior: float = 0.05
    """Weight of l^2 per solve-grid texel: the pull of L towards the global SH light."""
    w_light_smooth: float = 2.0
    """Weight of the first differences of l on its grid (per solve-grid texel a light cell covers)."""
    brighten_penalty: float = 100.0
    """Factor on the prior of light cells the solve made brighter than the global light (l > 0):
    shadows and creases only darken, so above 1 the ratio leans to <= 1 (re-solved
    ``brighten_iterations`` times with the larger prior on those cells; 1: a symmetric prior)."""
    brighten_iterations: int = 2
    """Re-solves with ``brighten_penalty`` (0: none)."""
    keep_level: bool = False
    """Shift l so that its confidence-weighted mean over the seen texels is 0: the global light keeps
    the face's mean level (the exposure the skin prior anchored), the ratio only redistributes it
    (shadows darker, the rest a little brighter). False (default): the global light is taken as the
    light of the unshadowed skin (the skin prior anchors the exposure on the 25-90 % luminance band of
    the seen skin, mostly lit texels), so the ratio only darkens where the solve finds shade."""
    colour: bool = False
    """Solve a light ratio per channel (True) or one for all three (False: the ratio is grey, a
    chromaticity change stays in the albedo)."""
    ratio_range: tuple = (0.25, 2.0)
    """Lowest and highest light ratio exp(l) allowed."""
    seen: float = 0.05
    """Confidence below which a texel gives no data (its pooled confidence is set to 0)."""


@dataclass
class LocalLight:
    """ratio: (1, S, S, 3) the light ratio exp(l) at the map's size (multiply the global shading by
    it); log_ratio: (1, Ls, Ls, 3) l on its grid; losses: dict of floats (the energy's terms)."""

    ratio: torch.Tensor
    log_ratio: torch.Tensor
    losses: dict


def _pool(x: torch.Tensor, size: int) -> torch.Tensor:
    """(S, S, C) -> (size, size, C) by area averaging."""
    t = x.permute(2, 0, 1)[None]
    return F.adaptive_avg_pool2d(t, size)[0].permute(1, 2, 0)


def _bilinear_matrix(x: np.ndarray, y: np.ndarray, n: int) -> sp.csr_matrix:
    """Sparse (len(x), n * n) bilinear interpolation from an n x n grid at continuous grid
    coordinates (x, y) (texel centres at integers), clamped to the grid."""
    x = np.clip(x, 0, n - 1)
    y = np.clip(y, 0, n - 1)
    x0 = np.minimum(np.floor(x).astype(np.int64), n - 2) if n > 1 else np.zeros_like(x, dtype=np.int64)
    y0 = np.minimum(np.floor(y).astype(np.int64), n - 2) if n > 1 else np.zeros_like(y, dtype=np.int64)
    fx, fy = x - x0, y - y0
    rows = np.repeat(np.arange(len(x)), 4)
    x1, y1 = np.minimum(x0 + 1, n - 1), np.minimum(y0 + 1, n - 1)
    cols = np.stack([y0 * n + x0, y0 * n + x1, y1 * n + x0, y1 * n + x1], 1).reshape(-1)
    vals = np.stack([(1 - fx) * (1 - fy), fx * (1 - fy), (1 - fx) * fy, fx * fy], 1).reshape(-1)
    return sp.csr_matrix((vals, (rows, cols)), shape=(len(x), n * n))


_UPSAMPLE_CACHE: dict = {}


def _upsample_matrix(n_fine: int, n_coarse: int) -> sp.csr_matrix:
    """P (n_fine^2, n_coarse^2): ``F.interpolate(..., mode="bilinear", align_corners=False)``."""
    key = (n_fine, n_coarse)
    hit = _UPSAMPLE_CACHE.get(key)
    if hit is None:
        c = (np.arange(n_fine) + 0.5) * n_coarse / n_fine - 0.5
        yy, xx = np.meshgrid(c, c, indexing="ij")
        hit = _bilinear_matrix(xx.reshape(-1), yy.reshape(-1), n_coarse)
        _UPSAMPLE_CACHE[key] = hit
    return hit


def _grid_differences(n: int) -> tuple[sp.csr_matrix, np.ndarray, np.ndarray]:
    """D (E, n^2): the horizontal then vertical first differences x_b - x_a of an n x n grid, and
    the edges' end texels a, b (E,)."""
    idx = np.arange(n * n).reshape(n, n)
    a = np.concatenate([idx[:, :-1].reshape(-1), idx[:-1, :].reshape(-1)])
    b = np.concatenate([idx[:, 1:].reshape(-1), idx[1:, :].reshape(-1)])
    E = len(a)
    r = np.concatenate([np.arange(E), np.arange(E)])
    D = sp.csr_matrix((np.concatenate([np.ones(E), -np.ones(E)]), (r, np.concatenate([b, a]))), shape=(E, n * n))
    return D, a, b


def _coarse_classes(classes: torch.Tensor, n: int) -> np.ndarray:
    """(S, S) classes -> (n, n): the class at the texel of each coarse cell's centre."""
    S = classes.shape[0]
    c = np.minimum(((np.arange(n) + 0.5) * S / n).astype(np.int64), S - 1)
    return classes.numpy()[np.ix_(c, c)]


def _coarse_mirror(mirror_grid, S: int, n: int):
    """The mirror images of the n x n grid's texel centres as continuous coarse-grid coordinates
    (x (n^2,), y (n^2,)) and whether each has one (n^2,) bool, from the map-size mirror grid."""
    grid, ok = mirror_grid if isinstance(mirror_grid, (tuple, list)) else (mirror_grid, None)
    check_shape("mirror_grid", grid, (1, S, S, 2))
    c = np.minimum(((np.arange(n) + 0.5) * S / n).astype(np.int64), S - 1)
    g = grid[0].double().numpy()[np.ix_(c, c)]
    valid = (g >= 0).all(-1) & (g <= 1).all(-1)
    if ok is not None:
        valid &= ok[0].numpy()[np.ix_(c, c)]
    x = g[..., 0] * n - 0.5
    y = (1 - g[..., 1]) * n - 0.5
    return x.reshape(-1), y.reshape(-1), valid.reshape(-1)


def solve_local_light(texture: torch.Tensor, shading: torch.Tensor, conf: torch.Tensor, cfg: LocalLightConfig, *,
                      floor: float | torch.Tensor = 1e-3, mirror_grid=None,
                      classes: torch.Tensor | None = None) -> LocalLight:
    """The light ratio L(u) = exp(l(u)) that, with the albedo A = T / (s L), minimises the energy of
    the module docstring.

    texture: (1, S, S, 3) the unwrapped photo (linear light); shading: (1, S, S, 3) the global
    shading s (> 0 where seen); conf: (1, S, S) in [0, 1] how well each texel was seen (0: not at
    all; unseen texels give no data, l there is carried by the smoothness and the prior);
    floor: lower clamp of s (scalar or broadcastable); mirror_grid: the chart's texel mirror map at
    S (``texture.head.texel_mirror_grid``) or None (no symmetry term); classes: (S, S) long texel
    classes (``texture.completion.texel_classes``) or None (the smoothness crosses every edge).

    Returns a ``LocalLight``; ``ratio`` is 1 wherever the global light already explains the photo
    smoothly and symmetrically.
    """
    check_shape("texture", texture, (1, "S", "S", 3))
    S = texture.shape[1]
    check_shape("shading", shading, (1, S, S, 3))
    check_shape("conf", conf, (1, S, S))
    n, m = int(cfg.solve_size), int(cfg.light_size)
    if not (2 <= m <= n <= S):
        raise ValueError(f"local_light: expected 2 <= light_size <= solve_size <= map size, got {m}, {n}, {S}")
    w = torch.where(conf >= cfg.seen, conf, torch.zeros_like(conf))[0].double()
    fl = torch.as_tensor(floor, dtype=torch.float64).reshape(-1)[0]  # one map: one floor
    d = torch.log(texture[0].double().clamp(min=1e-4)) - torch.log(shading[0].double().clamp(min=float(fl)))
    wc = _pool(w[..., None], n)[..., 0]
    dc = _pool(d * w[..., None], n) / wc.clamp(min=1e-9)[..., None]
    wc_np = wc.numpy().reshape(-1)
    dc_np = dc.numpy().reshape(-1, 3)
    N = n * n

    # A's weighted smoothness: Yang weights on the coarse albedo's chromaticity, cut across classes
    alb = np.exp(dc_np)
    chroma = alb / np.maximum(alb.sum(1, keepdims=True), 1e-9)
    D, ia, ib = _grid_differences(n)
    edge_w = np.exp(-cfg.alpha * np.linalg.norm(chroma[ia] - chroma[ib], axis=1)) * np.minimum(wc_np[ia], wc_np[ib])
    if cfg.edge_step > 0:  # a sharp brightness step (lashes, a brow's or lid's edge) is albedo, not light
        step = np.abs(dc_np[ia].mean(1) - dc_np[ib].mean(1))
        edge_w = edge_w * np.exp(-(step / cfg.edge_step) ** 2)
    if classes is not None:
        cc = _coarse_classes(classes, n)
        # a solve-grid texel that straddles a class border mixes two albedos: it gives no edges
        fine = np.minimum((np.arange(S) * n) // S, n - 1)
        same = torch.from_numpy(classes.numpy() == cc[np.ix_(fine, fine)]).double()
        pure = (_pool(same[..., None], n)[..., 0].numpy().reshape(-1) > 0.999)
        cc = cc.reshape(-1)
        edge_w = edge_w * (cc[ia] == cc[ib]) * pure[ia] * pure[ib]
    K = cfg.w_albedo_smooth * (D.T @ sp.diags(edge_w) @ D)

    # A's symmetry through the mirror map
    if mirror_grid is not None and cfg.w_symmetry > 0:
        mx, my, mvalid = _coarse_mirror(mirror_grid, S, n)
        M = _bilinear_matrix(mx, my, n)
        wm = M @ wc_np
        sym_w = np.where(mvalid, wc_np * wm, 0.0)
        R = sp.identity(N, format="csr") - M
        K = K + cfg.w_symmetry * (R.T @ sp.diags(sym_w) @ R)

    P = _upsample_matrix(n, m)
    Dl = _grid_differences(m)[0]
    cell = (n / m) ** 2  # solve-grid texels per light cell
    A = (P.T @ K @ P + cfg.w_light_prior * cell * sp.identity(m * m)
         + cfg.w_light_smooth * cell * (Dl.T @ Dl)).tocsc()
    rhs = P.T @ (K @ dc_np)  # (m^2, 3)
    if not cfg.colour:  # one grey ratio: the same matrix, the channels' mean right-hand side
        rhs = rhs.mean(1, keepdims=True)

    def solve(mat, x0=None):  # symmetric positive definite: conjugate gradients, Jacobi-preconditioned
        mat = mat.tocsr()
        pre = sp.diags(1.0 / mat.diagonal())
        out = []
        for c in range(rhs.shape[1]):
            x, _ = spla.cg(mat, rhs[:, c], x0=None if x0 is None else x0[:, c], M=pre, rtol=1e-6, maxiter=2000)
            out.append(x)
        return np.stack(out, 1)

    l = solve(A)
    for _ in range(int(cfg.brighten_iterations)):
        # shadows darken: cells the solve brightened get a stronger prior (iteratively reweighted)
        up = (l.mean(1) > 0).astype(np.float64)
        if not up.any():
            break
        l = solve(A + sp.diags(cfg.w_light_prior * cell * (cfg.brighten_penalty - 1) * up), l)
    if l.shape[1] == 1:
        l = np.repeat(l, 3, 1)
    if cfg.keep_level and wc_np.sum() > 0:  # the global light keeps the face's mean level (exposure)
        l = l - (wc_np @ (P @ l)) / wc_np.sum()
    lo, hi = (float(np.log(v)) for v in cfg.ratio_range)
    l = np.clip(l, lo, hi)

    a = dc_np - P @ l
    losses = {
        "albedo_smooth": float(np.sum(edge_w[:, None] * (a[ia] - a[ib]) ** 2)),
        "light_prior": float(cell * np.sum(l ** 2)),
        "light_smooth": float(cell * np.sum((Dl @ l) ** 2)),
        "ratio_min": float(np.exp(l.min())), "ratio_max": float(np.exp(l.max())),
    }
    lt = torch.from_numpy(l).float().reshape(1, m, m, 3)
    up = F.interpolate(lt.permute(0, 3, 1, 2), size=(S, S), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)
    return LocalLight(ratio=torch.exp(up).to(texture.dtype), log_ratio=lt, losses=losses)


__all__ = ["LocalLightConfig", "LocalLight", "solve_local_light"]
