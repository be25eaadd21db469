"""Video tracking composed from the stages: detect every frame -> track (one identity, per-frame pose,
expression, gaze; ``fitting.head_track``) -> texture from the best frame.

``reconstruct_clip(frames, fps)`` takes decoded frames (``io.video.iter_video_frames``) and returns a
``ClipReconstruction``; ``io.clip_results.write_clip_result`` writes it. Nothing here reads or
writes files.
"""
from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable, MutableMapping, Optional

import numpy as np
import torch

from facesculpt.config import Config
from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
from facesculpt.fitting.head_track import Track, TrackConfig, track_landmarks

Progress = Optional[Callable[[str, int, int], None]]

#: frame rate assumed when the container does not say
DEFAULT_FPS = 30.0


@dataclass
class ClipReconstruction:
    """A tracked clip.

    track:        the ``Track`` (T frames: every frame read, faces or not).
    frame_index:  (T,) int — each frame's index in the video.
    times_s:      (T,) float — each frame's time (index / fps).
    fps:          frames a second of the track (the video's fps / ``every``).
    still:        ``Reconstruction`` of the texture frame (the track's identity, pose and expression
                  there; albedo unwrapped from that frame).
    texture_frame: position (0..T-1) of that frame in the track.
    still_image:  (H, W, 3) uint8 — that frame.
    skipped:      [{"frame", "time_s", "reason"}] for frames without a usable face.
    timings:      seconds per step ("detect", "track", "texture").
    """

    track: Track
    frame_index: np.ndarray
    times_s: np.ndarray
    fps: float
    still: object
    texture_frame: int
    still_image: np.ndarray
    skipped: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)


def head_turn(rotvec: torch.Tensor) -> torch.Tensor:
    """(T, 3, 3) head rotation in the export/glTF frame (model frame seen by a camera looking along -Z:
    identity when the face looks straight at the camera) from ``Pose.rotvec`` (T, 3)."""
    from facesculpt.ops.rotations import rotvec_to_matrix

    return MODEL_TO_CV.double() @ rotvec_to_matrix(rotvec.double())


def head_yaw_pitch_roll(rotvec: torch.Tensor) -> np.ndarray:
    """(T, 3) yaw, pitch, roll radians with ``head_turn = Rz(roll) Rx(pitch) Ry(yaw)``
    (``ops.rotations.euler_yxz_to_matrix``'s convention)."""
    from scipy.spatial.transform import Rotation

    zxy = Rotation.from_matrix(head_turn(rotvec).numpy()).as_euler("ZXY")  # intrinsic: Rz @ Rx @ Ry
    return np.stack([zxy[:, 2], zxy[:, 1], zxy[:, 0]], 1)


def texture_frame_score(landmarks, canonical, pose=None) -> tuple:
    """Sort key of a frame as the clip's texture frame (lowest first): the head's turn from facing the camera
    (detected pose, in steps of 0.05), then the larger face. ``pose``: the detected pose if already known."""
    if pose is None:
        from facesculpt.fitting.initialize import initialize

        _, pose, _ = initialize(landmarks, canonical)
    turn = float(torch.linalg.matrix_norm(head_turn(pose.rotvec)[0] - torch.eye(3, dtype=torch.float64)))
    return (round(turn / 0.05), -landmarks.size)  # squarer first; the larger face among near ties


class YawFramePicker:
    """Keeps, as a clip's frames stream by, the frame whose detected yaw (degrees) lies nearest each target
    (``TrackConfig.still_identity_yaws``) with what was offered with it (the first of equals wins)."""

    def __init__(self, targets):
        self.targets = tuple(float(t) for t in targets)
        self.best: list = [None] * len(self.targets)  # (distance, position, payload) per target

    def offer(self, position: int, yaw_deg: float, payload=None) -> None:
        for i, target in enumerate(self.targets):
            d = abs(float(yaw_deg) - target)
            if self.best[i] is None or d < self.best[i][0]:
                self.best[i] = (d, position, payload)

    def picked(self, exclude=(), limit: Optional[int] = None) -> list:
        """[(position, payload)] in the targets' order, each frame once, none of ``exclude``, at most ``limit``."""
        out, seen = [], set(exclude)
        for b in self.best:
            if b is not None and b[1] not in seen:
                seen.add(b[1])
                out.append((b[1], b[2]))
        return out[:limit]


