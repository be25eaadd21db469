"""Tracking one person through a clip: one identity, per-frame pose, expression and gaze.

Input: the 478 mediapipe landmarks of every frame (``None`` where no face was found). Steps:

1. **Identity** from up to ``identity_frames`` frames spread evenly over the clip (head turns
   give the depth the single view lacks): each is fitted on its own by the head landmark stage
   (``fit_head_landmarks``), the identities are averaged, then ``identity_rounds`` rounds
   alternate (a) the frames' pose, expression and gaze with the identity held and (b) Gauss-Newton
   steps on the one identity against all those frames together (``_identity_steps``: the same
   normalised reprojection residuals, visibility and Huber weights as stage 1, the N(0, 1) prior
   counted once for the clip).
2. **Per frame**: the head landmark stage with the identity held, warm-started from the previous
   frame's pose, expression and gaze (``iterations`` Levenberg-Marquardt steps).
3. **Temporal smoothing** (``smooth_track``): a one-euro filter (Casiez et al. 2012: a low-pass
   whose cut-off rises with the signal's speed, so a still head does not jitter and a fast one
   does not lag) run forwards over the clip, then backwards over that output (the backward pass's
   lead cancels the forward pass's lag: the clip is offline), per channel group with its own speed scale.
4. **Frames without a face** inside a gap of at most ``max_gap`` frames are interpolated
   linearly between the fitted frames on either side (status "interpolated"); longer gaps and the
   clip's ends hold the nearest fitted frame (status "held").

Everything is on the landmarks (no image): the tracker costs a few milliseconds of linear algebra
per frame; ``facesculpt.track`` adds detection and the texture.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.core.errors import FaceNotFoundError
from facesculpt.face_model import FaceModel, HeadParams
from facesculpt.fitting.head_landmarks import (
    FACE_OVAL,
    IRIS_LEFT,
    IRIS_RIGHT,
    HeadLandmarkConfig,
    _model_constants,
    _smoothstep,
    fit_head_landmarks,
)
from facesculpt.fitting.initialize import initialize
from facesculpt.fitting.landmark_bias import embedding_offsets
from facesculpt.fitting.track_photometric_config import TrackPhotometricConfig
from facesculpt.ops.rotations import matrix_to_rotvec, rotvec_to_matrix
from facesculpt.structures import Camera, Landmarks, Pose

Progress = Optional[Callable[[str, int, int], None]]

#: per-frame status values in ``Track.status``
FITTED, INTERPOLATED, HELD = "fitted", "interpolated", "held"


@dataclass(frozen=True)
class TrackConfig:
    """Video tracking (``facesculpt reconstruct clip.mp4 --track``)."""

    iterations: int = 5
    """Levenberg-Marquardt iterations per frame (warm-started from the previous frame)."""
    mirrored_detection: bool = True
    """Detect each frame a second time mirrored and combine both as ``reconstruct`` does (``Config.turned``,
    ``detect.turned.with_mirrored_detection``): one more landmarker pass a frame (0.01-0.04 s). Since session 37
    (off before): on the rendered motion clips the expression MAE and the still jitter fall on every clip
    measured and held-out clip 9's identity goes 1.47 -> 1.20 mm; the rendered channels clip 34 -> 32 channels
    below 0.8 (docs/results.md, "Session 37")."""
    identity_frames: int = 16
    """Frames (spread evenly over the clip) the identity is fitted to. 16, not 8: the identity's
    error leaks into the eye-lid channels, whose landmark motions nearly coincide (eyeLookUp /
    eyeWide: cosine 0.90); with the true identity every channel of the channels clip correlates at
    >= 0.96, with 8 frames (0.83 mm) three right-lid channels fell to 0.74-0.79 (docs/results.md,
    ``benchmarks/bench_track_identity.py``)."""
    identity_rounds: int = 2
    """Rounds of (frames' pose/expression/gaze with the identity held, then identity steps on all
    of them together) after the per-frame start."""
    identity_steps: int = 3
    """Gauss-Newton steps on the identity per round."""
    identity_active_set: str = "gradient"
    """``HeadLandmarkConfig.active_set`` of the per-view pose/expression fits in the identity rounds
    (identity held). "gradient": an expression a view shows is freed even when its step comes out
    negative through correlation, instead of staying at 0 and being absorbed by the shared identity
    (``benchmarks/bench_subject_views.py``: the joint fit then beats the best view on 5 of 5 seeds,
    4 of 5 with "step"; docs/results.md, issue 16 follow-up)."""
    subject_facing_power: float = 2.0
    """Several photos (``subject.reconstruct_subject``, ``fit_subject_identity``): each photo's terms
    in the joint identity solve are weighted by cos(turn)^power (the cosine of the angle between the
    face's forward axis and the camera's) over its own landmark residual. On rendered photos through
    mediapipe the side views' points are off by 2-3 times more than the frontal one's, and
    systematically; higher powers trust them less. 2, not 4 (session 4's choice on 5 scenes): on 20
    scenes and 10 held-out ones, power 2 with one round of one step (below) is lower on the mean than
    power 4 (docs/results.md, "Issue 16: the three-view identity, session 6")."""
    subject_identity_rounds: int = 1
    """``fit_subject_identity``: rounds of (each photo's pose, expression and gaze with the identity held,
    then ``subject_identity_steps`` Gauss-Newton steps on the identity against all photos together)
    before the last held fit. One round gives the same identities as two within noise, in less time
    (docs/results.md, session 6)."""
    subject_identity_steps: int = 1
    """``fit_subject_identity``: Gauss-Newton identity steps per round (the landmark terms are nearly
    linear in the identity: a second step changed no error by 0.01 mm, docs/results.md, session 6)."""
    regressed_facing_power: float = 4.0
    """``fit_regressed_identity`` (the photos' regressed identities averaged with weights
    cos(turn)^power): plain mean / cos^2 / cos^4 / median gave 2.26 / 2.18 / 2.12 / 2.22 mm in issue 16,
    session 4; with the regressor trained on detections (session 17) powers 0 / 2 / 4 / 8 gave 1.93 / 1.88 /
    1.84 / 1.81 mm on eight rendered three-photo scenes."""
    subject_identity: str = "auto"
    """Where several photos' shared identity starts (``subject.reconstruct_subject`` with the regressor on):
    "landmarks" — ``fit_subject_identity`` (each photo's stage 1 with its landmark polish, then a joint
    Gauss-Newton solve on every photo's landmarks); "regressed" — ``fit_regressed_identity`` (the regressor's
    identities of the photos, unpolished, averaged by facing); "auto" — "regressed" when the regressor's weights
    learnt from mediapipe's detections (``regress_init.trained_on_biased_points``, the shipped weights since
    session 17), else "landmarks". On three rendered photos at yaw -45 / 0 / +45 (seeds 0-2) with the session-17
    weights the joint `default` fit ends at 1.22 / 1.30 / 1.78 mm from "regressed" against 1.28 / 1.69 / 2.20 from
    "landmarks"; weights trained on generated points only regress worse identities from detections (the average
    2.17 / 3.19 / 3.62 mm against the landmark solve's 1.83 / 2.05 / 2.86; docs/results.md, session 17)."""
    subject_expression_prior: float = 0.1
    """``head_priors.w_expression_stage1`` in the multi-photo fit's joint photometric stage
    (``subject.reconstruct_subject``): the pull of each photo's expression weights back to where its landmark
    stage put them (see ``still_identity_expression_prior``). Kept at the preset's 0.1: on three rendered photos at
    yaw -45 / 0 / +45 (seeds 0-2, ``default``) 0.01 gave 1.14 / 1.22 / 1.81 mm and 0.001 1.06 / 1.36 / 1.84 against
    1.22 / 1.30 / 1.78, and unlike a clip's views the photos keep these expressions (docs/results.md, session 18)."""
    subject_hold_pose: bool = False
    """Hold each photo's pose at its landmark stage's in the multi-photo fit's joint photometric stage
    (``photometric.hold_pose_head`` there; the single photo keeps the preset's True). False (since session 27): the
    photos' rotations and translations step with the shading and the landmarks, and the photos keep the stage's
    poses. On three rendered photos at yaw -45 / 0 / +45 (seeds 0-2, ``default``) the joint identity 1.05 / 1.43 /
    1.68 -> 0.93 / 1.40 / 1.67 mm; on three photos of the real scanned face (``benchmarks/bench_scan_subject.py``)
    1.51 / 1.25 / 1.22 -> 1.33 / 1.12 / 1.11 mm (docs/results.md, session 27)."""
    min_cutoff_hz: float = 0.7
    """One-euro filter: cut-off frequency of a still signal (lower: smoother, more lag at rest). 0.7
    (with ``beta`` 0.5) since session 7, when the backward pass began to filter the forward pass's
    output instead of being averaged with it: on clips rendered and detected by mediapipe (``benchmark
    clip --frames-from photos``, seeds 1, 2) the still head's jitter 0.09 / 0.11 mm (0.3 / 0.2, averaged
    passes) -> 0.05 / 0.09 mm, the projected-points clip's rotation error unchanged (0.354 vs 0.353
    deg; docs/results.md, session 7)."""
    beta: float = 0.5
    """One-euro filter: how fast the cut-off rises with speed (per unit of the group scales below).
    The detector's frame-to-frame noise alone reads as speed: a higher beta opens the filter on a
    still head."""
    d_cutoff_hz: float = 1.0
    """One-euro filter: cut-off of the speed estimate."""
    speed_scales: tuple = (0.05, 0.02, 0.1, 0.05)
    """Speeds (per second) that count as one unit for ``beta``, per group: rotation (rad/s),
    translation (relative to the head distance, /s), expression weights (/s), gaze (rad/s);
    i.e. at 1 rad/s head rotation the cut-off rises by beta / 0.05 Hz."""
    w_expression_l1: float = 3e-6
    """L1 weight on the expression in the per-frame fits, for a shape of the median landmark motion (scaled per
    shape by ``expression_l1_motion``; the still photo's stage 1 uses 5e-6 for every shape, at which a blink, a brow
    or a sideways jaw, which move few of the 478 points, stay at 0: their cost exceeds the landmark error they
    remove; docs/tracking.md). On clips rendered and detected by mediapipe a stronger L1 lowers the expression MAE
    and the still jitter (mediapipe's frame noise no longer turns into phantom weights), but on projected points
    one weight of 2e-6 for every shape leaves eyeWide L/R at 0. Sessions 10 and 33 (docs/results.md): 5e-7 until
    session 33, then 1e-6 for every shape, then 2e-6 scaled by the motion's square root (eyeWide 1.1e-6, jawOpen
    6.3e-6): rendered motion clip 6's MAE 0.080 -> 0.064 -> 0.051, the projected channels clip's lowest channel
    0.87 -> 0.91 -> 0.93. Session 35 (the eyelid points moved onto the lid margin, so the lid shapes move more of
    them and the lids answer mediapipe's lid noise): 3e-6 (eyeWide 1.8e-6, blinks 2.7e-6, jawOpen 9.4e-6), which
    brought held-out clip 9's still jitter back from 0.115 to 0.068 mm and lowered every rendered clip's MAE."""
    w_expression_l2: float = 3e-7
    """L2 weight on the expression in the per-frame fits (stage 1 uses 3e-6)."""
    expression_l1_motion: float = 0.5
    """``HeadLandmarkConfig.expression_l1_motion`` of the per-frame fits: the L1 weight of each shape scaled by its
    landmark motion (relative to the median shape's) to this power; 0: one weight for all. 0.5 (session 33): shapes
    that move few points (eyeWide, the lids) keep a weak L1 and stay alive on clean points, the large mouth and jaw
    shapes where mediapipe's misplaced points turn into phantom weights get a stronger one (1: the identity of
    rendered clip 6 1.01 mm against 0.94 at 0.5; docs/results.md)."""
    active_set: str = "gradient"
    """``HeadLandmarkConfig.active_set`` of the per-frame fits (see there; "step" leaves eye channels
    stuck at 0 on the channels clip)."""
    max_gap: int = 15
    """Gaps without a face of at most this many frames are interpolated; longer ones hold."""
    smooth: bool = True
    """Apply the temporal filter (False: the raw per-frame fits)."""
    photometric: TrackPhotometricConfig = field(default_factory=TrackPhotometricConfig)
    """Image evidence in the per-frame fit: each frame's expression refined against a crop of the frame
    (``fitting.track_photometric``; ``facesculpt.track.reconstruct_clip`` keeps the crops; docs/tracking.md)."""
    identity_features_prior: float = 30.0
    """With the regressor's ``identity_features`` (on by default; ``facesculpt.track.reconstruct_clip``): the clip's
    landmark identity (the joint steps of step 1) is pulled towards the regressor's identity refined by the face-recognition
    embedding (``models.identity_refiner``) of the texture frame and the ``still_identity_yaws`` views, averaged
    with weights cos(turn)^``regressed_facing_power``, with this weight in units of ``head_landmarks.w_identity``
    (instead of the model's N(0, 1) prior at that weight). 0: off (the N(0, 1) prior). Rendered, detected motion
    clips 0-7 (with ``identity_features_frames`` False): identity 0.74 / 0.91 / 0.95 / 0.98 / 1.01 / 1.11 / 1.36 /
    0.85 -> 0.76 / 0.87 / 0.89 / 0.94 / 1.10 / 0.98 / 1.19 / 0.86 mm (mean 0.99 -> 0.95; weight 10 on clips 2, 3,
    6, 7: 0.92 / 0.93 / 1.23 / 0.87; docs/results.md, session 20)."""
    identity_features_frames: bool = False
    """With ``identity_features_prior``: the frames are tracked with that identity (True), or with the landmark
    identity fitted without it, the one fitted with it becoming the clip's identity (the still-identity stage's
    start) only (False, the default: tracked with it, weight 10, clips 2, 3, 6, 7 ended at 0.87 / 0.97 / 1.20 /
    0.79 mm against 0.92 / 0.93 / 1.23 / 0.87, but their expression MAE rose 0.075 / 0.073 / 0.078 / 0.066 ->
    0.086 / 0.076 / 0.083 / 0.069)."""
    still_identity: bool = True
    """Refine the clip's identity by the single-photo photometric stage (``cfg.photometric``, run even
    where the preset has it off) on the texture frame, started from the track there; the clip keeps the
    refined identity (the frames' expressions, fitted with the landmark identity, are kept as they are).
    Rendered, detected motion clips, seeds 0-3: identity 1.83 / 1.56 / 2.57 / 1.98 -> 1.42 / 1.16 / 1.78 /
    1.73 mm, expressions and jitter unchanged, one photometric stage per clip (docs/results.md, session 8).
    False: the landmark track's identity."""
    still_identity_yaws: tuple[float, ...] = (-20.0, 20.0, -10.0, 10.0, -30.0, 30.0, 0.0)
    """With ``still_identity``: the identity is refined on the texture frame together with the frames whose
    detected yaw (degrees, ``track.head_yaw_pitch_roll`` of the detected pose) lies nearest each of these (a frame
    nearest two, or the texture frame, counts once): the multi-photo fit's joint photometric stage over those
    views, the identity stepping as in the single-photo stage (``track.refine_identity_on_views``). Views from other
    angles pin the depth that one view's shading leaves loose (rendered motion clips, seeds 0-3: 1.52 -> 1.01 mm;
    docs/results.md, session 9). () = the texture frame alone."""
    still_identity_iterations: int = 150
    """Adam steps of the joint stage over ``still_identity_yaws``' views (the texture frame alone gets the
    single-photo stage's ``photometric.iterations``). Rendered motion clips, seeds 0-3, 8 views: 60 steps 1.07 mm
    mean, 100 steps 1.01 (docs/results.md, session 9); with ``still_identity_expression_prior`` 0.001 (session 18)
    100 steps 0.91 mm (0.73 / 0.86 / 0.99 / 1.05), 150 steps 0.90 (0.74 / 0.91 / 0.95 / 0.98: every clip under
    1.0 mm), at 0.32-0.37 CPU s a frame on these 240-frame clips against 0.27-0.29 (the stage's cost is per clip)."""
    still_identity_expression_prior: float = 0.001
    """``head_priors.w_expression_stage1`` in the joint stage over several views (``track.refine_identity_on_views``):
    the pull of each view's expression weights back to the landmark track's. The preset's 0.1 holds them there, and
    the shared identity then absorbs what the track's expressions get wrong: started from the *true* identity, the
    stage walked 0.86-1.06 mm away from it on the four rendered motion clips. 0.001 lets each view's expression
    follow its shading (the views are kept for the identity only): identity 0.89 / 0.91 / 1.13 / 1.11 -> 0.73 /
    0.86 / 0.99 / 1.05 mm with 100 steps, 0.74 / 0.91 / 0.95 / 0.98 with 150 (docs/results.md, session 18). The
    texture frame alone (one view) keeps the preset's."""
    still_identity_hold_pose: bool = False
    """Hold each view's pose at the landmark track's in the joint stage over ``still_identity_yaws``' views
    (``photometric.hold_pose_head`` there; the single photo keeps the preset's True). False (since session 27): the
    views' rotations and translations step with the shading (``photometric.lr_pose``) and are discarded after the stage
    (the frames keep the track's poses). Held, the track's pose errors (1.8-3.9 degrees mean on the rendered clips) go
    into the one identity: on rendered clip 6, started from the true identity with the track's poses the stage ended
    1.02 mm from it, with the true poses 0.49 mm. With the poses free, the rendered motion clips 0-7 (`facesculpt
    benchmark clip --frames-from photos`) 0.95 -> 0.77 mm mean, every clip under 1.0 mm (before: 5 of 8)
    (docs/results.md, session 27)."""
    still_identity_shared_light: bool = True
    """The joint stage over ``still_identity_yaws``' views starts every view's light from the texture frame's light
    shape (a clip's light is the scene's, the same in the camera frame in every frame; each view keeps its own gain
    and steps its light as before) instead of a shape fitted on each view's skin. Since session 29: the rendered
    motion clips 0-7 0.805 -> 0.769 mm mean, clip 6 1.06 -> 0.91 (False: each view's own shape, as before;
    docs/results.md, session 29)."""
    still_identity_per_view: int = 30
    """At most one of ``still_identity_yaws``' views per this many frames with a face (the first ones in
    their order), so a short clip does not pay for them: with 100 steps the joint stage took 17.4 s over 3 views
    and 18.2 s over 4 on a 72-frame clip of the bundled photo (about 0.2 s a frame at one extra view per 30 frames;
    with one per 24 that clip took 0.52 s a frame in all, 0.46 with one per 30; docs/results.md, session 9)."""


@dataclass(frozen=True)
class Track:
    """A tracked clip of T frames (all tensors float32, per frame unless noted).

    identity:    (1, K) — the clip's one identity.
    rotvec:      (T, 3) — head rotation, model -> OpenCV camera (``Pose.rotvec``).
    translation: (T, 3) — cm, camera frame.
    expression:  (T, E) — weights in [0, 1].
    gaze:        (T, 2, 2) — per eye (left, right) (yaw, pitch) radians.
    status:      T strings: "fitted", "interpolated" (no face, between fitted frames) or "held".
    camera:      Camera of the frames (focal 1.4 x the longer side, centred principal point).
    raw_rotvec, raw_translation, raw_expression, raw_gaze: the per-frame fits before smoothing.
    landmark_error: (T,) — mean squared normalised reprojection error per fitted frame (nan otherwise).
    """

    identity: torch.Tensor
    rotvec: torch.Tensor
    translation: torch.Tensor
    expression: torch.Tensor
    gaze: torch.Tensor
    status: tuple
    camera: Camera
    raw_rotvec: torch.Tensor
    raw_translation: torch.Tensor
    raw_expression: torch.Tensor
    raw_gaze: torch.Tensor
    landmark_error: torch.Tensor

    def __len__(self) -> int:
        return int(self.rotvec.shape[0])

    def pose(self, t: int) -> Pose:
        return Pose(self.rotvec[t:t + 1], self.translation[t:t + 1])

    def head(self, t: int) -> HeadParams:
        return HeadParams(self.identity, self.expression[t:t + 1], self.gaze[t:t + 1])


# ----------------------------------------------------------------------------- identity


def _identity_steps(model: FaceModel, frames: list, identity: torch.Tensor, camera,
                    lm_cfg: HeadLandmarkConfig, steps: int, use_depth: bool = True,
                    view_weights: Optional[Sequence[float]] = None, point_sigma: bool = False,
                    prior: Optional[torch.Tensor] = None, prior_scale: float = 1.0) -> torch.Tensor:
    """Gauss-Newton steps on the identity (K,) float64 against several frames at once.

    frames: list of (Landmarks, Pose, HeadParams) — pose, expression of each frame held. Iris
    points are left out (their gaze rotation is held and they say little about the shape).
    camera: one Camera for all frames, or a list (one per frame: photos of different sizes).
    use_depth: include mediapipe's relative-depth residuals (``lm_cfg.w_depth``), as stage 1 does
    (False: the reprojection residuals only, the behaviour before issue 16's follow-up).
    view_weights: one factor per frame on its landmark and depth terms (None: all 1).
    point_sigma: weight the points by their measured spread as stage 1 does (``lm_cfg.point_sigma``
    "view" only; False: every point 1, the clip tracker's behaviour).
    prior: (K,) the centre of the identity's prior (None: 0, the model's N(0, 1)), weighted
    ``prior_scale`` x ``lm_cfg.w_identity``."""
    dt = torch.float64
    mean, idb, exb = (x.to(dt) for x in model.landmark_model("mediapipe", response=lm_cfg.detector_response))
    N, K = mean.shape[0], idb.shape[0]
    keep = torch.ones(N, dtype=torch.bool)
    keep[list(IRIS_LEFT + IRIS_RIGHT)] = False
    pt_w = torch.ones(N, dtype=dt)
    pt_w[list(FACE_OVAL)] = lm_cfg.w_oval
    cams = camera if isinstance(camera, (list, tuple)) else [camera] * len(frames)
    normals0 = _model_constants(model)[1]  # the template's landmark normals (float64), as the landmark stage's
    a = identity.to(dt).clone()
    idb_k = idb.permute(1, 2, 0)[keep]  # (n, 3, K)
    sig = model.landmarks["mediapipe"].sigma
    sig = sig.to(dt)[:N][keep] if (point_sigma and lm_cfg.point_sigma == "view" and sig is not None) else None
    vws = [1.0] * len(frames) if view_weights is None else [float(x) for x in view_weights]
    emb = model.landmarks["mediapipe"]
    use_bias = lm_cfg.view_bias and emb.bias is not None
    a0 = torch.zeros(K, dtype=dt) if prior is None else prior.to(dt).reshape(K)
    w_id = lm_cfg.w_identity * (1.0 if prior is None else float(prior_scale))
    for _ in range(steps):
        H = torch.eye(K, dtype=dt) * w_id
        g = (a - a0) * w_id
        for (lmk, pose, head), cam, vw in zip(frames, cams, vws):
            f = cam.focal.to(dt)[0]
            c = cam.principal.to(dt)[0]
            R = pose.matrix()[0].to(dt)
            T = pose.translation[0].to(dt)
            b = head.expression[0].to(dt)
            P = (mean + torch.einsum("k,knc->nc", a, idb) + torch.einsum("e,enc->nc", b, exb))[keep]
            X = P @ R.T + T
            uv = X[:, :2] / X[:, 2:3] * f + c
            scale = float(lmk.size)
            target = lmk.points[:N, :2].to(dt)[keep]
            if use_bias:  # stage 1's view-dependent detector offset (lm_cfg.view_bias)
                Xa = (mean + torch.einsum("k,knc->nc", a, idb) + torch.einsum("e,enc->nc", b, exb)) @ R.T + T
                target = target - embedding_offsets(emb, R, Xa)[keep] * scale
            err = ((uv - target) / scale).norm(dim=-1)
            hub = torch.where(err <= lm_cfg.huber, torch.ones_like(err), lm_cfg.huber / err.clamp(min=1e-12))
            to_cam = torch.nn.functional.normalize(-X, dim=-1)
            cos = ((normals0[keep] @ R.T) * to_cam).sum(-1)
            vis = _smoothstep(cos, *lm_cfg.hidden_cos)
            w = vis * hub * pt_w[keep]
            if sig is not None:  # stage 1's "view" weights: spread growing with the viewing angle
                w = w * sig[:, 0] ** 2 / (sig[:, 0] ** 2 + (sig[:, 1] * (1 - cos.clamp(-1, 1))) ** 2)
            sw = torch.sqrt(vw * w * lm_cfg.w_landmark / w.sum().clamp(min=1e-12)) / scale
            x, y, z = X[:, 0], X[:, 1], X[:, 2]
            D = torch.einsum("ij,njk->nik", R, idb_k)  # (n, 3, K)
            du = (f / z)[:, None] * (D[:, 0] - (x / z)[:, None] * D[:, 2])
            dv = (f / z)[:, None] * (D[:, 1] - (y / z)[:, None] * D[:, 2])
            J = torch.stack([du, dv], 1) * sw[:, None, None]  # (n, 2, K)
            r = (uv - target) * sw[:, None]
            J = J.reshape(-1, K)
            H = H + J.T @ J
            g = g + J.T @ r.reshape(-1)
            if use_depth:  # mediapipe's relative depth, as in stage 1 (mean removed, weak)
                zt = lmk.points[:N, 2].to(dt)[keep]
                zt = zt - zt.mean()
                z_f = z * f / T[2]
                sz = torch.sqrt(vw * lm_cfg.w_depth * w / w.sum().clamp(min=1e-12)) / scale
                r_z = (z_f - z_f.mean() - zt) * sz
                dz = f / T[2] * D[:, 2]  # (n, K): translation held
                J_z = (dz - dz.mean(0, keepdim=True)) * sz[:, None]
                H = H + J_z.T @ J_z
                g = g + J_z.T @ r_z
        a = a - torch.linalg.solve(H + 1e-9 * torch.eye(K, dtype=dt), g)
    return a


def _spread(indices: Sequence[int], n: int) -> list[int]:
    """``n`` entries of ``indices`` spread evenly (all of them when there are fewer)."""
    if len(indices) <= n:
        return list(indices)
    pos = np.linspace(0, len(indices) - 1, n).round().astype(int)
    return [indices[i] for i in sorted(set(pos.tolist()))]


def free_view_fits(landmarks: Sequence[Landmarks], model: FaceModel, cameras: Sequence[Camera],
                   lm_cfg: HeadLandmarkConfig, progress: Progress = None, total: int = 0) -> list:
    """[(Landmarks, Pose, HeadParams)]: each view fitted on its own from the mean head (``fit_head_landmarks``),
    the start of ``fit_joint_identity``."""
    fits = []
    canon = _canonical(model)
    for k, (lmk, cam) in enumerate(zip(landmarks, cameras)):
        _, pose0, _ = initialize(lmk, canon)
        pose, head, _ = fit_head_landmarks(lmk, model, pose0, cam, lm_cfg)
        fits.append((lmk, pose, head))
        if progress is not None:
            progress("identity", k + 1, total or len(landmarks))
    return fits


def fit_joint_identity(landmarks: Sequence[Landmarks], model: FaceModel, cameras: Sequence[Camera],
                       lm_cfg: HeadLandmarkConfig, cfg: TrackConfig, progress: Progress = None,
                       identity_prior: Optional[torch.Tensor] = None, prior_scale: float = 1.0,
                       free_fits: Optional[list] = None):
    """One identity for several views of one person (step 1 of the module docstring, on all the given
    views). ``identity_prior`` (1, K) / ``prior_scale``: ``_identity_steps``' prior; ``free_fits``: the views'
    ``free_view_fits`` if made already. Returns ((1, K) float32 identity, [(Pose, HeadParams)] per view)."""
    total = len(landmarks) * (1 + cfg.identity_rounds)
    if free_fits is None:
        free_fits = free_view_fits(landmarks, model, cameras, lm_cfg, progress, total)
    fits = [list(f) for f in free_fits]
    done = len(fits)
    a = torch.stack([h.identity[0].double() for _, _, h in fits]).mean(0)
    held = dataclasses.replace(lm_cfg, fit_identity=False, expression_first=0, active_set=cfg.identity_active_set)
    for _ in range(cfg.identity_rounds):
        for fr, cam in zip(fits, cameras):
            lmk, pose, head = fr
            init = HeadParams(a[None].float(), head.expression, head.gaze)
            fr[1], fr[2], _ = fit_head_landmarks(lmk, model, pose, cam, held, init=init)
            done += 1
            if progress is not None:
                progress("identity", done, total)
        a = _identity_steps(model, [tuple(fr) for fr in fits], a, list(cameras), lm_cfg, cfg.identity_steps,
                            prior=None if identity_prior is None else identity_prior.reshape(-1),
                            prior_scale=prior_scale)
    ident = a[None].float()
    return ident, [(pose, HeadParams(ident, head.expression, head.gaze)) for _, pose, head in fits]


def regressed_identity(landmarks: Sequence[Landmarks], model: FaceModel, cameras: Sequence[Camera], reg_cfg,
                       facing_power: float, embeddings: Optional[torch.Tensor] = None):
    """The views' regressed identities (``regress_init.regress_head``; refined by the identity refiner where
    ``embeddings`` (n, 128) are given and ``reg_cfg.identity_features``) averaged with weights
    cos(turn)^``facing_power``. Returns ((1, K) float32 identity, [(Landmarks, Camera, Pose, HeadParams)] per view)."""
    from facesculpt.fitting.regress_init import regress_head

    use_emb = embeddings is not None and getattr(reg_cfg, "identity_features", False)
    regs, weights = [], []
    for k, (lmk, cam) in enumerate(zip(landmarks, cameras)):
        pose, head = regress_head(lmk, model, cam, reg_cfg.pose_iterations, reg_cfg.expression_floor,
                                  weights=reg_cfg.weights, embedding=embeddings[k] if use_emb else None,
                                  refiner_weights=getattr(reg_cfg, "refiner_weights", ""))
        R = rotvec_to_matrix(pose.rotvec.double())[0]
        # the face looks along the model's +z; the camera looks along +z of its frame: facing = -R[2, 2]
        facing = float(max(0.0, -R[2, 2]))
        regs.append((lmk, cam, pose, head))
        weights.append(max(facing, 1e-3) ** facing_power)
    w = torch.tensor(weights, dtype=torch.float64)
    a = (torch.stack([h.identity[0].double() for *_, h in regs]) * w[:, None]).sum(0) / w.sum()
    return a[None].float(), regs


def fit_regressed_identity(landmarks: Sequence[Landmarks], model: FaceModel, cameras: Sequence[Camera],
                           lm_cfg: HeadLandmarkConfig, reg_cfg, cfg: TrackConfig, progress: Progress = None,
                           embeddings: Optional[torch.Tensor] = None):
    """One identity for several views from the packaged landmark regressor (``fitting.regress_init``):
    every view regressed on its own, the identities averaged with weights cos(turn)^``regressed_facing_power``
    (``TrackConfig.regressed_facing_power``), then each view's pose, expression and gaze fitted with that
    identity held (``fit_head_landmarks``, as a round of ``fit_joint_identity``). ``embeddings``: (n, 128)
    the views' face-recognition embeddings (``identity.retrieval.photo_embeddings``) or None: with them and
    ``reg_cfg.identity_features`` each view's regressed identity is refined by the identity refiner first
    (``regress_init.regress_head``). Returns ((1, K) float32 identity, [(Pose, HeadParams)] per view)."""
    ident, regs = regressed_identity(landmarks, model, cameras, reg_cfg, cfg.regressed_facing_power, embeddings)
    held = dataclasses.replace(lm_cfg, fit_identity=False, expression_first=0, active_set=cfg.identity_active_set)
    out = []
    for k, (lmk, cam, pose, head) in enumerate(regs):
        pose, h, _ = fit_head_landmarks(lmk, model, pose, cam, held, init=HeadParams(ident, head.expression, head.gaze))
        out.append((pose, HeadParams(ident, h.expression, h.gaze)))
        if progress is not None:
            progress("identity", k + 1, len(regs))
    return ident, out


def fit_subject_identity(landmarks: Sequence[Landmarks], model: FaceModel, cameras: Sequence[Camera],
                         lm_cfg: HeadLandmarkConfig, reg_cfg, cfg: TrackConfig, progress: Progress = None,
                         embeddings: Optional[torch.Tensor] = None):
    """One identity for several photos of one person, solved against every photo's landmarks at once
    (``subject.reconstruct_subject`` with the landmark regressor on and ``track.subject_identity`` "landmarks").
    ``embeddings``: (n, 128) the photos' face-recognition embeddings for the regressor's identity refiner
    (``fit_head_from_regressor``'s ``embedding``), or None.

    1. each photo as the single photo starts (``fit_head_from_regressor``: regressor, then
       ``reg_cfg.polish_iterations`` LM iterations);
    2. a weight per photo: cos(turn)^``cfg.subject_facing_power`` divided by that photo's own landmark
       residual after step 1 (an estimate of its points' noise variance: mediapipe's points of a turned
       face are off by 2-3 times more, and *systematically*, so they pull the shared identity towards
       a wrong one; docs/results.md, "Issue 16: multi-photo identity, session 4");
    3. the shared identity starts from the photos' identities averaged with those weights, then
       ``cfg.subject_identity_rounds`` rounds of (each photo's pose, expression and gaze with the identity
       held, then ``cfg.subject_identity_steps`` Gauss-Newton steps on the identity against all photos'
       landmarks together, each photo's terms scaled by its weight, the points weighted by their
       measured spread as in stage 1), and a last held fit per photo.

    Returns ((1, K) float32 identity, [(Pose, HeadParams)] per photo, (n,) photo weights)."""
    from facesculpt.fitting.regress_init import fit_head_from_regressor

    n = len(landmarks)
    total = n * (cfg.subject_identity_rounds + 2)
    done = 0
    fits, facing, resid = [], [], []
    for k, (lmk, cam) in enumerate(zip(landmarks, cameras)):
        pose, head, losses = fit_head_from_regressor(lmk, model, cam, lm_cfg, reg_cfg,
                                                     embedding=None if embeddings is None else embeddings[k])
        R = rotvec_to_matrix(pose.rotvec.double())[0]
        # the face looks along the model's +z; the camera looks along +z of its frame: facing = -R[2, 2]
        facing.append(max(float(-R[2, 2]), 1e-3))
        resid.append(max(float(losses.get("landmark_final", 1.0)), 1e-8))
        fits.append([lmk, pose, head])
        done += 1
        if progress is not None:
            progress("identity", done, total)
    w = torch.tensor(facing, dtype=torch.float64) ** cfg.subject_facing_power / torch.tensor(resid, dtype=torch.float64)
    w = w / w.max()
    a = (torch.stack([h.identity[0].double() for *_, h in fits]) * w[:, None]).sum(0) / w.sum()
    held = dataclasses.replace(lm_cfg, fit_identity=False, expression_first=0, active_set=cfg.identity_active_set)

    def held_fits():
        nonlocal done
        for fr, cam in zip(fits, cameras):
            lmk, pose, head = fr
            fr[1], fr[2], _ = fit_head_landmarks(lmk, model, pose, cam, held,
                                                 init=HeadParams(a[None].float(), head.expression, head.gaze))
            done += 1
            if progress is not None:
                progress("identity", done, total)

    for _ in range(cfg.subject_identity_rounds):
        held_fits()
        a = _identity_steps(model, [tuple(fr) for fr in fits], a, list(cameras), lm_cfg, cfg.subject_identity_steps,
                            view_weights=w.tolist(), point_sigma=True)
    held_fits()
    ident = a[None].float()
    return ident, [(pose, HeadParams(ident, head.expression, head.gaze)) for _, pose, head in fits], w


def fit_clip_identity(landmarks: Sequence[Optional[Landmarks]], model: FaceModel, camera: Camera,
                      lm_cfg: HeadLandmarkConfig, cfg: TrackConfig, progress: Progress = None,
                      identity_prior: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(1, K) float32 identity of the person in the clip (step 1 of the module docstring). ``identity_prior``
    (1, K): the centre of the identity's prior in the joint steps (``TrackConfig.identity_features_prior``), or
    None (the model's N(0, 1))."""
    return fit_clip_identities(landmarks, model, camera, lm_cfg, cfg, progress, [identity_prior])[0]


def fit_clip_identities(landmarks: Sequence[Optional[Landmarks]], model: FaceModel, camera: Camera,
                        lm_cfg: HeadLandmarkConfig, cfg: TrackConfig, progress: Progress = None,
                        priors: Sequence[Optional[torch.Tensor]] = (None,)) -> list:
    """``fit_clip_identity`` with each of ``priors`` ((1, K) or None), the frames' free fits made once."""
    have = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not have:
        raise FaceNotFoundError("no face found in any frame of the clip")
    chosen = _spread(have, max(1, cfg.identity_frames))
    lms, cams = [landmarks[i] for i in chosen], [camera] * len(chosen)
    free = free_view_fits(lms, model, cams, lm_cfg, progress, len(chosen) * (1 + cfg.identity_rounds))
    return [fit_joint_identity(lms, model, cams, lm_cfg, cfg, progress, prior, cfg.identity_features_prior,
                               free_fits=free)[0] for prior in priors]


def _canonical(model: FaceModel) -> torch.Tensor:
    return model.points(model.template[None], "mediapipe")[0, :468]


# ----------------------------------------------------------------------------- smoothing


def _one_euro(x: np.ndarray, dt: float, min_cutoff: float, beta: float, d_cutoff: float,
              speed_scale: float) -> np.ndarray:
    """One-euro filter of ``x`` (T, D) sampled every ``dt`` seconds, causal (forward)."""
    def alpha(cutoff):
        tau = 1.0 / (2 * np.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    out = np.empty_like(x)
    out[0] = x[0]
    dx = np.zeros(x.shape[1])
    a_d = alpha(d_cutoff)
    for t in range(1, len(x)):
        dx = a_d * (x[t] - out[t - 1]) / dt + (1 - a_d) * dx
        speed = np.abs(dx).max() / speed_scale  # one cut-off per group: the group moves together
        a = alpha(min_cutoff + beta * speed)
        out[t] = a * x[t] + (1 - a) * out[t - 1]
    return out


def _zero_lag(x: np.ndarray, dt: float, cfg: TrackConfig, speed_scale: float) -> np.ndarray:
    """The one-euro filter run forwards, then backwards over its own output (the backward pass's lead
    cancels the forward pass's lag, and the noise is filtered twice)."""
    args = (dt, cfg.min_cutoff_hz, cfg.beta, cfg.d_cutoff_hz, speed_scale)
    fwd = _one_euro(x, *args)
    return _one_euro(fwd[::-1].copy(), *args)[::-1].copy()


def smooth_track(rotvec: torch.Tensor, translation: torch.Tensor, expression: torch.Tensor, gaze: torch.Tensor,
                 fps: float, cfg: TrackConfig):
    """Filtered (rotvec (T, 3), translation (T, 3), expression (T, E), gaze (T, 2, 2)) (module docstring,
    step 3). Rotations are filtered as rotation vectors of the head's turn from facing the camera
    (continuous for any head a face detector sees), translations relative to the mean distance."""
    if len(rotvec) < 3 or not cfg.smooth:
        return rotvec, translation, expression, gaze
    dt = 1.0 / fps
    C = MODEL_TO_CV.double()
    turn = matrix_to_rotvec(C @ rotvec_to_matrix(rotvec.double())).numpy()
    depth = float(translation[:, 2].double().mean())
    rs, ts, es, gs = cfg.speed_scales
    turn_s = _zero_lag(turn, dt, cfg, rs)
    trans_s = _zero_lag(translation.double().numpy() / depth, dt, cfg, ts) * depth
    expr_s = np.clip(_zero_lag(expression.double().numpy(), dt, cfg, es), 0.0, 1.0)
    gaze_s = _zero_lag(gaze.double().reshape(len(gaze), -1).numpy(), dt, cfg, gs).reshape(gaze.shape)
    rot = matrix_to_rotvec(C @ rotvec_to_matrix(torch.from_numpy(turn_s)))
    f32 = torch.float32
    return rot.to(f32), torch.from_numpy(trans_s).to(f32), torch.from_numpy(expr_s).to(f32), \
        torch.from_numpy(gaze_s).to(f32)


# ----------------------------------------------------------------------------- gaps


def fill_gaps(values: list, fitted: Sequence[bool], max_gap: int) -> tuple[np.ndarray, list]:
    """Fill the frames where ``fitted`` is False: linear between fitted neighbours for gaps of at most
    ``max_gap`` frames, else (and at the ends) the nearest fitted frame. ``values``: T arrays of
    one shape (None where not fitted). Returns ((T, ...) array, statuses)."""
    T = len(values)
    idx = [t for t in range(T) if fitted[t]]
    if not idx:
        raise FaceNotFoundError("no face found in any frame of the clip")
    out = [None] * T
    status = [FITTED if fitted[t] else HELD for t in range(T)]
    for t in idx:
        out[t] = np.asarray(values[t], dtype=np.float64)
    for t in range(T):
        if fitted[t]:
            continue
        prev = max((i for i in idx if i < t), default=None)
        nxt = min((i for i in idx if i > t), default=None)
        if prev is not None and nxt is not None and nxt - prev - 1 <= max_gap:
            w = (t - prev) / (nxt - prev)
            out[t] = (1 - w) * out[prev] + w * out[nxt]
            status[t] = INTERPOLATED
        else:
            near = prev if nxt is None or (prev is not None and t - prev <= nxt - t) else nxt
            out[t] = out[near]
    return np.stack(out), status


# ----------------------------------------------------------------------------- the tracker


def track_landmarks(landmarks: Sequence[Optional[Landmarks]], model: FaceModel, fps: float,
                    lm_cfg: HeadLandmarkConfig, cfg: TrackConfig, progress: Progress = None,
                    identity: Optional[torch.Tensor] = None, identity_prior: Optional[torch.Tensor] = None) -> Track:
    """Track the clip whose frames have ``landmarks`` (478 points each, or None), ``fps`` frames a second.

    ``identity`` (1, K): use it instead of fitting one; ``identity_prior`` (1, K): the centre of the fitted
    identity's prior (``fit_clip_identity``). Raises FaceNotFoundError if no frame has a face."""
    T = len(landmarks)
    have = [i for i, lm in enumerate(landmarks) if lm is not None]
    if not have:
        raise FaceNotFoundError("no face found in any frame of the clip")
    canon = _canonical(model)
    _, pose, camera = initialize(landmarks[have[0]], canon)
    out_identity = None
    if identity is None and identity_prior is not None and not cfg.identity_features_frames:
        # the frames tracked with the landmark identity; the one with the prior is the clip's
        identity, out_identity = fit_clip_identities(landmarks, model, camera, lm_cfg, cfg, progress,
                                                     [None, identity_prior])
    elif identity is None:
        identity = fit_clip_identity(landmarks, model, camera, lm_cfg, cfg, progress, identity_prior)
    held = dataclasses.replace(lm_cfg, fit_identity=False, expression_first=0,
                               w_expression_l1=cfg.w_expression_l1, w_expression_l2=cfg.w_expression_l2,
                               expression_l1_motion=cfg.expression_l1_motion, active_set=cfg.active_set)
    first = dataclasses.replace(held, iterations=max(lm_cfg.iterations, cfg.iterations))
    per_frame = dataclasses.replace(held, iterations=cfg.iterations)
    E = model.num_expression
    head = HeadParams(identity, torch.zeros(1, E), torch.zeros(1, 2, 2))
    rv, tr, ex, gz, err = [None] * T, [None] * T, [None] * T, [None] * T, np.full(T, np.nan)
    started = False
    for k, t in enumerate(have):
        lmk = landmarks[t]
        if not started:
            _, pose, _ = initialize(lmk, canon)
        pose, head, losses = fit_head_landmarks(lmk, model, pose, camera, first if not started else per_frame,
                                                init=HeadParams(identity, head.expression, head.gaze))
        started = True
        rv[t], tr[t] = pose.rotvec[0].numpy(), pose.translation[0].numpy()
        ex[t], gz[t] = head.expression[0].numpy(), head.gaze[0].numpy()
        err[t] = losses["landmark_final"]
        if progress is not None:
            progress("track", k + 1, len(have))
    fitted = [lm is not None for lm in landmarks]
    # rotations are interpolated as the head's turn from facing the camera (continuous)
    C = MODEL_TO_CV.double()
    turn = [None if r is None else matrix_to_rotvec(C @ rotvec_to_matrix(torch.from_numpy(r).double())).numpy()
            for r in rv]
    turn_f, status = fill_gaps(turn, fitted, cfg.max_gap)
    raw_rot = matrix_to_rotvec(C @ rotvec_to_matrix(torch.from_numpy(turn_f))).float()
    raw_tr = torch.from_numpy(fill_gaps(tr, fitted, cfg.max_gap)[0]).float()
    raw_ex = torch.from_numpy(fill_gaps(ex, fitted, cfg.max_gap)[0]).float()
    raw_gz = torch.from_numpy(fill_gaps(gz, fitted, cfg.max_gap)[0]).float()
    fps_ = fps if fps and fps > 0 else 30.0
    rot, trans, expr, gaze = smooth_track(raw_rot, raw_tr, raw_ex, raw_gz, fps_, cfg)
    identity = identity if out_identity is None else out_identity
    return Track(identity.float(), rot, trans, expr, gaze, tuple(status), camera, raw_rot, raw_tr, raw_ex, raw_gz,
                 torch.from_numpy(err).float())


__all__ = ["TrackConfig", "Track", "track_landmarks", "fit_clip_identity", "fit_joint_identity", "smooth_track", "fill_gaps",
           "FITTED", "INTERPOLATED", "HELD", "fit_regressed_identity", "fit_subject_identity", "regressed_identity",
           "fit_clip_identities", "free_view_fits"]
