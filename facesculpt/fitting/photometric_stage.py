"""Stage 2: analysis-by-synthesis photometric fit (GANFit §3.4, adapted to a CPU).

Optimises pose, the shape model's parameters, SH light and a low-frequency UV albedo
against a square face crop, with a robust L1 photometric loss over the rendered face
region (occluder pixels — hair, glasses, hands — are rejected, not fitted), the
landmark term and regularisers. The fine albedo is not optimised here: the texture
stage unwraps it from the photo at full resolution once the geometry and light are known.
"""
from __future__ import annotations

import math
from dataclasses import replace as dc_replace
from typing import Callable, Optional

import numpy as np
import torch
import torch.nn.functional as F

from facesculpt.config import PhotometricFitConfig
from facesculpt.fitting.losses import (
    grid_smoothness,
    inlier_weights,
    landmark_loss,
    robust_photo_loss,
    uv_symmetry,
)
from facesculpt.ops.sh import AMBIENT_BASIS
from facesculpt.render.face import render_face
from facesculpt.texture.color import linear_to_srgb, srgb_to_linear
from facesculpt.structures import Camera, Pose
from facesculpt.core.determinism import backward as _backward

Progress = Optional[Callable[[str, int, int], None]]


def upsample_albedo(low: torch.Tensor, size: int) -> torch.Tensor:
    """(B, s, s, 3) -> (B, size, size, 3) bilinear."""
    x = F.interpolate(low.permute(0, 3, 1, 2), size=(size, size), mode="bilinear", align_corners=False)
    return x.permute(0, 2, 3, 1)


def light_unit(light0: torch.Tensor, linear: bool) -> torch.Tensor:
    """(1, 1, 3) scale the optimiser's light is divided by: with ``linear`` the light per unit ambient (a
    linear light also carries the exposure; the learning rates were tuned on unit-ambient lights), else 1."""
    return (light0[:, 0:1] * AMBIENT_BASIS).clamp(min=1e-4).detach() if linear else torch.ones(1, 1, 3)


def initial_albedo_param(albedo0: torch.Tensor, linear: bool) -> torch.Tensor:
    """The optimised low-res albedo (1, s, s, 3) from ``albedo0``: sRGB-encoded with ``linear`` (the scale its
    learning rate was tuned on), clamped to [0.02, 0.98], a leaf that requires grad."""
    a0 = linear_to_srgb(albedo0) if linear else albedo0
    return a0.clone().clamp(0.02, 0.98).requires_grad_(True)


def albedo_from_param(albedo_low: torch.Tensor, linear: bool) -> torch.Tensor:
    """The stage's albedo output (linear with ``linear``) from the optimised parameter."""
    return srgb_to_linear(albedo_low.detach()) if linear else albedo_low.detach()


def render_view(dense: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, pose: Pose, camera: Camera,
                albedo_low: torch.Tensor, light: torch.Tensor, tex_size: int, target_bg: torch.Tensor, linear: bool,
                antialias: bool, occluded=None, detail: Optional[torch.Tensor] = None):
    """Render the fitted face over ``target_bg``: the low-res albedo parameter upsampled to ``tex_size``
    (decoded to linear light with ``linear``), times ``detail`` (1, T, T, 3) if given (``feature_detail``),
    shaded by ``light`` (1, 9, 3) less what the head blocks (``occluded``: ``render_face``'s visibility term,
    or None). Returns (FaceRender whose image is sRGB-encoded with ``linear``, the albedo texture (1, T, T, 3)
    it used)."""
    albedo_tex = upsample_albedo(albedo_low, tex_size)
    if linear:
        albedo_tex = srgb_to_linear(albedo_tex)
    if detail is not None:
        albedo_tex = albedo_tex * detail
    rend = render_face(dense, faces, uvs, pose, camera, albedo_tex, light, background=target_bg, antialias=antialias,
                       occluded=occluded)
    if linear:
        rend = dc_replace(rend, image=linear_to_srgb(rend.image))
    return rend, albedo_tex


