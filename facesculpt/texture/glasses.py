"""Glasses frames out of the albedo (issue 12, item 3).

A frame is a thin line of one material closed around each eye. The colour tests of
``texture.occlusion`` miss most frames: a gold or brown rim is of the skin's own hue, and the
opening that drops wrinkle lines drops thin rims too. This module looks for the rims by their
shape, in the face chart of the UV layout, where the head's fit has already put every face in one
frame (the eyes at fixed texels, the inter-eye distance ``D`` the unit):

1. The photo as the fitted head sees it is sampled into the face chart (``uv_photo``, texels the
   head faces the camera with).
2. The line response: the scale-normalised second derivative of the log luminance along each ray
   from the eye centre (``sigma^2 n^T H n``, the largest over three scales, either sign: a dark
   rim or a bright one). A rim crosses the ray, so it answers; crow's feet run along the ray, so
   they barely do.
3. For each eye, the closed path around it (between an inner and an outer ellipse, radii in
   units of ``D``) with the largest summed response, at most two radius samples from ray to ray and
   paying ``smooth`` per sample (dynamic programming over the rays, the ring closed by running it
   three laps and keeping the middle one).
4. Glasses are found when, on both eyes, the 25th percentile of the response along the path is
   above ``threshold``: a frame answers all the way round, a face without glasses only in places
   (brows, lids, a wrinkle). Both eyes must be seen (``min_seen`` of each path's rays on texels
   the head faces the camera with); a turned face with one eye hidden is not judged.
5. The paths, widened by the scale that answered, are the rims; the bridge, the arms and strong
   lines connected to them are added where they answer too. The pipeline looks the chart mask up for every photo
   pixel through the fitted head's UVs and adds it to the occluder mask, so the frame's pixels
   give no texture and are completed like other occluded texels.

Measured on the bundled photo and the shared samples (docs/results.md, "Issue 12: glasses frames").
Pure functions: no files, no prints.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
import torch

from facesculpt.ops.image import labels_among


@dataclass(frozen=True)
class GlassesConfig:
    """Glasses frames as occluders (``texture.occlusion.glasses``)."""

    enabled: bool = True
    """Look for glasses frames around the eyes and keep their pixels out of the albedo."""
    before_fit: bool = False
    """Also look on the landmark stage's head, before the light and photometric fits, and keep the frames' pixels
    out of them as hands are (presets with a photometric stage; the texture stage looks again on the final head).
    Off: on four photos with a drawn pair the renders' identity distances to the glasses-free photo moved by -0.036
    to +0.033 (in view and at +-30 deg), -0.006 on the mean in view (docs/results.md, "Issue 12: glasses frames")."""
    size: int = 256
    """Side of the face chart the search runs on (texels)."""
    threshold: float = 0.04
    """Glasses are found when the 25th percentile of the line response along each eye's best path is
    at least this (scale-normalised second derivative of the natural log luminance)."""
    min_seen: float = 0.8
    """Each eye's path must lie on seen texels for at least this share of its rays."""
    rays: int = 96
    """Rays around each eye."""
    samples: int = 48
    """Radii sampled along each ray, from the inner to the outer ellipse."""
    inner: tuple = (0.26, 0.17)
    """Semi-axes (horizontal, vertical) of the inner ellipse, in inter-eye distances: the eye, its lids
    and lashes lie inside and are never taken."""
    outer: tuple = (0.62, 0.5)
    """Semi-axes of the outer ellipse."""
    smooth: float = 0.02
    """Cost of moving the path by one radius sample from ray to ray (in units of the response; at most two samples
    per ray)."""
    sigmas: tuple = (1.0, 1.6, 2.5)
    """Scales of the line response (texels of a 256 chart)."""
    edge: float = 1.0
    """The line response less this x the scale-normalised first derivative along the ray: beside a shadow's edge the
    second derivative answers as strongly as on a line, but there the first derivative is as large; at a line's
    centre it is zero (0: lines and edges alike)."""
    widen: float = 1.2
    """Half-width of the masked rim, in units of the scale that answered at each ray, plus one texel."""
    bridge: bool = True
    """With glasses found, also look for the bridge (a line across the nose between the two rims, within 0.3 ``D``
    above to 0.05 ``D`` below the eyes) and each arm (from a rim's outermost point outwards by up to 0.5 ``D``, within
    0.15 ``D`` of its height): each is the best smooth left-to-right path by the vertical line response, kept when
    the 25th percentile of its response is at least ``part_threshold``."""
    part_threshold: float = 0.03
    """The bridge's and arms' threshold: lower than the rims' (they are only looked for beside rims found)."""
    reach: float = 5.0
    """With glasses found, lines (the largest Hessian eigenvalue's magnitude) of at least this x ``threshold``
    connected to the mask so far, in the band of the eyes' height (from 0.4 ``D`` above to 0.25 ``D`` below them),
    are the frame too (0: off)."""


