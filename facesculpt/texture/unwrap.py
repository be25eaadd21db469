"""Unwrap the photo into UV space with per-texel visibility, de-light it with the fitted
SH light, and complete the texels the photo did not see (mirror, then smooth fill)."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from facesculpt.config import TextureConfig
from facesculpt.core.errors import ShapeError
from facesculpt.ops.image import push_pull_fill, sample_pixels
from facesculpt.ops.mesh import vertex_normals
from facesculpt.ops.sh import AMBIENT_BASIS, sh_shade
from facesculpt.render.face import project_vertices, to_view_frame
from facesculpt.render.interpolate import weighted_corners
from facesculpt.render.rasterize import Fragments, covered_pixels, rasterize
from facesculpt.structures import Camera, Pose, UVMaps


@dataclass(frozen=True)
class UVRaster:
    """Which dense face and barycentrics each texel of an S x S map lies on.

    frags: Fragments of batch 1 at (S, S); inside: (S, S) bool (texel centre inside the chart).
    """

    frags: Fragments
    inside: torch.Tensor
    texels: torch.Tensor | None = None
    """(K,) long: flat indices of the covered texels (``covered_pixels``), found once with the raster."""
    corners: torch.Tensor | None = None
    """(K * 3,) long: the rasterised faces' corner vertices at those texels."""
    weights: torch.Tensor | None = None
    """(K, 3) float: their barycentrics."""


def uv_interpolate(attrs: torch.Tensor, uvr: UVRaster) -> torch.Tensor:
    """``render.interpolate(attrs, uvr.frags, faces)`` for the faces the UV raster was made of, with the
    covered texels, corner vertices and barycentrics looked up once per raster (the same arithmetic,
    the same bytes). attrs: (1, V, C) or (V, C) float -> (1, S, S, C)."""
    if uvr.texels is None:
        raise ShapeError("uv_interpolate: the UV raster has no cached lookups (make it with uv_raster)")
    if attrs.dim() == 2:
        attrs = attrs[None]
    if attrs.dim() != 3 or attrs.shape[0] != 1:
        raise ShapeError(f"attrs: expected shape (1, V, C) or (V, C), got {tuple(attrs.shape)}")
    _, H, W = uvr.frags.pix_to_face.shape
    C = attrs.shape[2]
    corner = attrs.reshape(-1, C).index_select(0, uvr.corners).reshape(-1, 3, C)
    vals = weighted_corners(corner, uvr.weights.to(attrs.dtype))
    out = torch.zeros(H * W, C, dtype=vals.dtype).index_copy(0, uvr.texels, vals)
    return out.reshape(1, H, W, C)


def uv_raster(uvs: torch.Tensor, faces: torch.Tensor, size: int) -> UVRaster:
    """Rasterise the UV layout (V, 2) at ``size`` x ``size`` (row 0 at v = 1)."""
    key = (size, int(uvs.shape[0]), float(uvs.double().sum()), int(faces.shape[0]))
    return _uv_raster_cached(key, uvs, faces)


_UV_CACHE: dict = {}


def _uv_raster_cached(key, uvs, faces):
    hit = _UV_CACHE.get(key)
    if hit is None:
        S = key[0]
        screen = torch.stack([uvs[:, 0] * S, (1 - uvs[:, 1]) * S, torch.ones_like(uvs[:, 0])], dim=-1)[None].float()
        frags = rasterize(screen, faces, (S, S))
        idx, _, _, _, f = covered_pixels(frags.pix_to_face)
        hit = UVRaster(frags, frags.pix_to_face[0] >= 0, idx, faces.long()[f].reshape(-1),
                       frags.bary.reshape(-1, 3).index_select(0, idx))
        if len(_UV_CACHE) > 4:
            _UV_CACHE.clear()
        _UV_CACHE[key] = hit
    return hit


