"""Stage 1: landmark alignment of pose and shape corrections (perspective camera)."""
from __future__ import annotations

from typing import Callable, Optional

import torch

from facesculpt.config import LandmarkFitConfig
from facesculpt.fitting.losses import landmark_loss
from facesculpt.structures import Camera, Landmarks, Pose
from facesculpt.core.determinism import backward as _backward

Progress = Optional[Callable[[str, int, int], None]]


def fit_landmarks(
    landmarks: Landmarks,
    model,
    pose: Pose,
    camera: Camera,
    cfg: LandmarkFitConfig,
    progress: Progress = None,
):
    """Refine pose and shape parameters so the projected coarse mesh meets the 468 landmarks.

    Returns (pose, shape_params, losses) where losses = {"initial": x, "final": y} of the
    normalised landmark term.
    """
    target = landmarks.points[None, :468, :2].float()
    scale = landmarks.size
    # mediapipe's relative depth: same pixel scale as x; compared after removing its mean
    zt = landmarks.points[None, :468, 2].float()
    zt = zt - zt.mean()
    rotvec = pose.rotvec.clone().requires_grad_(True)
    trans = pose.translation.clone()
    depth0 = trans[:, 2:3].clone()
    # optimise translation in units of the head distance so all variables are O(1)
    tnorm = (trans / depth0).requires_grad_(True)
    shape = model.init_params(1).requires_grad_(True)
    f = camera.focal[:, None]

    def terms():
        p = Pose(rotvec, tnorm * depth0)
        cam_pts = p.apply(model.vertices(shape))
        uv = camera.project(cam_pts)
        lm = landmark_loss(uv, target, scale)
        z = cam_pts[..., 2] * f / depth0  # depth in pixels at the face's scale
        z = z - z.mean()
        dz = ((z - zt) / scale).pow(2).mean()
        reg = model.regularizer(shape, cfg.w_laplacian, cfg.w_offset)
        return lm, dz, reg

    opt = torch.optim.LBFGS([rotvec, tnorm, shape], lr=1.0, max_iter=cfg.iterations,
                            line_search_fn="strong_wolfe", history_size=20)
    calls = [0]

    def closure():
        opt.zero_grad()
        lm, dz, reg = terms()
        loss = cfg.w_landmark * lm + cfg.w_depth * dz + reg
        _backward(loss)  # one thread in a repeatable fit (core/determinism.py)
        calls[0] += 1
        if progress is not None:
            progress("landmarks", min(calls[0], cfg.iterations), cfg.iterations)
        return loss

    with torch.no_grad():
        lm0, _, _ = terms()
    if cfg.iterations > 0:
        opt.step(closure)
    with torch.no_grad():
        lm1, dz1, reg1 = terms()
    out_pose = Pose(rotvec.detach(), (tnorm * depth0).detach())
    losses = {
        "landmark_initial": float(lm0),
        "landmark_final": float(lm1),
        "depth_final": float(dz1),
        "regularizer_final": float(reg1),
    }
    return out_pose, shape.detach(), losses
