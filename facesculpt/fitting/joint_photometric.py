"""The photometric stage over several photos of one person (GANFIT's multi-image fit, its eq. 14).

Shared by all photos: the identity coefficients, the small smooth corrections of the face part (the
single-photo head stage's ``HeadShapeFit`` parameters other than the expression) and one low-res UV
albedo. Per photo: the expression (gaze kept from the landmark stage, as the single-photo stage
does), the SH light (linear light with ``linear``, as ``texture.color``) and the pose (held from the
landmark stage when ``cfg.hold_pose_head``, as the single-photo head path does).

Loss = sum over photos of the single-photo data terms (robust photo loss of the render against that
photo with its own inlier weights, landmark term, the identity terms of the render against *that*
photo, the pull of that photo's light towards its initial estimate, that photo's expression priors)
+ the priors of the shared parameters counted once (identity N(0, 1) and pull towards the landmark
stage, the corrections' smoothness and size, the albedo's smoothness and symmetry). The pieces come
from ``fitting.photometric_stage`` (``render_view``, ``photo_region``, ``view_data_terms``,
``albedo_prior``, ``light_prior``), the same the single-photo stage uses.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import torch

from facesculpt.core.determinism import backward as _backward
from facesculpt.core.determinism import sparse_mm
from facesculpt.config import PhotometricFitConfig
from facesculpt.face_model import FaceModel, FitView, HeadParams
from facesculpt.fitting.head_shape import HeadPriors, HeadShapeFit
from facesculpt.fitting.losses import inlier_weights, robust_photo_loss
from facesculpt.fitting.photometric_stage import (
    albedo_from_param,
    albedo_prior,
    initial_albedo_param,
    light_prior,
    light_unit,
    photo_region,
    render_view,
    schedule_steps,
    view_data_terms,
)
from facesculpt.structures import Camera, Pose
from facesculpt.texture.color import srgb_to_linear

Progress = Optional[Callable[[str, int, int], None]]


@dataclass
class JointView:
    """One photo of the joint fit, as the single-photo stage sees it.

    target:       (1, R, R, 3) sRGB face crop.
    camera:       the crop's Camera.
    landmarks_xy: (1, N, 2) crop pixels of the N embedded points (mediapipe's): where the landmark term wants
                  them (``pipeline._landmark_targets``: the detections minus the view bias).
    face_size:    face size in crop pixels (normalises the landmark term).
    pose:         Pose from the landmark stage (held with ``hold_pose_head``).
    head:         HeadParams from the landmark stage (the shared identity; this photo's expression, gaze).
    light:        (1, 9, 3) initial SH light of this photo.
    valid:        (1, R, R) bool pixels that may be compared, or None.
    extra_terms:  ``state -> (loss, {name: float})`` (the identity terms against this photo) or None.
    """

    target: torch.Tensor
    camera: Camera
    landmarks_xy: torch.Tensor
    face_size: float
    pose: Pose
    head: HeadParams
    light: torch.Tensor
    valid: Optional[torch.Tensor] = None
    extra_terms: Optional[Callable[[dict], tuple]] = None


@dataclass
class JointFit:
    """The joint stage's result.

    poses:   per photo its Pose; heads: per photo HeadParams (shared identity and corrections as
             ``offsets``; own expression and gaze); lights: per photo (1, 9, 3);
    albedo:  (1, s, s, 3) the shared low-res albedo (linear with ``linear``);
    losses:  {"photo_initial"/"photo_final": per photo, "landmark_*": per photo, other terms' sums,
             "iterations"}.
    """

    poses: list
    heads: list
    lights: list
    albedo: torch.Tensor
    losses: dict


def fit_joint_photometric(views: Sequence[JointView], model: FaceModel, view: FitView, albedo0: torch.Tensor,
                          face_weight: torch.Tensor, cfg: PhotometricFitConfig, priors: HeadPriors = HeadPriors(),
                          linear: bool = True, progress: Progress = None, free_identity: bool = False) -> JointFit:
    """Fit the shared identity, corrections and albedo and the per-photo expression, light (and pose
    unless held) to every photo in ``views`` at once (module docstring). ``albedo0`` (1, s, s, 3) the
    initial shared low-res albedo (linear with ``linear``); ``face_weight`` (F,) per render face (0 keeps
    a face out of the photo loss). Adam, ``cfg.iterations`` steps, the single-photo stage's rates.
    ``free_identity``: the identity coefficients step at ``cfg.lr_identity`` (not ``cfg.lr_shape``) and every
    step follows ``cfg.lr_schedule``, as the single-photo stage on the head (the caller passes its
    ``lr_schedule_head``)."""
    if len(views) == 0:
        raise ValueError("fit_joint_photometric: no views")
    fits = [HeadShapeFit(model, view, v.head, priors) for v in views]
    K, E = fits[0].K, fits[0].E
    p0 = [f.init_params() for f in fits]
    a0 = p0[0][:, :K].clone()
    off0 = p0[0][:, K + E:].clone()
    ident = a0.clone().requires_grad_(True)
    off = off0.clone().requires_grad_(True)
    expr0 = [p[:, K:K + E].clone() for p in p0]
    expr = [e.clone().requires_grad_(True) for e in expr0]
    units = [light_unit(v.light, linear) for v in views]
    light0 = [v.light / u for v, u in zip(views, units)]
    dc0 = [lt[:, 0:1].detach() for lt in light0]
    lights = [lt.clone().requires_grad_(True) for lt in light0]
    rotvecs = [v.pose.rotvec.clone().requires_grad_(True) for v in views]
    depth0 = [v.pose.translation[:, 2:3].clone() for v in views]
    tnorms = [(v.pose.translation / d).clone().requires_grad_(True) for v, d in zip(views, depth0)]
    albedo_low = initial_albedo_param(albedo0, linear)
    lr_pose = 0.0 if cfg.hold_pose_head else cfg.lr_pose
    shape_groups = ([{"params": [ident], "lr": cfg.lr_identity}, {"params": [off] + expr, "lr": cfg.lr_shape}]
                    if free_identity else [{"params": [ident, off] + expr, "lr": cfg.lr_shape}])
    opt = torch.optim.Adam([
        {"params": rotvecs, "lr": lr_pose},
        {"params": tnorms, "lr": lr_pose * 0.5},
        *shape_groups,
        {"params": lights, "lr": cfg.lr_light},
        {"params": [albedo_low], "lr": cfg.lr_albedo},
    ])
    base_lr = [g["lr"] for g in opt.param_groups]
    tex_size = max(64, cfg.albedo_size * 4)
    backgrounds = [srgb_to_linear(v.target) if linear else v.target for v in views]
    w_landmark = cfg.w_landmark_head

    def render(i: int, state: dict):
        v = views[i]
        p = Pose(rotvecs[i], tnorms[i] * depth0[i])
        coarse, dense = fits[i].both(torch.cat([ident, expr[i], off], dim=1))
        rend, albedo_tex = render_view(dense, view.dense_faces, view.dense_uvs, p, v.camera, albedo_low,
                                       lights[i] * units[i], tex_size, backgrounds[i], linear, cfg.antialias)
        state.update(render=rend, pose=p, coarse=coarse, dense=dense, light=lights[i] * units[i],
                     albedo_tex=albedo_tex, camera=v.camera)
        return p, coarse, rend

    def shared_priors():
        pr = priors
        lap = sparse_mm(fits[0].lap, off.reshape(-1, 3).to(fits[0].lap.dtype))
        o = off.reshape(-1, 3)
        return (pr.w_identity * ident.pow(2).sum() + pr.w_identity_stage1 * (ident - a0).pow(2).sum()
                + cfg.w_laplacian * lap.pow(2).sum(-1).mean() + cfg.w_offset * o.pow(2).sum(-1).mean()
                + albedo_prior(albedo_low, cfg))

    def view_loss(i: int, p, coarse, rend, weights, state):
        v = views[i]
        photo, lm = view_data_terms(rend, v.target, weights, v.camera.project(p.apply(coarse)), v.landmarks_xy,
                                    v.face_size)
        pr = priors
        reg = (pr.w_expression_l1 * expr[i].sum() + pr.w_expression_stage1 * (expr[i] - expr0[i]).pow(2).sum()
               + light_prior(lights[i], light0[i], dc0[i], cfg))
        total = cfg.w_photo * photo + w_landmark * lm + reg
        named = {}
        if v.extra_terms is not None:
            extra, named = v.extra_terms(state)
            total = total + extra
        return total, photo, lm, named

    states = [{"step": -1} for _ in views]
    weights, t0 = [], []
    with torch.no_grad():
        for i, v in enumerate(views):
            p, coarse, rend = render(i, states[i])
            weights.append(inlier_weights(rend.image, v.target, photo_region(rend, face_weight, v.valid),
                                          cfg.outlier_sigma))
            _, photo, lm, named = view_loss(i, p, coarse, rend, weights[i], states[i])
            t0.append((float(photo), float(lm), named))
    for it in range(cfg.iterations):
        if free_identity:  # as photometric_stage.fit_photometric
            schedule_steps(opt, base_lr, cfg.lr_schedule, it, cfg.iterations)
        opt.zero_grad()
        total = shared_priors()
        for i, v in enumerate(views):
            states[i]["step"] = it
            p, coarse, rend = render(i, states[i])
            if it % cfg.outlier_every == 0 and it > 0:
                weights[i] = inlier_weights(rend.image.detach(), v.target, photo_region(rend, face_weight, v.valid),
                                            cfg.outlier_sigma)
            loss_i, _, _, _ = view_loss(i, p, coarse, rend, weights[i], states[i])
            total = total + loss_i
        _backward(total)  # one thread in a repeatable fit (core/determinism.py)
        opt.step()
        with torch.no_grad():
            albedo_low.clamp_(0.0, 1.0)
            for e in expr:
                e.clamp_(0.0, 1.0)
        if progress is not None:
            progress("joint photometric", it + 1, cfg.iterations)
    t1 = []
    with torch.no_grad():
        for i, v in enumerate(views):
            states[i]["step"] = cfg.iterations
            p, coarse, rend = render(i, states[i])
            _, photo, lm, named = view_loss(i, p, coarse, rend, weights[i], states[i])
            unmasked = robust_photo_loss(rend.image, v.target, photo_region(rend, face_weight, v.valid).float())
            t1.append((float(photo), float(lm), named, float(unmasked)))
    losses = {"photo_initial": [x[0] for x in t0], "photo_final": [x[0] for x in t1],
              "photo_final_unmasked": [x[3] for x in t1],
              "landmark_initial": [x[1] for x in t0], "landmark_final": [x[1] for x in t1],
              "iterations": cfg.iterations}
    for k in t1[0][2]:
        losses[f"{k}_initial"] = [float(x[2].get(k, float("nan"))) for x in t0]
        losses[f"{k}_final"] = [float(x[2].get(k, float("nan"))) for x in t1]
    poses, heads, out_lights = [], [], []
    for i in range(len(views)):
        poses.append(Pose(rotvecs[i].detach(), (tnorms[i] * depth0[i]).detach()))
        heads.append(fits[i].head_params(torch.cat([ident, expr[i], off], dim=1).detach()).detach())
        out_lights.append((lights[i] * units[i]).detach())
    return JointFit(poses, heads, out_lights, albedo_from_param(albedo_low, linear), losses)


__all__ = ["JointView", "JointFit", "fit_joint_photometric"]
