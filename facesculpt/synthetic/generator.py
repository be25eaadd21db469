"""Synthetic faces with known truth: shape, displacement detail, albedo, SH light, camera.

Everything is a deterministic function of a seed (a private ``numpy`` Generator; the
global torch/numpy random state is neither read nor changed). The pieces:

* shape: the topology's canonical face, scaled per axis and bent by a few smooth radial
  bumps (mirrored, so it stays roughly symmetric), Loop-subdivided ``render_levels``
  times from the coarse mesh;
* detail: a UV displacement map in cm (negative = into the skin) made of forehead
  creases, crow's feet, nasolabial folds, frown lines and pores, displaced along the
  vertex normals of the finely subdivided mesh before rendering;
* albedo: a UV map with a skin base colour, low-frequency blotches, cheek redness,
  freckles and moles, darker brows, red lips, eye whites, irises and pupils;
* light: white-balanced second-order SH (unit ambient per channel, as in
  ``docs/conventions.md``) with a mostly frontal directional part;
* camera: perspective (focal 1.4 x image side), head yaw within ``yaw_max`` degrees.

The photo is rendered at ``size`` and optionally degraded (Gaussian blur, down- and
up-sampling, Gaussian noise); the ground-truth per-pixel view-frame normals, camera depth and
skin mask are those of the clean render.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Optional

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from facesculpt.core.conventions import DEFAULT_FOCAL_FACTOR
from facesculpt.core.errors import ShapeError
from facesculpt.ops.mesh import vertex_normals
from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
from facesculpt.ops.sh import AMBIENT_BASIS, sh_basis
from facesculpt.render.antialias import antialias
from facesculpt.render.face import render_face
from facesculpt.render.texture import texture as sample_texture
from facesculpt.structures import Camera, Pose
from facesculpt.topology import REGION_SKIN, load_topology


@dataclass(frozen=True)
class SyntheticConfig:
    """How synthetic faces are made."""

    size: int = 512
    """Side of the square photo, in pixels."""
    uv_size: int = 512
    """Side of the ground-truth UV maps (albedo, displacement)."""
    render_levels: int = 4
    """Loop subdivisions of the coarse mesh that carry the true displacement (4: ~115k vertices)."""
    detail: bool = True
    """Add displacement detail (wrinkles, folds, pores); False gives a smooth face."""
    wrinkle_depth: float = 0.10
    """Depth of the deepest creases, cm (each crease gets 0.5-1 x this)."""
    wrinkle_width: float = 0.14
    """Gaussian sigma of a crease's cross-section, cm."""
    pore_depth: float = 0.006
    """Standard deviation of the pore noise, cm (band-limited to what ``render_levels`` = 4 can carry)."""
    shape_std: float = 0.35
    """Standard deviation of the smooth random shape bumps, cm."""
    yaw_max: float = 20.0
    """Largest head yaw, degrees (pitch and roll get a third of it)."""
    face_fraction: float = 0.55
    """Face width (ear to ear) as a fraction of the image side."""
    light_strength: tuple[float, float] = (0.35, 0.7)
    """Range of the directional light's strength relative to the unit ambient term."""
    freckles: int = 60
    """Number of freckles (0 for none); a few moles are added as well."""
    skin_mottling: float = 0.0
    """Head albedo only: standard deviation of a multi-scale mottling of the skin's log albedo (0, the default:
    none; every benchmark figure was recorded without it). The painted albedo has little of a real face's detail,
    so the synthetic benchmark rewards a photometric albedo with too little freedom for photos; 0.08 is a strong
    mottling for analysis, not a measured skin statistic (docs/results.md, session 12)."""
    noise_sigma: float = 0.0
    """Standard deviation of additive Gaussian noise on the photo (0-1 scale)."""
    blur_sigma: float = 0.0
    """Gaussian blur of the photo, pixels."""
    downsample: int = 1
    """Down-sample the photo by this factor and back up (loses detail, keeps alignment)."""
    background: tuple[float, float, float] = (0.55, 0.57, 0.6)
    """Neutral background colour (linear 0-1)."""
    model: str = "mask"
    """Which surface the faces are built on: "mask" (this module's ``generate_face``: hand-made
    shapes on the 468-point mask) or "head" (``synthetic.head.generate_head_face``: the ICT
    morphable head with sampled identity and expression); ``synthetic.head.generate`` dispatches on it."""
    lid_cover: bool = False
    """Head clips only (``synthetic.head.render_head_photo``): push the lids out of the eyeballs before rendering
    (``FaceModel.cover_eyeballs``), so a closed lid covers the cornea. Off by default: the recorded benchmarks were
    rendered without it (docs/results.md, session 36)."""
    head_levels: int = 2
    """Head faces only: subdivisions of the head's skin that carry the true displacement
    (2: ~150k face vertices, ~0.6 mm edges, about what ``render_levels`` = 4 gives the mask)."""
    srgb: bool = False
    """Head faces only: shade in linear light (the painted albedo, the atlas and the background decoded
    from their sRGB values) and encode the photo to sRGB, as a camera does and as the pipeline's
    linear-light path (``texture.linear_light``) reads photos. False (the default, so the recorded
    benchmarks stay comparable): the sRGB values shaded directly, as every head render so far, including
    those the shipped landmark embedding and mediapipe's view bias were measured on (docs/results.md,
    session 5; session 6 re-measured both on encoded renders: no better on real photos, not shipped).
    ``facesculpt benchmark synthetic`` sets it by default since session 6 (``--photo-encoding srgb``)."""


