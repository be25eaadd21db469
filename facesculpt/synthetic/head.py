"""Synthetic faces on the morphable head, with known truth: identity, expression, gaze, detail,
albedo, SH light and camera.

Everything is a deterministic function of a seed (private ``numpy`` Generators, one stream per
component, so a seed with and without detail or expression is the same person in the same pose
and light; the global torch/numpy random state is neither read nor changed). The pieces:

* shape: the ICT head (``face_model.load_face_model``) with identity coefficients drawn from the
  model's prior N(0, 1) (all 100 modes) and a sparse, realistic expression: 0-3 "actions" (jaw
  open, smile, blink, brows up, brows down, pucker, funnel, squint; ``ACTIONS``) with a little
  left/right asymmetry, every weight in [0, 1]; a small conjugate gaze;
* detail: a displacement map in the face tile's UV layout (tile 0), cm along the normal (negative
  = into the skin): forehead creases, frown lines, crow's feet, nasolabial folds and pores, placed
  with the UV positions of the model's embedded landmarks, displaced along the normals of the
  skin (face part, scalp, neck and sockets welded into one surface) subdivided ``head_levels``
  times. The smooth surface is the model's own (its triangles, shaded with interpolated vertex
  normals; see ``head_mesh``), the surface a fit represents;
* albedo: the face tile painted like ``generator.make_albedo`` (skin tone, blotches, cheek
  redness, freckles and moles; brows and lips inside mediapipe's brow and outer lip contours, so a
  detector that finds them finds the embedded points the fit uses); the rest of
  the head (scalp, neck, eye and mouth sockets) continued from it (``texture.head.fill_head_tile``),
  eyeballs with a random iris (``texture.head.eye_texture``), plain teeth and gums;
* light: ``generator.make_light``; camera: perspective (focal 1.4 x image side), yaw uniform in
  +-``yaw_max``, pitch and roll in +-``yaw_max / 3``, the face (narrow face region) centred, at
  the distance that makes its cheek-to-cheek width ``face_fraction`` of the image width.

The photo is the whole head (so the silhouette is a head), degraded like ``generate_face``; the
true normals and depth are those of every covered pixel of the clean render, the mask the pixels
of the face part (tile 0: face and ears, all skin; eyes and mouth are holes in it).

The constants of the painted features are ``generator.make_albedo``/``make_displacement``'s,
converted from the 468-point mask's UV chart to this one by the ratio of their UV units per cm
(``MASK_UV_PER_CM`` vs ``uv_per_cm(model)``), so wrinkles and spots keep their size in cm.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from facesculpt.core.conventions import DEFAULT_FOCAL_FACTOR, MODEL_TO_CV
from facesculpt.core.errors import ShapeError
from facesculpt.face_model import (
    PART_EYE_SOCKET_LEFT,
    PART_EYE_SOCKET_RIGHT,
    PART_EYEBALL_LEFT,
    PART_EYEBALL_RIGHT,
    PART_FACE,
    PART_GUMS,
    PART_HEAD_NECK,
    PART_MOUTH_SOCKET,
    PART_TEETH,
    FaceModel,
    HeadParams,
    load_face_model,
)
from facesculpt.ops.mesh import vertex_normals
from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
from facesculpt.render.antialias import antialias
from facesculpt.render.face import render_face
from facesculpt.render.texture import texture as sample_texture
from facesculpt.structures import Camera, Pose
from facesculpt.synthetic.generator import (
    SyntheticConfig,
    SyntheticFace,
    _degrade,
    _gauss_blur,
    _mask_from_polygon,
    _paint_freckles,
    _uv_grid,
    _uv_to_px,
    base_skin_albedo,
    make_light,
    nasolabial_fold,
)

#: the head benchmark's default largest yaw, degrees
HEAD_YAW_MAX = 60.0
#: UV units per cm of the 468-point mask's chart (its u span over its canonical x span, measured),
#: the unit ``generator.make_albedo``/``make_displacement``'s constants are written in
MASK_UV_PER_CM = 0.0689
#: height (cm above the brows) of the forehead band the creases are spread over (the mask's
#: forehead, which the old generator spread them over, is 2-3 cm; the head's reaches the hairline)
FOREHEAD_CM = 4.0
#: mediapipe indices of the outer lip contour (ccw), as in the mask topology's ``lips_outer_loop``
LIPS_OUTER = (291, 409, 270, 269, 267, 0, 37, 39, 40, 185, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375)
#: mediapipe brow contours as closed loops (upper contour out, lower contour back), right and left
BROWS = ((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), (300, 293, 334, 296, 336, 285, 295, 282, 283, 276))
#: iris colours (sRGB 0-1) the eyes are drawn from
IRIS_COLOURS = ((0.25, 0.15, 0.08), (0.2, 0.3, 0.45), (0.3, 0.35, 0.2), (0.35, 0.22, 0.12))


def head_config(**overrides) -> SyntheticConfig:
    """The head generator's default ``SyntheticConfig`` (model "head", yaw up to 60 deg), with overrides."""
    base = dict(model="head", yaw_max=HEAD_YAW_MAX)
    base.update(overrides)
    return SyntheticConfig(**base)


