"""Finding turned faces: face boxes from other installed detectors, and landmarks inside a given box.

mediapipe's face detector (BlazeFace) and the face-mesh solution's own detector miss most faces
turned more than ~70 degrees. When they find nothing, or when the user gives a box, this module:

1. places the face with another installed model: mediapipe's pose landmarker (its keypoints 0-10
   are nose, eyes, ears and mouth corners; ``mp.solutions.pose``, bundled model) or dlib's HOG
   frontal face detector (``dlib.get_frontal_face_detector``);
2. runs mediapipe's bundled 468-point face-landmark model (``face_landmark.tflite``) on that box
   directly, through a small calculator graph of mediapipe's own calculators (crop to a 192 x 192
   tensor, inference, landmark decoding, projection back to the image). The face-mesh solution
   cannot be given a box and gates its output on the model's face-presence score, which is low in
   profile; here the score is kept as a number (``RoiLandmarks.score``) instead. The box is refined
   once from the first landmarks (mediapipe's own tracking rule: 1.5 x the landmarks' square box).

The 10 iris points (468-477) this model lacks are placed at the eye centres (a ring of 0.23 x the
eye width) so the result has mediapipe's 478-point layout. Written here (not taken from a library)
because mediapipe's Python API has no landmarks-in-a-box entry point.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

_LOCK = threading.Lock()

#: the face-landmark model's input side (pixels)
_TENSOR_SIDE = 192
#: ROI side relative to a face box (mediapipe's detection-to-ROI and tracking rule)
ROI_SCALE = 1.5
#: smallest face-presence logit of the landmark model accepted as a face (profiles score -8..0;
#: non-faces far lower)
MIN_SCORE = -12.0

_GRAPH = """
input_stream: "IMAGE:image"
input_stream: "ROI:roi"
output_stream: "LANDMARKS:landmarks"
output_stream: "FLAG:flag"
node {
  calculator: "ImageToTensorCalculator"
  input_stream: "IMAGE:image"
  input_stream: "NORM_RECT:roi"
  output_stream: "TENSORS:input_tensors"
  options: { [mediapipe.ImageToTensorCalculatorOptions.ext] {
      output_tensor_width: 192 output_tensor_height: 192
      output_tensor_float_range { min: 0.0 max: 1.0 } } }
}
node {
  calculator: "InferenceCalculator"
  input_stream: "TENSORS:input_tensors"
  output_stream: "TENSORS:output_tensors"
  options: { [mediapipe.InferenceCalculatorOptions.ext] {
      model_path: "mediapipe/modules/face_landmark/face_landmark.tflite" delegate { xnnpack {} } } }
}
node {
  calculator: "SplitTensorVectorCalculator"
  input_stream: "output_tensors"
  output_stream: "landmark_tensors"
  output_stream: "face_flag_tensor"
  options: { [mediapipe.SplitVectorCalculatorOptions.ext] {
      ranges: { begin: 0 end: 1 } ranges: { begin: 1 end: 2 } } }
}
node {
  calculator: "TensorsToFloatsCalculator"
  input_stream: "TENSORS:face_flag_tensor"
  output_stream: "FLOAT:flag"
}
node {
  calculator: "TensorsToLandmarksCalculator"
  input_stream: "TENSORS:landmark_tensors"
  output_stream: "NORM_LANDMARKS:norm_landmarks"
  options: { [mediapipe.TensorsToLandmarksCalculatorOptions.ext] {
      num_landmarks: 468 input_image_width: 192 input_image_height: 192 } }
}
node {
  calculator: "LandmarkProjectionCalculator"
  input_stream: "NORM_LANDMARKS:norm_landmarks"
  input_stream: "NORM_RECT:roi"
  output_stream: "NORM_LANDMARKS:landmarks"
}
"""

#: (centre, ring +x, -y, -x, +y) of the iris points, and the eye-corner / lid landmarks they sit between
_IRIS = ((468, (33, 133, 159, 145)), (473, (263, 362, 386, 374)))


@dataclass(frozen=True)
class RoiLandmarks:
    """Landmarks found inside a box.

    points: (478, 3) float64 — mediapipe layout in pixels (x right, y down, z at pixel scale; the iris
            points 468-477 placed at the eye centres).
    score:  the landmark model's face-presence logit (> 0 for a clear face; profiles score lower).
    """

    points: np.ndarray
    score: float


def _quiet() -> None:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@lru_cache(maxsize=1)
def _graph_config():
    _quiet()
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()
    from google.protobuf import text_format
    from mediapipe.framework import calculator_pb2
    from mediapipe.python._framework_bindings import resource_util

    # the bundled model paths are relative to the folder holding the mediapipe package
    resource_util.set_resource_dir(os.path.dirname(os.path.dirname(mp.__file__)))
    return text_format.Parse(_GRAPH, calculator_pb2.CalculatorGraphConfig())


@lru_cache(maxsize=1)
def _graph():
    """The landmarks-in-a-box graph (built once; one run per call) and the dict its outputs go to."""
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    sink: dict = {}
    graph = mp.CalculatorGraph(graph_config=_graph_config())
    graph.observe_output_stream("landmarks", lambda _, p: sink.setdefault("landmarks", []).append(
        mp.packet_getter.get_proto(p)))
    graph.observe_output_stream("flag", lambda _, p: sink.setdefault("flag", []).append(mp.packet_getter.get_float(p)))
    return graph, sink


def _run_roi(image: np.ndarray, cx: float, cy: float, side: float) -> tuple[Optional[np.ndarray], float]:
    """(468, 3) pixel landmarks and the presence logit of the landmark model on the square ROI."""
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()
    from mediapipe.framework.formats import rect_pb2

    from facesculpt.core.quiet import quiet_native_stderr

    H, W = image.shape[:2]
    with _LOCK, quiet_native_stderr():  # the graph's TFLite logs (``W0000 ... inference_feedback_manager``)
        graph, sink = _graph()
        sink.clear()
        graph.start_run()
        roi = rect_pb2.NormalizedRect(x_center=cx / W, y_center=cy / H, width=side / W, height=side / H, rotation=0.0)
        frame = mp.packet_creator.create_image_frame(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(image))
        graph.add_packet_to_input_stream("image", frame.at(0))
        graph.add_packet_to_input_stream("roi", mp.packet_creator.create_proto(roi).at(0))
        graph.close()
        out, flag = list(sink.get("landmarks", [])), list(sink.get("flag", []))
    if not out:
        return None, float("-inf")
    pts = np.array([(p.x * W, p.y * H, p.z * W) for p in out[0].landmark], dtype=np.float64)
    return pts, float(flag[0]) if flag else float("-inf")


def with_iris(points468: np.ndarray) -> np.ndarray:
    """(478, 3): ``points468`` (468, 3) plus iris points at the eye centres (mediapipe's order)."""
    out = np.zeros((478, 3))
    out[:468] = points468
    for centre, (c0, c1, up, down) in _IRIS:
        c = points468[[c0, c1, up, down]].mean(0)
        r = 0.23 * np.linalg.norm(points468[c0, :2] - points468[c1, :2])
        out[centre] = c
        for k, (dx, dy) in enumerate(((1, 0), (0, -1), (-1, 0), (0, 1))):
            out[centre + 1 + k] = c + np.array([dx * r, dy * r, 0.0])
    return out


def landmarks_in_box(image: np.ndarray, box: tuple[float, float, float, float]) -> RoiLandmarks:
    """mediapipe's 468-point landmark model on ``box`` (x0, y0, x1, y1) of ``image`` (H, W, 3) uint8, refined
    once from its own landmarks; returns the 478-point layout and the face-presence logit.

    When the face scores low (< 0: a turned face), the mirrored photo is tried too and the better-scoring
    result kept (mirrored back through the mesh's left/right map): the model is not equally good at
    faces turned either way."""
    res = _landmarks_in_box(image, box)
    if res.score >= 0:
        return res
    from facesculpt.topology import load_topology

    W = image.shape[1]
    x0, y0, x1, y1 = (float(v) for v in box)
    flip = _landmarks_in_box(image[:, ::-1], (W - x1, y0, W - x0, y1))
    if flip.score <= res.score:
        return res
    mirror = load_topology(0).mirror.numpy()
    pts = flip.points[:468][mirror]
    pts[:, 0] = W - pts[:, 0]
    return RoiLandmarks(with_iris(pts), flip.score)


def _landmarks_in_box(image: np.ndarray, box: tuple[float, float, float, float]) -> RoiLandmarks:
    x0, y0, x1, y1 = (float(v) for v in box)
    cx, cy, side = (x0 + x1) / 2, (y0 + y1) / 2, ROI_SCALE * max(x1 - x0, y1 - y0)
    pts, score = _run_roi(image, cx, cy, side)
    if pts is None:
        return RoiLandmarks(np.zeros((478, 3)), float("-inf"))
    lo, hi = pts[:, :2].min(0), pts[:, :2].max(0)
    pts2, score2 = _run_roi(image, (lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, ROI_SCALE * float((hi - lo).max()))
    if pts2 is not None and score2 >= score:
        pts, score = pts2, score2
    return RoiLandmarks(with_iris(pts), score)


def face_presence(image: np.ndarray, box: tuple[float, float, float, float]) -> float:
    """The landmark model's face-presence logit for ``box`` (x0, y0, x1, y1) of ``image`` (H, W, 3) uint8,
    as the photo is turned (an upside-down or sideways face scores low; docs/reliability.md)."""
    return _landmarks_in_box(image, box).score


@lru_cache(maxsize=1)
def _pose():
    _quiet()
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1, min_detection_confidence=0.3)


def pose_face_box(image: np.ndarray) -> Optional[tuple[float, float, float, float]]:
    """A face box from mediapipe's pose landmarker (keypoints 0-10: nose, eyes, ears, mouth corners),
    or None. The box is square, centred on the visible nose, eye and mouth keypoints (the ears would pull
    it off the face in profile), its side the larger of the visible keypoints' spread (ears included)
    and 2.5 x the eye-to-mouth distance (the spread is small in profile)."""
    from facesculpt.core.quiet import quiet_native_stderr

    H, W = image.shape[:2]
    with _LOCK, quiet_native_stderr():
        res = _pose().process(np.ascontiguousarray(image))
    if not res.pose_landmarks:
        return None
    k = np.array([(p.x * W, p.y * H, p.visibility) for p in res.pose_landmarks.landmark[:11]])
    vis = k[:, 2] > 0.5
    if vis.sum() < 3:
        return None
    p = k[vis, :2]
    eyes = k[[2, 5], :2].mean(0)
    mouth = k[[9, 10], :2].mean(0)
    side = max(float(np.ptp(p, axis=0).max()), 2.5 * float(np.linalg.norm(mouth - eyes)))
    face = vis.copy()
    face[[7, 8]] = False
    c = k[face, :2].mean(0) if face.sum() >= 2 else p.mean(0)
    if side < 4:
        return None
    return (c[0] - side / 2, c[1] - side / 2, c[0] + side / 2, c[1] + side / 2)


def dlib_face_box(image: np.ndarray) -> Optional[tuple[float, float, float, float]]:
    """The largest face box of dlib's HOG frontal detector (upsampled once), or None (also when dlib, an
    optional dependency: the ``test`` extra's ``dlib-bin``, is not installed)."""
    try:
        det = _dlib_detector()
    except ImportError:
        return None
    with _LOCK:
        rects = det(np.ascontiguousarray(image), 1)
    if not rects:
        return None
    r = max(rects, key=lambda r: r.width() * r.height())
    return (float(r.left()), float(r.top()), float(r.right()), float(r.bottom()))


@lru_cache(maxsize=1)
def _dlib_detector():
    import dlib

    return dlib.get_frontal_face_detector()


#: the fall-back detectors in the order they are tried
FALLBACKS = (("mediapipe_pose", pose_face_box), ("dlib_hog", dlib_face_box))


__all__ = ["RoiLandmarks", "landmarks_in_box", "face_presence", "pose_face_box", "dlib_face_box", "with_iris", "FALLBACKS",
           "MIN_SCORE", "ROI_SCALE"]
