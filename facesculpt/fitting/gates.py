"""Quality gates: no silent wrong results (issue 13, and the guard rails of issue 12).

Checks around the fit of one face, each cheap and each naming what went wrong:

- **before**: the face's in-plane roll (from the detected eye and mouth points) — a photo turned by
  more than ``max_roll_deg`` (sideways, upside down) is turned back by a multiple of 90 degrees
  (lossless ``np.rot90``) and detected again, so the fit sees an upright face; and the face's
  brightness — a face too dark to take colour from is refused before fitting.
- **after**: the SH light is finite with a positive ambient term per channel; the albedo over the
  seen texels is neither near black, nor near white, nor near constant; the fitted head agrees with the
  detected landmarks (normalised landmark error) and faces the camera upright.

A failed "after" check retries from a safer start — the landmark fit alone (no photometric stage,
whose light and albedo are what diverges) — and keeps that result with a warning; if that fails too,
the face fails with ``FitFailedError`` and one line. Warnings go to ``metrics.json`` (``warnings``) and
the command line's summary.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Optional

import numpy as np
import torch

from facesculpt.core.errors import FitFailedError
from facesculpt.structures import Landmarks

#: mediapipe face-mesh indices: outer eye corners and the inner lip centre
_EYE_A, _EYE_B, _LIP_TOP, _LIP_BOTTOM = 33, 263, 13, 14


@dataclass(frozen=True)
class GateConfig:
    """Thresholds of the quality gates (``facesculpt.fitting.gates``)."""

    enabled: bool = True
    """Run the gates (off: every fit is accepted as it comes, as before issue 13)."""
    max_roll_deg: float = 45.0
    """A face rolled in the image plane by more than this (degrees) is turned upright by a multiple of
    90 degrees before fitting."""
    min_face_brightness: float = 0.05
    """Least mean luminance (0..1, sRGB) of the face's landmark box; darker faces are refused (their
    colour is a few 8-bit levels of noise)."""
    min_albedo_mean: float = 0.03
    """Least mean albedo (0..1) over the seen face texels (near black = a diverged fit)."""
    max_albedo_mean: float = 0.97
    """Largest mean albedo over the seen face texels (near white = a diverged fit)."""
    min_albedo_std: float = 0.004
    """Least standard deviation of the albedo over the seen face texels (a constant albedo is a
    diverged fit)."""
    max_landmark_error: float = 0.15
    """Largest normalised landmark error (inter-ocular distances) of the fitted head."""
    min_facing_cos: float = 0.2
    """Least cosine between the head's forward axis and the direction to the camera."""


def face_roll_deg(landmarks: Landmarks) -> float:
    """The face's in-plane roll in degrees: 0 upright, +90 when its top points to the image's right,
    +-180 upside down (from the eye corners and the lip centre of the mediapipe points)."""
    p = landmarks.points[:, :2].double()
    eyes = (p[_EYE_A] + p[_EYE_B]) / 2
    mouth = (p[_LIP_TOP] + p[_LIP_BOTTOM]) / 2
    up = eyes - mouth
    return math.degrees(math.atan2(float(up[0]), float(-up[1])))


def upright_turns(roll_deg: float, max_roll_deg: float) -> int:
    """How many quarter turns counter-clockwise (``np.rot90`` k) make a face with this roll upright
    (0 when |roll| <= ``max_roll_deg``)."""
    if abs(roll_deg) <= max_roll_deg:
        return 0
    return int(round(roll_deg / 90.0)) % 4


def face_brightness(image: np.ndarray, landmarks: Landmarks) -> float:
    """Mean luminance (0..1) of ``image`` (H, W, 3) uint8 inside the landmarks' box."""
    x0, y0, x1, y1 = [float(v) for v in landmarks.bbox]
    H, W = image.shape[:2]
    xa, xb = max(0, int(x0)), min(W, int(math.ceil(x1)))
    ya, yb = max(0, int(y0)), min(H, int(math.ceil(y1)))
    box = image[ya:yb, xa:xb].astype(np.float32) / 255.0
    if box.size == 0:
        return 0.0
    return float((box @ np.array([0.2126, 0.7152, 0.0722], np.float32)).mean())


