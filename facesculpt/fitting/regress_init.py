"""Regress, then refine: the head's landmark stage started from the packaged regressor.

``regress_head`` runs ``models.regressor`` on the detected landmarks (identity, expression, gaze,
rotation) and places the head by a linear least-squares translation (the perspective projection
equations ``(u - c) * z = f * x`` are linear in the translation once the rotation and shape are
fixed). ``fit_head_from_regressor`` then runs ``polish_iterations`` Levenberg-Marquardt iterations
of ``fit_head_landmarks`` from there (0: the regressor's head as it is).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, replace
from typing import Optional

import torch

from facesculpt.face_model import FaceModel, HeadParams
from facesculpt.ops.rotations import matrix_to_rotvec
from facesculpt.structures import Camera, Landmarks, Pose


@dataclass(frozen=True)
class RegressorInitConfig:
    """Where the head's landmark stage starts."""

    enabled: bool = False
    """Start from the packaged landmark regressor's estimate (False: the mean head and the
    Procrustes pose, with ``head_landmarks.iterations`` iterations)."""
    polish_iterations: int = 4
    """Landmark (LM) iterations run from the regressor's estimate (0: use it as it is)."""
    polish_shape: bool = True
    """The polish fits identity and expression too (False: pose and gaze only... and the
    regressor's identity and expression are kept)."""


def solve_translation(points: torch.Tensor, R: torch.Tensor, target: torch.Tensor, camera: Camera,
                      weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(3,) translation (cm) that best projects model points ``points`` (N, 3) cm, turned by ``R``
    (3, 3), onto pixels ``target`` (N, 2) through ``camera`` (linear least squares)."""
    f = float(camera.focal[0])
    c = camera.principal[0].double()
    Y = points.double() @ R.double().T
    d = target.double() - c
    w = torch.ones(len(points), dtype=torch.float64) if weights is None else weights.double()
    zero = torch.zeros_like(d[:, 0])
    fcol = torch.full_like(zero, f)
    A = torch.cat([torch.stack([fcol, zero, -d[:, 0]], 1), torch.stack([zero, fcol, -d[:, 1]], 1)])
    b = torch.cat([d[:, 0] * Y[:, 2] - f * Y[:, 0], d[:, 1] * Y[:, 2] - f * Y[:, 1]])
    ww = torch.cat([w, w]).sqrt()
    T = torch.linalg.lstsq(A * ww[:, None], (b * ww)[:, None]).solution[:, 0]
    return T.float()


def regress_head(landmarks: Landmarks, model: FaceModel, camera: Camera) -> tuple[Pose, HeadParams]:
    """(pose, HeadParams) of the packaged regressor for one face's landmarks (478, pixels)."""
    from facesculpt.models.regressor import load_regressor, regress
    from facesculpt.training.data import landmark_points, mean_frontal

    net, _ = load_regressor()
    with torch.no_grad():
        out, _ = regress(net, landmarks.points[None].float(), mean_frontal(model))
        head = HeadParams(out.identity, out.expression, out.gaze)
        P = landmark_points(model, out.identity, out.expression, out.gaze)[0]
    R = out.rotation[0]
    T = solve_translation(P[:468], R, landmarks.points[:468, :2], camera)
    return Pose(matrix_to_rotvec(R[None].detach()).float(), T[None]), head


def fit_head_from_regressor(landmarks: Landmarks, model: FaceModel, camera: Camera, lm_cfg,
                            cfg: RegressorInitConfig, progress=None):
    """``fit_head_landmarks``'s result (pose, HeadParams, losses) started from ``regress_head``;
    losses gain ``regressor_seconds``."""
    from facesculpt.fitting.head_landmarks import fit_head_landmarks

    t = time.perf_counter()
    pose, head = regress_head(landmarks, model, camera)
    dt = time.perf_counter() - t
    polish = replace(lm_cfg, iterations=int(cfg.polish_iterations), expression_first=0,
                     fit_identity=lm_cfg.fit_identity and cfg.polish_shape,
                     fit_expression=lm_cfg.fit_expression and cfg.polish_shape)
    pose, out, losses = fit_head_landmarks(landmarks, model, pose, camera, polish, progress, init=head)
    losses["regressor_seconds"] = dt
    return pose, out, losses


__all__ = ["RegressorInitConfig", "regress_head", "fit_head_from_regressor", "solve_translation"]