#: ``texture.occlusion.FEATURE_POINTS``' groups by name
FEATURE_PARTS = {"brows": (0, 1), "eyes": (2, 3), "lips": (4,), "nose": (5,)}


def feature_uv_mask(model, size: int, grow: float, parts: tuple = ("lips",)) -> torch.Tensor:
    """(1, size, size) float in [0, 1]: the face chart's texels of the face's own texture features ``parts``
    (of ``FEATURE_PARTS``: brows, eye openings and lids, lips, nose tip; the convex hulls of
    ``texture.occlusion.FEATURE_POINTS`` of the mediapipe embedding in UV), grown by ``grow`` x ``size`` texels
    with a linear fall-off of the same width."""
    from scipy import ndimage

    from facesculpt.texture.occlusion import FEATURE_POINTS, _hulls

    emb = model.landmarks["mediapipe"]
    tri_uv = model.uvs[model.face_uvs[emb.faces]]  # (N, 3, 2)
    uv = (tri_uv * emb.bary.to(tri_uv.dtype)[..., None]).sum(1).numpy().astype(np.float64)
    uv[:, 0] -= np.floor(uv[:, 0])  # tile-local (the face tile is 0)
    xy = np.stack([uv[:, 0] * size, (1.0 - uv[:, 1]) * size], -1)
    for part in parts:
        if part not in FEATURE_PARTS:
            from facesculpt.core.errors import ConfigError

            raise ConfigError(f"photometric.feature_detail_parts: unknown part {part!r} (choose from "
                              f"{', '.join(FEATURE_PARTS)})")
    im = _hulls(xy, (size, size), [FEATURE_POINTS[g] for part in parts for g in FEATURE_PARTS[part]])[0].numpy()
    d = ndimage.distance_transform_edt(~im)
    g = max(grow * size, 1e-6)
    m = np.clip(2.0 - d / g, 0.0, 1.0)  # 1 inside and up to g outside, falling to 0 at 2 g
    return torch.from_numpy(m.astype(np.float32))[None]


