"""Face detection and 478-point landmarks with mediapipe's bundled models.

Two passes, so small and several faces work: mediapipe's full-range face detector on
a downscaled copy finds face boxes; the face-mesh model then runs on a square crop
around each box (at most ``crop_side`` pixels), and its landmarks are mapped back to
the full-resolution image. When the detector finds nothing, the face-mesh model runs
on the whole downscaled image as a fall-back (it carries its own detector); when that finds
nothing either, the pose landmarker or dlib's HOG detector places the face and the landmark model
runs on that box (``facesculpt.detect.fallback``). A user-given ``box`` skips the detectors.
"""
from __future__ import annotations

import os
import threading
import zlib
from dataclasses import replace
from functools import lru_cache
from typing import Optional, Sequence

import numpy as np
import torch

from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
from facesculpt.core.quiet import quiet_native_stderr
from facesculpt.structures import Landmarks

_LOCK = threading.Lock()


def _quiet_mediapipe() -> None:
    # mediapipe's C++ logging goes to stderr; keep the command line readable.
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@lru_cache(maxsize=1)
def _detector():
    _quiet_mediapipe()
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.face_detection.FaceDetection(model_selection=1, min_detection_confidence=0.5)


@lru_cache(maxsize=1)
def _mesher():
    _quiet_mediapipe()
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, max_num_faces=4, refine_landmarks=True, min_detection_confidence=0.3
    )


def _resize(img: np.ndarray, scale: float) -> np.ndarray:
    """``img`` resized by ``scale``, bilinear. Enlarging (the face crop brought up to ``crop_side``) goes through
    OpenCV: the same interpolation as PIL's bilinear up to one grey level in a fifth of the values, 0.2 ms against
    PIL's 3-5 ms on a 440-px crop (two crops a photo); shrinking keeps PIL's filter, which averages over the
    shrunk pixels (OpenCV's bilinear would alias)."""
    h, w = img.shape[:2]
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    if scale >= 1.0:
        import cv2

        return cv2.resize(np.ascontiguousarray(img), size, interpolation=cv2.INTER_LINEAR)
    from PIL import Image

    return np.asarray(Image.fromarray(img).resize(size, Image.BILINEAR))


def _run(graph, img: np.ndarray):
    """``graph().process(img)``. After any failure the graph is dropped (a mediapipe graph that failed
    once answers every later call with "Graph has errors") and the image tried once more on a fresh one;
    a second failure becomes a FaceNotFoundError. Images mediapipe cannot take are refused before it runs."""
    if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        raise FaceNotFoundError(f"no face found: the image is not 8-bit RGB ({img.shape} {img.dtype})")
    if min(img.shape[:2]) < 2:
        raise FaceNotFoundError(f"no face found: the image is too small ({img.shape[1]} x {img.shape[0]} pixels)")
    img = np.ascontiguousarray(img)
    for attempt in range(2):  # a graph broken by an earlier failure is replaced and the image tried again
        try:
            with _LOCK, quiet_native_stderr():
                return graph().process(img)
        except Exception as e:  # noqa: BLE001 - mediapipe raises RuntimeError/ValueError from its C++ graph
            graph.cache_clear()
            if attempt:
                msg = str(e).splitlines()[0][:100] if str(e) else type(e).__name__
                raise FaceNotFoundError(f"no face found: the landmarker failed ({msg})") from None


def _mesh_on(img: np.ndarray) -> list[np.ndarray]:
    """Run the face-mesh model; (478, 3) pixel landmarks per face found."""
    h, w = img.shape[:2]
    res = _run(_mesher, img)
    out = []
    for face in res.multi_face_landmarks or []:
        pts = np.array([(p.x * w, p.y * h, p.z * w) for p in face.landmark], dtype=np.float64)
        out.append(pts)
    return out


_LAST_DETECTIONS: list = []
"""One slot: ((shape, crc32 of the pixels), detections) of the face detector's last image."""


def _detections(img: np.ndarray) -> list:
    """The face detector's detections in ``img``. The photo's upright check (``detector_rolls``) and its
    detection (``detect_faces``) look at the same pixels one after the other: the second answer is the
    first's, kept in one slot under the image's shape and CRC-32 (0.3 ms on a 512 x 600 photo against the
    detector's 5 ms)."""
    img = np.ascontiguousarray(img)
    key = (img.shape, img.dtype.str, zlib.crc32(img) if img.ndim == 3 and img.dtype == np.uint8 else None)
    with _LOCK:
        if key[2] is not None and _LAST_DETECTIONS and _LAST_DETECTIONS[0][0] == key:
            return _LAST_DETECTIONS[0][1]
    dets = list(_run(_detector, img).detections or [])
    with _LOCK:
        _LAST_DETECTIONS[:] = [(key, dets)]
    return dets


def _boxes(img: np.ndarray) -> list[tuple[float, float, float, float]]:
    h, w = img.shape[:2]
    boxes = []
    for det in _detections(img):
        b = det.location_data.relative_bounding_box
        boxes.append((b.xmin * w, b.ymin * h, (b.xmin + b.width) * w, (b.ymin + b.height) * h))
    return boxes


