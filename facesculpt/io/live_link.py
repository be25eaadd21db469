"""ARKit's 52 blendshapes and the Live Link Face CSV layout (``blendshapes.csv`` of a tracked clip).

Epic's Live Link Face app records a take as a CSV with one row per frame and the columns
``Timecode, BlendShapeCount`` then the 52 ARKit coefficients (names capitalised, in the order of
``ARKIT_52`` below, which is the app's), then ``HeadYaw, HeadPitch, HeadRoll, LeftEyeYaw,
LeftEyePitch, LeftEyeRoll, RightEyeYaw, RightEyePitch, RightEyeRoll``; ``BlendShapeCount`` is 61
(52 + 9). The timecode is ``HH:MM:SS:FF.fff`` (frame number within the second, with a fraction).

The model has 53 expressions (``face_model.arkit_name``): ICT splits ``browInnerUp`` and
``cheekPuff`` into left and right, so ARKit's value is the mean of the two; ARKit's ``tongueOut``
has no shape in the model and is written as 0.

The eight eye-look coefficients (``eyeLookIn/Out/Up/Down`` x Left/Right) are, in ARKit, the gaze: the app
raises ``eyeLookOutLeft`` and ``eyeLookInRight`` as the eyes turn to the subject's left, and rigs (MetaHuman's
among them) turn the eyes from these curves. The model's ``eyeLook*`` shapes move only the lids; its gaze
turns the eyeballs. With ``gaze`` given, ``to_arkit52`` writes each eye-look coefficient from the gaze alone:
the gaze angle in that direction over ``GAZE_FULL_DEG`` (30 degrees sideways, 25 up or down, for a coefficient
of 1; clamped to [0, 1]). The lid shapes' own weights (in ``frames.json``) are not mixed in: fitted from the
landmarks they are mostly other channels' leakage (session 32, a rendered channels clip: the lid weights of
eyeLookOut* average 0.08-0.11 where the truth averages 0.011, and correlate at -0.02-0.08; the gaze's at 0.55-0.92). Apple does not publish the angle a
coefficient of 1 stands for; these are a choice, within the range eyes turn without the head (about 15-30
degrees). Angles are in radians (what the app writes): head
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


#: gaze angles (degrees) at which an eye-look coefficient reaches 1: (sideways, up or down)
GAZE_FULL_DEG = (30.0, 25.0)


def eye_look_from_gaze(gaze: np.ndarray, full_deg: tuple = GAZE_FULL_DEG) -> dict:
    """(T, 2, 2) gaze (eyes (left, right) x (yaw, pitch) radians; yaw positive towards the subject's left,
    +X; pitch positive up) -> {ARKit eye-look name: (T,) coefficient in [0, 1]} (module docstring). The
    left eye sits at +X, so looking towards +X is "out" for it and "in" for the right eye."""
    g = np.degrees(np.asarray(gaze, dtype=np.float64))
    h, v = float(full_deg[0]), float(full_deg[1])
    out = {}
    for k, side in enumerate(("Left", "Right")):
        yaw, pitch = g[:, k, 0], g[:, k, 1]
        towards_left = np.clip(yaw / h, 0, 1)
        towards_right = np.clip(-yaw / h, 0, 1)
        out[f"eyeLookOut{side}"] = towards_left if side == "Left" else towards_right
        out[f"eyeLookIn{side}"] = towards_right if side == "Left" else towards_left
        out[f"eyeLookUp{side}"] = np.clip(pitch / v, 0, 1)
        out[f"eyeLookDown{side}"] = np.clip(-pitch / v, 0, 1)
    return out


def to_arkit52(model_names: Sequence[str], weights: np.ndarray, gaze: np.ndarray | None = None) -> np.ndarray:
    """(T, E) model expression weights -> (T, 52) ARKit coefficients in ``ARKIT_52`` order. ``gaze`` (T, 2, 2)
    radians: the eight eye-look coefficients are the gaze's (``eye_look_from_gaze``) instead of the lid shapes'
    weights (module docstring)."""
    a = np.asarray(weights, dtype=np.float64) @ arkit52_matrix(model_names).T
    if gaze is not None:
        for n, v in eye_look_from_gaze(gaze).items():
            a[:, ARKIT_52.index(n)] = v
    return a


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


__all__ = ["ARKIT_52", "GAZE_FULL_DEG", "POSE_COLUMNS", "arkit52_matrix", "eye_look_from_gaze", "to_arkit52", "timecode",
           "write_live_link_csv"]
