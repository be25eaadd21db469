"""Synthetic ground-truth benchmark: reconstruct generated faces and compare with their truth.

Metrics (per face, over the pixels where the true face's skin and the reconstruction's skin
both render):

* ``normal_mad_deg``: mean angle between true and predicted view-frame normals, degrees, for the
  ``coarse`` and the ``detail`` geometry, and ``perfect_detail``: what a perfect detail stage would
  score on this coarse geometry (the true detail, i.e. the rotation from the true smooth normal to
  the true detailed one, carried onto each predicted coarse normal) — the floor of any stage that
  adds detail without correcting the coarse shape;
* ``detail_normal_mad_deg``: the error of the *detail alone*, with the coarse shape's error taken
  out: each predicted detailed normal is carried onto the true smooth surface by the smallest
  rotation that takes the predicted coarse normal to the true smooth one (the true surface
  without its displacement), and compared with the true detailed normal. For the coarse
  geometry this is the angle the true detail itself makes (predicted detail = none); 0 would
  be a perfect detail stage whatever the coarse shape's error. Over the same pixels;
* ``side``: scale-invariant depth error (Unsup3D): sqrt(mean(e^2) - mean(e)^2), e = log z_pred - log z_true;
* ``albedo_psnr``: PSNR of the reconstructed UV albedo against the true one over the skin texels of
  the chart (``albedo_psnr_aligned``: after a per-channel least-squares gain, which removes the
  albedo/light scale ambiguity);
* ``light_error``: relative RMS difference of the shading the true and fitted light give to
  front-facing normals, each normalised by its mean (scale-invariant), per cent;
* ``light_gain``: over the true skin normals of the photo, the least-squares slope of the fitted
  light's mean-normalised shading against the true light's (1: the fitted shading varies with the
  normal as strongly as the true one; < 1: too flat, e.g. the albedo absorbed part of it), and
  ``light_shading_err``: the RMS difference of the two, relative to the true shading's standard
  deviation there (0 is perfect, 1 is as wrong as a flat light);
* ``light_dir_ratio``: |band-1 SH| / DC of the fitted light over that of the true light (the
  directional/ambient ratio; it is poorly determined from a face, whose normals cover a cap of
  the sphere over which 1, z and 3z^2 - 1 are nearly collinear, so read it next to the gain).

For faces on the morphable head (``synthetic.head``, the benchmark's default ``--model head``),
``evaluate_head_synthetic`` adds the shape metrics: ``vertex_error_mm`` (mean distance over the
model's narrow face region, mm: ``aligned`` after a similarity alignment of the fitted head to the
true one, ``camera`` without it, each head placed by its own pose; ``mean_head``: the mean identity
with a neutral expression, aligned — a baseline), ``expression_mae`` (mean |fitted - true| of the
53 weights), ``expression_mae_active`` (over the weights the truth sets) and ``jaw_open_error``.

Coarse and detailed geometry are scored the same way: the reconstruction's dense mesh is
rasterised once; each pixel's normal is looked up (bilinear, at the pixel's UV) in the
coarse or the detailed per-texel normal map of the detail stage, and the detailed depth is the
coarse depth moved by the displacement along the normal (z - d n_z).
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from facesculpt.ops.sh import sh_basis
from facesculpt.render.face import project_vertices
from facesculpt.render.interpolate import interpolate
from facesculpt.render.rasterize import rasterize
from facesculpt.render.texture import texture as sample_texture
from facesculpt.topology import REGION_SKIN


def mean_angle_deg(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """Mean angle (degrees) between unit vectors a, b (..., 3) over ``mask`` (...)."""
    cos = (F.normalize(a, dim=-1) * F.normalize(b, dim=-1)).sum(-1).clamp(-1, 1)
    return float(torch.rad2deg(torch.acos(cos[mask])).mean()) if bool(mask.any()) else float("nan")


def rotate_between(a: torch.Tensor, b: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Rotate ``v`` by the smallest rotation that takes unit vector ``a`` to unit vector ``b``
    (Rodrigues; all (..., 3); a = -b is left as the identity)."""
    k = torch.cross(a, b, dim=-1)
    sin = k.norm(dim=-1, keepdim=True)
    cos = (a * b).sum(-1, keepdim=True)
    k = k / sin.clamp(min=1e-12)
    return v * cos + torch.cross(k, v, dim=-1) * sin + k * (k * v).sum(-1, keepdim=True) * (1 - cos)