# ----------------------------------------------------------------------------- parameters


def _pair(rng: np.random.Generator, lo: float, hi: float, asym: float = 0.2) -> tuple[float, float]:
    """A left/right pair of weights: a common level in [lo, hi], each side scaled by 1 +- ``asym``."""
    w = rng.uniform(lo, hi)
    a, b = w * (1 + rng.uniform(-asym, asym, 2))
    return float(np.clip(a, 0, 1)), float(np.clip(b, 0, 1))


def _jaw_open(rng):
    lo_l, lo_r = _pair(rng, 0.0, 0.3)
    return {"jawOpen": rng.uniform(0.2, 0.7), "mouthLowerDown_L": lo_l, "mouthLowerDown_R": lo_r}


def _smile(rng):
    sl, sr = _pair(rng, 0.3, 0.8)
    k = rng.uniform(0.3, 0.6)
    return {"mouthSmile_L": sl, "mouthSmile_R": sr, "cheekSquint_L": k * sl, "cheekSquint_R": k * sr}


def _blink(rng):
    bl, br = _pair(rng, 0.5, 1.0, 0.15)
    return {"eyeBlink_L": bl, "eyeBlink_R": br}


def _brows_up(rng):
    il, ir = _pair(rng, 0.3, 0.8)
    ol, orr = _pair(rng, 0.2, 0.7)
    return {"browInnerUp_L": il, "browInnerUp_R": ir, "browOuterUp_L": ol, "browOuterUp_R": orr}


def _brows_down(rng):
    dl, dr = _pair(rng, 0.3, 0.8)
    return {"browDown_L": dl, "browDown_R": dr}


def _pucker(rng):
    return {"mouthPucker": rng.uniform(0.3, 0.8)}


def _funnel(rng):
    return {"mouthFunnel": rng.uniform(0.2, 0.6), "jawOpen": rng.uniform(0.0, 0.15)}


def _squint(rng):
    ql, qr = _pair(rng, 0.3, 0.8)
    return {"eyeSquint_L": ql, "eyeSquint_R": qr}


#: the expression actions: name -> draw(rng) -> {blendshape name: weight}
ACTIONS = {"jaw_open": _jaw_open, "smile": _smile, "blink": _blink, "brows_up": _brows_up,
           "brows_down": _brows_down, "pucker": _pucker, "funnel": _funnel, "squint": _squint}
#: actions that never go together (one brow movement; one mouth shape)
EXCLUSIVE = (("brows_up", "brows_down"), ("smile", "pucker", "funnel"))
#: probabilities of 0, 1, 2 and 3 actions
N_ACTIONS_P = (0.15, 0.35, 0.3, 0.2)


def sample_expression(rng: np.random.Generator, names: tuple, max_actions: int = 3) -> tuple[np.ndarray, list]:
    """(E,) blendshape weights in [0, 1] from 0-``max_actions`` compatible actions, and their names."""
    p = np.asarray(N_ACTIONS_P[: max_actions + 1], dtype=np.float64)
    n = int(rng.choice(len(p), p=p / p.sum()))
    picked: list = []
    for name in rng.permutation(list(ACTIONS)):
        if len(picked) == n:
            break
        if any(name in grp and any(q in grp for q in picked) for grp in EXCLUSIVE):
            continue
        picked.append(str(name))
    w = np.zeros(len(names), np.float64)
    for a in picked:
        for k, v in ACTIONS[a](rng).items():
            i = names.index(k)
            w[i] = max(w[i], float(v))
    return np.clip(w, 0.0, 1.0), picked