def feature_detail(albedo_init: torch.Tensor, model, albedo_size: int, tex_size: int, grow: float,
                   limit: float, parts: tuple = ("lips",), seen: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(1, T, T, 3) multiplicative detail of the initial albedo ``albedo_init`` (1, S, S, 3) at ``tex_size`` T: its
    ratio to itself brought down to the stage's ``albedo_size`` grid and back up, kept only on the face's texture
    features (``feature_uv_mask``), clamped to [1 / ``limit``, ``limit``], 1 elsewhere; with ``seen`` (1, s, s) the
    initial unwrap's confidence per texel (0-1), the detail is faded by it (a texel seen at a grazing angle or not
    at all has no detail of its own: stretched pixels or the completion's). Multiplied into the stage's
    albedo (``render_view``), it holds the lips', brows' and lids' edges where the initial unwrap put them, so the
    shape is not moved to draw them with the coarse grid (``PhotometricFitConfig.feature_detail``)."""
    a = albedo_init.detach().float().clamp(min=1e-3)
    hi = F.interpolate(a.permute(0, 3, 1, 2), size=(tex_size, tex_size), mode="area")
    lo = F.interpolate(hi, size=(albedo_size, albedo_size), mode="area")
    lo = F.interpolate(lo, size=(tex_size, tex_size), mode="bilinear", align_corners=False)
    ratio = (hi / lo.clamp(min=1e-3)).clamp(1.0 / limit, limit).permute(0, 2, 3, 1)
    m = feature_uv_mask(model, tex_size, grow, parts)[..., None]
    if seen is not None:
        c = F.interpolate(seen.detach().float()[:, None], size=(tex_size, tex_size), mode="bilinear",
                          align_corners=False)
        m = m * c[:, 0, :, :, None].clamp(0.0, 1.0)
    return 1.0 + m * (ratio - 1.0)


def photo_region(rend, face_weight: torch.Tensor, valid: Optional[torch.Tensor]) -> torch.Tensor:
    """(1, R, R) bool: the rendered pixels of faces with ``face_weight`` > 0 (and ``valid``)."""
    fw = face_weight[rend.frags.pix_to_face.clamp(min=0)]
    m = rend.mask & (fw > 0)
    return m if valid is None else m & valid


def view_data_terms(rend, target: torch.Tensor, weights: torch.Tensor, points_cam_xy: torch.Tensor,
                    landmarks_xy: torch.Tensor, face_size: float):
    """(robust photo loss, landmark loss) of one view: ``points_cam_xy`` (1, N, 2) the projected model
    points, ``weights`` (1, R, R) the inlier weights."""
    return robust_photo_loss(rend.image, target, weights), landmark_loss(points_cam_xy, landmarks_xy, face_size)


def censored_target(target: torch.Tensor, predicted: torch.Tensor, high: torch.Tensor,
                    low: torch.Tensor) -> torch.Tensor:
    """``target`` (1, R, R, 3) with its clipped channels moved to the (detached) prediction where that lies
    beyond their bound: ``max(target, predicted)`` where ``high``, ``min`` where ``low`` (bool, same
    shape). An L1 or squared loss against it is the one-sided (censored) loss."""
    t = torch.where(high, torch.maximum(target, predicted), target)
    return torch.where(low, torch.minimum(t, predicted), t)


def albedo_prior(albedo_low: torch.Tensor, cfg: PhotometricFitConfig) -> torch.Tensor:
    """Smoothness and left/right symmetry of the low-res albedo parameter."""
    return cfg.w_albedo_smooth * grid_smoothness(albedo_low) + cfg.w_albedo_sym * uv_symmetry(albedo_low)


def light_prior(light: torch.Tensor, light0: torch.Tensor, dc0: torch.Tensor, cfg: PhotometricFitConfig):
    """Pull of the (unit-scaled) light towards its initial estimate, relative to the initial ambient ``dc0``:
    the free albedo could otherwise absorb the smooth fall-off of the shading and flatten the light."""
    return cfg.w_light_reg * ((light - light0) / dc0).pow(2).sum()


def schedule_steps(opt: torch.optim.Optimizer, base_lr: list, schedule: str, it: int, iterations: int) -> None:
    """Set the step of every group of ``opt`` for iteration ``it`` of ``iterations`` under ``schedule``
    (``PhotometricFitConfig.lr_schedule``): "constant" leaves ``base_lr`` as set; "cosine" lets each fall from
    its ``base_lr`` to 0 along half a cosine (the last step is small)."""
    if schedule == "cosine":
        fall = 0.5 * (1.0 + math.cos(math.pi * it / iterations))
        for g, lr in zip(opt.param_groups, base_lr):
            g["lr"] = lr * fall


def fit_photometric(
    target: torch.Tensor,
    landmarks_xy: torch.Tensor,
    face_size: float,
    model,
    shape0: torch.Tensor,
    densify: Optional[Callable[[torch.Tensor], torch.Tensor]],
    faces: torch.Tensor,
    uvs: torch.Tensor,
    face_weight: torch.Tensor,
    pose: Pose,
    camera: Camera,
    light0: torch.Tensor,
    albedo0: torch.Tensor,
    cfg: PhotometricFitConfig,
    progress: Progress = None,
    extra_terms: Optional[Callable[[dict], tuple]] = None,
    valid: Optional[torch.Tensor] = None,
    linear: bool = False,
    occluded: Optional[torch.Tensor] = None,
    clipped=None,
    albedo_detail: Optional[torch.Tensor] = None,
):
    """Fit against ``target`` (1, R, R, 3) seen by ``camera`` (the crop camera).

    landmarks_xy: (1, N, 2) crop pixels of the N points ``model.vertices`` gives; ``densify`` maps
    them to the rendered mesh, or is None when the model has ``both(params) -> (points, render
    verts)`` (the morphable head) and optionally ``project_(params)`` (run after every step); face_weight: (F,) float per dense face (0 drops
    a face from the photometric loss, e.g. eye and mouth interiors); light0: (1, 9, 3);
    albedo0: (1, s, s, 3) initial low-res albedo. Returns (pose, shape, light, albedo_low, losses).

    ``valid`` (1, R, R) bool marks the pixels that may be compared (None: all), e.g. to hide
    a region on purpose. ``extra_terms(state) -> (loss tensor, {name: float})`` adds terms to the objective (e.g. the
    identity losses); ``state`` holds "render" (FaceRender), "pose", "coarse" (1,468,3),
    "dense" (1,V,3), "light" (1,9,3), "albedo_tex" (1,T,T,3), "camera", "step", "shape" (the shape model's current parameters) and "shape_model".

    ``linear``: the light and albedo are linear light and ``target`` is sRGB: the face is shaded
    in linear light and its render encoded to sRGB before every comparison (the loss keeps its
    sRGB scale; ``state["render"].image`` is then sRGB).

    ``occluded``: (1, V, 9) per-vertex occluded transfer of the rendered mesh in the view frame
    (``render.visibility``), held fixed over the fit: the shading gets the head's ambient occlusion
    and cast shadows (None: none).

    ``clipped``: the ``texture.clipping.Clipped`` of ``target`` or None. Its channels count one-sided
    (``censored_target``): a prediction above a high-clipped channel (below a low-clipped one) costs
    nothing. (Exactly at 0 and 255 the clamped sRGB render already made the loss one-sided; this extends
    it to the levels ``ClippingConfig.high_level`` takes as clipped and to resampled crop pixels.)

    ``albedo_detail``: (1, T, T, 3) with T = ``max(64, 4 cfg.albedo_size)``, a fixed multiplicative detail of the
    albedo (``feature_detail``; linear light with ``linear``), or None.
    """
    rotvec = pose.rotvec.clone().requires_grad_(True)
    depth0 = pose.translation[:, 2:3].clone()
    tnorm = (pose.translation / depth0).clone().requires_grad_(True)
    # the optimiser moves ``shape / step`` (per element): a shape model may ask for larger steps on some
    # entries than ``lr_shape`` (the head's identity coefficients, in prior standard deviations)
    step = model.step_scale(cfg) if hasattr(model, "step_scale") else None
    shape_x = (shape0 if step is None else shape0 / step).clone().requires_grad_(True)

    def current_shape() -> torch.Tensor:
        return shape_x if step is None else shape_x * step
    # with ``linear``, the optimiser sees the light per unit ambient and the albedo sRGB-encoded,
    # the scales its learning rates were tuned on (a linear light also carries the exposure)
    unit = light_unit(light0, linear)
    light = (light0 / unit).clone().requires_grad_(True)
    albedo_low = initial_albedo_param(albedo0, linear)
    opt = torch.optim.Adam(
        [
            {"params": [rotvec], "lr": cfg.lr_pose},
            {"params": [tnorm], "lr": cfg.lr_pose * 0.5},
            {"params": [shape_x], "lr": cfg.lr_shape},
            {"params": [light], "lr": cfg.lr_light},
            {"params": [albedo_low], "lr": cfg.lr_albedo},
        ]
    )
    R = target.shape[1]
    tex_size = max(64, cfg.albedo_size * 4)
    light0 = light0 / unit
    dc0 = light0[:, 0:1].detach()

    state: dict = {}
    target_bg = srgb_to_linear(target) if linear else target

    def render(with_grad: bool = True):
        p = Pose(rotvec, tnorm * depth0)
        shape = current_shape()
        if densify is None:  # the shape model renders its own mesh (the morphable head)
            coarse, dense = model.both(shape)
        else:
            coarse = model.vertices(shape)
            dense = densify(coarse)
        rend, albedo_tex = render_view(dense, faces, uvs, p, camera, albedo_low, light * unit, tex_size, target_bg,
                                       linear, cfg.antialias, occluded=occluded, detail=albedo_detail)
        state.update(render=rend, pose=p, coarse=coarse, dense=dense, light=light * unit, albedo_tex=albedo_tex,
                     camera=camera, shape=shape, shape_model=model)
        return p, coarse, rend

    def region_mask(rend):
        return photo_region(rend, face_weight, valid)

    hi = lo = None
    if clipped is not None:
        from facesculpt.texture.clipping import clipped_pixels

        hi, lo = clipped_pixels(clipped)

    def target_for(rend):
        return target if hi is None else censored_target(target, rend.image.detach(), hi, lo)

    def loss_terms(p, coarse, rend, weights):
        photo, lm = view_data_terms(rend, target_for(rend), weights, camera.project(p.apply(coarse)), landmarks_xy, face_size)
        reg_shape = model.regularizer(current_shape() - shape0, cfg.w_laplacian, cfg.w_offset)
        reg_alb = albedo_prior(albedo_low, cfg)
        # the light stays near its estimate from the skin's shading (light0)
        reg_light = light_prior(light, light0, dc0, cfg)
        total = cfg.w_photo * photo + cfg.w_landmark * lm + reg_shape + reg_alb + reg_light
        terms = {"photo": photo, "landmark": lm}
        if extra_terms is not None:
            extra, named = extra_terms(state)
            total = total + extra
            terms.update(named)
        return total, terms

    state["step"] = -1
    with torch.no_grad():
        p, coarse, rend = render()
        mask = region_mask(rend)
        weights = inlier_weights(rend.image, target_for(rend), mask, cfg.outlier_sigma)
        _, t0 = loss_terms(p, coarse, rend, weights)
        # the photometric loss of the initialisation over the full face region, no rejection
        photo_init_all = robust_photo_loss(rend.image, target_for(rend), mask.float())
    history = []
    if cfg.lr_schedule not in ("constant", "cosine"):
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"photometric.lr_schedule must be 'constant' or 'cosine', got {cfg.lr_schedule!r}")
    base_lr = [g["lr"] for g in opt.param_groups]
    for it in range(cfg.iterations):
        schedule_steps(opt, base_lr, cfg.lr_schedule, it, cfg.iterations)
        opt.zero_grad()
        p, coarse, rend = render()
        state["step"] = it
        if it % cfg.outlier_every == 0 and it > 0:
            weights = inlier_weights(rend.image.detach(), target_for(rend), region_mask(rend), cfg.outlier_sigma)
        total, terms = loss_terms(p, coarse, rend, weights)
        _backward(total)  # one thread in a repeatable fit (core/determinism.py)
        opt.step()
        with torch.no_grad():
            albedo_low.clamp_(0.0, 1.0)
        if hasattr(model, "project_"):  # the bounds hold for the parameters, not for shape / step
            with torch.no_grad():
                if step is None:
                    model.project_(shape_x)
                else:
                    real = shape_x * step
                    model.project_(real)
                    shape_x.copy_(real / step)
        history.append(float(terms["photo"].detach()))
        if progress is not None:
            progress("photometric", it + 1, cfg.iterations)
    state["step"] = cfg.iterations
    with torch.no_grad():
        p, coarse, rend = render()
        mask = region_mask(rend)
        _, t1 = loss_terms(p, coarse, rend, weights)
        photo_final_all = robust_photo_loss(rend.image, target_for(rend), mask.float())
        inlier_fraction = float(weights.sum() / mask.float().sum().clamp(min=1))
    losses = {
        "photo_initial": float(t0["photo"]),
        "photo_final": float(t1["photo"]),
        "photo_initial_unmasked": float(photo_init_all),
        "photo_final_unmasked": float(photo_final_all),
        "landmark_initial": float(t0["landmark"]),
        "landmark_final": float(t1["landmark"]),
        "inlier_fraction": inlier_fraction,
        "iterations": cfg.iterations,
    }
    for k in t1:
        if k not in ("photo", "landmark"):
            losses[f"{k}_initial"] = float(t0[k])
            losses[f"{k}_final"] = float(t1[k])
    out_pose = Pose(rotvec.detach(), (tnorm * depth0).detach())
    albedo_out = albedo_from_param(albedo_low, linear)
    return out_pose, current_shape().detach(), (light * unit).detach(), albedo_out, losses