def check_input(image: np.ndarray, landmarks: Landmarks, cfg: GateConfig, name: str) -> None:
    """Refuse a face that cannot give a result (FitFailedError): too dark."""
    if not cfg.enabled:
        return
    b = face_brightness(image, landmarks)
    if b < cfg.min_face_brightness:
        raise FitFailedError(f"{name}: the face is too dark to take its colour from (mean brightness "
                             f"{b * 255:.0f} of 255, need {cfg.min_face_brightness * 255:.0f}; use a brighter photo)")


def check_fit(rec, cfg: GateConfig) -> list[str]:
    """The problems of a finished reconstruction ``rec`` (empty when it passes)."""
    problems: list[str] = []
    light = rec.params.light.coeffs.detach()
    if not torch.isfinite(light).all():
        problems.append("the fitted light is not finite")
    elif float(light[0, 0].min()) <= 0:
        problems.append(f"the fitted light has a negative ambient term ({float(light[0, 0].min()):.3g})")
    alb = rec.maps.albedo.detach()[0].clamp(0, 1)
    from facesculpt.texture.clipping import seen_confidence

    seen = seen_confidence(rec.maps).detach()[0] > 0.3  # clipped texels count (their albedo is an estimate)
    if not torch.isfinite(rec.maps.albedo).all():
        problems.append("the albedo is not finite")
    elif int(seen.sum()) >= 16:
        vals = torch.round(alb[seen] * 255) / 255  # as exported (8-bit)
        mean, std = float(vals.mean()), float(vals.mean(dim=1).std())
        if mean < cfg.min_albedo_mean:
            problems.append(f"the albedo is near black (mean {mean * 255:.0f} of 255)")
        elif mean > cfg.max_albedo_mean:
            problems.append(f"the albedo is near white (mean {mean * 255:.0f} of 255)")
        elif std < cfg.min_albedo_std:
            problems.append(f"the albedo is near constant (std {std * 255:.1f} of 255)")
    else:
        problems.append("hardly any of the face was seen")
    lm = rec.metrics.get("landmark_error_iod")
    if lm is not None and not (lm <= cfg.max_landmark_error):
        problems.append(f"the fitted head disagrees with the landmarks (error {lm:.2f} inter-ocular, "
                        f"limit {cfg.max_landmark_error:g})")
    R = rec.params.pose.matrix().detach()[0].double()
    t = rec.params.pose.translation.detach()[0].double()
    facing = float(R[:, 2] @ (-t / t.norm().clamp(min=1e-9)))
    if not facing >= cfg.min_facing_cos:
        problems.append(f"the fitted head does not face the camera (cos {facing:.2f})")
    if not float(R[1, 1]) < 0:
        problems.append("the fitted head is upside down in the photo")
    return problems


def fit_with_gates(fit: Callable, image: np.ndarray, landmarks: Landmarks, cfg, name: str,
                   notes: Optional[list] = None):
    """``fit(cfg) -> Reconstruction`` behind the gates (see the module docstring).

    cfg: the pipeline Config (``cfg.gates`` holds the thresholds). ``notes``: warnings to add to the
    result (e.g. that the photo was turned). Raises FitFailedError."""
    gc = getattr(cfg, "gates", None) or GateConfig()
    check_input(image, landmarks, gc, name)
    rec = fit(cfg)
    warnings = list(notes or [])
    if gc.enabled:
        problems = check_fit(rec, gc)
        if problems and cfg.photometric.enabled:
            safer = replace(cfg, photometric=replace(cfg.photometric, enabled=False))
            retry = fit(safer)
            again = check_fit(retry, gc)
            if not again:
                warnings.append(f"the photometric fit was rejected ({'; '.join(problems)}); this result is the "
                                "landmark fit alone (as the fast preset), from a safer start")
                rec, problems = retry, []
            else:
                problems = again
        if problems:
            raise FitFailedError(f"{name}: the fit failed its quality checks: {problems[0]} (try a frontal, "
                                 "evenly lit photo with the eyes and brows uncovered)")
    rec.metrics["warnings"] = warnings
    return rec