def sample_gaze(rng: np.random.Generator) -> np.ndarray:
    """(2, 2) small conjugate gaze (yaw, pitch per eye, radians): |yaw| <= 0.2, |pitch| <= 0.12."""
    yaw = float(np.clip(rng.normal(0, 0.08), -0.2, 0.2))
    pitch = float(np.clip(rng.normal(0, 0.05), -0.12, 0.12))
    verg = float(rng.uniform(0, 0.03))  # a little convergence
    return np.array([[yaw - verg, pitch], [yaw + verg, pitch]])


# ----------------------------------------------------------------------------- UV layout


def landmark_uvs(model: FaceModel, name: str) -> np.ndarray:
    """(N, 2) tile-local UVs of the embedded points ``name``: each point's barycentric mix of its
    triangle's corner UVs (``model.face_uvs`` into ``model.uvs``), the tile (integer part of u) removed."""
    emb = model.landmarks[name]
    corner = model.uvs[model.face_uvs[emb.faces]].double()  # (N, 3, 2)
    uv = (corner * emb.bary.double()[..., None]).sum(1)
    uv[:, 0] -= torch.floor(corner[:, 0, 0])
    return uv.numpy()


@functools.lru_cache(maxsize=4)
def uv_per_cm(model: FaceModel) -> float:
    """UV units per cm of the face tile: the median ratio of UV to template edge lengths over the
    narrow face's triangles."""
    rm = model.render_mesh((PART_FACE,))
    X = model.template[rm.vert_index].double()
    f, uv = rm.faces, rm.uvs.double()
    e3 = (X[f[:, 0]] - X[f[:, 1]]).norm(dim=1)
    e2 = (uv[f[:, 0]] - uv[f[:, 1]]).norm(dim=1)
    keep = model.narrow_face[rm.vert_index][f].all(1) & (e3 > 1e-6)
    return float((e2[keep] / e3[keep]).median())


#: face-tile u of the ICT model's Multi-PIE jaw-end vertices (iBUG points 0 and 16 before they moved to
#: the face outline): the horizontal extent of the synthetic freckles
JAW_END_U = (0.13976000249385834, 0.8602399826049805)  # the float32 UVs, as read before


@dataclass(frozen=True)
class _Layout:
    """Where the painted features go in the face tile: the 68 iBUG points and the 468 mediapipe
    points as UVs, UV units per cm, and ``q`` = that over the mask chart's (scales its constants)."""

    lm: np.ndarray
    mp: np.ndarray
    k: float
    q: float


def _layout(model: FaceModel) -> _Layout:
    k = uv_per_cm(model)
    # the upstream 68 points (before the render registration of the brows, nose and lips): the painted brows and
    # lips stay where every synthetic head, benchmark and training set had them
    return _Layout(landmark_uvs(model, "ibug68_multipie"), landmark_uvs(model, "mediapipe")[:468], k,
                   k / MASK_UV_PER_CM)


def make_head_albedo(rng: np.random.Generator, model: FaceModel, S: int, freckles: int) -> np.ndarray:
    """(S, S, 3) float true albedo of the face tile (tile 0 of ``model``'s UVs)."""
    L = _layout(model)
    lm, q = L.lm, L.q
    alb, base = base_skin_albedo(rng, S)
    grid = _uv_grid(S)
    # cheek redness below the outer eye corners
    for corner in (36, 45):
        c = lm[corner] + np.array([0.0, -0.12 * q])
        r2 = ((grid - c) ** 2).sum(-1)
        alb *= 1.0 - 0.08 * np.exp(-r2 / (2 * (0.06 * q) ** 2))[..., None] * np.array([0.0, 1.0, 0.8], np.float32)
    # brows: the band between mediapipe's upper and lower brow contours (the points the fit
    # uses), so a detector that finds the painted brow finds the embedded points
    brow = np.zeros((S, S), np.float32)
    for loop in BROWS:
        brow = np.maximum(brow, _mask_from_polygon(_uv_to_px(L.mp[list(loop)], S), S))
    brow = _gauss_blur(brow, 0.006 * q * S)[..., None] * rng.uniform(0.7, 0.9)
    brow_col = np.array([0.22, 0.15, 0.11], np.float32) * rng.uniform(0.6, 1.3)
    alb = alb * (1 - brow) + brow_col * brow
    # lips: inside the outer lip contour (the mouth opening is a hole of the face part)
    lips = _gauss_blur(_mask_from_polygon(_uv_to_px(L.mp[list(LIPS_OUTER)], S), S), 0.003 * q * S)[..., None]
    lip_col = base * np.array([0.95, 0.62, 0.62]) * rng.uniform(0.85, 1.0)
    alb = alb * (1 - 0.85 * lips) + 0.85 * lips * lip_col.astype(np.float32)
    # freckles and moles over the face (between the jaw ends, chin to above the brows)
    # (u of the Multi-PIE jaw-end vertices: the packaged iBUG jaw points moved onto the face outline
    # later, and the photos of the benchmarks stay what they were)
    box = (JAW_END_U[0], JAW_END_U[1], lm[8, 1], lm[17:27, 1].max() + 2.5 * L.k)
    alb = _paint_freckles(rng, alb, grid, box, freckles, q)
    return np.clip(alb, 0.02, 0.98).astype(np.float32)


