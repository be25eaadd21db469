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
- features: ``[1, s, s^2, s^3, p, s p, s^4, s^5, p^2, s^2 p, s p^2, s^3 p, p^3, s^2 p^2]`` with s = sin(yaw),
  p = sin(pitch), both clamped to the range the renders covered (stored with the coefficients) so the polynomial
  never extrapolates. A bias stores as many coefficients per axis as it was fitted with and is evaluated with that
  many of the features, in this order: the shipped bias has the first six (renders to yaw 55 and pitch 12); all
  fourteen fit renders to yaw 75 and pitch 30 as well as six fit the narrower range, but on the real photos of the
  AFLW sample that bias was worse (docs/landmark_registration.md, "Wider renders, the combined detections").
"""
from __future__ import annotations

import math

import torch

#: number of polynomial features per axis of the shipped bias
NUM_FEATURES = 6
#: the longer basis ``tools/measure_landmark_bias.py --features 14`` fits (measured in session 38, not shipped)
MAX_FEATURES = 14


def view_angles(R: torch.Tensor, centre: torch.Tensor) -> tuple:
    """(yaw, pitch, roll) radians, floats, of a head with rotation ``R`` (3, 3) (model -> camera)
    whose face centre is at ``centre`` (3,) in the camera frame."""
    d = -(R.T @ centre)
    d = d / d.norm().clamp(min=1e-12)
    yaw = math.atan2(float(d[0]), float(d[2]))
    pitch = math.atan2(float(d[1]), math.hypot(float(d[0]), float(d[2])))
    roll = math.atan2(float(R[1, 0]), float(R[0, 0]))
    return yaw, pitch, roll


def features(yaw, pitch, limits=None, n: int = NUM_FEATURES) -> torch.Tensor:
    """(..., n) float64 features of yaw and pitch (radians, tensors or floats of one shape): the first ``n`` of the
    module docstring's list (6 or 14).

    limits: (2,) float, the largest |sin(yaw)| and |sin(pitch)| to use (clamped), or None."""
    if n not in (NUM_FEATURES, MAX_FEATURES):
        raise ValueError(f"landmark bias: {n} features per axis (expected {NUM_FEATURES} or {MAX_FEATURES})")
    s = torch.sin(torch.as_tensor(yaw, dtype=torch.float64))
    p = torch.sin(torch.as_tensor(pitch, dtype=torch.float64))
    if limits is not None:
        s = s.clamp(-float(limits[0]), float(limits[0]))
        p = p.clamp(-float(limits[1]), float(limits[1]))
    s2, p2 = s * s, p * p
    cols = [torch.ones_like(s), s, s2, s2 * s, p, s * p]
    if n > 6:
        cols += [s2 * s2, s2 * s2 * s, p2, s2 * p, s * p2, s2 * s * p, p2 * p, s2 * p2]
    return torch.stack(cols, -1)


def rotate2d(v: torch.Tensor, angle: float) -> torch.Tensor:
    """(N, 2) vectors rotated by ``angle`` radians (image frame: x right, y down)."""
    c, s = math.cos(angle), math.sin(angle)
    rot = torch.tensor([[c, -s], [s, c]], dtype=v.dtype)
    return v @ rot.T


def landmark_bias(coef: torch.Tensor, limits: torch.Tensor, R: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    """(N, 2) float64 expected offset (detection minus projected embedded point) in the image frame,
    in units of the face size, of a head with rotation ``R`` (3, 3) and face centre ``centre`` (3,)
    (camera frame). coef: (N, 2, F) float, F = 6 or 14 features; limits: (2,) float (see the module docstring)."""
    yaw, pitch, roll = view_angles(R.to(torch.float64), centre.to(torch.float64))
    phi = features(yaw, pitch, limits, coef.shape[-1])
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
