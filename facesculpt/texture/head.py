"""Textures of the whole morphable head beyond the photographed face: the texel mirror map of a
UV chart, the head/neck tile continued from the face tile, the eyeball texture and flat colours
for teeth and gums.

Conventions: UV maps are channels-last ``(1, S, S, 3)`` floats in [0, 1], row 0 at v = 1, texel
(row i, column j) centred at ((j + 0.5) / S, 1 - (i + 0.5) / S) (``docs/conventions.md``).
Everything that depends on the mesh comes from the ``FaceModel`` / ``RenderMesh`` passed in.

Hand-written on purpose: the harmonic extension is a sparse linear solve (scipy), the rest is
rasterisation with ``facesculpt.render`` and a few array operations; no installable library does
"continue a texture over a mesh graph" or "paint an eyeball for this UV layout".
"""
from __future__ import annotations

import functools
import hashlib
import weakref
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import scipy.sparse as sp
import scipy.sparse.csgraph as csgraph
import scipy.sparse.linalg as spla
import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.errors import ShapeError
from facesculpt.face_model import (
    PART_EYE_SOCKET_LEFT,
    PART_EYE_SOCKET_RIGHT,
    PART_EYEBALL_LEFT,
    PART_EYEBALL_RIGHT,
    PART_MOUTH_SOCKET,
    FaceModel,
    RenderMesh,
)
from facesculpt.ops.image import inside_polygon, push_pull_fill, sample_pixels
from facesculpt.ops.mesh import edges
from facesculpt.render.interpolate import interpolate
from facesculpt.render.rasterize import rasterize
from facesculpt.texture.unwrap import uv_interpolate, uv_raster

#: base colours (sRGB, [0, 1]) of parts the photo does not show. Hand-picked defaults, not
#: measurements: a slightly warm off-white for teeth (natural teeth are never pure white; the ICT
#: material's Kd 0.8 grey is a linear-light renderer value) and a muted pink-red for gums and
#: tongue (the ICT material's Kd (0.30, 0.03, 0.06) is linear light and far too saturated as an
#: sRGB texture colour).
TEETH_COLOUR = (0.88, 0.85, 0.78)
GUMS_COLOUR = (0.55, 0.2, 0.2)

#: eyeball colours (sRGB): sclera and pupil
SCLERA_COLOUR = (0.85, 0.82, 0.78)
PUPIL_COLOUR = (0.02, 0.02, 0.02)
#: pupil radius as a fraction of the limbus (iris) radius; a mid-size pupil, as in daylight
#: photos (the ICT iris mesh's own pupil hole is a constricted 15 %)
PUPIL_FRACTION = 0.35
#: iris colour used when the photo's irises are too small or hidden to measure
FALLBACK_IRIS = (0.35, 0.22, 0.12)

#: ICT FaceKit vertex ranges [first, last + 1) of the irises inside the eyeball parts (upstream
#: README, "Eyeball Details"); the rest of each eyeball part is the sclera (with the cornea)
ICT_IRIS_LEFT = (22221, 23021)
ICT_IRIS_RIGHT = (23791, 24591)

#: darkening of the inner sockets (a multiplier on the continued skin colour, hue kept): the
#: mouth socket is seen in shadow when the mouth opens (no ambient occlusion in the renderer),
#: the eye sockets (conjunctiva behind the lids) only as a thin rim at the eye corners
SOCKET_SHADE = {PART_MOUTH_SOCKET: 0.45, PART_EYE_SOCKET_LEFT: 0.6, PART_EYE_SOCKET_RIGHT: 0.6}
#: distance (cm, along the socket surface from the face border) over which the shade sets in,
#: so the lips and lid margins show no step
SOCKET_RAMP_CM = {PART_MOUTH_SOCKET: 1.0, PART_EYE_SOCKET_LEFT: 0.6, PART_EYE_SOCKET_RIGHT: 0.6}
#: length (cm) over which the head colour relaxes from the face border colour to the skin colour
SKIN_DECAY_CM = 4.0
#: the face border colours the head continues are first kept plausible: luminance within these
#: factors of the skin colour's (a dark hairline stays dark, a black collar or an unfilled texel
#: does not make a black neck) and chromaticity (rgb / luminance) within this distance of the skin's
BORDER_LUMINANCE_RANGE = (0.35, 1.6)
BORDER_CHROMA_DEVIATION = 0.3

# mediapipe FaceMesh indices: iris centre + 4 ring points, and the eye-opening loops
# (FACEMESH_RIGHT_EYE / FACEMESH_LEFT_EYE of mediapipe's face_mesh_connections, as loops)
_MP_IRISES = ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477)))
_MP_EYE_LOOPS = (
    (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246),
    (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466),
)