def _smoothstep(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    t = ((x - a) / max(b - a, 1e-6)).clamp(0, 1)
    return t * t * (3 - 2 * t)


#: a texel counts as on usable pixels when its bilinear sample of the valid mask is at least 1 minus this
VALID_TOLERANCE = 1e-3


@dataclass
class TexelGeometry:
    """Per-texel geometry of a posed mesh. pos_cam, normal_view: (1,S,S,3); xy: (1,S,S,2) pixels."""

    pos_cam: torch.Tensor
    normal_view: torch.Tensor
    xy: torch.Tensor
    inside: torch.Tensor


def texel_geometry(verts_model, faces, uvs, pose: Pose, camera: Camera, size: int) -> TexelGeometry:
    uvr = uv_raster(uvs, faces, size)
    cam = pose.apply(verts_model)
    n_view = to_view_frame(vertex_normals(verts_model, faces), pose)
    attrs = torch.cat([cam, n_view], dim=-1)
    interp = uv_interpolate(attrs, uvr)
    pos = interp[..., :3]
    n = torch.nn.functional.normalize(interp[..., 3:6], dim=-1, eps=1e-8)
    xy = camera.project(pos.reshape(1, -1, 3)).reshape(1, size, size, 2)
    return TexelGeometry(pos, n, xy, uvr.inside[None])


@dataclass(frozen=True)
class ViewGeometry:
    """A posed head seen by one camera, as ``unwrap`` uses it: the texel geometry of its S x S chart and the
    rasterisation of the camera's image. Made once (``view_geometry``) where several unwraps, or an unwrap and a
    render, see the same head with the same pose and camera."""

    texels: TexelGeometry
    frags: Fragments
    """The head rasterised at the camera's image size (``rasterize``)."""
    size: int
    """S, the chart's side in texels."""


def view_geometry(verts_model, faces, uvs, pose: Pose, camera: Camera, size: int,
                  frags: Fragments | None = None) -> ViewGeometry:
    """The ``ViewGeometry`` of the head ``verts_model`` (1, V, 3) with ``faces`` (F, 3) and ``uvs`` (V, 2) at ``pose``
    seen by ``camera``, with a ``size`` x ``size`` chart; ``frags``: its rasterisation at ``camera`` if made
    already (``render_face``'s), else rasterised here. The texel geometry keeps the autograd history of its
    inputs (``texel_geometry``); the rasterisation has none."""
    geo = texel_geometry(verts_model, faces, uvs, pose, camera, size)
    if frags is None:
        with torch.no_grad():
            frags = rasterize(project_vertices(verts_model, pose, camera), faces, camera.image_size)
    return ViewGeometry(geo, frags, int(size))


def unwrap(
    image: torch.Tensor,
    verts_model: torch.Tensor,
    faces: torch.Tensor,
    uvs: torch.Tensor,
    pose: Pose,
    camera: Camera,
    sh_coeffs: torch.Tensor,
    cfg: TextureConfig,
    valid: torch.Tensor | None = None,
    *,
    mirror_grid=None,
    valid_exempt: torch.Tensor | None = None,
    occluded: torch.Tensor | None = None,
    classes: torch.Tensor | None = None,
    clipped=None,
    geometry: ViewGeometry | None = None,
) -> UVMaps:
    """UV maps of a face seen in ``image`` (1, H, W, 3) float by ``camera`` (at the image's size).

    verts_model: (1, V, 3) dense vertices; faces (F, 3); uvs (V, 2); sh_coeffs (1, 9, 3);
    valid: (1, H, W) float/bool or None — pixels that may be used (0 hides them; such texels get
    zero confidence and are completed like unseen ones).
    mirror_grid: the texel mirror map of this chart at ``cfg.size`` (``texture.head.
    texel_mirror_grid``: (grid (1, S, S, 2), valid (1, S, S)) or a bare grid), used by the mirror
    completion; None falls back to the ``u -> 1 - u`` flip (the old symmetric chart only).
    valid_exempt: (1, S, S) bool or None — texels that ignore ``valid`` (the head's eye and mouth
    fillers take the photo's eyes and mouth, which ``valid`` keeps off the lids and lips).
    occluded: (1, V, 9) per-vertex occluded transfer in the view frame (``render.visibility``) or
    None: the de-lighting shading then has the head's ambient occlusion and cast shadows, so they
    stay out of the albedo.
    classes: (S, S) long texel classes of the chart (``texture.completion.texel_classes``) or None:
    with them and ``cfg.completion.enabled`` the unseen texels are completed like skin
    (``texture.completion``); None: mirror, then push-pull blur.
    clipped: ``texture.clipping.Clipped`` of ``image`` (the clipped channels' shares at its pixels) or
    None: with ``cfg.clipping.enabled`` the clipped channels of a texel are estimated from the unclipped
    texels and held to the photo's bound (``texture.clipping.censor_albedo``); its confidence becomes
    ``cfg.clipping.clipped_confidence`` times its own and ``UVMaps.censored`` is what it lost.
    geometry: the ``view_geometry`` of these vertices, faces, UVs, pose and camera at ``cfg.size`` if made already
    (the same maps, without making it again); None: made here.
    """
    S = cfg.size
    H, W = camera.image_size
    if geometry is not None and (geometry.size != S or tuple(geometry.frags.pix_to_face.shape[1:]) != (H, W)):
        raise ShapeError(f"unwrap: the view geometry is for a {geometry.size}-texel chart and "
                         f"{tuple(geometry.frags.pix_to_face.shape[1:])} pixels, not {S} and {(H, W)}")
    with torch.no_grad():
        if geometry is None:
            geometry = view_geometry(verts_model, faces, uvs, pose, camera, S)
        geo, frags = geometry.texels, geometry.frags
        texture = sample_pixels(image, geo.xy)
        # occlusion: compare each texel's depth with the z-buffer of the image
        zb = frags.zbuf.clone()
        zb[frags.pix_to_face < 0] = float("inf")
        px = geo.xy[..., 0].floor().long().clamp(0, W - 1)
        py = geo.xy[..., 1].floor().long().clamp(0, H - 1)
        zimg = zb[0][py[0], px[0]][None]
        visible = geo.pos_cam[..., 2] <= zimg + cfg.depth_tolerance
        in_image = (geo.xy[..., 0] >= 0) & (geo.xy[..., 0] < W) & (geo.xy[..., 1] >= 0) & (geo.xy[..., 1] < H)
        view_dir = -torch.nn.functional.normalize(geo.pos_cam, dim=-1)
        # normals are in the view frame (+Y up, +Z to camera); camera rays in the OpenCV frame
        view_dir = view_dir * torch.tensor([1.0, -1.0, -1.0])
        cos = (geo.normal_view * view_dir).sum(-1)
        conf = _smoothstep(cos, cfg.min_facing, cfg.full_facing) * (visible & in_image & geo.inside).float()
        if valid is not None:
            # all four pixels of the bilinear sample usable; a tolerance, not ``== 1``: the bilinear
            # weights of four valid pixels sum to 1 only up to rounding (an exact test dropped ~1.4 % of
            # the seen texels at random, salt noise of zero confidence all over the face)
            ok = sample_pixels(valid.float()[..., None], geo.xy)[..., 0] >= 1 - VALID_TOLERANCE
            if valid_exempt is not None:
                ok = ok | valid_exempt
            conf = conf * ok.float()
        clip_cfg = getattr(cfg, "clipping", None)
        hi = lo = None
        if clipped is not None and clip_cfg is not None and clip_cfg.enabled:  # censored channels
            from facesculpt.texture.clipping import sample_clipped

            hi, lo = sample_clipped(clipped, geo.xy)
            seen = (conf > 0)[..., None]
            hi, lo = hi & seen, lo & seen
        shading = sh_shade(geo.normal_view, sh_coeffs)
        if occluded is not None:
            from facesculpt.render.visibility import shade_with_visibility

            occ = uv_interpolate(occluded.to(shading.dtype), uv_raster(uvs, faces, S))
            shading = shade_with_visibility(shading, occ, sh_coeffs)
        # the floor is relative to the light's ambient level (1 for a white-balanced light; a
        # linear light also carries the exposure, so its level can be far from 1)
        level = (sh_coeffs[:, 0] * AMBIENT_BASIS).mean(-1).clamp(min=1e-4).view(-1, 1, 1)
        floor = cfg.shading_floor * level[..., None]
        local = getattr(cfg, "local_light", None)
        if local is not None and local.enabled:  # per-texel light ratio (texture.local_light)
            from facesculpt.texture.local_light import solve_local_light

            ratio = solve_local_light(texture, shading, conf, local, floor=floor, mirror_grid=mirror_grid,
                                      classes=classes).ratio
            shading = shading * ratio
        else:
            ratio = None
        albedo_seen = (texture / torch.maximum(shading, floor)).clamp(0, 1)
        # texels in deep shade cannot be de-lit reliably (dividing by a small number blows up
        # noise and any light-model error): trust them less, so completion takes over
        rel = shading.mean(-1) / level
        conf = conf * _smoothstep(rel, cfg.shading_floor, 2.5 * cfg.shading_floor)
        albedo = complete_albedo(albedo_seen, conf, mirror=cfg.mirror, mirror_grid=mirror_grid,
                                 completion=cfg.completion if classes is not None else None, classes=classes)
        censored = None
        if hi is not None:
            from facesculpt.texture.clipping import censor_albedo

            albedo = censor_albedo(albedo_seen, albedo, hi, lo, conf)
            censored = torch.where((hi | lo).any(-1), conf * (1 - clip_cfg.clipped_confidence), torch.zeros_like(conf))
            conf = conf - censored
        texture = torch.where(geo.inside[..., None], texture, albedo * shading.clamp(0, None))
    return UVMaps(albedo=albedo, texture=texture, visibility=conf, shading=shading, light_ratio=ratio,
                  censored=censored)


def complete_albedo(albedo: torch.Tensor, conf: torch.Tensor, mirror: bool = True, *,
                    mirror_grid=None, completion=None, classes: torch.Tensor | None = None) -> torch.Tensor:
    """Fill unseen texels: take the mirrored texel where it was seen better, then a smooth
    push-pull fill for the rest, blended by confidence so no seam shows.

    albedo: (B, S, S, 3); conf: (B, S, S) in [0, 1].
    mirror_grid: where each texel's mirror image lies, as ``texture.head.texel_mirror_grid``
        returns it: a tuple (grid (1 or B, S, S, 2) tile-local (u, v), valid (1 or B, S, S) bool),
        or a bare grid (positions outside [0, 1]^2 count as no mirror). The mirrored albedo and
        confidence are sampled there bilinearly (albedo weighted by confidence, so unseen
        neighbours do not bleed in). None: the mirror is the array flip ``u -> 1 - u``, right only
        for a single chart symmetric about u = 0.5.
    completion: a ``texture.completion.CompletionConfig`` with ``enabled`` and ``classes`` (S, S) the
        chart's texel classes: complete like skin (``texture.completion.complete_face_albedo``:
        mirror with a colour match, layout-guided low-frequency field, synthesised detail).
    """
    if completion is not None and completion.enabled and classes is not None:
        from facesculpt.texture.completion import complete_face_albedo

        pair = None
        if mirror:
            pair = (albedo.flip(2), conf.flip(2)) if mirror_grid is None else _sample_mirror(albedo, conf, mirror_grid)
            pair = (*pair, mirror_side(mirror_grid, albedo.shape[1]))
        return complete_face_albedo(albedo, conf, classes, completion, mirror=pair)
    a, w = albedo, conf
    if mirror:
        if mirror_grid is None:
            am, wm = albedo.flip(2), conf.flip(2)
        else:
            am, wm = _sample_mirror(albedo, conf, mirror_grid)
        gain = (1 - w) * wm
        total = w + gain
        a = torch.where(total[..., None] > 1e-6, (w[..., None] * a + gain[..., None] * am) / total.clamp(min=1e-6)[..., None], a)
        w = total.clamp(0, 1)
    filled = push_pull_fill(a, w)
    return (w[..., None] * a + (1 - w[..., None]) * filled).clamp(0, 1)


def mirror_side(mirror_grid, size: int) -> torch.Tensor:
    """(1 or B, S, S) bool: the texels whose mirror image lies at a larger u than themselves (one
    half of the face; texels without a mirror image count as that half). ``mirror_grid`` as for
    ``complete_albedo`` (None: the ``u -> 1 - u`` flip)."""
    u = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    if mirror_grid is None:
        return (u < 0.5)[None, None, :].expand(1, size, size)
    grid = mirror_grid[0] if isinstance(mirror_grid, (tuple, list)) else mirror_grid
    gu = grid[..., 0].float()
    return (gu > u[None, None, :]) | (gu < 0)


def _sample_mirror(albedo: torch.Tensor, conf: torch.Tensor, mirror_grid):
    """Albedo (B, S, S, 3) and confidence (B, S, S) at the mirror images of the texels."""
    B, S = albedo.shape[0], albedo.shape[1]
    if isinstance(mirror_grid, (tuple, list)):
        grid, ok = mirror_grid
    else:
        grid, ok = mirror_grid, None
    if not isinstance(grid, torch.Tensor) or grid.dim() != 4 or grid.shape[0] not in (1, B) \
            or tuple(grid.shape[1:]) != (S, albedo.shape[2], 2):
        got = tuple(grid.shape) if isinstance(grid, torch.Tensor) else type(grid).__name__
        raise ShapeError(f"mirror_grid: expected a grid of shape (1 or {B}, {S}, {albedo.shape[2]}, 2) "
                         f"matching the albedo, got {got}")
    g = grid.to(albedo.dtype)
    g = torch.stack([g[..., 0] * 2 - 1, 1 - 2 * g[..., 1]], -1).expand(B, -1, -1, -1)
    w = conf.to(albedo.dtype)
    stack = torch.cat([albedo * w[..., None], w[..., None]], -1).permute(0, 3, 1, 2)
    s = torch.nn.functional.grid_sample(stack, g, mode="bilinear", padding_mode="zeros",
                                        align_corners=False).permute(0, 2, 3, 1)
    wm = s[..., 3]
    am = s[..., :3] / wm.clamp(min=1e-8)[..., None]
    if ok is not None:
        wm = wm * ok.to(wm.dtype).expand(B, -1, -1)
    return am, wm.clamp(0, 1)