#: scales of ``skin_mottling``'s octaves, in texels of a 256-texel map (0.2-3 % of the tile's side)
MOTTLING_SCALES = (0.5, 1.0, 2.0, 4.0, 8.0)


def skin_mottling(rng: np.random.Generator, S: int, amplitude: float) -> np.ndarray:
    """(S, S, 3) multiplicative skin mottling ``exp(L)`` (``SyntheticConfig.skin_mottling``): L sums one band of
    Gaussian-filtered white noise per scale of ``MOTTLING_SCALES``, each of standard deviation
    ``amplitude / sqrt(len(MOTTLING_SCALES))`` in brightness, with a chroma part 0.3 times as strong (more red,
    less blue where it is positive). ``amplitude`` 0 gives ones."""
    from scipy.ndimage import gaussian_filter

    if amplitude <= 0:
        return np.ones((S, S, 3), np.float32)
    log = np.zeros((S, S, 3), np.float64)
    chroma = np.array([0.5, -0.3, -0.6])
    for sigma in MOTTLING_SCALES:
        lum = gaussian_filter(rng.standard_normal((S, S)), sigma * S / 256)
        col = gaussian_filter(rng.standard_normal((S, S)), sigma * S / 256)
        lum, col = lum / lum.std(), col / col.std()
        log += amplitude / np.sqrt(len(MOTTLING_SCALES)) * (lum[..., None] + 0.3 * col[..., None] * chroma)
    return np.exp(log).astype(np.float32)


def make_head_displacement(rng: np.random.Generator, model: FaceModel, S: int, cfg: SyntheticConfig) -> np.ndarray:
    """(S, S) float true displacement of the face tile in cm (negative = creases into the skin)."""
    d = np.zeros((S, S), np.float32)
    if not cfg.detail:
        return d
    L = _layout(model)
    lm, q = L.lm, L.q
    grid = _uv_grid(S)
    u, v = grid[..., 0], grid[..., 1]
    sig = cfg.wrinkle_width * L.k
    depth = cfg.wrinkle_depth

    def crease(dist, amp, s=sig):
        return -amp * np.exp(-(dist**2) / (2 * s**2))

    # forehead creases: wavy horizontal lines above the brows
    brow_top = lm[17:27, 1].max()
    top = brow_top + FOREHEAD_CM * L.k
    n_lines = int(rng.integers(2, 5))
    xc = float(lm[27:31, 0].mean())  # the nose bridge: the face's midline in UV
    half = 0.5 * (lm[26, 0] - lm[17, 0])
    for i in range(n_lines):
        v0 = brow_top + (top - brow_top) * (0.18 + 0.55 * (i + rng.uniform(-0.2, 0.2)) / max(n_lines, 1))
        wav = (0.006 * q * np.sin(2 * np.pi * (u - xc) / q * rng.uniform(2, 4) + rng.uniform(0, 6))
               + 0.02 * q * ((u - xc) / half) ** 2)
        window = np.clip(1 - ((u - xc) / (half * rng.uniform(0.8, 1.1))) ** 4, 0, 1)
        d += crease(v - (v0 + wav), depth * rng.uniform(0.5, 1.0)) * window
    # frown lines between the brows
    for sgn in (-1, 1):
        x0 = xc + sgn * 0.025 * q
        y0 = brow_top - 0.01 * q
        along = v - y0
        win = np.exp(-(along**2) / (2 * (0.025 * q) ** 2))
        d += crease(u - (x0 + sgn * 0.15 * along), depth * rng.uniform(0.3, 0.7)) * win
    # crow's feet: short radial lines at the outer eye corners
    for corner, sgn in ((lm[45], 1), (lm[36], -1)):
        c = corner + np.array([sgn * 0.02 * q, 0.0])
        for ang in np.deg2rad(np.array([-30.0, 0.0, 28.0]) + rng.uniform(-8, 8, 3)):
            dirv = np.array([sgn * math.cos(ang), math.sin(ang)])
            rel = grid - c
            t = rel @ dirv
            perp = rel @ np.array([-dirv[1], dirv[0]])
            win = (np.clip((t - 0.004 * q) / (0.01 * q), 0, 1)
                   * np.exp(-np.maximum(t - 0.035 * q, 0) ** 2 / (2 * (0.015 * q) ** 2)))
            d += crease(perp, depth * rng.uniform(0.3, 0.6), 0.7 * sig) * win
    # nasolabial folds: from the nose wing towards the mouth corner, bowed outwards
    for wing, mouth_c, sgn in ((lm[35], lm[54], 1), (lm[31], lm[48], -1)):
        dist, win = nasolabial_fold(grid, wing, mouth_c, sgn, q)
        d += crease(dist, depth * rng.uniform(0.6, 1.0), 1.6 * sig) * win
    # pores: the mask generator's band (1.5 texels of a 512 map of its chart), in cm
    if cfg.pore_depth > 0:
        pores = _gauss_blur(rng.standard_normal((S, S)).astype(np.float32), max(0.5, 1.5 * q * S / 512))
        d += cfg.pore_depth * pores / max(float(pores.std()), 1e-6)
    return d.astype(np.float32)


