"""ARKit's 52 blendshapes and the Live Link Face CSV layout (``blendshapes.csv`` of a tracked clip).

Epic's Live Link Face app records a take as a CSV with one row per frame and the columns
``Timecode, BlendShapeCount`` then the 52 ARKit coefficients (names capitalised, in the order of
``ARKIT_52`` below, which is the app's), then ``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw,
LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll``; ``BlendShapeCount`` is 61
(52 + 9). The timecode is ``HH:MM:SS:FF.fff`` (frame number within the second, with a fraction).

The model has 53 expressions (``face_model.arkit_name``): ICT splits ``browInnerUp`` and
``cheekPuff`` into left and right, so ARKit's value is the mean of the two; ARKit's ``tongueOut``
has no shape in the model and is written as 0. Angles are in radians (what the app writes): head
yaw positive turning the face towards the subject's left, pitch positive tilting the face up,
roll positive tilting the head towards the subject's right shoulder (rotations about the model's
+Y, +X and +Z axes, ``R = Rz(roll) Rx(pitch) Ry(yaw)``, as ``ops.rotations.euler_yxz_to_matrix``);
eye yaw/pitch are the model's gaze (radians, positive towards +X / up), eye roll 0.
"""
from __future__ import annotations

import io
import os
from typing import Sequence

import numpy as np

from facesculpt.io.atomic import _write_bytes_atomic

#: ARKit's 52 blendshape names in the Live Link Face CSV's column order
ARKIT_52 = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawRight", "jawLeft", "jawOpen", "mouthClose", "mouthFunnel",
    "mouthPucker", "mouthRight", "mouthLeft", "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft",
    "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft", "mouthStretchRight",
    "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper", "mouthPressLeft", "mouthPressRight",
    "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft", "mouthUpperUpRight", "browDownLeft",
    "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "cheekPuff", "cheekSquintLeft",
    "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
)
#: the columns after the 52 coefficients
POSE_COLUMNS = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch", "LeftEyeRoll",
                "RightEyeYaw", "RightEyePitch", "RightEyeRoll")


def arkit52_matrix(model_names: Sequence[str]) -> np.ndarray:
    """(52, E) matrix M with arkit = M @ model_weights: ARKit's name of each model expression
    (``face_model.arkit_name``), the mean where two model shapes map to one ARKit name."""
    from facesculpt.face_model import arkit_name

    M = np.zeros((len(ARKIT_52), len(model_names)))
    for e, n in enumerate(model_names):
        a = arkit_name(n)
        if a in ARKIT_52:
            M[ARKIT_52.index(a), e] = 1.0
    counts = M.sum(1, keepdims=True)
    return M / np.maximum(counts, 1.0)


def to_arkit52(model_names: Sequence[str], weights: np.ndarray) -> np.ndarray:
    """(T, E) model expression weights -> (T, 52) ARKit coefficients in ``ARKIT_52`` order."""
    return np.asarray(weights, dtype=np.float64) @ arkit52_matrix(model_names).T


def timecode(t_s: float, fps: float) -> str:
    """``HH:MM:SS:FF.fff`` of time ``t_s`` seconds at ``fps`` frames a second. The frame within the second is
    rounded to a thousandth of a frame before it is split into ``FF`` and ``fff``: frame ``k`` of a clip, at
    ``t_s = k / fps``, reads ``FF = k mod fps`` (truncating 1.9999 to 1 gave repeated and missing timecodes)."""
    whole = int(np.floor(t_s + 1e-9))
    milli = max(0, int(round((t_s - whole) * fps * 1000)))  # thousandths of a frame into this second
    frame, sub = divmod(milli, 1000)
    if frame >= int(np.ceil(fps)):  # rounded up to the next second
        whole, frame, sub = whole + 1, 0, 0
    h, m, s = whole // 3600, (whole // 60) % 60, whole % 60
    return f"{h:02d}:{m:02d}:{s:02d}:{frame:02d}.{sub:03d}"


def write_live_link_csv(path: os.PathLike | str, times_s: Sequence[float], fps: float, arkit: np.ndarray,
                        head_ypr: np.ndarray, eyes_yp: np.ndarray) -> None:
    """Write ``blendshapes.csv`` (atomically): one row per frame.

    times_s: (T,) seconds; arkit: (T, 52) in ``ARKIT_52`` order; head_ypr: (T, 3) yaw, pitch, roll
    radians; eyes_yp: (T, 2, 2) (left, right) x (yaw, pitch) radians."""
    arkit = np.asarray(arkit, dtype=np.float64)
    T = len(times_s)
    if arkit.shape != (T, 52) or np.asarray(head_ypr).shape != (T, 3) or np.asarray(eyes_yp).shape != (T, 2, 2):
        raise ValueError(f"write_live_link_csv: expected arkit (T, 52), head_ypr (T, 3), eyes_yp (T, 2, 2) with "
                         f"T = {T}, got {arkit.shape}, {np.asarray(head_ypr).shape}, {np.asarray(eyes_yp).shape}")
    cols = ["Timecode", "BlendShapeCount"] + [n[0].upper() + n[1:] for n in ARKIT_52] + list(POSE_COLUMNS)
    buf = io.StringIO()
    buf.write(",".join(cols) + "\n")
    count = len(ARKIT_52) + len(POSE_COLUMNS)
    for k in range(T):
        e = eyes_yp[k]
        vals = list(arkit[k]) + list(head_ypr[k]) + [e[0, 0], e[0, 1], 0.0, e[1, 0], e[1, 1], 0.0]
        buf.write(f"{timecode(times_s[k], fps)},{count}," + ",".join(f"{float(v):.6f}" for v in vals) + "\n")
    _write_bytes_atomic(path, buf.getvalue().encode("utf-8"))


__all__ = ["ARKIT_52", "POSE_COLUMNS", "arkit52_matrix", "to_arkit52", "timecode", "write_live_link_csv"]