def side(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor) -> float:
    """Scale-invariant depth error sqrt(mean(e^2) - mean(e)^2), e = log pred - log true, over ``mask``."""
    m = mask & (pred > 0) & (true > 0)
    if not bool(m.any()):
        return float("nan")
    e = torch.log(pred[m].double()) - torch.log(true[m].double())
    return float(torch.sqrt((e.pow(2).mean() - e.mean().pow(2)).clamp(min=0)))


def light_error(pred: torch.Tensor, true: torch.Tensor, n: int = 2000) -> float:
    """Scale-invariant relative RMS shading difference (per cent) over front-facing normals (z > 0.2)."""
    g = torch.Generator().manual_seed(0)
    dirs = F.normalize(torch.randn(n, 3, generator=g), dim=-1)
    dirs = dirs[dirs[:, 2] > 0.2]
    Y = sh_basis(dirs)
    sp, st = Y @ pred[0].float(), Y @ true[0].float()
    sp = sp / sp.mean(0, keepdim=True)
    st = st / st.mean(0, keepdim=True)
    return float(100 * (sp - st).pow(2).mean().sqrt())


def _lum_shading(coeffs: torch.Tensor, normals: torch.Tensor) -> torch.Tensor:
    """Mean-normalised grey shading (N,) of unit normals (N, 3) under coeffs (1, 9, 3)."""
    s = (sh_basis(normals.float()) @ coeffs[0].float()).mean(-1)
    return s / s.mean().clamp(min=1e-8)


def light_gain(pred: torch.Tensor, true: torch.Tensor, normals: torch.Tensor) -> tuple[float, float]:
    """(gain, relative error) of the fitted light's shading over ``normals`` (N, 3); see the module doc.

    pred, true: (1, 9, 3) SH coefficients."""
    sp, st = _lum_shading(pred, normals), _lum_shading(true, normals)
    dt = st - st.mean()
    var = dt.pow(2).mean().clamp(min=1e-12)
    gain = float(((sp - sp.mean()) * dt).mean() / var)
    err = float((sp - st).pow(2).mean().sqrt() / var.sqrt())
    return gain, err


def light_dir_ratio(pred: torch.Tensor, true: torch.Tensor) -> float:
    """(|band 1| / DC of ``pred``) / (the same of ``true``), channel-averaged; coeffs (1, 9, 3)."""
    def r(c):
        return (c[0, 1:4].norm(dim=0) / c[0, 0].abs().clamp(min=1e-8)).mean()

    return float(r(pred.float()) / r(true.float()).clamp(min=1e-8))