# ----------------------------------------------------------------------------- the scene


#: render groups: (parts, atlas slot, skin). The skin groups (face part, and the scalp, neck and
#: sockets around it) are subdivided ``head_levels`` times as one welded surface; the eyeballs,
#: gums and teeth are rendered as they are.
_GROUPS = (
    ((PART_FACE,), 0, True),
    ((PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT), 1, True),
    ((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT), 2, False),
    ((PART_GUMS,), 3, False),
    ((PART_TEETH,), 4, False),
)
_SLOTS = 5


@dataclass(frozen=True, eq=False)
class _Weld:
    """One welded (not split at UV seams) surface of some render groups, subdivided.

    model_verts: (Vw,) the model vertices it is made of; coarse_faces: (Fw, 3) into them;
    faces: (Fw', 3) fine triangles; S_lin: (Vw', Vw) sparse linear subdivision matrix; groups: per
    render group (slot, faces (F', 3) into its fine render vertices, uvs (V', 2) tile-local,
    weld (V',) its fine welded vertex)."""

    model_verts: torch.Tensor
    coarse_faces: torch.Tensor
    faces: torch.Tensor
    S_lin: torch.Tensor
    groups: tuple


@functools.lru_cache(maxsize=2)
def _scene(model: FaceModel, levels: int) -> tuple:
    """The skin and the other parts of the head as welded surfaces, the skin subdivided ``levels``
    times (cached per model and level). Each render group (split at its UV seams, for the
    texture) takes its fine vertices from the welded fine vertices, corner by corner (fine face
    ``4^L f + k`` of a split mesh is the same triangle as of the welded one), so the face's border
    with the rest of the head and the UV seams stay closed and the normals smooth across them."""
    from facesculpt.ops.subdivision import subdivide_levels

    out = []
    for skin, lev in ((True, levels), (False, 0)):
        groups = [(model.render_mesh(parts), slot) for parts, slot, s in _GROUPS if s == skin]
        model_faces = torch.cat([model.faces[rm.model_faces] for rm, _ in groups])
        mv, inv = torch.unique(model_faces.reshape(-1), return_inverse=True)
        cf = inv.reshape(-1, 3)
        wf, _, S_lin_w = subdivide_levels(cf, len(mv), lev)
        wf = torch.as_tensor(wf).long()
        gs, f0 = [], 0
        for rm, slot in groups:
            f, _, S_lin = subdivide_levels(rm.faces, rm.num_verts, lev)
            f = torch.as_tensor(f).long()
            nf = f.shape[0]
            weld = torch.zeros(int(S_lin.shape[0]), dtype=torch.long)
            weld[f.reshape(-1)] = wf[f0:f0 + nf].reshape(-1)
            gs.append((slot, f, torch.sparse.mm(S_lin, rm.uvs.float()), weld))
            f0 += nf
        out.append(_Weld(mv, cf, wf, S_lin_w, tuple(gs)))
    return tuple(out)