def _smoothstep(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    t = ((x - a) / max(b - a, 1e-9)).clamp(0, 1)
    return t * t * (3 - 2 * t)


@dataclass(frozen=True)
class _GutterPlan:
    """Which texels each ring of ``_fill_outside``'s gutter fills, from which neighbours: per ring,
    ``targets`` (n,) flat texel indices, ``neighbours`` (n, 9) flat indices of the 3 x 3 block (S * S,
    a zero row, where the neighbour is off the map or not yet filled) and ``count`` (n, 1) of the
    filled ones; ``mask`` (1, S, S) the texels filled after the last ring."""

    rings: tuple
    mask: torch.Tensor


_GUTTER_CACHE: dict = {}


def _gutter_plan(inside: torch.Tensor, gutter: int) -> _GutterPlan:
    """The gutter of ``inside`` (1, S, S) bool depends on the mask alone: found once per mask (the UV
    charts are fixed per model and size) and cached, keyed by the mask's bytes."""
    m = inside[0].numpy().astype(bool)
    key = (m.shape, gutter, hashlib.sha1(np.packbits(m).tobytes()).hexdigest())
    hit = _GUTTER_CACHE.get(key)
    if hit is not None:
        return hit
    H, W = m.shape
    rows, cols = np.meshgrid(np.arange(H), np.arange(W), indexing="ij")
    offsets = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)]
    rings = []
    for _ in range(gutter):
        pad = np.pad(m, 1)
        count = sum(pad[1 + dy:1 + dy + H, 1 + dx:1 + dx + W].astype(np.int64) for dy, dx in offsets)
        grow = (count > 0) & ~m
        r, c = rows[grow], cols[grow]
        nb = np.full((len(r), 9), H * W, dtype=np.int64)
        for k, (dy, dx) in enumerate(offsets):
            rr, cc = r + dy, c + dx
            ok = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
            ok[ok] = m[rr[ok], cc[ok]]
            nb[ok, k] = rr[ok] * W + cc[ok]
        rings.append((torch.from_numpy(r * W + c), torch.from_numpy(nb), torch.from_numpy(count[grow])[:, None]))
        m = m | grow
    plan = _GutterPlan(tuple(rings), torch.from_numpy(m)[None])
    if len(_GUTTER_CACHE) > 8:
        _GUTTER_CACHE.clear()
    _GUTTER_CACHE[key] = plan
    return plan


def _fill_outside(img: torch.Tensor, inside: torch.Tensor, gutter: int = 4) -> torch.Tensor:
    """Fill the texels of ``img`` (1, S, S, C) outside ``inside`` (1, S, S) bool: a gutter of
    ``gutter`` texels grown from the nearest chart texels (so bilinear lookups and mipmaps at a
    chart border read the border colour, not a blend with the island's interior), then a smooth
    push-pull fill for the rest of the square.

    Each gutter texel is the mean of its already filled 3 x 3 neighbours, ring by ring; the rings and
    neighbours come from ``_gutter_plan`` (cached per mask), so a call only gathers and averages."""
    _, S, W, C = img.shape
    plan = _gutter_plan(inside, gutter)
    v = torch.cat([(img * inside[..., None]).reshape(S * W, C), img.new_zeros(1, C)])
    for targets, neighbours, count in plan.rings:
        v[targets] = v[neighbours].sum(1) / count.to(img.dtype)
    v = v[:-1].reshape(1, S, W, C)
    m = plan.mask.to(img.dtype)
    return torch.where(m[..., None] > 0, v, push_pull_fill(v, m))


def _check_size(size) -> int:
    if not isinstance(size, (int, np.integer)) or isinstance(size, bool) or int(size) < 4:
        raise ShapeError(f"size: expected an int >= 4, got {size!r}")
    return int(size)


# ----------------------------------------------------------------------------- mirror map

_MIRROR_CACHE: "weakref.WeakKeyDictionary[RenderMesh, dict]" = weakref.WeakKeyDictionary()