def albedo_psnr(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor, aligned: bool = False) -> float:
    """PSNR (dB) of UV albedo maps (1, S, S, 3) over ``mask`` (1, S, S); ``aligned``: per-channel gain first."""
    if pred.shape[1] != true.shape[1]:
        pred = F.interpolate(pred.permute(0, 3, 1, 2), size=true.shape[1:3], mode="area").permute(0, 2, 3, 1)
    p, t = pred[mask], true[mask]
    if aligned:
        p = p * ((p * t).sum(0) / p.pow(2).sum(0).clamp(min=1e-8))
    mse = float((p - t).pow(2).mean())
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def evaluate_synthetic(face, rec, topo) -> dict:
    """Metrics of reconstruction ``rec`` (with ``rec.detail`` set) against the truth of ``face``."""
    from facesculpt.detail.sfs import texel_frames

    cam = rec.params.camera
    H, W = face.image.shape[:2]
    if tuple(cam.image_size) != (H, W):
        cam = cam.crop(0.0, 0.0, W / cam.image_size[1], (H, W))
    with torch.no_grad():
        verts, faces, uvs = rec.mesh.verts.detach(), rec.mesh.faces, rec.mesh.uvs
        screen = project_vertices(verts, rec.params.pose, cam)
        frags = rasterize(screen, faces, (H, W))
        p2f = frags.pix_to_face[0]
        covered = p2f >= 0
        skin = covered & (topo.dense_face_region[p2f.clamp(min=0)] == REGION_SKIN)
        mask = skin & torch.as_tensor(face.mask)
        uv_pix = interpolate(uvs[None].float(), frags, faces)
        if rec.detail is not None:
            n_coarse_map, n_detail_map = rec.detail.coarse_normal_view, rec.detail.normal_view
            disp = rec.detail.displacement
        else:
            n_coarse_map = texel_frames(verts, faces, uvs, rec.params.pose, rec.maps.albedo.shape[1]).normal
            n_detail_map, disp = n_coarse_map, torch.zeros(n_coarse_map.shape[:3])
        nc = F.normalize(sample_texture(n_coarse_map, uv_pix)[0], dim=-1)
        nd = F.normalize(sample_texture(n_detail_map, uv_pix)[0], dim=-1)
        dpix = sample_texture(disp[..., None], uv_pix)[0, ..., 0]
        z_c = frags.zbuf[0]
        z_d = z_c - dpix * nc[..., 2]
        n_true = torch.as_tensor(face.normals)
        z_true = torch.as_tensor(face.depth)
        S = face.albedo.shape[1]
        from facesculpt.detail import _skin_texels

        uv_skin = _skin_texels(texel_frames(verts, faces, uvs, rec.params.pose, S), topo) > 0
        n_smooth = torch.as_tensor(face.normals_smooth)
        m_rel = mask & (n_smooth.norm(dim=-1) > 0.5)
        n_smooth_u = F.normalize(n_smooth, dim=-1, eps=1e-8)
        nd_on_true = rotate_between(nc, n_smooth_u, nd)
        # the best any detail stage could do on this coarse geometry: the true detail (the rotation
        # from the true smooth normal to the true detailed one) carried onto the predicted coarse normal
        n_perfect = torch.where(m_rel[..., None], rotate_between(n_smooth_u, nc, n_true), nc)
        out = {
            "pixels": int(mask.sum()),
            "normal_mad_deg": {"coarse": mean_angle_deg(nc, n_true, mask), "detail": mean_angle_deg(nd, n_true, mask),
                               "perfect_detail": mean_angle_deg(n_perfect, n_true, mask)},
            "detail_normal_mad_deg": {"coarse": mean_angle_deg(n_smooth, n_true, m_rel),
                                      "detail": mean_angle_deg(nd_on_true, n_true, m_rel)},
            "side": {"coarse": side(z_c, z_true, mask), "detail": side(z_d, z_true, mask)},
            "albedo_psnr": albedo_psnr(rec.maps.albedo, face.albedo, uv_skin),
            "albedo_psnr_aligned": albedo_psnr(rec.maps.albedo, face.albedo, uv_skin, aligned=True),
            "light_error_pct": light_error(rec.params.light.coeffs.detach(), face.light),
        }
        m_true = torch.as_tensor(face.mask)
        if bool(m_true.any()):
            gain, err = light_gain(rec.params.light.coeffs.detach(), face.light, n_true[m_true])
        else:
            gain, err = float("nan"), float("nan")
        out.update(light_gain=gain, light_shading_err=err,
                   light_dir_ratio=light_dir_ratio(rec.params.light.coeffs.detach(), face.light))
        if rec.detail is not None:
            out["albedo_psnr_detail"] = albedo_psnr(rec.detail.albedo, face.albedo, uv_skin)
            out["albedo_psnr_detail_aligned"] = albedo_psnr(rec.detail.albedo, face.albedo, uv_skin, aligned=True)
            out["detail_seconds"] = float(rec.timings.get("detail", float("nan")))
    return out


def summarise(rows: list[dict]) -> dict:
    """Means of the per-face metrics (nested dicts averaged key by key; NaNs skipped)."""
    def mean(vals):
        v = [x for x in vals if x is not None and not (isinstance(x, float) and math.isnan(x))]
        return float(np.mean(v)) if v else float("nan")

    keys = [k for k in rows[0] if isinstance(rows[0][k], (int, float, dict))] if rows else []
    out = {}
    for k in keys:
        if isinstance(rows[0][k], dict):
            out[k] = {s: mean([r[k][s] for r in rows if k in r]) for s in rows[0][k]}
        else:
            out[k] = mean([r.get(k) for r in rows])
    return out