def _rotate_between(a: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``v`` turned by the smallest rotation taking unit ``a`` to unit ``b`` (Rodrigues; all (..., 3))."""
    k = torch.cross(a, b, dim=-1)
    sin = k.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True)
    k = k / sin.clamp(min=1e-12)
    return v * cos + torch.cross(k, v, dim=-1) * sin + k * (k * v).sum(-1, keepdim=True) * (1 - cos)


def head_mesh(model: FaceModel, head_verts: torch.Tensor, displacement, levels: int):
    """The whole head as one render mesh for ``render_face``: (verts (1, N, 3) cm, faces (F, 3),
    atlas uvs (N, 2), shading normals (1, N, 3) model frame, number of face-part triangles (they
    come first)). Atlas u = (slot + u) / 5, slots as in ``atlas``.

    The surface is the model's own: the head's triangles (linear subdivision keeps the fine
    vertices on them) shaded with the head's interpolated vertex normals — the surface the fit
    represents, so a perfect coarse fit has no normal error. The skin is subdivided ``levels``
    times to carry the detail: its face part moves by ``displacement`` (1, S, S) cm (or None)
    along the interpolated normals, and each fine vertex's shading normal is the interpolated
    normal turned by the rotation the displacement gives the fine mesh's own normal there."""
    verts, faces, uvs, normals = [], [], [], []
    n0, n_face = 0, 0
    for w in _scene(model, levels):
        vc = head_verts[:, w.model_verts].float()
        vw = torch.sparse.mm(w.S_lin, vc[0])[None]
        nw = torch.sparse.mm(w.S_lin, vertex_normals(vc, w.coarse_faces)[0])[None]
        nw = torch.nn.functional.normalize(nw, dim=-1, eps=1e-12)
        if displacement is not None and float(displacement.abs().max()) > 0:
            for slot, f, uv, weld in w.groups:
                if slot == 0:  # one value per welded vertex (the last split copy's, at the face's UV seams)
                    d = torch.zeros(vw.shape[1])
                    d[weld] = sample_texture(displacement[..., None], uv[None, None])[0, 0, :, 0]
                    flat = vertex_normals(vw, w.faces)
                    vw = vw + d[None, :, None] * nw
                    nw = _rotate_between(flat, vertex_normals(vw, w.faces), nw)
        for slot, f, uv, weld in w.groups:
            if slot == 0:
                n_face = int(f.shape[0])
            verts.append(vw[:, weld])
            normals.append(nw[:, weld])
            faces.append(f + n0)
            uvs.append(torch.stack([(slot + uv[:, 0].clamp(0.001, 0.999)) / _SLOTS, uv[:, 1]], -1))
            n0 += len(weld)
    return torch.cat(verts, 1), torch.cat(faces, 0), torch.cat(uvs, 0), torch.cat(normals, 1), n_face


def atlas(model: FaceModel, face_albedo: torch.Tensor, iris_rgb) -> torch.Tensor:
    """(1, S, 5 S, 3) texture atlas of the whole head: the face albedo (1, S, S, 3), the head tile
    continued from it, the eyeballs with ``iris_rgb``, plain gums and teeth."""
    from facesculpt.texture.head import GUMS_COLOUR, TEETH_COLOUR, eye_texture, fill_head_tile

    S = face_albedo.shape[1]
    face_rm = model.render_mesh((PART_FACE,))
    head_rm = model.render_mesh(_GROUPS[1][0])
    head = fill_head_tile(model, face_rm, head_rm, face_albedo, S)
    eyes = eye_texture(model, iris_rgb, size=S)
    plain = [torch.tensor(c, dtype=torch.float32).expand(1, S, S, 3) for c in (GUMS_COLOUR, TEETH_COLOUR)]
    return torch.cat([face_albedo.float(), head.float(), eyes.float(), *plain], dim=2).contiguous()


def face_pose(model: FaceModel, head_verts: torch.Tensor, yaw: float, pitch: float, roll: float,
              shift_px: np.ndarray, cfg: SyntheticConfig, focal: float | None = None) -> tuple[Pose, Camera, float]:
    """Pose and camera that show the face (narrow face region) centred (plus ``shift_px`` pixels),
    its cheek-to-cheek width ``cfg.face_fraction`` of the image, seen with focal length ``focal`` pixels
    (default ``DEFAULT_FOCAL_FACTOR`` x the image side). Returns (pose, camera, distance cm)."""
    R = MODEL_TO_CV @ euler_yxz_to_matrix(math.radians(yaw), math.radians(pitch), math.radians(roll))
    focal = DEFAULT_FOCAL_FACTOR * cfg.size if focal is None else float(focal)
    face = head_verts[0, model.narrow_face].double()
    width_cm = float(face[:, 0].max() - face[:, 0].min())
    z = focal * width_cm / (cfg.face_fraction * cfg.size)
    centre = face.mean(0).float()
    target = torch.tensor([shift_px[0] * z / focal, shift_px[1] * z / focal, z], dtype=torch.float32)
    t = target - R @ centre
    pose = Pose(matrix_to_rotvec(R[None]), t[None])
    cam = Camera(torch.tensor([focal]), torch.tensor([[cfg.size / 2, cfg.size / 2]]), (cfg.size, cfg.size))
    return pose, cam, z


def render_photo(verts: torch.Tensor, faces: torch.Tensor, uvs, pose: Pose, cam: Camera, tex: torch.Tensor,
                 light: torch.Tensor, background: torch.Tensor, normals_model: torch.Tensor, *, srgb: bool):
    """The photo of a head mesh (``head_mesh``'s outputs) textured with the sRGB-coded atlas ``tex``
    (1, S, 5 S, 3) under the SH ``light`` in front of ``background`` (1, H, W, 3, sRGB-coded).
    Returns (the renderer's output, image (1, H, W, 3) in [0, 1], antialiased).

    ``srgb=True`` (camera-like, ``SyntheticConfig.srgb``): atlas and background decoded to linear
    light, shaded there, the image encoded to sRGB. ``srgb=False``: the sRGB values shaded directly
    (the head renders before session 6). The one implementation for the synthetic benchmark's photos
    and the landmark tools' renders (``tools/register_landmarks_renders.render_view``)."""
    from facesculpt.texture.color import linear_to_srgb, srgb_to_linear

    if srgb:
        tex, background = srgb_to_linear(tex).contiguous(), srgb_to_linear(background).contiguous()
    with torch.no_grad():
        rend = render_face(verts, faces, uvs, pose, cam, tex, light, background=background,
                           normals_model=normals_model)
        img = antialias(rend.image, rend.frags, rend.screen, faces).clamp(0, 1)
        if srgb:
            img = linear_to_srgb(img)
    return rend, img


def generate_head_face(seed: int, cfg: SyntheticConfig | None = None, *, expression: bool = True) -> SyntheticFace:
    """One synthetic head photo and its truth, a deterministic function of ``seed`` and ``cfg``
    (default ``head_config()``). ``expression=False``: neutral expression and straight gaze.
    Identity and expression, albedo, detail and scene (light, pose, degradation) come from
    separate streams of the seed: the same seed with and without detail or expression is the same
    person in the same pose and light."""
    cfg = head_config() if cfg is None else cfg
    if cfg.size < 64 or cfg.uv_size < 16 or cfg.downsample < 1 or cfg.head_levels < 0 or not 0 <= cfg.yaw_max <= 90:
        raise ShapeError("synthetic head: expected size >= 64, uv_size >= 16, downsample >= 1, head_levels >= 0, "
                         f"0 <= yaw_max <= 90; got {cfg}")
    # one stream per component, so that the detail / smooth variants and expression=False of a seed
    # share everything else (head, albedo, light, pose)
    # (a fifth stream, the skin mottling's, leaves the first four as they were)
    r_shape, r_albedo, r_detail, r_scene, r_mottle = (np.random.default_rng(s)
                                                      for s in np.random.SeedSequence(int(seed)).spawn(5))
    model = load_face_model()
    S = cfg.uv_size
    names = model.expression_names
    ident = r_shape.standard_normal(model.num_identity)
    expr, actions = sample_expression(r_shape, names)
    gaze = sample_gaze(r_shape)
    if not expression:
        expr, actions, gaze = np.zeros_like(expr), [], np.zeros_like(gaze)
    head = HeadParams(torch.tensor(ident, dtype=torch.float32)[None], torch.tensor(expr, dtype=torch.float32)[None],
                      torch.tensor(gaze, dtype=torch.float32)[None])
    with torch.no_grad():
        head_verts = model.vertices(head)
    alb = make_head_albedo(r_albedo, model, S, cfg.freckles)
    if cfg.skin_mottling > 0:  # its own stream: the albedo without it is unchanged
        alb = np.clip(alb * skin_mottling(r_mottle, S, cfg.skin_mottling), 0.02, 0.98).astype(np.float32)
    albedo = torch.as_tensor(alb)[None]
    iris = IRIS_COLOURS[int(r_albedo.integers(len(IRIS_COLOURS)))]
    disp = torch.as_tensor(make_head_displacement(r_detail, model, S, cfg))[None]
    light = make_light(r_scene, cfg.light_strength)
    yaw = float(r_scene.uniform(-cfg.yaw_max, cfg.yaw_max))
    pitch, roll = (float(x) for x in r_scene.uniform(-cfg.yaw_max / 3, cfg.yaw_max / 3, 2))
    shift = r_scene.uniform(-0.05, 0.05, 2) * cfg.size
    pose, cam, z = face_pose(model, head_verts, yaw, pitch, roll, shift, cfg)

    tex = atlas(model, albedo, iris)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, cfg.size, cfg.size, 3).contiguous()
    verts, faces, uvs, vn, n_face = head_mesh(model, head_verts, disp, cfg.head_levels)
    rend, img = render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=cfg.srgb)
    clean = np.rint(img[0].numpy() * 255).astype(np.uint8)
    image = _degrade(clean, r_scene, cfg)
    p2f = rend.frags.pix_to_face[0]
    skin = (p2f >= 0) & (p2f < n_face)
    normals = (rend.normals_view[0] * rend.mask[0, ..., None]).numpy()
    if float(disp.abs().max()) > 0:
        sv, sf, suv, svn, _ = head_mesh(model, head_verts, None, cfg.head_levels)
        with torch.no_grad():
            srend = render_face(sv, sf, suv, pose, cam, tex, light, background=bg, normals_model=svn)
        normals_smooth = (srend.normals_view[0] * srend.mask[0, ..., None]).numpy()
    else:
        normals_smooth = normals.copy()
    info = {"seed": int(seed), "model": "head", "yaw_deg": yaw, "pitch_deg": pitch, "roll_deg": roll,
            "distance_cm": z, "detail": cfg.detail, "displacement_rms_cm": float(disp.pow(2).mean().sqrt()),
            "actions": actions, "expression": {n: float(w) for n, w in zip(names, expr) if w > 0},
            "gaze_rad": gaze.tolist(), "iris_rgb": list(iris)}
    with torch.no_grad():
        points = model.points(head_verts, "mediapipe")
    return SyntheticFace(
        image=image, clean=clean, albedo=albedo, displacement=disp, light=light, pose=pose, camera=cam,
        verts=points, normals=normals, normals_smooth=normals_smooth,
        depth=(rend.frags.zbuf[0] * rend.mask[0]).numpy(), mask=skin.numpy(), info=info,
        head=head, head_verts=head_verts,
    )


