"""Hands in the photo (issue 12, item 3): mediapipe's bundled hand landmarker -> a pixel mask.

mediapipe 0.10.21's legacy ``solutions.hands`` ships its palm detector and 21-point hand
landmark models inside the wheel (``modules/palm_detection``, ``modules/hand_landmark``): nothing is
downloaded. The landmarker runs twice: on the whole photo, and on a square crop around the face
(``crop_expand`` x the face box, resized to ``crop_size`` pixels), where a hand in front of a small
face is large enough for the palm detector. Each detected hand becomes a mask: the convex hull of
its palm points, each finger (and the thumb) as a chain of capsules whose radius follows the palm's
width, all grown by a margin. With a face box, hands much smaller than the face are dropped
(``min_size``). Written here because no installed library turns hand landmarks into a
region. Pure functions of arrays: no files, no prints.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

_LOCK = threading.Lock()

#: mediapipe hand points: the palm's outline (wrist, finger roots) and the five chains wrist -> tip
PALM = (0, 1, 2, 5, 9, 13, 17)
CHAINS = ((0, 1, 2, 3, 4), (5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))


@dataclass(frozen=True)
class HandsConfig:
    """Hands found by mediapipe's hand landmarker, kept out of the fit and the albedo
    (``texture.occlusion.hands``)."""

    enabled: bool = True
    """Run the hand landmarker (two passes, ~0.1 s a photo under load); False: hands are left to the
    colour test."""
    min_confidence: float = 0.5
    """mediapipe's palm-detection confidence a hand needs (mediapipe's own default)."""
    crop_expand: float = 2.0
    """The second pass's square crop, this many times the face box (0: whole photo only)."""
    crop_size: int = 256
    """Side (pixels) the face crop is resized to for the second pass."""
    finger_radius: float = 0.14
    """A finger capsule's radius as a fraction of the palm's width (index root to little-finger root)."""
    margin: float = 0.12
    """Margin grown round each hand's mask, as a fraction of the palm's width."""
    min_size: float = 0.35
    """With a face box: a hand whose 21 points span less than this fraction of the face box's larger
    side is dropped (a hand near a face is about the face's size; a nose in profile was taken for a
    small hand on an AFLW photo: docs/results.md, issue 12 session 5)."""


@lru_cache(maxsize=4)
def _landmarker(min_confidence: float):
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.hands.Hands(static_image_mode=True, max_num_hands=2, model_complexity=1,
                                    min_detection_confidence=float(min_confidence))


def _run(image: np.ndarray, min_confidence: float) -> list[np.ndarray]:
    """(21, 2) pixel points of each hand mediapipe finds in ``image`` (H, W, 3) uint8."""
    from facesculpt.core.quiet import quiet_native_stderr

    H, W = image.shape[:2]
    try:
        with _LOCK, quiet_native_stderr():
            res = _landmarker(min_confidence).process(np.ascontiguousarray(image))
    except Exception:  # noqa: BLE001 - a graph failure: drop it, no hands (the other cues still run)
        _landmarker.cache_clear()
        return []
    out = []
    for hand in res.multi_hand_landmarks or []:
        out.append(np.array([[p.x * W, p.y * H] for p in hand.landmark], np.float64))
    return out


def detect_hands(image: np.ndarray, face_box: Optional[tuple] = None, cfg: HandsConfig = HandsConfig()
                 ) -> list[np.ndarray]:
    """Hands in ``image`` (H, W, 3) uint8: a list of (21, 2) float arrays of photo pixels (x, y).

    ``face_box`` (x0, y0, x1, y1): also look in the square crop around it (``cfg.crop_expand``)."""
    from facesculpt.ops.image import crop_resize, square_box

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"detect_hands: expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    hands = _run(image, cfg.min_confidence)
    if face_box is not None and cfg.crop_expand > 0:
        x0, y0, side = square_box(face_box, cfg.crop_expand)
        crop = crop_resize(image, x0, y0, side, cfg.crop_size)
        hands += [p * (side / cfg.crop_size) + np.array([x0, y0]) for p in _run(crop, cfg.min_confidence)]
    return hands if face_box is None else near_face_sized(hands, face_box, cfg.min_size)


def near_face_sized(hands: list[np.ndarray], face_box, min_size: float) -> list[np.ndarray]:
    """The hands ((21, 2) pixel points each) whose points span at least ``min_size`` x the larger side
    of ``face_box`` (x0, y0, x1, y1)."""
    face = max(float(face_box[2]) - float(face_box[0]), float(face_box[3]) - float(face_box[1]))
    return [p for p in hands if float(np.ptp(p, axis=0).max()) >= min_size * face]


def hand_mask(hands: list[np.ndarray], size: tuple[int, int], cfg: HandsConfig = HandsConfig()) -> np.ndarray:
    """(H, W) bool pixels of ``hands`` ((21, 2) pixel points each) in an image of ``size`` (H, W)."""
    import cv2

    H, W = size
    im = np.zeros((H, W), np.uint8)
    for pts in hands:
        pts = np.asarray(pts, np.float64)
        if pts.shape != (21, 2) or not np.isfinite(pts).all():
            raise ValueError(f"hand_mask: expected (21, 2) finite points per hand, got {pts.shape}")
        palm = max(float(np.linalg.norm(pts[5] - pts[17])), 1.0)
        r = cfg.finger_radius * palm
        grow = int(round(cfg.margin * palm))
        one = np.zeros((H, W), np.uint8)
        cv2.fillConvexPoly(one, cv2.convexHull(np.round(pts[list(PALM)]).astype(np.int32)), 1)
        for chain in CHAINS:  # a round-capped thick polyline is a chain of capsules
            for a, b in zip(chain[:-1], chain[1:]):
                pa, pb = tuple(int(v) for v in np.round(pts[a])), tuple(int(v) for v in np.round(pts[b]))
                cv2.line(one, pa, pb, 1, thickness=max(1, int(round(2 * r))), lineType=cv2.LINE_8)
                cv2.circle(one, pb, max(1, int(round(r))), 1, thickness=-1)
        if grow > 0:
            one = cv2.dilate(one, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1)))
        im |= one
    return im > 0


__all__ = ["HandsConfig", "PALM", "CHAINS", "detect_hands", "hand_mask", "near_face_sized"]