def truth_proxy_reconstruction(face, cfg, topo):
    """A reconstruction of synthetic ``face`` whose coarse geometry is the truth — the generator's
    smooth shape (densified like a fit), pose and camera — with the light, texture, albedo and
    detail estimated from the photo as the pipeline does (``initial_light_and_albedo``, ``unwrap``,
    ``refine_detail``). It measures the detail stage apart from the coarse fit's error (the
    benchmark's ``--proxy true``). No landmark or photometric fit runs; ``landmarks`` holds the
    projected true coarse vertices, ``metrics`` stays empty."""
    import time

    from facesculpt.detail import refine_detail
    from facesculpt.ops.image import to_tensor
    from facesculpt.pipeline import Reconstruction, initial_light_and_albedo
    from facesculpt.structures import FaceMesh, FaceParams, Landmarks, SHLighting
    from facesculpt.texture.unwrap import unwrap

    t0 = time.perf_counter()
    image = to_tensor(face.image)
    cam, pose = face.camera, face.pose
    coarse = face.verts.float()
    with torch.no_grad():
        dense = topo.densify(coarse)
        light, _ = initial_light_and_albedo(image, dense, topo, pose, cam, cfg.texture)
        maps = unwrap(image, dense, topo.dense_faces, topo.dense_uvs, pose, cam, light, cfg.texture)
        pts = cam.project(pose.apply(coarse))[0]
    z = torch.zeros(pts.shape[0], 1)
    lmk = Landmarks(torch.cat([pts, z], dim=1), torch.cat([pts.min(0).values, pts.max(0).values]),
                    tuple(face.image.shape[:2]))
    timings = {"texture": time.perf_counter() - t0}
    rec = Reconstruction(FaceMesh(dense, topo.dense_faces, topo.dense_uvs), coarse,
                         FaceParams(pose, torch.zeros_like(coarse), SHLighting(light), cam), maps, lmk, {}, {},
                         timings, cfg)
    if cfg.detail.enabled:
        t = time.perf_counter()
        rec.detail = refine_detail(face.image, rec, topo, cfg.detail)
        timings["detail"] = time.perf_counter() - t
    return rec


# ----------------------------------------------------------------------------- the morphable head