def render_head_photo(model: FaceModel, head_verts: torch.Tensor, tex: torch.Tensor, light: torch.Tensor, pose: Pose,
                      cam: Camera, cfg: SyntheticConfig, neutral_verts: torch.Tensor | None = None) -> np.ndarray:
    """(H, W, 3) uint8 photo of the smooth head ``head_verts`` (1, V, 3) cm with the atlas ``tex`` (``atlas``)
    under ``light`` (``render_photo``, encoded as ``cfg.srgb`` says), without detail or degradation: the
    frames of the rendered synthetic clips. With ``cfg.lid_cover`` and ``neutral_verts`` (the same identity and
    gaze, no expression) the lids are pushed out of the eyeballs first (``FaceModel.cover_eyeballs``)."""
    if cfg.lid_cover and neutral_verts is not None:
        head_verts = model.cover_eyeballs(head_verts, neutral_verts)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, cfg.size, cfg.size, 3).contiguous()
    verts, faces, uvs, vn, _ = head_mesh(model, head_verts, None, cfg.head_levels)
    _, img = render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=cfg.srgb)
    return np.rint(img[0].numpy() * 255).astype(np.uint8)


def generate(seed: int, cfg: SyntheticConfig, *, expression: bool = True) -> SyntheticFace:
    """``generate_head_face`` for ``cfg.model == "head"``, ``generator.generate_face`` for "mask"."""
    from facesculpt.synthetic.generator import generate_face

    if cfg.model == "head":
        return generate_head_face(seed, cfg, expression=expression)
    if cfg.model == "mask":
        return generate_face(seed, cfg)
    raise ValueError(f"synthetic: model must be head or mask, got {cfg.model!r}")


__all__ = ["generate_head_face", "generate", "render_photo", "render_head_photo",
           "head_config", "head_mesh", "atlas", "face_pose", "sample_expression",
           "sample_gaze", "landmark_uvs", "uv_per_cm", "make_head_albedo", "make_head_displacement", "ACTIONS",
           "HEAD_YAW_MAX"]