def _bbox_of(points: np.ndarray) -> np.ndarray:
    p = points[:468, :2]
    return np.array([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    area = lambda r: (r[2] - r[0]) * (r[3] - r[1])  # noqa: E731
    return inter / max(area(a) + area(b) - inter, 1e-9)


def detect_faces(
    image: np.ndarray,
    *,
    max_faces: int = 1,
    min_face_size: int = 64,
    detection_max_side: int = 1280,
    crop_side: int = 512,
    name: str = "image",
    box: Optional[Sequence[float]] = None,
) -> list[Landmarks]:
    """Faces in ``image`` (H, W, 3) uint8 RGB, largest first, at most ``max_faces``.

    ``box`` (x0, y0, x1, y1) pixels, optional: the face is there (checked by ``check_box``); the
    landmarks come from that box alone and one face is returned.

    Raises FaceNotFoundError when there is none, FaceTooSmallError when the largest
    face is smaller than ``min_face_size`` pixels. Smaller extra faces are dropped.
    ``Landmarks.detector`` says which detector found each face.
    """
    H, W = image.shape[:2]
    if box is not None:
        return [_from_box(image, check_box(box, (H, W), name), "user_box", min_face_size, name)]
    scale = min(1.0, detection_max_side / max(H, W))
    small = _resize(image, scale) if scale < 1.0 else image
    found: list[np.ndarray] = []
    boxes = sorted(_boxes(small), key=lambda b: -(b[2] - b[0]) * (b[3] - b[1]))
    for x0, y0, x1, y1 in boxes:
        if len(found) >= max_faces:
            break
        cx, cy = (x0 + x1) / 2 / scale, (y0 + y1) / 2 / scale
        side = 2.2 * max(x1 - x0, y1 - y0) / scale
        cx0, cy0 = int(round(cx - side / 2)), int(round(cy - side / 2))
        cs = int(round(side))
        # pad so crops at the image border stay square and centred
        pad = max(0, -cx0, -cy0, cx0 + cs - W, cy0 + cs - H)
        src = np.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode="edge") if pad else image
        crop = src[cy0 + pad : cy0 + pad + cs, cx0 + pad : cx0 + pad + cs]
        if crop.size == 0:
            continue
        cscale = min(1.0, crop_side / cs) if cs > crop_side else crop_side / cs
        crop_r = _resize(crop, cscale)
        meshes = _mesh_on(crop_r)
        if not meshes:
            continue
        # the face nearest the crop centre
        centre = np.array(crop_r.shape[1::-1]) / 2
        pts = min(meshes, key=lambda p: np.linalg.norm(p[:468, :2].mean(0) - centre))
        pts = pts / cscale
        pts[:, 0] += cx0
        pts[:, 1] += cy0
        if any(_iou(_bbox_of(pts), _bbox_of(f)) > 0.5 for f in found):
            continue
        found.append(pts)

    def side(pts):
        bb = _bbox_of(pts)
        return max(bb[2] - bb[0], bb[3] - bb[1])

    detector = "mediapipe_face_detector"
    if not found:
        found = [p / scale for p in _mesh_on(small)]
        detector = "mediapipe_face_mesh"
    small_candidate = None  # (detector, side) of a fall-back detector's face below the minimum
    if not any(side(p) >= min_face_size for p in found):
        # nothing big enough from mediapipe's own detectors (nothing at all, or a small face, perhaps in the
        # background of a turned one): the fall-backs, skipping a face below the minimum (the pose landmarker
        # can put a whole "face" on a sunglasses lens of an over-exposed profile)
        from facesculpt.detect.fallback import FALLBACKS, MIN_SCORE, landmarks_in_box

        for fb_detector, find_box in FALLBACKS:
            b = find_box(small)
            if b is None:
                continue
            roi = landmarks_in_box(small, b)
            if roi.score < MIN_SCORE:
                continue
            pts = roi.points / scale
            if side(pts) >= min_face_size:
                found, detector = [pts], fb_detector
                break
            if small_candidate is None:
                small_candidate = (fb_detector, side(pts))
    if not found:
        if small_candidate is not None:
            raise FaceNotFoundError(
                f"no face of at least {min_face_size} px found in {name} (the only candidate, from "
                f"{small_candidate[0]}, is {small_candidate[1]:.0f} px: a false find or a face too small; try a "
                "larger, well-lit photo, or give 'reconstruct' its --box)")
        raise FaceNotFoundError(f"no face found in {name} (try a larger, frontal, well-lit photo, or give 'reconstruct' its --box)")
    found.sort(key=lambda p: -np.ptp(p[:468, 0]) * np.ptp(p[:468, 1]))
    size = side(found[0])
    if size < min_face_size:
        raise FaceTooSmallError(
            f"face in {name} is {size:.0f} px, smaller than the {min_face_size} px minimum (use a closer or larger photo)"
        )
    out = []
    for pts in found[:max_faces]:
        bb = _bbox_of(pts)
        if max(bb[2] - bb[0], bb[3] - bb[1]) < min_face_size:
            continue
        out.append(Landmarks(torch.tensor(pts, dtype=torch.float32), torch.tensor(bb, dtype=torch.float32), (H, W),
                             detector))
    if out and len(out) == max_faces and detector == "mediapipe_face_detector":
        more = _more_faces(boxes, scale, [f.bbox.numpy() for f in out], min_face_size)
        if more:
            out[0] = replace(out[0], more_faces=more)
    return out


def _more_faces(boxes: list, scale: float, taken: list, min_face_size: int) -> int:
    """How many of the face detector's ``boxes`` (in the detection image, ``scale`` x the photo) are faces of at least
    ``min_face_size`` photo pixels whose centre lies in none of the ``taken`` faces' boxes (photo pixels)."""
    n = 0
    for x0, y0, x1, y1 in boxes:
        if max(x1 - x0, y1 - y0) / scale < min_face_size:
            continue
        cx, cy = (x0 + x1) / 2 / scale, (y0 + y1) / 2 / scale
        if not any(b[0] <= cx <= b[2] and b[1] <= cy <= b[3] for b in taken):
            n += 1
    return n


def check_box(box, image_size: tuple[int, int], name: str = "image") -> tuple[float, float, float, float]:
    """``box`` as (x0, y0, x1, y1) floats; a FaceSculptError (one line) unless 0 <= x0 < x1 <= W and
    0 <= y0 < y1 <= H (pixels) and the box is at least 8 pixels on each side."""
    from facesculpt.core.errors import InvalidBoxError

    H, W = image_size
    try:
        x0, y0, x1, y1 = (float(v) for v in box)
    except (TypeError, ValueError):
        raise InvalidBoxError(f"face box for {name}: expected four numbers x0,y0,x1,y1, got {box!r}") from None
    if not all(np.isfinite(v) for v in (x0, y0, x1, y1)):
        raise InvalidBoxError(f"face box for {name}: expected finite numbers, got {box!r}")
    if x1 <= x0 or y1 <= y0:
        raise InvalidBoxError(f"face box {x0:g},{y0:g},{x1:g},{y1:g} for {name} is inverted (give x0,y0,x1,y1 "
                              "with x0 < x1 and y0 < y1)")
    if x0 < 0 or y0 < 0 or x1 > W or y1 > H:
        raise InvalidBoxError(f"face box {x0:g},{y0:g},{x1:g},{y1:g} reaches outside {name} ({W} x {H} pixels: "
                              f"give 0 <= x0 < x1 <= {W}, 0 <= y0 < y1 <= {H})")
    if min(x1 - x0, y1 - y0) < 8:
        raise InvalidBoxError(f"face box {x0:g},{y0:g},{x1:g},{y1:g} for {name} is smaller than 8 pixels")
    return x0, y0, x1, y1


def _from_box(image: np.ndarray, box, detector: str, min_face_size: int, name: str) -> Landmarks:
    """Landmarks of the face in ``box`` (the landmark model on the box itself, ``fallback.landmarks_in_box``)."""
    from facesculpt.detect.fallback import landmarks_in_box

    H, W = image.shape[:2]
    x0, y0, x1, y1 = box
    roi = landmarks_in_box(image, box)
    if not np.isfinite(roi.score):
        raise FaceNotFoundError(f"no face found in {name} inside the box {x0:g},{y0:g},{x1:g},{y1:g}")
    pts = roi.points
    bb = _bbox_of(pts)
    if max(bb[2] - bb[0], bb[3] - bb[1]) < min_face_size:
        raise FaceTooSmallError(f"face in {name} is {max(bb[2] - bb[0], bb[3] - bb[1]):.0f} px, smaller than the "
                                f"{min_face_size} px minimum (use a closer or larger photo)")
    return Landmarks(torch.tensor(pts, dtype=torch.float32), torch.tensor(bb, dtype=torch.float32), (H, W), detector)
def detector_rolls(image: np.ndarray, detection_max_side: int = 1280) -> list[tuple[float, float]]:
    """(score, in-plane roll in degrees) of each face mediapipe's face detector finds in ``image``
    (H, W, 3) uint8; roll 0 is upright, +90 the face's top pointing right (eye and mouth keypoints).
    The detector finds upright and sideways faces but not upside-down ones (the quality gates use
    this to find the photo's upright turn; ``facesculpt.fitting.gates``)."""
    import math

    H, W = image.shape[:2]
    scale = min(1.0, detection_max_side / max(H, W))
    small = _resize(image, scale) if scale < 1.0 else image
    h, w = small.shape[:2]
    out = []
    for det in _detections(small):
        kp = det.location_data.relative_keypoints
        ex, ey = (kp[0].x + kp[1].x) / 2 * w, (kp[0].y + kp[1].y) / 2 * h
        out.append((float(det.score[0]), math.degrees(math.atan2(ex - kp[3].x * w, -(ey - kp[3].y * h)))))
    return out
