"""A detector's systematic, view-dependent offset of each landmark from its embedded surface point.

mediapipe's points on a turned head are not the projections of fixed surface points: they drift
with the view, the same way for every face (docs/landmark_registration.md, "View-dependent bias").
``tools/measure_landmark_bias.py`` measures, on renders of the model with known geometry, each
point's offset (detection minus the projected embedded point) as a low-order polynomial in the
head's yaw and pitch as the camera sees them, in units of the face size and in an image frame that
turns with the head's roll. ``FaceModel.landmarks["mediapipe"].bias`` holds the coefficients; the
landmark stage adds the offset at its current pose to the projected points.

Conventions (shared by the tool and the fit, so both measure the angles the same way):
- the view direction is the unit vector from the face centre to the camera in the model frame
  (``R^T (-X_c)``, X_c the face centre in the camera frame); yaw = atan2(d_x, d_z), pitch =
  atan2(d_y, sqrt(d_x^2 + d_z^2)) (radians; the model frame's x is the head's left-right axis, so
  the mirror image of a view has -yaw and the same pitch);
- roll = the image angle of the model's x axis ``atan2(R[1, 0], R[0, 0])``; offsets are stored
  rotated by -roll (a frame that turns with the face), so the mirror image of an offset (dx, dy)
  at yaw y is (-dx, dy) at -y;
- features: ``[1, s, s^2, s^3, p, s p]`` with s = sin(yaw), p = sin(pitch), both clamped to the
  range the renders covered (stored with the coefficients) so the polynomial never extrapolates.
"""
from __future__ import annotations

import math

import torch

#: number of polynomial features per axis
NUM_FEATURES = 6


def view_angles(R: torch.Tensor, centre: torch.Tensor) -> tuple:
    """(yaw, pitch, roll) radians, floats, of a head with rotation ``R`` (3, 3) (model -> camera)
    whose face centre is at ``centre`` (3,) in the camera frame."""
    d = -(R.T @ centre)
    d = d / d.norm().clamp(min=1e-12)
    yaw = math.atan2(float(d[0]), float(d[2]))
    pitch = math.atan2(float(d[1]), math.hypot(float(d[0]), float(d[2])))
    roll = math.atan2(float(R[1, 0]), float(R[0, 0]))
    return yaw, pitch, roll


def features(yaw, pitch, limits=None) -> torch.Tensor:
    """(..., 6) float64 features of yaw and pitch (radians, tensors or floats of one shape).

    limits: (2,) float, the largest |sin(yaw)| and |sin(pitch)| to use (clamped), or None."""
    s = torch.sin(torch.as_tensor(yaw, dtype=torch.float64))
    p = torch.sin(torch.as_tensor(pitch, dtype=torch.float64))
    if limits is not None:
        s = s.clamp(-float(limits[0]), float(limits[0]))
        p = p.clamp(-float(limits[1]), float(limits[1]))
    return torch.stack([torch.ones_like(s), s, s * s, s * s * s, p, s * p], -1)


def rotate2d(v: torch.Tensor, angle: float) -> torch.Tensor:
    """(N, 2) vectors rotated by ``angle`` radians (image frame: x right, y down)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=v.dtype)
    return v @ rot.T


def landmark_bias(coef: torch.Tensor, limits: torch.Tensor, R: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(N, 2) float64 expected offset (detection minus projected embedded point) in the image frame,
    in units of the face size, of a head with rotation ``R`` (3, 3) and face centre ``centre`` (3,)
    (camera frame). coef: (N, 2, 6) float; limits: (2,) float (see the module docstring)."""
    yaw, pitch, roll = view_angles(R.to(torch.float64), centre.to(torch.float64))
    phi = features(yaw, pitch, limits)
    local = torch.einsum("nkf,f->nk", coef.to(torch.float64), phi)
    return rotate2d(local, roll)


def embedding_offsets(emb, R: torch.Tensor, points_cam: torch.Tensor) -> torch.Tensor:
    """(N, 2) float64 expected detector offset (face-size units, image frame) of the first N points of
    the embedding ``emb`` (its ``bias`` and ``bias_limits``) for a head with rotation ``R`` (3, 3) whose N
    points are at ``points_cam`` (N, 3) in the camera frame (their mean is the face centre)."""
    n = points_cam.shape[0]
    return landmark_bias(emb.bias[:n], emb.bias_limits, R, points_cam.to(torch.float64).mean(0))


def embedding_offsets_px(emb, R: torch.Tensor, points_cam: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """(N, 2) pixels (``uv``'s dtype): ``embedding_offsets`` scaled by the face size, where the face size is
    that of the points *with* the offsets added (the larger side of their box: the detector's units), found
    by three fixed-point steps from the projections ``uv`` (N, 2) pixels."""
    off = embedding_offsets(emb, R, points_cam).to(uv.dtype)
    face = float((uv.max(0).values - uv.min(0).values).max())
    for _ in range(3):
        q = uv + off * face
        face = float((q.max(0).values - q.min(0).values).max())
    return off * face


__all__ = ["NUM_FEATURES", "embedding_offsets", "embedding_offsets_px", "features", "landmark_bias", "rotate2d",
           "view_angles"]