@dataclass(frozen=True)
class GlassesFound:
    """What ``find_glasses`` saw: ``found``; per eye the response score and seen share; the chart mask
    (S, S) bool (all False unless found); the paths (2, rays, 2) texel (x, y)."""

    found: bool
    scores: tuple
    seen: tuple
    mask: np.ndarray
    paths: np.ndarray
    parts: tuple = ()
    """The bridge's and the two arms' scores (``GlassesConfig.bridge``; empty when not searched)."""

    def info(self) -> dict:
        return {"found": bool(self.found), "scores": [round(float(s), 4) for s in self.scores],
                "seen": [round(float(s), 3) for s in self.seen], "mask_fraction": float(self.mask.mean()),
                "bridge_arms": [round(float(s), 4) for s in self.parts]}


def uv_photo(image: torch.Tensor, verts_model: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, pose, camera,
             size: int, min_facing: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """The photo ``image`` (1, H, W, 3) float as the fitted head sees it, in its UV chart: ((S, S, 3) float,
    (S, S) bool texels inside the chart, inside the photo and facing the camera by at least ``min_facing``)."""
    from facesculpt.ops.image import sample_pixels
    from facesculpt.texture.unwrap import texel_geometry

    with torch.no_grad():
        g = texel_geometry(verts_model, faces, uvs, pose, camera, size)
        H, W = image.shape[1:3]
        xy = g.xy
        ph = sample_pixels(image.float(), xy.float())[0]
        inside = (xy[0, ..., 0] >= 0) & (xy[0, ..., 0] < W) & (xy[0, ..., 1] >= 0) & (xy[0, ..., 1] < H)
        seen = g.inside[0] & inside & (g.normal_view[0, ..., 2] > min_facing)
    return ph.numpy(), seen.numpy()


def _line_responses(lum: np.ndarray, seen: np.ndarray, sigmas) -> list:
    """Per scale the Hessian (xx, xy, yy) and the gradient (x, y) of the log luminance, scale-normalised (by sigma^2
    and sigma); unseen texels take their nearest seen texel's value first (no edge at the seen area's outline)."""
    from scipy import ndimage

    L = np.log(np.clip(lum, 0.0, 1.0) + 0.03)
    if (~seen).any() and seen.any():
        idx = ndimage.distance_transform_edt(~seen, return_distances=False, return_indices=True)
        L = L[tuple(idx)]
    out = []
    for s in sigmas:
        f = s * s
        # gaussian_filter(L, s, order=(a, b)) is the axis-0 pass of order a, then the axis-1 pass of order b: the
        # three axis-0 passes are shared by the five responses (the same bytes, 8 passes instead of 10)
        r0, r1, r2 = (ndimage.gaussian_filter1d(L, s, axis=0, order=k) for k in (0, 1, 2))
        out.append((ndimage.gaussian_filter1d(r0, s, axis=1, order=2) * f,
                    ndimage.gaussian_filter1d(r1, s, axis=1, order=1) * f,
                    ndimage.gaussian_filter1d(r2, s, axis=1, order=0) * f,
                    ndimage.gaussian_filter1d(r0, s, axis=1, order=1) * s,
                    ndimage.gaussian_filter1d(r1, s, axis=1, order=0) * s))
    return out


def _best_path(Q: np.ndarray, smooth: float, step: int) -> np.ndarray:
    """(K,) long: the path through the (K, M) scores ``Q`` (one radius or row per step) with the largest sum minus
    ``smooth`` x |change| per step, the change at most ``step`` (ties: the move listed first, from the larger index;
    the last step's tie: the smaller index). Dynamic programming over the steps, compiled (``_best_path_kernel``)."""
    Q = np.ascontiguousarray(Q, dtype=np.float64)
    ds = np.arange(-step, step + 1)
    pen = -smooth * np.abs(ds).astype(np.float64)  # the same products as the moves' penalties always were
    return _best_path_kernel(Q, ds.astype(np.int64), pen)


@numba.njit(cache=True)
def _best_path_kernel(Q, ds, pen):  # pragma: no cover - compiled
    K, M = Q.shape
    score = Q[0].copy()
    new = np.empty(M)
    back = np.zeros((K, M), np.int64)
    for k in range(1, K):
        for m in range(M):
            best = -np.inf
            arg = -1
            for j in range(ds.shape[0]):  # moves in order: the first of equal candidates wins, as argmax's
                s = m - ds[j]
                if s < 0 or s >= M:
                    c = -np.inf  # a move from outside: score + (-inf)
                else:
                    c = score[s] + pen[j]
                if arg < 0 or c > best:
                    best = c
                    arg = j
            s = m - ds[arg]
            back[k, m] = min(max(s, 0), M - 1)
            new[m] = best + Q[k, m]
        score[:] = new
    path = np.zeros(K, np.int64)
    last = 0
    for m in range(1, M):  # argmax: the first maximum
        if score[m] > score[last]:
            last = m
    path[K - 1] = last
    for k in range(K - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def ring_path(P: np.ndarray, smooth: float, step: int = 2) -> np.ndarray:
    """(K,) long: the closed path through the (K, M) scores ``P`` (rays x radii) with the largest sum
    minus ``smooth`` x |change of radius| per ray, the change at most ``step``. The ring is closed by
    running three laps and keeping the middle one's choices."""
    K = P.shape[0]
    return _best_path(np.concatenate([P, P, P], 0), smooth, step)[K:2 * K]


def _seeds(pts: np.ndarray, half: np.ndarray, closed: bool) -> tuple[np.ndarray, np.ndarray]:
    """Points every half texel along the polyline ``pts`` (K, 2) x, y (closed: back to the first point), with
    ``half`` (K,) interpolated along each segment: ((N, 2), (N,))."""
    a = pts if closed else pts[:-1]
    b = np.roll(pts, -1, axis=0) if closed else pts[1:]
    ha = half if closed else half[:-1]
    hb = np.roll(half, -1) if closed else half[1:]
    n = np.maximum(1, np.ceil(np.linalg.norm(b - a, axis=1) / 0.5).astype(int))
    seg = np.repeat(np.arange(len(a)), n)
    t = (np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)) / np.repeat(n, n)
    p = a[seg] + t[:, None] * (b[seg] - a[seg])
    h = ha[seg] + t * (hb[seg] - ha[seg])
    return p, h


def _seeds_mask(shape: tuple, seeds: list) -> np.ndarray:
    """(H, W) bool texels within each seed's half-width of it (seeds: list of ((N, 2) x, y, (N,) half)); one
    distance transform for all (seeds snapped to their texel)."""
    from scipy import ndimage

    H, W = shape
    hw = np.zeros((H, W))
    for p, h in seeds:
        if len(p) == 0:
            continue
        col = np.floor(p[:, 0]).astype(int)
        row = np.floor(p[:, 1]).astype(int)
        ok = (col >= 0) & (col < W) & (row >= 0) & (row < H)
        np.maximum.at(hw, (row[ok], col[ok]), h[ok])
    if not (hw > 0).any():
        return np.zeros((H, W), bool)
    dist, idx = ndimage.distance_transform_edt(hw <= 0, return_indices=True)
    return dist <= hw[idx[0], idx[1]]


def _connected_lines(hs, seen, rims, eyes, D, cfg) -> np.ndarray:
    """(S, S) bool: line texels (``reach`` x ``threshold``, any orientation) in the eyes' band, connected to ``rims``,
    widened like the rims by the smallest scale."""
    from scipy import ndimage

    S = rims.shape[0]
    lam = np.zeros((S, S))
    for xx, xy, yy, _, _ in hs:
        half_tr, det = 0.5 * (xx + yy), np.sqrt(0.25 * (xx - yy) ** 2 + xy * xy)
        lam = np.maximum(lam, np.maximum(np.abs(half_tr + det), np.abs(half_tr - det)))
    rows = np.arange(S)[:, None] + 0.5
    y = eyes[:, 1].mean()
    band = (rows > y - 0.4 * D) & (rows < y + 0.25 * D)
    line = (lam >= cfg.reach * cfg.threshold) & band & seen
    lab, n = ndimage.label(line | rims)
    out = labels_among(lab, n, lab[rims]) & ~rims
    r = max(1, int(round(cfg.widen * min(cfg.sigmas) * S / 256.0)))
    return ndimage.binary_dilation(out, iterations=r) & band


def _across(hs, seen, x0: float, x1: float, y0: float, y1: float, smooth: float, edge: float = 0.0):
    """The best smooth left-to-right path through columns ``x0``..``x1`` between rows ``y0``..``y1`` (texels) by the
    vertical line response: (xs, ys, response, scale index) per column, or None when fewer than 4 columns."""
    S = seen.shape[0]
    c0, c1 = int(max(0, np.floor(min(x0, x1)))), int(min(S - 1, np.ceil(max(x0, x1))))
    r0, r1 = int(max(0, np.floor(y0))), int(min(S - 1, np.ceil(y1)))
    if c1 - c0 < 4 or r1 - r0 < 2:
        return None
    best = np.zeros((r1 - r0 + 1, c1 - c0 + 1))
    which = np.zeros(best.shape, np.int64)
    for i, (_, _, yy, _, gy) in enumerate(hs):
        v = np.abs(yy[r0:r1 + 1, c0:c1 + 1]) - edge * np.abs(gy[r0:r1 + 1, c0:c1 + 1])
        upd = v > best
        best[upd] = v[upd]
        which[upd] = i
    ok = seen[r0:r1 + 1, c0:c1 + 1]
    best = np.where(ok, best, 0.0)
    P = best.T  # columns are the path's steps
    path = _best_path(P, smooth, 1)
    cols = np.arange(P.shape[0])
    okp = ok.T[cols, path]
    if okp.sum() < 4:
        return None
    return (cols + c0 + 0.5)[okp], (path + r0 + 0.5)[okp], P[cols, path][okp], which.T[cols, path][okp]


def _bridge_and_arms(hs, seen, paths, eyes, D, sig, cfg) -> tuple[list, list]:
    """The seeds (``_seeds``) of the bridge and arms found (``GlassesConfig.bridge``) and their scores."""
    seeds = []
    order = np.argsort(eyes[:, 0])  # image-left eye first
    left, right = paths[order[0]], paths[order[1]]
    ey = eyes[:, 1].mean()
    spans = [(left[:, 0].max(), right[:, 0].min(), ey - 0.3 * D, ey + 0.05 * D)]  # the bridge
    for p, out in ((left, -1.0), (right, 1.0)):  # the arms
        k = int(np.argmin(p[:, 0])) if out < 0 else int(np.argmax(p[:, 0]))
        x, y = p[k]
        spans.append((x, x + out * 0.5 * D, y - 0.15 * D, y + 0.15 * D))
    scores = []
    for x0, x1, y0, y1 in spans:
        got = _across(hs, seen, x0, x1, y0, y1, cfg.smooth, cfg.edge)
        if got is None:
            scores.append(0.0)
            continue
        xs, ys, v, which = got
        sc = float(np.percentile(v, 25))
        scores.append(sc)
        if sc >= cfg.part_threshold:
            seeds.append(_seeds(np.stack([xs, ys], -1), cfg.widen * np.asarray(sig)[which] + 1.0, closed=False))
    return seeds, scores


def find_glasses(photo_uv: np.ndarray, seen: np.ndarray, eyes: np.ndarray, cfg: GlassesConfig) -> GlassesFound:
    """Glasses frames in the face chart. photo_uv: (S, S, 3) float sRGB in [0, 1] (``uv_photo``); seen:
    (S, S) bool; eyes: (2, 2) float the eye centres in texels (x right, y down)."""
    from scipy import ndimage

    S = photo_uv.shape[0]
    if photo_uv.shape != (S, S, 3) or seen.shape != (S, S) or np.asarray(eyes).shape != (2, 2):
        raise ValueError(f"find_glasses: expected (S,S,3), (S,S), (2,2), got {photo_uv.shape}, {seen.shape}, "
                         f"{np.asarray(eyes).shape}")
    eyes = np.asarray(eyes, np.float64)
    K, M = cfg.rays, cfg.samples
    D = float(np.linalg.norm(eyes[0] - eyes[1]))
    empty = GlassesFound(False, (0.0, 0.0), (0.0, 0.0), np.zeros((S, S), bool), np.zeros((2, K, 2)))
    if D < 4 or not seen.any():
        return empty
    lum = photo_uv @ np.array([0.2126, 0.7152, 0.0722])
    scale = S / 256.0
    sig = [s * scale for s in cfg.sigmas]
    # the responses on the eyes' band of rows only (everything below reads within 0.7 D of the eyes' height)
    ey = float(eyes[:, 1].mean())
    r0, r1 = int(max(0, np.floor(ey - 0.8 * D))), int(min(S, np.ceil(ey + 0.8 * D)))
    hs = [tuple(np.pad(a, ((r0, S - r1), (0, 0))) for a in h) for h in _line_responses(lum[r0:r1], seen[r0:r1], sig)]
    seen_in = ndimage.binary_erosion(seen, iterations=max(1, int(round(2 * scale))))
    th = np.linspace(0.0, 2 * np.pi, K, endpoint=False)
    c, s = np.cos(th)[:, None], np.sin(th)[:, None]
    t = np.linspace(0.0, 1.0, M)[None]

    def ellipse(ax):
        return 1.0 / np.sqrt((np.cos(th) / (ax[0] * D)) ** 2 + (np.sin(th) / (ax[1] * D)) ** 2)

    r0, r1 = ellipse(cfg.inner)[:, None], ellipse(cfg.outer)[:, None]
    R = r0 + (r1 - r0) * t
    mid = eyes[:, 0].mean()
    scores, seens, paths, halves = [], [], [], []
    for cx, cy in eyes:
        X, Y = cx + R * c, cy + R * s
        best = np.zeros_like(X)
        which = np.zeros(X.shape, np.int64)
        for i, (xx, xy, yy, gx, gy) in enumerate(hs):
            d = [ndimage.map_coordinates(a, [Y - 0.5, X - 0.5], order=1, mode="nearest") for a in (xx, xy, yy, gx, gy)]
            v = np.abs(d[0] * c * c + 2 * d[1] * c * s + d[2] * s * s) - cfg.edge * np.abs(d[3] * c + d[4] * s)
            upd = v > best
            best[upd] = v[upd]
            which[upd] = i
        ok = ndimage.map_coordinates(seen_in.astype(np.float64), [Y - 0.5, X - 0.5], order=0, mode="constant") > 0.5
        ok &= (X - mid) * np.sign(cx - mid) > 0.02 * D  # this eye's side of the midline
        best[~ok] = 0.0
        path = ring_path(best, cfg.smooth)
        rows = np.arange(K)
        v, okp = best[rows, path], ok[rows, path]
        seens.append(float(okp.mean()))
        scores.append(float(np.percentile(v[okp], 25)) if okp.any() else 0.0)
        paths.append(np.stack([X[rows, path], Y[rows, path]], -1))
        halves.append(cfg.widen * np.asarray(sig)[which[rows, path]] + 1.0)
    found = all(sc >= cfg.threshold for sc in scores) and all(se >= cfg.min_seen for se in seens)
    mask = np.zeros((S, S), bool)
    extra_scores = []
    if found:
        seeds = [_seeds(p, h, closed=True) for p, h in zip(paths, halves)]
        if cfg.bridge:
            extra, extra_scores = _bridge_and_arms(hs, seen_in, paths, eyes, D, sig, cfg)
            seeds += extra
        mask = _seeds_mask((S, S), seeds)
        if cfg.reach > 0:
            mask |= _connected_lines(hs, seen_in, mask, eyes, D, cfg)
        mask &= seen
    return GlassesFound(bool(found), tuple(scores), tuple(seens), mask, np.stack(paths), tuple(extra_scores))


def chart_lookup(mask: np.ndarray, pixel_uv: torch.Tensor, covered: torch.Tensor) -> torch.Tensor:
    """(B, H, W) bool: pixels whose UV (``pixel_uv`` (B, H, W, 2), u right, v up in [0, 1]) falls on a
    ``mask`` (S, S) texel, among the ``covered`` (B, H, W) bool pixels."""
    S = mask.shape[0]
    col = (pixel_uv[..., 0] * S).floor().long().clamp(0, S - 1)
    row = ((1 - pixel_uv[..., 1]) * S).floor().long().clamp(0, S - 1)
    m = torch.from_numpy(mask)
    return covered & m[row, col]


__all__ = ["GlassesConfig", "GlassesFound", "uv_photo", "find_glasses", "ring_path", "chart_lookup"]