def similarity_error_mm(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean distance (mm) of points ``pred`` (N, 3) cm to ``true`` (N, 3) cm after the least-squares
    similarity (Umeyama: scale, rotation, translation) that takes ``pred`` onto ``true``."""
    from facesculpt.fitting.initialize import similarity_procrustes

    s, R, t = similarity_procrustes(pred, true)
    return float(((s * pred.double() @ R.T + t) - true.double()).norm(dim=1).mean()) * 10


def head_shape_errors(model, pred_verts: torch.Tensor, pred_pose, true_verts: torch.Tensor, true_pose) -> dict:
    """Face-region vertex errors (mm) of a head (1, V, 3) cm against the true head, over
    ``model.narrow_face``: ``aligned`` after a similarity alignment, ``camera`` in the camera frame
    (each head by its own pose, no alignment: includes pose and depth errors)."""
    region = model.narrow_face
    with torch.no_grad():
        aligned = similarity_error_mm(pred_verts[0, region], true_verts[0, region])
        pc = pred_pose.apply(pred_verts[:, region].float())[0]
        tc = true_pose.apply(true_verts[:, region].float())[0]
        camera = float((pc - tc).norm(dim=1).mean()) * 10
    return {"aligned": aligned, "camera": camera}


def evaluate_head_synthetic(face, rec) -> dict:
    """Metrics of a morphable-head reconstruction ``rec`` (``rec.head`` set) against the truth of a
    head face (``synthetic.head.generate_head_face``): the per-pixel metrics of ``evaluate_synthetic``
    (normals, SIDE, albedo, light) on the fitted face part, plus

    * ``vertex_error_mm``: mean distance over the narrow face region, ``aligned`` (similarity
      alignment of the fitted head to the true one), ``camera`` (both in the camera frame, by their
      poses), ``mean_head`` (the mean identity with a neutral expression, aligned: a baseline);
    * ``expression_mae``: mean absolute error of the 53 expression weights; ``expression_mae_active``:
      over the weights the truth sets (nan when neutral); ``jaw_open_error``: |fitted - true| jawOpen;
    * ``gaze_error_deg``: mean |fitted - true| of the gaze's four angles (each eye's yaw and pitch in the
      head's frame), degrees.
    """
    if rec.head is None or face.head is None:
        raise ValueError("evaluate_head_synthetic: needs a head face and a morphable-head reconstruction "
                         "(face_model = 'ict')")
    model = rec.model
    out = evaluate_synthetic(face, rec, rec.fit_topology)
    verr = head_shape_errors(model, rec.head_verts.detach(), rec.params.pose, face.head_verts, face.pose)
    with torch.no_grad():
        mean_head = model.vertices(model.zero_params())
    verr["mean_head"] = similarity_error_mm(mean_head[0, model.narrow_face], face.head_verts[0, model.narrow_face])
    ef, et = rec.head.expression.detach()[0].double(), face.head.expression[0].double()
    active = et > 0
    jaw = model.expression_names.index("jawOpen")
    out.update(vertex_error_mm=verr, expression_mae=float((ef - et).abs().mean()),
               expression_mae_active=float((ef - et)[active].abs().mean()) if bool(active.any()) else float("nan"),
               jaw_open_error=float((ef[jaw] - et[jaw]).abs()),
               gaze_error_deg=gaze_error_deg(rec.head.gaze.detach(), face.head.gaze))
    return out


def gaze_error_deg(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Mean |pred - true| over the gaze angles ((..., 2, 2) radians: each eye's yaw and pitch), degrees."""
    return float(np.degrees((pred.double() - true.double()).abs().mean()))


def truth_proxy_head_reconstruction(face, cfg):
    """``truth_proxy_reconstruction`` for a head face: a ``Reconstruction`` whose head is the truth
    (``rec.head``, ``rec.head_verts``, the face part as ``rec.mesh``, the true pose and camera), with
    the light, texture and detail estimated from the photo as the head pipeline does
    (``unwrap`` completed through the texel mirror map, ``refine_detail``; with ``texture.linear_light``, the
    default, in linear light as the head pipeline: the photo decoded from sRGB, ``initial_linear_light`` and the
    skin prior's ``anchor_light``, ``maps.linear``; else ``initial_light_and_albedo`` on the sRGB photo). Until
    session 22 this proxy always took the sRGB path, so on the encoded photos of session 6 the detail stage shaded
    gamma-encoded values as if they were linear. No landmark or photometric fit runs; ``landmarks`` holds the
    projected true mediapipe points, ``metrics`` stays empty, ``textures`` too."""
    import time

    from facesculpt.detail import refine_detail
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.ops.image import to_tensor
    from facesculpt.pipeline import Reconstruction, initial_light_and_albedo
    from facesculpt.structures import FaceMesh, FaceParams, Landmarks, SHLighting
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.unwrap import unwrap

    if face.head is None:
        raise ValueError("truth_proxy_head_reconstruction: needs a head face (synthetic.head.generate_head_face)")
    t0 = time.perf_counter()
    model = load_face_model()
    view = fit_view(model)
    image = to_tensor(face.image)
    cam, pose = face.camera, face.pose
    head_verts = face.head_verts.float()
    linear = bool(getattr(cfg.texture, "linear_light", False))
    with torch.no_grad():
        dense = view.render_verts(head_verts)
        points = model.points(head_verts, "mediapipe")
        if linear:
            from dataclasses import replace

            from facesculpt.texture.color import srgb_to_linear
            from facesculpt.texture.light import initial_linear_light
            from facesculpt.texture.skin_prior import anchor_light

            image = srgb_to_linear(image)
            light, albedo_init, seen_skin = initial_linear_light(image, dense, view, pose, cam, cfg.texture)
            if cfg.texture.skin_prior:
                light, _, _ = anchor_light(light, albedo_init, seen_skin, cfg.texture.skin)
        else:
            light, _ = initial_light_and_albedo(image, dense, view, pose, cam, cfg.texture)
        grid = texel_mirror_grid(view.rmesh, cfg.texture.size)
        maps = unwrap(image, dense, view.dense_faces, view.dense_uvs, pose, cam, light, cfg.texture, mirror_grid=grid)
        if linear:
            maps = replace(maps, linear=True)
        pts = cam.project(pose.apply(points))[0]
    z = torch.zeros(pts.shape[0], 1)
    lmk = Landmarks(torch.cat([pts, z], dim=1), torch.cat([pts.min(0).values, pts.max(0).values]),
                    tuple(face.image.shape[:2]))
    timings = {"texture": time.perf_counter() - t0}
    rec = Reconstruction(FaceMesh(dense, view.dense_faces, view.dense_uvs), points,
                         FaceParams(pose, torch.zeros_like(points), SHLighting(light), cam), maps, lmk, {}, {},
                         timings, cfg, head=face.head, head_verts=head_verts)
    if cfg.detail.enabled:
        t = time.perf_counter()
        rec.detail = refine_detail(face.image, rec, view, cfg.detail)
        timings["detail"] = time.perf_counter() - t
    return rec
