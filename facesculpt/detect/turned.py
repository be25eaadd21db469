"""A second detection on the mirrored photo, combined by how well a head explains each.

mediapipe's landmark model is not equally good at faces turned either way, and on turned faces its
first crop sometimes puts a mesh squashed onto the front of the face (docs/results.md, "Issue 11: the
detector on turned faces (session 7)"). The photo is detected again mirrored, the points are mirrored back
through the mesh's left/right map, and the two sets are averaged with weights from their **shape residual**:
the RMS distance, in face sizes, of the points from the best scaled-orthographic view of the mean head's 468
points (``shape_residual``). A squashed or torn mesh is one no rigid head projects to, so it gets little
weight; where both look like a head they are averaged (test-time augmentation: the detector's left/right
asymmetric errors partly cancel). Since session 37 every face whose first detection is turned less than
``TurnedDetectConfig.max_yaw_deg`` is detected twice (``min_yaw_deg`` 0; it was 30, turned faces only):
the regressor's shape on the benchmark's 30 held-out synthetic heads 2.036 (the first detection alone) -> 1.990 mm
(2.116 -> 2.115 on a second set of 30; 2.025 over four sets, 120 heads, session 38), the six synthetic heads' ``default`` 1.93 -> 1.89 mm, for one more
landmarker pass (0.01-0.03 s; docs/results.md, "Session 37"). Near profile
(beyond ``max_yaw_deg``) half the points are guesses behind the face and the faces keep one detection. The
mirrored detection counts only when the detector that found it is at least as reliable as the first one's
(``DETECTOR_RANK``: mediapipe's face detector and its crop, then the face mesh's own detector on the whole
photo); faces placed by a fall-back keep their detection (``landmarks_in_box`` compared the mirrored
photo already).

Written here because no installed library combines mediapipe detections; the residual is a
closed-form least-squares fit (numpy).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch

from facesculpt.structures import Landmarks


#: detectors whose faces may be combined with the mirrored photo's, most reliable first (a lower rank wins;
#: the fall-backs and a user's box are not combined)
DETECTOR_RANK = {"mediapipe_face_detector": 0, "mediapipe_face_mesh": 1}


@dataclass(frozen=True)
class TurnedDetectConfig:
    """The mirrored second detection (``facesculpt.detect.turned``)."""

    enabled: bool = True
    """Detect faces a second time on the mirrored photo and combine both (off: one detection)."""
    min_yaw_deg: float = 0.0
    """Only faces whose first detection is turned at least this much (degrees, ``estimate_yaw_deg``)
    are detected again (0: every face up to ``max_yaw_deg``, since session 37; 30 before it, when frontal
    faces kept their single detection and its cost)."""
    max_yaw_deg: float = 60.0
    """... and less than this much: nearer profile, half the points are the landmark model's guesses
    behind the face and the shape residual no longer tells which detection is better."""
    residual_scale: float = 0.01
    """Scale (face sizes) of the shape-residual difference in the weights: the mirrored detection's
    weight is ``1 / (1 + exp((r_mirrored - r_first) / residual_scale))``."""


def _centred(points: np.ndarray) -> np.ndarray:
    return points - points.mean(0)


def estimate_yaw_deg(points: np.ndarray, mean_points: np.ndarray) -> float:
    """Yaw (degrees; positive: the face's front points to the image's right) of mediapipe points
    ``points`` (>= 468, 3) pixels (x right, y down, z away from the camera) from the rotation that best
    aligns ``mean_points`` (468, 3) model frame (y up, +z out of the face) to them (Kabsch on the 468)."""
    p = np.asarray(points, dtype=np.float64)[:468]
    q = np.stack([p[:, 0], -p[:, 1], -p[:, 2]], 1)
    U, _, Vt = np.linalg.svd(_centred(np.asarray(mean_points, np.float64)).T @ _centred(q))
    d = np.sign(np.linalg.det(U @ Vt)) or 1.0
    R = (U @ np.diag([1.0, 1.0, d]) @ Vt).T  # model -> detection frame
    return math.degrees(math.atan2(R[0, 2], R[2, 2]))


def shape_residual(points2d: np.ndarray, mean_points: np.ndarray) -> float:
    """RMS distance, in face sizes (sqrt of the points' box area), of ``points2d`` (468, 2) pixels from
    the scaled-orthographic view of ``mean_points`` (468, 3) that fits them (the affine least-squares
    camera projected to the nearest scaled rotation)."""
    A = _centred(np.asarray(mean_points, np.float64))
    b = _centred(np.asarray(points2d, np.float64)[:468, :2])
    M, *_ = np.linalg.lstsq(A, b, rcond=None)  # (3, 2) affine camera
    U, _, Vt = np.linalg.svd(M.T, full_matrices=False)
    proj = A @ (U @ Vt).T  # orthonormal rows: a rotation's first two rows
    s = float((proj * b).sum() / max((proj * proj).sum(), 1e-12))
    size = math.sqrt(max(float(np.ptp(b[:, 0]) * np.ptp(b[:, 1])), 1e-12))
    return float(np.sqrt(((s * proj - b) ** 2).sum(1).mean()) / size)


def mirror_back(points: np.ndarray, width: int, mirror: np.ndarray) -> np.ndarray:
    """Points (478, 3) detected on the mirrored photo, as points of the photo: x -> width - x and each
    point swapped with its left/right partner (``mirror`` (468,) from the mesh; the iris points 468-472
    and 473-477 swap as blocks, each ring's +x and -x points too)."""
    p = np.asarray(points, np.float64)
    out = p.copy()
    out[:468] = p[:468][mirror]
    if len(p) >= 478:
        out[468:473], out[473:478] = p[473:478], p[468:473]
        for c in (468, 473):
            out[[c + 1, c + 3]] = out[[c + 3, c + 1]]
    out[:, 0] = width - out[:, 0]
    return out


def mirrored_weight(first: np.ndarray, mirrored: np.ndarray, mean_points: np.ndarray, scale: float) -> float:
    """Weight (0..1) of the mirrored detection ``mirrored`` against ``first`` (both (>=468, 2+) pixels of
    the same photo), from their shape residuals (``TurnedDetectConfig.residual_scale``)."""
    r0, r1 = shape_residual(first[:, :2], mean_points), shape_residual(mirrored[:, :2], mean_points)
    x = (r1 - r0) / max(scale, 1e-9)
    return float(1.0 / (1.0 + math.exp(min(max(x, -50.0), 50.0))))


def _iou(a, b) -> float:
    x0, y0, x1, y1 = max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / max(area(a) + area(b) - inter, 1e-9)


def refine_turned(image: np.ndarray, faces: list[Landmarks], detect: Callable, mean_points: np.ndarray,
                  cfg: TurnedDetectConfig) -> list[Landmarks]:
    """``faces`` detected in ``image`` (H, W, 3) uint8, each turned one (``cfg.min_yaw_deg`` to ``max_yaw_deg``)
    combined with the same face detected on the mirrored photo by ``detect(image) -> [Landmarks]`` (the face
    whose box overlaps it most, IoU > 0.3). ``mean_points`` (468, 3): the mean head's mediapipe points (model frame).
    Faces the mirrored photo does not give back, or gives back through a less reliable detector
    (``DETECTOR_RANK``), keep their detection. ``Landmarks.mirror_weight`` records
    the mirrored detection's weight (None: not detected again)."""
    from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
    from facesculpt.topology import load_topology

    if not cfg.enabled or not faces:
        return faces
    turned = [f.detector in DETECTOR_RANK
              and cfg.min_yaw_deg <= abs(estimate_yaw_deg(f.points.numpy(), mean_points)) < cfg.max_yaw_deg
              for f in faces]
    if not any(turned):
        return faces
    W = image.shape[1]
    try:
        others = detect(np.ascontiguousarray(image[:, ::-1]))
    except (FaceNotFoundError, FaceTooSmallError):
        return faces
    mirror = load_topology(0).mirror.numpy()
    back = [(mirror_back(o.points.numpy(), W, mirror), o.detector) for o in others]
    out = []
    for f, is_turned in zip(faces, turned):
        box = f.bbox.tolist()
        match, det = max(back, key=lambda b: _iou(box, _box(b[0])), default=(None, None))
        if (not is_turned or match is None or _iou(box, _box(match)) <= 0.3
                or DETECTOR_RANK.get(det, len(DETECTOR_RANK)) > DETECTOR_RANK[f.detector]):
            out.append(f)
            continue
        p0 = f.points.numpy().astype(np.float64)
        w = mirrored_weight(p0, match, mean_points, cfg.residual_scale)
        pts = (1.0 - w) * p0 + w * match
        out.append(replace(f, points=torch.tensor(pts, dtype=f.points.dtype),
                           bbox=torch.tensor(_box(pts), dtype=f.bbox.dtype), mirror_weight=w))
    return out


def with_mirrored_detection(image: np.ndarray, faces: list[Landmarks], detect: Callable,
                            cfg: "TurnedDetectConfig | None") -> list[Landmarks]:
    """``refine_turned`` with the morphable head's mean 468 points (what ``reconstruct`` and the video tracker
    call): ``faces`` as given when ``cfg`` is None or off."""
    if cfg is None or not cfg.enabled or not faces:
        return faces
    from facesculpt.face_model import fit_view, load_face_model

    mean = fit_view(load_face_model()).canonical.detach().numpy()  # the mean head's 468 points (cached)
    return refine_turned(image, faces, detect, mean, cfg)


def detect_with_mirror(image: np.ndarray, detect: Callable, cfg: "TurnedDetectConfig | None") -> list[Landmarks]:
    """``detect(image)``'s faces combined with the mirrored photo's detection (``with_mirrored_detection``; ``detect``
    runs on both photos): the one call of every path that detects as ``reconstruct`` does. ``cfg`` None or off: the
    first detection alone. Raises what ``detect`` raises on the photo itself."""
    return with_mirrored_detection(image, detect(image), detect, cfg)


def _box(points: np.ndarray) -> list[float]:
    p = np.asarray(points)[:468, :2]
    return [float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max())]


__all__ = ["DETECTOR_RANK", "TurnedDetectConfig", "estimate_yaw_deg", "shape_residual", "mirror_back",
           "with_mirrored_detection", "detect_with_mirror",
           "mirrored_weight", "refine_turned"]
