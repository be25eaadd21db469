"""A tracked clip's result folder (``OUT/<clip>/``), written atomically in one go:

* the still outputs of the texture frame (``io.results.write_result``: albedo.png, mesh.obj,
  mesh_neutral.obj, params.json, overlay.png, ...), except that
* ``mesh.glb`` is the head in the clip's identity with the 53 morph targets and a glTF animation
  ``track``: the morph-target weights and the head node's rotation and translation, one key per
  frame at the clip's frame times (linear). The head node's rotation is the head's turn as a
  camera looking along -Z sees it (identity: the face looks at the camera); its translation is
  the head's movement relative to its mean position (metres, glTF axes: +X right, +Y up, +Z
  towards the camera); the mean distance from the camera is in frames.json. The eyeballs are two
  child nodes of the head (``eye_left``, ``eye_right``) at their centres, and the animation turns them
  by the gaze (rotation keys, relative to the head; session 32: before, the gaze was in the CSV and
  frames.json only);
* ``blendshapes.csv``: Live Link Face's CSV layout (``io.live_link``; the eye-look columns carry the gaze);
* ``frames.json``: per frame its index, time, status (fitted / interpolated / held), pose,
  head yaw/pitch/roll, the 53 expression weights, gaze and the landmark error.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from facesculpt.core.conventions import EXPORT_SCALE, MODEL_TO_CV
from facesculpt.face_model import HeadParams
from facesculpt.io.atomic import write_json
from facesculpt.io.export_head import HeadAnimation, write_head_glb
from facesculpt.io.live_link import ARKIT_52, to_arkit52, write_live_link_csv

#: the export parts that the gaze turns, left eye then right (``io.head_results.MATERIALS``)
EYE_PARTS = ("eye_left", "eye_right")


def clip_animation(clip) -> HeadAnimation:
    """The ``HeadAnimation`` of a ``track.ClipReconstruction`` (see the module docstring)."""
    from scipy.spatial.transform import Rotation

    from facesculpt.track import head_turn

    tr = clip.track
    quat = _short_way(Rotation.from_matrix(head_turn(tr.rotvec).numpy()).as_quat())  # x, y, z, w
    t_gl = tr.translation.double().numpy() @ MODEL_TO_CV.double().numpy().T
    t_gl = (t_gl - t_gl.mean(0)) * EXPORT_SCALE
    times = np.asarray(clip.times_s, dtype=np.float64)
    times = times - times[0]
    return HeadAnimation(times=times, weights=tr.expression.double().numpy(), rotations=quat, translations=t_gl,
                         part_rotations=gaze_rotations(tr.gaze))


def gaze_rotations(gaze: torch.Tensor) -> dict:
    """{"eye_left", "eye_right": (T, 4) quaternions (x, y, z, w)} of each eyeball's turn by the gaze (T, 2, 2),
    relative to the head, in the export frame (the model frame's axes, as ``face_model.gaze_matrix``)."""
    from scipy.spatial.transform import Rotation

    from facesculpt.face_model import gaze_matrix

    return {name: _short_way(Rotation.from_matrix(gaze_matrix(gaze[:, k].double()).numpy()).as_quat())
            for k, name in enumerate(EYE_PARTS)}


def _short_way(quat: np.ndarray) -> np.ndarray:
    """(T, 4) quaternions with each key in the same hemisphere as the one before, so that linear interpolation
    between neighbouring keys takes the short way (in place; returned)."""
    for k in range(1, len(quat)):
        if float(np.dot(quat[k], quat[k - 1])) < 0:
            quat[k] = -quat[k]
    return quat


def frames_dict(clip, video: dict) -> dict:
    from facesculpt.track import head_yaw_pitch_roll

    tr = clip.track
    model = clip.still.model
    ypr = head_yaw_pitch_roll(tr.rotvec)
    frames = []
    for k in range(len(tr)):
        frames.append({
            "frame": int(clip.frame_index[k]), "time_s": float(clip.times_s[k]), "status": tr.status[k],
            "pose": {"rotvec_rad": tr.rotvec[k].tolist(), "translation_cm": tr.translation[k].tolist()},
            "head_yaw_pitch_roll_rad": ypr[k].tolist(),
            "expression": [round(float(w), 5) for w in tr.expression[k]],
            "gaze_rad": tr.gaze[k].tolist(),
            "landmark_error": None if not np.isfinite(float(tr.landmark_error[k])) else float(tr.landmark_error[k]),
        })
    n_fit = sum(s == "fitted" for s in tr.status)
    return {
        **video,
        "fps_track": clip.fps,
        "frames_read": len(tr),
        "frames_fitted": n_fit,
        "texture_frame": int(clip.frame_index[clip.texture_frame]),
        "expression_names": list(model.expression_names),
        "identity": tr.identity[0].tolist(),
        "mean_distance_cm": float(tr.translation[:, 2].mean()),
        "timings_s": clip.timings,
        "frames": frames,
        "skipped": clip.skipped,
        "note": ("one identity for the clip; per-frame pose, expression and gaze (landmark fit warm-started from "
                 "the previous frame, then a zero-lag one-euro filter); status 'interpolated': no face, filled "
                 "between fitted frames; 'held': no face, nearest fitted frame (gap too long or at an end); "
                 "time_s from the frame index when the fps is unknown (30 assumed)"),
    }


def write_clip_result(folder, clip, video: dict, extra_writers=()) -> Path:
    """Write ``clip`` (``track.ClipReconstruction``) into ``folder`` atomically (module docstring).
    ``video``: container facts recorded in frames.json (name, fps, frame_count, size_hw, every).
    ``extra_writers``: more ``write_result`` writers, run after the clip's files are in place (the CLI's
    report page reads the animated mesh.glb and frames.json)."""
    from facesculpt.io.head_results import head_parts
    from facesculpt.io.results import write_result

    rec = clip.still
    tr = clip.track

    def writer(tmp, rec):
        tmp = Path(tmp)
        names = list(rec.model.expression_names)
        base = HeadParams(tr.identity, torch.zeros_like(tr.expression[:1]), torch.zeros(1, 2, 2))
        with torch.no_grad():
            centres = rec.model.eye_centres_of(rec.model.vertices(base))[0].double().numpy()  # (2, 3) cm
        # the expressions do not move the eyeballs: their (zero) targets are dropped by the writer, which refuses
        # a pivoted part whose targets move
        parts = [dataclasses.replace(p, pivot=centres[EYE_PARTS.index(p.name)]) if p.name in EYE_PARTS else p
                 for p in head_parts(rec, base)]
        write_head_glb(tmp / "mesh.glb", parts, target_names=names, weights=tr.expression[0].numpy(),
                       animation=clip_animation(clip))
        from facesculpt.track import head_yaw_pitch_roll

        write_live_link_csv(tmp / "blendshapes.csv", clip.times_s - clip.times_s[0], clip.fps,
                            to_arkit52(names, tr.expression.double().numpy(), tr.gaze.double().numpy()),
                            head_yaw_pitch_roll(tr.rotvec),
                            tr.gaze.double().numpy())
        write_json(tmp / "frames.json", frames_dict(clip, video))

    return write_result(Path(folder), clip.still_image, rec, extra_writers=(writer, *extra_writers))


__all__ = ["write_clip_result", "clip_animation", "gaze_rotations", "frames_dict", "ARKIT_52", "EYE_PARTS"]