def still_identity_views(picker: YawFramePicker, texture_frame: int, frames_with_face: int,
                         track_cfg: TrackConfig) -> list:
    """The views ``TrackConfig.still_identity_yaws`` adds after the texture frame: ``picker.picked``, at most one
    per ``still_identity_per_view`` frames with a face."""
    return picker.picked(exclude=(texture_frame,), limit=frames_with_face // max(track_cfg.still_identity_per_view, 1))


def clip_prior_on(cfg: Config, track_cfg: TrackConfig) -> bool:
    """Whether a clip gets ``clip_identity_prior`` (``TrackConfig.identity_features_prior`` > 0, the regressor and its
    ``identity_features`` on, and a refiner fitted for the regressor in use: ``regress_init.matching_refiner``)."""
    from facesculpt.fitting.regress_init import matching_refiner

    reg = cfg.regressor
    return (track_cfg.identity_features_prior > 0 and reg.enabled and reg.identity_features
            and matching_refiner(reg.refiner_weights, reg.weights) is not None)


def clip_identity_prior(views, model, cfg: Config, track_cfg: TrackConfig) -> torch.Tensor:
    """(1, K) the centre of the clip's identity prior (``TrackConfig.identity_features_prior``): the regressor's
    identities of ``views`` [(image, landmarks)] (the texture frame and the ``still_identity_views``), each refined
    by its face-recognition embedding, averaged by facing (``head_track.regressed_identity``)."""
    from facesculpt.face_model import fit_view
    from facesculpt.fitting.head_track import regressed_identity
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import config_reads_map, identity_features

    images, lms = [v[0] for v in views], [v[1] for v in views]
    canon = fit_view(model).canonical
    cams = [initialize(lm, canon)[2] for lm in lms]
    # the refiner's inputs (with the flip both chips of a view in one pass; a clip has no same-person check to share)
    fmap = config_reads_map(cfg.regressor)
    feats = torch.stack([identity_features(im, lm, model, cfg.regressor.identity_features_flip, feature_map=fmap)
                         for im, lm in zip(images, lms)])
    ident, _ = regressed_identity(lms, model, cams, cfg.regressor, track_cfg.regressed_facing_power, feats)
    return ident


def detected_view(landmarks, canonical) -> tuple:
    """(texture_frame_score, yaw in degrees) of a frame from its detected pose (one ``initialize``)."""
    from facesculpt.fitting.initialize import initialize

    _, pose, _ = initialize(landmarks, canonical)
    yaw = float(np.degrees(head_yaw_pitch_roll(pose.rotvec.double())[0, 0]))
    return texture_frame_score(landmarks, canonical, pose), yaw


def refine_identity_on_frame(track, k: int, image: np.ndarray, landmarks, cfg: Config):
    """``track`` with its identity refined by the single-photo photometric stage on frame ``k`` (``image``,
    its ``landmarks``), started from the track's pose, identity, expression and gaze there
    (``TrackConfig.still_identity``). The stage runs with ``cfg.photometric`` even where the preset has it off."""
    from facesculpt.core.determinism import repeatable_fit
    from facesculpt.face_model import HeadParams
    from facesculpt.pipeline import reconstruct_head

    refine_cfg = dataclasses.replace(cfg, photometric=dataclasses.replace(cfg.photometric, enabled=True),
                                     detail=dataclasses.replace(cfg.detail, enabled=False))
    head = HeadParams(track.identity, track.expression[k:k + 1], track.gaze[k:k + 1])
    # the photometric fit's backward passes on one thread, as in ``reconstruct`` (core.determinism): without it
    # two runs with the same inputs gave different identities (a resumed clip did not repeat its first run)
    with torch.enable_grad(), repeatable_fit(cfg.threads, cfg.repeatable):
        refined = reconstruct_head(image, landmarks, refine_cfg, fixed=(track.pose(k), head))
    return dataclasses.replace(track, identity=refined.head.identity.detach().to(track.identity.dtype))


def refine_identity_on_views(track, views: list, cfg: Config, progress: Progress = None,
                             iterations: Optional[int] = None):
    """``track`` with its identity refined on several of its frames at once: ``views`` [(k, image, landmarks)]
    (the texture frame first). One view: ``refine_identity_on_frame``. More: the joint photometric stage
    (``subject.joint_photometric``, the multi-photo fit's, with the identity stepping as in the single-photo
    stage: ``free_identity``) over the views, started from the track's pose, identity, expression and gaze in
    each, the poses free unless ``TrackConfig.still_identity_hold_pose``; the clip keeps the shared identity only
    (``TrackConfig.still_identity_yaws``). ``iterations``: the joint
    stage's steps (default ``cfg.track.still_identity_iterations``)."""
    if len(views) == 1:
        return refine_identity_on_frame(track, *views[0], cfg)
    from facesculpt.core.determinism import repeatable_fit
    from facesculpt.face_model import load_face_model
    from facesculpt.subject import joint_photometric

    steps = cfg.track.still_identity_iterations if iterations is None else iterations
    refine_cfg = dataclasses.replace(
        cfg, photometric=dataclasses.replace(cfg.photometric, enabled=True, iterations=steps,
                                             hold_pose_head=cfg.track.still_identity_hold_pose),
        head_priors=dataclasses.replace(cfg.head_priors, w_expression_stage1=cfg.track.still_identity_expression_prior))
    per = [(track.pose(k), track.head(k)) for k, _, _ in views]
    with torch.enable_grad(), repeatable_fit(cfg.threads, cfg.repeatable):  # as refine_identity_on_frame
        fitted, _ = joint_photometric([im for _, im, _ in views], [lm for _, _, lm in views], per, load_face_model(),
                                      refine_cfg, progress, free_identity=True,
                                      shared_light=cfg.track.still_identity_shared_light)
    return dataclasses.replace(track, identity=fitted[0][1].identity.detach().to(track.identity.dtype))


def reconstruct_clip(frames: Iterable, fps: float, cfg: Config, track_cfg: Optional[TrackConfig] = None,
                     progress: Progress = None, name: str = "clip", total: Optional[int] = None,
                     detections: Optional[MutableMapping] = None) -> ClipReconstruction:
    """Track the face through ``frames`` (``VideoFrame``s: index, time_s, image), ``fps`` frames a second
    of the given frames (0: ``DEFAULT_FPS``). ``progress("detect", k, total)`` per frame read.
    ``track_cfg``: default ``cfg.track``.

    The texture frame is the one whose head faces the camera most squarely (detected pose), larger
    faces first among near ties; it is fitted with the photometric stage off (its geometry is the
    track's). Raises FaceNotFoundError (one line) if no frame has a face.

    ``detections``: a mapping frame index -> ``Landmarks`` or the reason the frame has no face (str),
    e.g. ``io.clip_checkpoint.ClipCheckpoint``: frames found in it are not detected again, every frame
    detected is stored in it (a rerun of an interrupted clip resumes from there)."""
    from facesculpt.detect import detect_faces
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.face_model import fit_view
    from facesculpt.fitting.track_photometric import crop_frame
    from facesculpt.pipeline import reconstruct_head

    if cfg.face_model != "ict":
        from facesculpt.core.errors import ConfigError

        raise ConfigError("video tracking needs face_model 'ict' (the morphable head); use --no-track")
    track_cfg = track_cfg or cfg.track
    fps = fps if fps and fps > 0 else DEFAULT_FPS
    model = load_face_model()
    canon = fit_view(model).canonical
    lms, idx, times, skipped = [], [], [], []
    photometric = bool(track_cfg.photometric.enabled)
    crops: dict = {}
    best, best_score = None, None
    # the other views the identity is refined on (track.still_identity_yaws): their images are kept
    views = YawFramePicker(track_cfg.still_identity_yaws if track_cfg.still_identity else ())
    timings = {}
    t0 = time.perf_counter()
    for k, fr in enumerate(frames):
        idx.append(fr.index)
        times.append(fr.time_s if np.isfinite(fr.time_s) else k / fps)
        found = detections.get(int(fr.index)) if detections is not None else None
        if found is None:
            try:
                def detect_once(img, k=fr.index):
                    return detect_faces(img, max_faces=1, min_face_size=cfg.min_face_size,
                                        detection_max_side=cfg.detection_max_side, name=f"{name} frame {k}")

                from facesculpt.detect.turned import detect_with_mirror

                # the mirrored frame's detection too (Config.turned) unless track.mirrored_detection is off
                found = detect_with_mirror(fr.image, detect_once,
                                           getattr(cfg, "turned", None) if track_cfg.mirrored_detection else None)[0]
            except (FaceNotFoundError, FaceTooSmallError) as e:
                found = str(e).splitlines()[0]
            if detections is not None:
                detections[int(fr.index)] = found
        if isinstance(found, str):
            lms.append(None)
            skipped.append({"frame": fr.index, "time_s": times[-1], "reason": found})
        else:
            lmk = found
            lms.append(lmk)
            score, yaw = detected_view(lmk, canon)
            views.offer(len(lms) - 1, yaw, (fr.image, lmk))
            if photometric:  # the photometric pass compares with these (track_cfg.photometric)
                crops[len(lms) - 1] = crop_frame(fr.image, lmk, track_cfg.photometric)
            if best_score is None or score < best_score:
                best, best_score = (len(lms) - 1, fr.image, lmk), score
        if progress is not None:
            progress("detect", k + 1, total or 0)
    timings["detect"] = time.perf_counter() - t0
    if not lms:
        raise FaceNotFoundError(f"{name}: the video has no decodable frames")
    if best is None:
        raise FaceNotFoundError(f"{name}: no face found in any of the {len(lms)} frame(s) read")
    t0 = time.perf_counter()
    prior = None
    if clip_prior_on(cfg, track_cfg):
        picked = still_identity_views(views, best[0], sum(lm is not None for lm in lms), track_cfg)
        prior = clip_identity_prior([best[1:]] + [v for _, v in picked], model, cfg, track_cfg)
        timings["identity_prior"] = time.perf_counter() - t0
        t0 = time.perf_counter()
    track = track_landmarks(lms, model, fps, cfg.head_landmarks, track_cfg, progress, identity_prior=prior)
    timings["track"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    k, image, lmk = best
    still_cfg = dataclasses.replace(cfg, photometric=dataclasses.replace(cfg.photometric, enabled=False))
    head = HeadParams(track.identity, track.expression[k:k + 1], track.gaze[k:k + 1])
    if track_cfg.still_identity:  # the shading of the texture frame, then of other views, refines the identity
        others = still_identity_views(views, k, sum(lm is not None for lm in lms), track_cfg)
        del views
        track = refine_identity_on_views(track, [(k, image, lmk)] + [(t, *v) for t, v in others], cfg, progress,
                                         track_cfg.still_identity_iterations)
        head = HeadParams(track.identity, track.expression[k:k + 1], track.gaze[k:k + 1])
        timings["still_identity"] = time.perf_counter() - t0
        t0 = time.perf_counter()
    still = reconstruct_head(image, lmk, still_cfg, fixed=(track.pose(k), head))
    timings["texture"] = time.perf_counter() - t0
    if photometric:  # image evidence for the expressions (fitting.track_photometric), appearance from the still
        from facesculpt.fitting.track_photometric import appearance_from_reconstruction, refine_track

        t0 = time.perf_counter()
        track = refine_track(track, [crops.get(t) for t in range(len(lms))], lms, model,
                             appearance_from_reconstruction(still, track_cfg.photometric), fps, track_cfg,
                             cfg.head_landmarks, progress)
        timings["photometric"] = time.perf_counter() - t0
    return ClipReconstruction(track, np.asarray(idx), np.asarray(times, dtype=np.float64), fps, still, k,
                              image, skipped, timings)


__all__ = ["ClipReconstruction", "reconstruct_clip", "refine_identity_on_frame", "texture_frame_score", "head_turn",
           "YawFramePicker", "detected_view", "clip_identity_prior", "clip_prior_on", "still_identity_views",
           "refine_identity_on_views", "head_yaw_pitch_roll", "DEFAULT_FPS"]