@dataclass
class SyntheticFace:
    """One synthetic photo and its truth.

    image:        (H, W, 3) uint8 — the (possibly degraded) photo.
    clean:        (H, W, 3) uint8 — the photo before degradation.
    albedo:       (1, S, S, 3) float — true UV albedo.
    displacement: (1, S, S) float — true UV displacement, cm along the normal (0 if no detail).
    light:        (1, 9, 3) float — true SH light (view frame, unit ambient).
    pose:         Pose; camera: Camera (at the photo's size).
    verts:        (1, V, 3) — true smooth shape at the coarse level (468 vertices, cm).
    normals:      (H, W, 3) float — true per-pixel view-frame normals (0 outside the face).
    normals_smooth: (H, W, 3) float — the same for the true surface without its displacement
                  (equal to ``normals`` for a face generated without detail); the benchmark's
                  detail-relative normal error compares against it.
    depth:        (H, W) float — true camera depth, cm (0 outside the face).
    mask:         (H, W) bool — pixels covered by the face's skin region.
    info:         dict of the generator's random draws (JSON-able).
    head:         HeadParams or None — the true identity, expression and gaze (head faces only).
    head_verts:   (1, V, 3) or None — the true whole head (cm, model frame; head faces only).
    """

    image: np.ndarray
    clean: np.ndarray
    albedo: torch.Tensor
    displacement: torch.Tensor
    light: torch.Tensor
    pose: Pose
    camera: Camera
    verts: torch.Tensor
    normals: np.ndarray
    normals_smooth: np.ndarray
    depth: np.ndarray
    mask: np.ndarray
    info: dict = field(default_factory=dict)
    head: Optional[object] = None
    head_verts: Optional[torch.Tensor] = None


# ----------------------------------------------------------------------------- helpers


def _uv_to_px(uv: np.ndarray, S: int) -> np.ndarray:
    """UV (..., 2) -> pixel coordinates (x, y) of an S x S map (row 0 at v = 1)."""
    return np.stack([uv[..., 0] * S, (1.0 - uv[..., 1]) * S], axis=-1)