def texel_mirror_grid(rmesh: RenderMesh, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Where every texel of the chart ``rmesh`` goes under the model's left/right mirror.

    Each texel centre inside the chart lies in one triangle (a, b, c) with barycentrics
    (wa, wb, wc) (``uv_raster``); its mirror image is the point with the same barycentrics on the
    mirrored corners, wa * uv[mirror[a]] + wb * uv[mirror[b]] + wc * uv[mirror[c]] (the mirrored
    triangle has the opposite winding, so each weight stays with its vertex's partner). This
    follows the mesh, so it holds for any UV layout, not only one symmetric about u = 0.5.

    rmesh: RenderMesh (``uvs`` (Vs, 2) tile-local, ``faces`` (Fs, 3), ``mirror`` (Vs,)).
    size:  S, the map size.

    Returns ``grid`` (1, S, S, 2) float32 — (u, v) of the mirror image in the same tile-local
    UV frame, and ``valid`` (1, S, S) bool — texels inside the chart with a mirror image inside
    [0, 1]^2 whose mirrored triangle is not torn by a UV seam (its UV area within 2x of the
    original's). Invalid texels hold (-1, -1), which bilinear sampling with zero padding reads
    as "nothing there". Cached per (render mesh object, size); never modify the result.
    """
    S = _check_size(size)
    check_shape("rmesh.uvs", rmesh.uvs, ("V", 2))
    per_mesh = _MIRROR_CACHE.setdefault(rmesh, {})
    hit = per_mesh.get(S)
    if hit is not None:
        return hit
    uvs = rmesh.uvs.float()
    faces = rmesh.faces.long()
    uvr = uv_raster(uvs, faces, S)
    f = uvr.frags.pix_to_face[0]
    inside = f >= 0
    mfaces = rmesh.mirror.long()[faces]  # (F, 3) the partner of each corner
    # per triangle: is the mirrored triangle a faithful image (not spanning a seam)?
    def area(t):
        p = uvs[t]
        d1, d2 = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
        return (d1[:, 0] * d2[:, 1] - d1[:, 1] * d2[:, 0]).abs()

    a0, a1 = area(faces), area(mfaces)
    face_ok = (a1 <= 2 * a0 + 1e-12) & (a1 >= 0.5 * a0)
    fc = f.clamp(min=0)
    corners = uvs[mfaces[fc]]  # (S, S, 3, 2)
    grid = (corners * uvr.frags.bary[0].to(uvs.dtype)[..., None]).sum(-2)
    ok = inside & face_ok[fc] & (grid >= 0).all(-1) & (grid <= 1).all(-1)
    grid = torch.where(ok[..., None], grid, grid.new_full((), -1.0))
    out = (grid[None].contiguous(), ok[None])
    per_mesh[S] = out
    return out


def sample_uv(maps: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """Bilinear samples of UV maps (B, S, S, C) at tile-local UVs (B or 1, ..., 2) -> (B, ..., C).

    Row 0 of the map is v = 1; positions outside [0, 1]^2 read as zero (zero padding).
    """
    B, H, W, C = maps.shape
    shape = uv.shape
    g = uv.reshape(uv.shape[0], 1, -1, 2).to(maps.dtype)
    g = torch.stack([g[..., 0] * 2 - 1, 1 - 2 * g[..., 1]], -1)
    if g.shape[0] != B:
        g = g.expand(B, -1, -1, -1)
    out = torch.nn.functional.grid_sample(maps.permute(0, 3, 1, 2), g, mode="bilinear",
                                          padding_mode="zeros", align_corners=False)
    return out[:, :, 0].permute(0, 2, 1).reshape(B, *shape[1:-1], C)


# ----------------------------------------------------------------------------- head tile


def _quantiles(x: torch.Tensor, qs: Sequence[float]) -> torch.Tensor:
    """``torch.quantile(x, qs)`` of a 1-D tensor (linear interpolation, the same arithmetic and
    values), from one multi-rank selection (``np.partition``) instead of a full sort (a third of the
    time of a ``kthvalue`` per rank)."""
    n = x.shape[0]
    ranks = x.new_tensor(list(qs)) * (n - 1)
    below = ranks.long()
    above = ranks.ceil().long().clamp(max=n - 1)
    ks = sorted({int(k) for k in below} | {int(k) for k in above})
    part = np.partition(x.detach().cpu().numpy(), ks)
    lo = torch.from_numpy(part[below.numpy()]).to(x.device)
    hi = torch.from_numpy(part[above.numpy()]).to(x.device)
    return lo.lerp(hi, ranks - below.to(ranks.dtype))


def _skin_colour(face_albedo: torch.Tensor, face_rmesh: RenderMesh) -> torch.Tensor:
    """(3,) robust skin colour of the face tile: the per-channel median of the chart's texels
    whose luminance lies between its 25th and 90th percentiles (leaves out brows, lashes, eye
    corners, beard and nostrils at the dark end, highlights at the bright end)."""
    S = face_albedo.shape[1]
    texels = uv_raster(face_rmesh.uvs.float(), face_rmesh.faces.long(), S).texels  # the chart's, in row-major order
    # one row per channel (a view of the channel-planar tile the pipeline makes; a copy otherwise): gathering
    # whole rows is 6x faster than gathering (N, 3) pixels across planes, and the medians want rows anyway
    planes = face_albedo[0].permute(2, 0, 1).reshape(3, -1)
    px = planes.index_select(1, texels) if texels.numel() else planes  # as [inside], by the cached indices
    lum = px.new_tensor([0.299, 0.587, 0.114]) @ px
    lo, hi = _quantiles(lum, (0.25, 0.9))
    band = px[:, (lum >= lo) & (lum <= hi)]
    if band.shape[1] == 0:
        band = px
    return band.median(1).values


def _plausible(col: np.ndarray, skin: np.ndarray) -> np.ndarray:
    """(N, 3) colours pulled into the plausible range around ``skin`` (3,): luminance within
    ``BORDER_LUMINANCE_RANGE`` x the skin's, chromaticity within ``BORDER_CHROMA_DEVIATION``."""
    w = np.array([0.299, 0.587, 0.114])
    ls = max(float(skin @ w), 1e-4)
    cs = skin / ls
    lum = col @ w
    chroma = np.where(lum[:, None] > 1e-4, col / np.maximum(lum, 1e-4)[:, None], cs[None])
    dev = chroma - cs
    norm = np.linalg.norm(dev, axis=1, keepdims=True)
    chroma = cs + dev * np.minimum(1.0, BORDER_CHROMA_DEVIATION / np.maximum(norm, 1e-9))
    lum = np.clip(lum, BORDER_LUMINANCE_RANGE[0] * ls, BORDER_LUMINANCE_RANGE[1] * ls)
    return chroma * lum[:, None]


@functools.lru_cache(maxsize=4)
def _grain(size: int, seed: int = 0) -> torch.Tensor:
    """(S, S) deterministic zero-mean, unit-std noise with skin-like blotches: three octaves of
    Gaussian noise (1/32, 1/8 of the map and per texel), upsampled bilinearly."""
    g = torch.Generator().manual_seed(seed)
    F = torch.nn.functional
    total = torch.zeros(1, 1, size, size)
    for div, weight in ((32, 0.6), (8, 0.6), (1, 0.5)):
        n = max(2, size // div)
        z = torch.randn(1, 1, n, n, generator=g)
        if n != size:
            z = F.interpolate(z, size=(size, size), mode="bilinear", align_corners=False)
            z = z / z.std().clamp(min=1e-6)
        total = total + weight * z
    total = total - total.mean()
    return (total / total.std().clamp(min=1e-6))[0, 0]


@dataclass(frozen=True, eq=False)
class _HeadExtension:
    """What ``fill_head_tile`` precomputes per (model, face mesh, head mesh): the head graph's
    nodes (N,) model vertices, which are fixed (on the face part), the factorised system of the
    free ones, the coupling to the fixed ones, the pull weights and the socket shade (N,)."""

    nodes: torch.Tensor
    fixed: np.ndarray
    solve: object
    coupling: sp.csr_matrix
    pull: np.ndarray
    shade: np.ndarray
    refs: tuple


_EXT_CACHE: "weakref.WeakKeyDictionary[RenderMesh, _HeadExtension]" = weakref.WeakKeyDictionary()


def _head_extension(model: FaceModel, face_rmesh: RenderMesh, head_rmesh: RenderMesh) -> _HeadExtension:
    hit = _EXT_CACHE.get(head_rmesh)
    if hit is not None and hit.refs[0]() is model and hit.refs[1]() is face_rmesh:
        return hit
    tri = model.faces[head_rmesh.model_faces]  # (F, 3) model vertices
    nodes, local = torch.unique(tri.reshape(-1), return_inverse=True)
    local = local.reshape(-1, 3)
    e = edges(local).numpy()
    pos = model.template.double()[nodes]
    length = (pos[e[:, 0]] - pos[e[:, 1]]).norm(dim=1).clamp(min=1e-4).numpy()
    N = len(nodes)
    ij = (np.r_[e[:, 0], e[:, 1]], np.r_[e[:, 1], e[:, 0]])

    w = 1.0 / length ** 2
    W = sp.coo_matrix((np.r_[w, w], ij), shape=(N, N)).tocsr()
    L = (sp.diags(np.asarray(W.sum(1)).ravel()) - W).tocsr()
    # -lap(x) + k^2 (x - skin) = 0 with k = 1 / decay: on a mesh with spacing h, the 1/h^2
    # weighted graph Laplacian is about (n_neighbours / 4) x the continuous one
    pull = np.diff(W.indptr) / 4.0 / SKIN_DECAY_CM ** 2
    fixed = np.isin(nodes.numpy(), face_rmesh.vert_index.numpy())
    free = ~fixed
    solve = spla.factorized((L[free][:, free] + sp.diags(pull[free])).tocsc()) if free.any() else None
    coupling = L[free][:, fixed].tocsr()

    # sockets: darker with the surface distance from the face border
    shade = np.ones(N)
    if fixed.any():
        G = sp.coo_matrix((np.r_[length, length], ij), shape=(N, N)).tocsr()
        dist = csgraph.dijkstra(G, directed=False, indices=np.nonzero(fixed)[0], min_only=True)
        dist = np.where(np.isfinite(dist), dist, 1e3)
        part = model.vert_part[nodes].numpy()
        for p, k in SOCKET_SHADE.items():
            sel = part == p
            t = np.clip(dist[sel] / SOCKET_RAMP_CM[p], 0, 1)
            shade[sel] = 1 - (1 - k) * t * t * (3 - 2 * t)
    ext = _HeadExtension(nodes, fixed, solve, coupling, pull, shade, (weakref.ref(model), weakref.ref(face_rmesh)))
    _EXT_CACHE[head_rmesh] = ext
    return ext


def fill_head_tile(model: FaceModel, face_rmesh: RenderMesh, head_rmesh: RenderMesh,
                   face_albedo: torch.Tensor, size: int, *, grain: float = 0.015) -> torch.Tensor:
    """The head/neck tile (scalp, neck, mouth and eye sockets), continued from the face tile.

    Method: the colour of every model vertex of the face part is read from ``face_albedo`` at
    its UV and kept plausible (``BORDER_LUMINANCE_RANGE``, ``BORDER_CHROMA_DEVIATION`` around the
    skin colour: a dark hairline continues darker, but a black collar or garbage at the chart's
    edge does not turn the neck black); over the head mesh graph (``head_rmesh``'s triangles, edge weights 1 / length^2)
    the colours are extended harmonically with the face vertices on the border held fixed, and a
    weak pull towards a robust skin colour (median of the face's skin texels) lets the colour
    relax from the border colour to that skin tone over about ``SKIN_DECAY_CM`` — so the seam
    continues whatever the face border shows (hairline, jaw shadow) and the back of the head and
    the neck get a plain skin tone, never black or a grey default. The inner sockets are then
    darkened (``SOCKET_SHADE``), fading in over ``SOCKET_RAMP_CM`` from the face border. The
    vertex colours are rasterised into the tile, every texel outside the triangles is filled (a
    4-texel gutter grown from the chart border, then push-pull: the whole S x S image is filled,
    and bilinear lookups and mipmaps at a chart border read the border colour), and a
    low-amplitude deterministic luminance grain is multiplied in so the large smooth areas look
    less like plastic next to the photographed face.

    model:       the FaceModel both render meshes come from.
    face_rmesh:  RenderMesh of the face part (tile 0); face_albedo: (1, Sf, Sf, 3) float in
                 [0, 1], its completed albedo (any square size Sf).
    head_rmesh:  RenderMesh of the head tile (head/neck and sockets, tile 1).
    size:        S of the output.
    grain:       relative amplitude (std) of the multiplicative grain; 0 turns it off.

    Returns (1, S, S, 3) float32 in [0, 1], the albedo of tile 1 in its tile-local UVs. The
    graph, its factorised system and the socket shade are cached per head render mesh.
    """
    S = _check_size(size)
    check_shape("face_albedo", face_albedo, (1, "S", "S", 3))
    if face_albedo.shape[1] != face_albedo.shape[2]:
        raise ShapeError(f"face_albedo: expected a square map (1, S, S, 3), got {tuple(face_albedo.shape)}")
    albedo = face_albedo.detach().float()
    Sf = albedo.shape[1]
    V = model.num_verts

    # colours of the face-part vertices (a vertex split at a UV seam: the mean of its copies)
    uv = face_rmesh.uvs.float()
    xy = torch.stack([uv[:, 0] * Sf, (1 - uv[:, 1]) * Sf], -1)
    col = sample_pixels(albedo, xy[None])[0].double()  # (Vs, 3)
    acc = torch.zeros(V, 3, dtype=torch.float64).index_add_(0, face_rmesh.vert_index, col)
    cnt = torch.zeros(V, dtype=torch.float64).index_add_(0, face_rmesh.vert_index,
                                                          torch.ones(len(col), dtype=torch.float64))
    skin = _skin_colour(albedo, face_rmesh).double()

    ext = _head_extension(model, face_rmesh, head_rmesh)
    nodes, fixed, free = ext.nodes, ext.fixed, ~ext.fixed
    N = len(nodes)
    x_fixed = _plausible((acc[nodes] / cnt[nodes].clamp(min=1)[:, None]).numpy(), skin.numpy())
    x = np.where(fixed[:, None], x_fixed, skin.numpy()[None])
    if ext.solve is not None:
        b = -(ext.coupling @ x_fixed[fixed]) + ext.pull[free, None] * skin.numpy()[None]
        x[free] = np.stack([ext.solve(np.ascontiguousarray(b[:, c])) for c in range(3)], -1)
    node_col = torch.from_numpy(x * ext.shade[:, None]).float().clamp(0, 1)

    # rasterise into the tile, fill the rest of the square
    slot = torch.full((V,), -1, dtype=torch.long)
    slot[nodes] = torch.arange(N)
    vcol = node_col[slot[head_rmesh.vert_index]]
    uvr = uv_raster(head_rmesh.uvs.float(), head_rmesh.faces.long(), S)
    img = uv_interpolate(vcol, uvr)  # (1, S, S, 3)
    out = _fill_outside(img, uvr.inside[None])
    if grain > 0:
        out = out * (1 + grain * _grain(S))[None, ..., None]
    return out.clamp(0, 1).contiguous()


# ----------------------------------------------------------------------------- eyes


def iris_colour(image: np.ndarray, points: np.ndarray) -> torch.Tensor:
    """Robust colour of the irises in a photo.

    image:  (H, W, 3) uint8 RGB.
    points: (478, 2 or 3) float — mediapipe FaceMesh landmarks in pixels (x right, y down);
            468-472 and 473-477 are the iris centres and their 4 ring points, the eye-opening
            loops (``FACEMESH_RIGHT_EYE`` / ``FACEMESH_LEFT_EYE``) mark the eyelids.

    For each iris with a ring radius R >= 2 px: the pixels (centres at +0.5) at distance
    0.35 R .. 0.9 R from the centre (the pupil and the blurred limbus left out) and inside the
    eye opening (the lids; the opening is ignored when its loop is degenerate). From both irises
    together: the brightest 10 % (specular highlights) are dropped, then pixels whose luminance
    lies more than 2.5 robust sigmas (1.4826 MAD, at least 0.03) from the median (lashes, lid
    shadow, skin) are dropped, and the per-channel median of the rest is returned.

    Returns (3,) float32 in [0, 1], the colour as photographed (not de-lit). Falls back to a
    neutral brown ``FALLBACK_IRIS`` = (0.35, 0.22, 0.12) when both irises are smaller than 2 px in
    radius, closed, or leave fewer than 6 usable pixels.
    """
    img, pts = photo_and_points(image, points)
    H, W = img.shape[:2]
    picked = []
    for centre_id, ring_ids in _MP_IRISES:
        c = pts[centre_id]
        R = float(np.linalg.norm(pts[list(ring_ids)] - c, axis=1).mean())
        if not np.isfinite(R) or not np.all(np.isfinite(c)) or R < 2.0:
            continue
        x0, x1 = max(0, int(np.floor(c[0] - R))), min(W, int(np.ceil(c[0] + R)) + 1)
        y0, y1 = max(0, int(np.floor(c[1] - R))), min(H, int(np.ceil(c[1] + R)) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        d = np.hypot(xx + 0.5 - c[0], yy + 0.5 - c[1])
        mask = (d >= PUPIL_FRACTION * R) & (d <= 0.9 * R)
        lids = _eye_opening(pts, c, (x0, y0, x1, y1))
        if lids is not None:
            mask &= lids
        picked.append(img[y0:y1, x0:x1][mask].astype(np.float64) / 255.0)
    px = np.concatenate(picked) if picked else np.zeros((0, 3))
    if len(px) >= 6:
        lum = px @ np.array([0.299, 0.587, 0.114])
        keep = lum <= np.quantile(lum, 0.9)
        px, lum = px[keep], lum[keep]
        med = np.median(lum)
        sigma = max(1.4826 * np.median(np.abs(lum - med)), 0.03)
        px = px[np.abs(lum - med) <= 2.5 * sigma]
    if len(px) < 6:
        return torch.tensor(FALLBACK_IRIS, dtype=torch.float32)
    return torch.from_numpy(np.median(px, axis=0)).float().clamp(0, 1)


def photo_and_points(image: np.ndarray, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``image`` as an (H, W, 3) uint8 array and the (478, 2) pixel xy of mediapipe's ``points`` (478, 2 or 3);
    ShapeError otherwise."""
    img = np.asarray(image)
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise ShapeError(f"image: expected an (H, W, 3) uint8 array, got {img.shape} {img.dtype}")
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] < 478 or pts.shape[1] not in (2, 3):
        raise ShapeError(f"points: expected (478, 2 or 3) mediapipe landmarks, got {pts.shape}")
    return img, pts[:, :2]


def _eye_opening(pts: np.ndarray, centre: np.ndarray, box) -> Optional[np.ndarray]:
    """(h, w) bool mask of the pixels (centres at +0.5) of the box (x0, y0, x1, y1) inside the
    eye-opening loop nearest ``centre`` (even-odd rule), or None when the loop is degenerate
    (no usable lid information)."""
    loops = [pts[list(ids)] for ids in _MP_EYE_LOOPS]
    loop = min(loops, key=lambda q: float(np.linalg.norm(q.mean(0) - centre)))
    if not np.all(np.isfinite(loop)):
        return None
    xa, ya = loop[:, 0], loop[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    if 0.5 * abs(float(np.dot(xa, yb) - np.dot(ya, xb))) < 1.0:
        return None
    return inside_polygon(loop, box)


def _eye_frames(model: FaceModel):
    """Per eyeball (left, right): centre (3,), iris axis (3,), two unit vectors across the axis
    and the limbus radius (cm): the radial extent of the flat iris disc (the iris vertices within
    1 mm of its front plane), where the iris meets the sclera."""
    out = []
    T = model.template.double()
    for k, (i0, i1) in enumerate((ICT_IRIS_LEFT, ICT_IRIS_RIGHT)):
        c = model.eye_centres[k].double()
        iris = T[i0:i1] - c
        axis = iris.mean(0)
        axis = axis / axis.norm()
        h = iris @ axis
        rad = (iris - h[:, None] * axis).norm(dim=1)
        limbus = float(rad[h > h.max() - 0.1].max())
        ex = torch.linalg.cross(torch.tensor([0.0, 1.0, 0.0], dtype=T.dtype), axis)
        ex = ex / ex.norm()
        ey = torch.linalg.cross(axis, ex)
        out.append((c, axis, ex, ey, limbus))
    return out


def _check_ict_eyes(model: FaceModel) -> None:
    vp = model.vert_part
    for (i0, i1), part in ((ICT_IRIS_LEFT, PART_EYEBALL_LEFT), (ICT_IRIS_RIGHT, PART_EYEBALL_RIGHT)):
        if vp.shape[0] < i1 or not bool((vp[i0:i1] == part).all()):
            raise ShapeError(f"eye_texture: the face model's vertices {i0}..{i1 - 1} are not the ICT FaceKit "
                             f"iris of part {part}; this function needs the ICT head's eyeballs")


def eye_texture(model: FaceModel, iris_rgb: Sequence[float] | torch.Tensor | np.ndarray,
                size: int = 256, *, eye: Optional[int] = None) -> torch.Tensor:
    """Albedo for the eyeball parts' UV layout (tile 0; the two eyes' UVs overlap).

    The ICT eyeball is two meshes with overlapping UVs: the sclera (the outer sphere with the
    corneal bulge, whose front disc maps to the middle of the square) and the iris (an inner
    disc with a pupil hole, curving back under the sclera, whose ring also spans the square). In
    an opaque render the sclera covers the iris everywhere, so where the two overlap in UV the
    texture is painted for the sclera: it is rasterised with priority over the iris. Each texel
    takes the colour of its 3-D point by its distance r from the eye's iris axis (front half
    only): a dark pupil (``PUPIL_COLOUR``) for r < ``PUPIL_FRACTION`` x limbus, the iris colour
    with a little radial variation (a lighter collarette near the pupil, a darker limbal ring)
    up to the limbus (measured on the mesh: the edge of the flat iris disc, ~6 mm), and the
    sclera (``SCLERA_COLOUR``) beyond and on the back; edges are smoothed over 0.2-0.3 mm.
    Texels no triangle covers are filled (gutter, then push-pull).

    The right eye's UVs are the left eye's mirrored (u -> 1 - u), but the left layout is not
    symmetric about u = 0.5 (its front pole sits at u ~ 0.514), so one map cannot be exact for
    both eyes. ``eye=None`` (shared map) uses the mean of the two eyes' eye-frame positions at
    each texel: a symmetric compromise whose pupils sit ~1.2 mm nasal of each eye's axis (about
    half a pupil radius). ``eye=PART_EYEBALL_LEFT`` / ``PART_EYEBALL_RIGHT`` gives the exact map
    for that eye alone (for an exporter that gives each eyeball its own material).

    model:    the ICT FaceModel (raises ShapeError for another model).
    iris_rgb: (3,) float in [0, 1], e.g. ``iris_colour(...)``.
    size:     S of the map.
    eye:      None (both eyes share the map), PART_EYEBALL_LEFT or PART_EYEBALL_RIGHT.

    Returns (1, S, S, 3) float32 in [0, 1].
    """
    S = _check_size(size)
    rgb = torch.as_tensor(np.asarray(iris_rgb, dtype=np.float32) if not isinstance(iris_rgb, torch.Tensor)
                          else iris_rgb.detach().float()).reshape(-1)
    if rgb.numel() != 3:
        raise ShapeError(f"iris_rgb: expected 3 values, got {tuple(rgb.shape)}")
    rgb = rgb.clamp(0, 1)
    if eye not in (None, PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT):
        raise ValueError(f"eye_texture: eye must be None, PART_EYEBALL_LEFT or PART_EYEBALL_RIGHT, got {eye!r}")
    _check_ict_eyes(model)
    base, iris_weight = _eye_layers(model, S, eye)
    return (base + iris_weight * rgb).clamp(0, 1).contiguous()


_EYE_CACHE: "weakref.WeakKeyDictionary[FaceModel, dict]" = weakref.WeakKeyDictionary()


def _eye_layers(model: FaceModel, S: int, eye: Optional[int]) -> tuple[torch.Tensor, torch.Tensor]:
    """The eye map as ``base + iris_weight * iris_rgb``: base (1, S, S, 3) (pupil and sclera),
    iris_weight (1, S, S, 1), both already filled outside the charts. The map is linear in the iris
    colour and the fill is linear, so the photo-independent work (rasterising the eyeballs' UVs, the
    pupil/iris/sclera layout, the gutter and push-pull fill) is done once per (model, S, eye)."""
    per_model = _EYE_CACHE.setdefault(model, {})
    hit = per_model.get((S, eye))
    if hit is not None:
        return hit
    rm = model.render_mesh((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT))
    vi = rm.vert_index
    frames = _eye_frames(model)
    is_iris = torch.zeros(len(vi), dtype=torch.bool)
    for i0, i1 in (ICT_IRIS_LEFT, ICT_IRIS_RIGHT):
        is_iris |= (vi >= i0) & (vi < i1)
    right = model.vert_part[vi] == PART_EYEBALL_RIGHT
    T = model.template.double()[vi]
    local = torch.zeros(len(vi), 3, dtype=torch.float64)
    for k, (c, axis, ex, ey, _) in enumerate(frames):
        sel = right if k == 1 else ~right
        p = T[sel] - c
        local[sel] = torch.stack([p @ ex, p @ ey, p @ axis], -1)
    limbus = float(np.mean([f[4] for f in frames]))
    # each eye on its own, the sclera in front (z 1) of the iris (z 2) where their UVs overlap
    z = torch.where(is_iris, 2.0, 1.0).double()
    screen = torch.stack([rm.uvs[:, 0].double() * S, (1 - rm.uvs[:, 1].double()) * S, z], -1)[None]
    face_right = right[rm.faces[:, 0]]
    att = torch.zeros(S, S, 3)
    hits = torch.zeros(S, S)
    eyes = {None: (~face_right, face_right), PART_EYEBALL_LEFT: (~face_right,), PART_EYEBALL_RIGHT: (face_right,)}
    for sel in eyes[eye]:
        faces = rm.faces[sel].long()
        frags = rasterize(screen, faces, (S, S))
        att += interpolate(local.float(), frags, faces)[0]
        hits += frags.mask[0].float()
    # shared map: the mean of the two eyes' positions (frames with x along +X for both eyes)
    inside = hits > 0
    att = att / hits.clamp(min=1)[..., None]
    r = att[..., :2].norm(dim=-1)
    front = att[..., 2] > 0
    rp = PUPIL_FRACTION * limbus
    t = ((r - rp) / (limbus - rp)).clamp(0, 1)
    vary = (0.9 + 0.25 * torch.exp(-((t - 0.2) / 0.15) ** 2)) * (1 - 0.4 * _smoothstep(t, 0.8, 1.0))
    pupil_w = _smoothstep(r, rp - 0.02, rp + 0.02)[..., None]
    sclera_w = torch.where(front, _smoothstep(r, limbus - 0.03, limbus + 0.03), torch.ones_like(r))[..., None]
    # colour = (pupil (1 - pupil_w) + iris_rgb vary pupil_w) (1 - sclera_w) + sclera sclera_w
    base = torch.tensor(PUPIL_COLOUR) * (1 - pupil_w) * (1 - sclera_w) + torch.tensor(SCLERA_COLOUR) * sclera_w
    iris_weight = vary[..., None] * pupil_w * (1 - sclera_w)
    filled = _fill_outside(torch.cat([base, iris_weight], -1)[None], inside[None])
    hit = (filled[..., :3].contiguous(), filled[..., 3:].contiguous())
    per_model[(S, eye)] = hit
    return hit


__all__ = [
    "texel_mirror_grid", "sample_uv", "fill_head_tile", "iris_colour", "eye_texture",
    "TEETH_COLOUR", "GUMS_COLOUR", "SCLERA_COLOUR", "PUPIL_COLOUR", "PUPIL_FRACTION", "FALLBACK_IRIS",
    "SOCKET_SHADE", "SOCKET_RAMP_CM", "SKIN_DECAY_CM", "BORDER_LUMINANCE_RANGE", "BORDER_CHROMA_DEVIATION",
]