# the landmark model's face-presence logits that decide a turn when the face detector misses the face in
# the photo as given (docs/reliability.md, "Turned photos": the right turn of 32 photos scored 6.5-37.4,
# wrong turns with an upright-looking face at most 13.5; profiles score below 1 at every turn)
CONFIDENT_PRESENCE = 15.0
"""A face found in the photo as given that scores this much is kept without trying the turns."""
MIN_TURN_PRESENCE = 5.0
"""A turned copy is chosen only when its face scores at least this much ..."""
TURN_MARGIN = 3.0
"""... and this much more than the face found in the photo as given (photos are upright far more often)."""


def upright_turn(image: np.ndarray, cfg: GateConfig, detection_max_side: int = 1280) -> Optional[int]:
    """Quarter turns (``np.rot90`` k) that make the photo's most confidently detected face upright, from
    the face detector's eye and mouth keypoints; None when the face detector finds no face in the photo
    as given (``upright_faces`` then compares the turns)."""
    from facesculpt.detect.mediapipe_landmarker import detector_rolls

    found = detector_rolls(image, detection_max_side)
    return upright_turns(max(found)[1], cfg.max_roll_deg) if found else None


def _best_turn(image: np.ndarray, detect: Callable, cfg: GateConfig, detection_max_side: int = 1280):
    """(image, faces, k) when the face detector misses the face in the photo as given: the photo as
    given with its full detection (every fall-back), unless a quarter turn in which the face detector
    sees an upright face gives a face the landmark model is much surer of (its face-presence logit:
    ``MIN_TURN_PRESENCE``, ``TURN_MARGIN``). When no turn wins, the photo as given with whatever its
    detection gave (faces, possibly not upright, or its error, raised). The face detector reports
    faces in quarter-turned copies of upright photos that are not there, and the face mesh puts an
    "upright" mesh on an upside-down face, so neither alone says which way is up."""
    from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
    from facesculpt.detect.fallback import face_presence
    from facesculpt.detect.mediapipe_landmarker import detector_rolls

    def scored(img):
        """(presence of an upright face or None, faces or the detection's error)."""
        try:
            faces = detect(img)
        except (FaceNotFoundError, FaceTooSmallError) as e:
            return None, e
        if not faces or abs(face_roll_deg(faces[0])) > cfg.max_roll_deg:
            return None, faces
        return face_presence(img, tuple(float(v) for v in faces[0].bbox)), faces

    given_score, given_found = scored(image)
    if given_score is not None and given_score >= CONFIDENT_PRESENCE:
        return image, given_found, 0
    best = None
    for k in (1, 2, 3):
        img = np.ascontiguousarray(np.rot90(image, k))
        if not any(abs(roll) <= cfg.max_roll_deg for _, roll in detector_rolls(img, detection_max_side)):
            continue
        found = scored(img)
        if found[0] is None or found[0] < MIN_TURN_PRESENCE:
            continue
        if given_score is not None and found[0] < given_score + TURN_MARGIN:
            continue
        if best is None or found[0] > best[0]:
            best = (found[0], img, found[1], k)
    if best is not None:
        return best[1:]
    if isinstance(given_found, Exception):
        raise given_found
    return image, given_found, 0


def upright_faces(image: np.ndarray, detect: Callable, cfg: GateConfig, detection_max_side: int = 1280):
    """Turn the photo so its face is upright (``upright_turn``; when the face detector finds nothing in
    the photo as given, the quarter turn whose face scores best, ``_best_turn``), then
    ``detect(image) -> [Landmarks]``.

    Returns (image as fitted, faces, turns). With the gates off, the photo is used as given."""
    k = upright_turn(image, cfg, detection_max_side) if cfg.enabled else 0
    if k is None:
        return _best_turn(image, detect, cfg, detection_max_side)
    if k:
        image = np.ascontiguousarray(np.rot90(image, k))
    return image, detect(image), k



def fitted_image(image: np.ndarray, rec) -> np.ndarray:
    """``image`` as the fit of ``rec`` saw it: turned by ``rec.metrics["input_turned_deg"]`` (the overlay
    and render of a result must be drawn on this one)."""
    k = int(rec.metrics.get("input_turned_deg", 0)) // 90 % 4
    return np.ascontiguousarray(np.rot90(image, k)) if k else image


__all__ = ["GateConfig", "upright_faces", "upright_turn", "face_roll_deg", "upright_turns", "face_brightness",
           "check_input", "check_fit", "fit_with_gates", "fitted_image"]