def _gauss_blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur of an (H, W) or (H, W, C) float array (reflect padding)."""
    if sigma <= 0:
        return img
    t = torch.as_tensor(img, dtype=torch.float32)
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[:, None]
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    t = F.pad(t, (r, r, 0, 0), mode="reflect") if t.shape[-1] > r else t
    t = F.conv2d(t, g.view(1, 1, 1, -1))
    t = F.pad(t, (0, 0, r, r), mode="reflect") if t.shape[-2] > r else t
    t = F.conv2d(t, g.view(1, 1, -1, 1))
    out = t[0, 0] if img.ndim == 2 else t[:, 0].permute(1, 2, 0)
    return out.numpy()


def _smooth_noise(rng: np.random.Generator, S: int, cells: int, channels: int = 1) -> np.ndarray:
    """Band-limited noise (S, S, channels) in about [-1, 1]: a cells x cells grid upsampled bicubically."""
    g = torch.as_tensor(rng.standard_normal((1, channels, cells, cells)), dtype=torch.float32)
    up = F.interpolate(g, size=(S, S), mode="bicubic", align_corners=False)
    return up[0].permute(1, 2, 0).numpy()


def _mask_from_polygon(points_px: np.ndarray, S: int, width: int = 0) -> np.ndarray:
    """(S, S) float mask of a filled polygon (or a polyline of ``width`` px when width > 0)."""
    im = Image.new("L", (S, S), 0)
    d = ImageDraw.Draw(im)
    pts = [tuple(map(float, p)) for p in points_px]
    if width > 0:
        d.line(pts, fill=255, width=width, joint="curve")
    else:
        d.polygon(pts, fill=255)
    return np.asarray(im, dtype=np.float32) / 255.0


def _uv_grid(S: int) -> np.ndarray:
    """(S, S, 2) texel-centre UVs."""
    j = (np.arange(S) + 0.5) / S
    u, v = np.meshgrid(j, 1.0 - j)
    return np.stack([u, v], axis=-1)


# ----------------------------------------------------------------------------- maps


def base_skin_albedo(rng: np.random.Generator, S: int) -> tuple[np.ndarray, np.ndarray]:
    """((S, S, 3) float32 skin before any feature is painted, (3,) its base tone): one of five skin tones,
    varied by +-5 %, with smooth low-frequency and finer per-channel mottling (both synthetic generators
    start from it)."""
    tones = np.array([[0.78, 0.58, 0.47], [0.70, 0.50, 0.40], [0.58, 0.40, 0.30], [0.45, 0.30, 0.22],
                      [0.82, 0.64, 0.55]])
    base = tones[rng.integers(len(tones))] * rng.uniform(0.92, 1.05, 3)
    alb = np.ones((S, S, 3), np.float32) * base[None, None].astype(np.float32)
    alb *= 1.0 + 0.06 * _smooth_noise(rng, S, 8, 1) + 0.03 * _smooth_noise(rng, S, 24, 3)
    return alb, base


#: ``exp(-x)`` of float64 is exactly 0 for x above this (the smallest subnormal is exp(-744.4))
_EXP_ZERO = 746.0


def _paint_spot(spots: np.ndarray, grid: np.ndarray, c: np.ndarray, rad: float, amp: float) -> None:
    """``spots = max(spots, amp * exp(-|grid - c|^2 / (2 rad^2)))`` in place, computed only on the texels where the
    Gaussian is not exactly 0 in float64 (the same values as over the whole tile, bit for bit; a freckle covers a
    few hundred of the tile's 65,536 texels)."""
    S = spots.shape[0]
    reach = math.sqrt(2 * _EXP_ZERO) * rad  # beyond it the float64 Gaussian underflows to 0
    # texel centres (k + 0.5) / S in u; v = 1 - (k + 0.5) / S, one texel of margin
    u0, u1 = max(int((c[0] - reach) * S) - 1, 0), min(int((c[0] + reach) * S) + 2, S)
    r0, r1 = max(int((1.0 - c[1] - reach) * S) - 1, 0), min(int((1.0 - c[1] + reach) * S) + 2, S)
    if u0 >= u1 or r0 >= r1:
        return
    g = grid[r0:r1, u0:u1]
    r2 = ((g - c) ** 2).sum(-1)
    np.maximum(spots[r0:r1, u0:u1], amp * np.exp(-r2 / (2 * rad**2)), out=spots[r0:r1, u0:u1])


def _paint_freckles(rng: np.random.Generator, alb: np.ndarray, grid: np.ndarray, box: tuple, freckles: int,
                    scale: float = 1.0) -> np.ndarray:
    """``alb`` (S, S, 3) with ``freckles`` freckles and, when there are any, one to three moles painted, centred
    uniformly in ``box`` (u0, u1, v0, v1), radii times ``scale`` (both synthetic generators; the same draws)."""
    S = alb.shape[0]
    n_moles = int(rng.integers(1, 4))
    n_spots = freckles + (n_moles if freckles > 0 else 0)
    spots = np.zeros((S, S), np.float64 if n_spots else np.float32)  # float64 once painted (np.maximum's promotion)
    for k in range(n_spots):
        c = np.array([rng.uniform(box[0], box[1]), rng.uniform(box[2], box[3])])
        mole = k >= freckles
        rad = (rng.uniform(0.004, 0.007) if mole else rng.uniform(0.0015, 0.003)) * scale
        _paint_spot(spots, grid, c, rad, 0.75 if mole else rng.uniform(0.15, 0.35))
    spot_col = np.array([0.35, 0.2, 0.12], np.float32)
    return alb * (1 - spots[..., None]) + spot_col * spots[..., None]


def make_albedo(rng: np.random.Generator, topo, S: int, freckles: int) -> np.ndarray:
    """(S, S, 3) float true albedo map in UV space."""
    uvs = topo.uvs.numpy().astype(np.float64)
    lm = topo.lmk68.numpy()
    alb, base = base_skin_albedo(rng, S)
    grid = _uv_grid(S)
    # cheek redness
    for side in (36, 45):
        c = uvs[lm[side]] + np.array([0.0, -0.12])
        r2 = ((grid - c) ** 2).sum(-1)
        alb *= 1.0 - 0.08 * np.exp(-r2 / (2 * 0.06**2))[..., None] * np.array([0.0, 1.0, 0.8], np.float32)
    # brows: thick polylines
    brow = np.zeros((S, S), np.float32)
    for idx in (range(17, 22), range(22, 27)):
        pts = _uv_to_px(uvs[lm[list(idx)]] + np.array([0.0, 0.005]), S)
        brow = np.maximum(brow, _mask_from_polygon(pts, S, width=max(2, int(0.03 * S))))
    brow = _gauss_blur(brow, 0.006 * S)[..., None] * rng.uniform(0.7, 0.9)
    brow_col = np.array([0.22, 0.15, 0.11], np.float32) * rng.uniform(0.6, 1.3)
    alb = alb * (1 - brow) + brow_col * brow
    # lips: between the outer lip loop and the mouth opening
    lips = _gauss_blur(_mask_from_polygon(_uv_to_px(uvs[topo.lips_outer_loop.numpy()], S), S), 0.003 * S)[..., None]
    lip_col = base * np.array([0.95, 0.62, 0.62]) * rng.uniform(0.85, 1.0)
    alb = alb * (1 - 0.85 * lips) + 0.85 * lips * lip_col.astype(np.float32)
    mouth = _mask_from_polygon(_uv_to_px(uvs[topo.mouth_loop.numpy()], S), S)[..., None]
    alb = alb * (1 - mouth) + mouth * np.array([0.25, 0.08, 0.08], np.float32)
    # freckles and moles
    skin_box = (uvs[:, 0].min() + 0.1, uvs[:, 0].max() - 0.1, uvs[:, 1].min() + 0.15, uvs[:, 1].max() - 0.15)
    alb = _paint_freckles(rng, alb, grid, skin_box, freckles)
    # eyes: white, iris, pupil inside the eye openings
    iris_col = np.array([[0.25, 0.15, 0.08], [0.2, 0.3, 0.45], [0.3, 0.35, 0.2]])[rng.integers(3)]
    for loop, (a, b) in ((topo.eye_left_loop, (42, 45)), (topo.eye_right_loop, (36, 39))):
        pts = uvs[loop.numpy()]
        eye = _mask_from_polygon(_uv_to_px(pts, S), S)[..., None]
        c = uvs[lm[[a, b]]].mean(0)
        width = np.linalg.norm(uvs[lm[a]] - uvs[lm[b]])
        r = np.sqrt(((grid - c) ** 2).sum(-1))[..., None]
        col = np.where(r < 0.2 * width, np.array([0.04, 0.03, 0.03]),
                       np.where(r < 0.42 * width, iris_col, np.array([0.85, 0.82, 0.8])))
        alb = alb * (1 - eye) + eye * col.astype(np.float32)
    return np.clip(alb, 0.02, 0.98).astype(np.float32)


def make_displacement(rng: np.random.Generator, topo, S: int, cfg: SyntheticConfig) -> np.ndarray:
    """(S, S) float true displacement in cm (negative = creases into the skin)."""
    d = np.zeros((S, S), np.float32)
    if not cfg.detail:
        return d
    uvs = topo.uvs.numpy().astype(np.float64)
    lm = topo.lmk68.numpy()
    grid = _uv_grid(S)
    u, v = grid[..., 0], grid[..., 1]
    # UV units per cm (the chart spans about 15 cm in u)
    span_cm = float(topo.canonical[:, 0].max() - topo.canonical[:, 0].min())
    span_uv = float(uvs[:, 0].max() - uvs[:, 0].min())
    k = span_uv / span_cm
    sig = cfg.wrinkle_width * k
    depth = cfg.wrinkle_depth

    def crease(dist, amp, s=sig):
        return -amp * np.exp(-(dist**2) / (2 * s**2))

    # forehead creases: wavy horizontal lines above the brows
    brow_top = uvs[lm[17:27], 1].max()
    top = uvs[:, 1].max()
    n_lines = int(rng.integers(2, 5))
    xc = 0.5
    half = 0.5 * (uvs[lm[26], 0] - uvs[lm[17], 0])
    for i in range(n_lines):
        v0 = brow_top + (top - brow_top) * (0.18 + 0.55 * (i + rng.uniform(-0.2, 0.2)) / max(n_lines, 1))
        wav = 0.006 * np.sin(2 * np.pi * (u - 0.5) * rng.uniform(2, 4) + rng.uniform(0, 6)) + 0.02 * ((u - xc) / half) ** 2
        window = np.clip(1 - ((u - xc) / (half * rng.uniform(0.8, 1.1))) ** 4, 0, 1)
        d += crease(v - (v0 + wav), depth * rng.uniform(0.5, 1.0)) * window
    # frown lines between the brows
    for sgn in (-1, 1):
        x0 = 0.5 + sgn * 0.025
        y0 = brow_top - 0.01
        along = v - y0
        win = np.exp(-(along**2) / (2 * 0.025**2))
        d += crease(u - (x0 + sgn * 0.15 * along), depth * rng.uniform(0.3, 0.7)) * win
    # crow's feet: short radial lines at the outer eye corners
    for corner, sgn in ((lm[45], 1), (lm[36], -1)):
        c = uvs[corner] + np.array([sgn * 0.02, 0.0])
        for ang in np.deg2rad(np.array([-30.0, 0.0, 28.0]) + rng.uniform(-8, 8, 3)):
            dirv = np.array([sgn * math.cos(ang), math.sin(ang)])
            rel = grid - c
            t = rel @ dirv
            perp = rel @ np.array([-dirv[1], dirv[0]])
            win = np.clip((t - 0.004) / 0.01, 0, 1) * np.exp(-np.maximum(t - 0.035, 0) ** 2 / (2 * 0.015**2))
            d += crease(perp, depth * rng.uniform(0.3, 0.6), 0.7 * sig) * win
    # nasolabial folds: from the nose wing towards the mouth corner, bowed outwards
    for wing, mouth_c, sgn in ((lm[35], lm[54], 1), (lm[31], lm[48], -1)):
        dist, win = nasolabial_fold(grid, uvs[wing], uvs[mouth_c], sgn, 1.0)
        d += crease(dist, depth * rng.uniform(0.6, 1.0), 1.6 * sig) * win
    # pores
    if cfg.pore_depth > 0:
        pores = _gauss_blur(rng.standard_normal((S, S)).astype(np.float32), 1.5 * S / 512)
        d += cfg.pore_depth * pores / max(float(pores.std()), 1e-6)
    return d.astype(np.float32)


def nasolabial_fold(grid: np.ndarray, wing: np.ndarray, mouth_corner: np.ndarray, sgn: int, q: float):
    """Distance (S, S) of each UV texel ``grid`` (S, S, 2) to a nasolabial fold running from beside the
    nose wing towards beside the mouth corner, bowed outwards (``sgn`` +1 on the +u side, -1 on the -u
    side), and its window along the fold (0 at the ends). ``q`` scales the UV offsets (1 on the mask's
    chart; the head's chart passes its UV-per-cm ratio to the mask's)."""
    a = wing + np.array([sgn * 0.03 * q, 0.0])
    b = mouth_corner + np.array([sgn * 0.03 * q, -0.02 * q])
    ab = b - a
    length = np.linalg.norm(ab)
    dirv = ab / length
    t = np.clip((grid - a) @ dirv, 0, length)
    foot = a + t[..., None] * dirv + np.array([sgn, 0.0]) * (0.25 * length * np.sin(np.pi * t / length))[..., None]
    dist = np.linalg.norm(grid - foot, axis=-1)
    win = np.sin(np.pi * np.clip(t / length, 0, 1)) ** 0.5
    return dist, win


def make_light(rng: np.random.Generator, strength: tuple[float, float]) -> torch.Tensor:
    """(1, 9, 3) white-balanced SH light: unit ambient + a mostly frontal directional part."""
    A1C1 = sh_basis(torch.tensor([[0.0, 1.0, 0.0]]))[0, 1].item()  # band-1 basis value for a unit axis
    while True:
        l_dir = np.array([rng.uniform(-0.7, 0.7), rng.uniform(-0.1, 0.7), 1.0])
        l_dir /= np.linalg.norm(l_dir)
        k = rng.uniform(*strength)
        tint = 1.0 + rng.uniform(-0.05, 0.05, 3)
        c = np.zeros((9, 3))
        c[0] = 1.0 / AMBIENT_BASIS
        for ch in range(3):
            c[1, ch] = k * tint[ch] * l_dir[1] / A1C1
            c[2, ch] = k * tint[ch] * l_dir[2] / A1C1
            c[3, ch] = k * tint[ch] * l_dir[0] / A1C1
        c[4:] = rng.normal(0, 0.04, (5, 1)) * np.ones((1, 3))
        coeffs = torch.tensor(c, dtype=torch.float32)[None]
        # check: shading positive over the front hemisphere
        n = torch.nn.functional.normalize(torch.randn(2000, 3, generator=torch.Generator().manual_seed(0)), dim=-1)
        n = n * torch.sign(n[:, 2:3])
        sh = sh_basis(n) @ coeffs[0]
        if float(sh.min()) > 0.15:
            return coeffs


def random_shape(rng: np.random.Generator, topo, std: float) -> torch.Tensor:
    """(1, 468, 3) coarse vertices: canonical, scaled per axis and bent by smooth mirrored bumps."""
    can = topo.canonical.numpy().astype(np.float64)
    scale = np.array([rng.uniform(0.92, 1.08), rng.uniform(0.93, 1.07), rng.uniform(0.88, 1.12)])
    x = can * scale
    off = np.zeros_like(x)
    for _ in range(8):
        c = can[rng.integers(len(can))]
        r = rng.uniform(2.0, 4.0)
        a = rng.normal(0, std, 3)
        for sgn in (1, -1):
            cc = c * np.array([sgn, 1, 1])
            aa = a * np.array([sgn, 1, 1])
            w = np.exp(-((can - cc) ** 2).sum(-1) / (2 * r**2))
            off += 0.5 * w[:, None] * aa
    return torch.tensor(x + off, dtype=torch.float32)[None]


@dataclass(frozen=True)
class _Fine:
    faces: torch.Tensor
    uvs: torch.Tensor
    S: torch.Tensor
    region: torch.Tensor


_FINE: dict = {}


def _fine_mesh(levels: int) -> _Fine:
    """The coarse topology subdivided ``levels`` times (cached): faces, uvs, Loop matrix, face regions."""
    hit = _FINE.get(levels)
    if hit is None:
        from facesculpt.ops.subdivision import subdivide_levels

        topo = load_topology(2)
        f, S, Sl = subdivide_levels(topo.faces, topo.num_verts, levels)
        uvs = torch.sparse.mm(Sl, topo.uvs.float())
        region = topo.face_region.repeat_interleave(4**levels)
        hit = _Fine(f, uvs, S, region)
        _FINE.clear()
        _FINE[levels] = hit
    return hit


def displaced_mesh(coarse: torch.Tensor, displacement: torch.Tensor, levels: int):
    """Fine mesh (1, V, 3) of ``coarse`` (1, 468, 3) Loop-subdivided ``levels`` times and displaced
    by the UV map ``displacement`` (1, S, S) cm along its vertex normals. Returns (verts, faces, uvs, region)."""
    fine = _fine_mesh(levels)
    v = torch.sparse.mm(fine.S, coarse[0].float())[None]
    if displacement is not None and float(displacement.abs().max()) > 0:
        n = vertex_normals(v, fine.faces)
        d = sample_texture(displacement[..., None], fine.uvs[None, None])[0, 0, :, 0]
        v = v + d[None, :, None] * n
    return v, fine.faces, fine.uvs, fine.region


def _degrade(img: np.ndarray, rng: np.random.Generator, cfg: SyntheticConfig) -> np.ndarray:
    out = img.astype(np.float32) / 255.0
    if cfg.blur_sigma > 0:
        out = _gauss_blur(out, cfg.blur_sigma)
    if cfg.downsample > 1:
        H, W = out.shape[:2]
        t = torch.as_tensor(out).permute(2, 0, 1)[None]
        t = F.interpolate(t, size=(H // cfg.downsample, W // cfg.downsample), mode="area")
        t = F.interpolate(t, size=(H, W), mode="bilinear", align_corners=False)
        out = t[0].permute(1, 2, 0).numpy()
    if cfg.noise_sigma > 0:
        out = out + rng.normal(0, cfg.noise_sigma, out.shape).astype(np.float32)
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def generate_face(seed: int, cfg: SyntheticConfig = SyntheticConfig()) -> SyntheticFace:
    """One synthetic face, a deterministic function of ``seed`` and ``cfg``."""
    if cfg.size < 64 or cfg.uv_size < 16 or cfg.downsample < 1 or cfg.render_levels < 0:
        raise ShapeError(f"synthetic: expected size >= 64, uv_size >= 16, downsample >= 1, render_levels >= 0; got {cfg}")
    rng = np.random.default_rng(int(seed))
    topo = load_topology(2)
    S = cfg.uv_size
    coarse = random_shape(rng, topo, cfg.shape_std)
    albedo = torch.as_tensor(make_albedo(rng, topo, S, cfg.freckles))[None]
    disp = torch.as_tensor(make_displacement(rng, topo, S, cfg))[None]
    light = make_light(rng, cfg.light_strength)
    yaw, pitch, roll = (rng.uniform(-cfg.yaw_max, cfg.yaw_max), rng.uniform(-cfg.yaw_max / 3, cfg.yaw_max / 3),
                        rng.uniform(-cfg.yaw_max / 4, cfg.yaw_max / 4))
    R = torch.tensor([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]) @ euler_yxz_to_matrix(
        math.radians(yaw), math.radians(pitch), math.radians(roll))
    focal = DEFAULT_FOCAL_FACTOR * cfg.size
    width_cm = float(coarse[0, :, 0].max() - coarse[0, :, 0].min())
    z = focal * width_cm / (cfg.face_fraction * cfg.size)
    shift = rng.uniform(-0.05, 0.05, 2) * cfg.size / focal * z
    pose = Pose(matrix_to_rotvec(R[None]), torch.tensor([[shift[0], shift[1] - 1.0, z]], dtype=torch.float32))
    cam = Camera(torch.tensor([focal]), torch.tensor([[cfg.size / 2, cfg.size / 2]]), (cfg.size, cfg.size))

    verts, faces, uvs, region = displaced_mesh(coarse, disp, cfg.render_levels)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, cfg.size, cfg.size, 3).contiguous()
    with torch.no_grad():
        rend = render_face(verts, faces, uvs, pose, cam, albedo, light, background=bg)
        img = antialias(rend.image, rend.frags, rend.screen, faces).clamp(0, 1)
    clean = np.rint(img[0].numpy() * 255).astype(np.uint8)
    image = _degrade(clean, rng, cfg)
    p2f = rend.frags.pix_to_face[0]
    skin = (region[p2f.clamp(min=0)] == REGION_SKIN) & (p2f >= 0)
    normals = (rend.normals_view[0] * rend.mask[0, ..., None]).numpy()
    if float(disp.abs().max()) > 0:
        sv, sf, suv, _ = displaced_mesh(coarse, None, cfg.render_levels)
        with torch.no_grad():
            srend = render_face(sv, sf, suv, pose, cam, albedo, light, background=bg)
        normals_smooth = (srend.normals_view[0] * srend.mask[0, ..., None]).numpy()
    else:
        normals_smooth = normals.copy()
    info = {"seed": int(seed), "yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll, "distance_cm": z,
            "detail": cfg.detail, "displacement_rms_cm": float(disp.pow(2).mean().sqrt())}
    return SyntheticFace(
        image=image, clean=clean, albedo=albedo, displacement=disp, light=light, pose=pose, camera=cam,
        verts=coarse, normals=normals, normals_smooth=normals_smooth,
        depth=(rend.frags.zbuf[0] * rend.mask[0]).numpy(), mask=skin.numpy(), info=info,
    )
