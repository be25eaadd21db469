"""The synthetic clip benchmark (``facesculpt benchmark clip``): the tracker against known motion.

Clips are made from the morphable head (``synthetic.head``'s identity prior and camera): one
identity drawn from N(0, 1), per-frame head rotation and translation, expression curves and gaze,
at ``fps`` frames a second. The tracker is fed the model's own 478 embedded mediapipe points,
projected by the true camera, with Gaussian noise of ``noise_px`` pixels (x, y; twice that on
mediapipe's relative depth), plus mediapipe's measured systematic view-dependent offset of each
point (the embedding's ``bias``, which the landmark stage's ``view_bias`` takes out again): this
measures the tracker (identity, smoothing, lag, channel separation), not the detector (whose
points' remaining, face-dependent error is not simulated: docs/landmark_registration.md). With
``rendered`` (``--frames-from photos``) every frame is rendered as a photo instead and mediapipe
detects its landmarks, as in a video: that measures the detector and the tracker together. Two
kinds of clip:

* ``motion``: a still segment (``still_s`` seconds: head, expression and gaze held), then the head
  turning (yaw +-30 deg, pitch +-10 deg, roll +-5 deg, a 2 cm sway) while expression actions come
  and go as smooth bumps (jaw open, smile, blink, brows up, pucker, funnel, squint, brows down,
  cheek puff, sneer) and the gaze wanders;
* ``channels``: each of the 53 model expressions moves in turn (a 0 -> 0.8 -> 0 bump of
  ``bump_frames`` frames, then rest), with the head turning slowly (yaw +-15 deg), so a channel
  that stays near zero or follows the head turn shows as a low correlation. An eye-look shape (lids)
  moves with the gaze it belongs to (``look_gaze``, the default): both eyes turn, as eyes do, by the
  angle that ``io.live_link.eye_look_from_gaze`` reads as the shape's weight (0.8: 24 degrees sideways,
  20 up or down), so the truth's ARKit eye-look channels (the gaze's, ``to_arkit52``) are the bump;
  ``look_gaze=False`` keeps the eyeballs straight (the clip before session 32: lids looking one way over
  eyes looking ahead, a face that does not occur).

Metrics (``evaluate_clip``): identity vertex error (narrow face, neutral expression, similarity
aligned, mm), expression-curve MAE (53 weights x frames, and over ARKit's 52), still-segment
jitter (RMS frame-to-frame motion of the narrow face's vertices in the camera frame, mm),
rotation error (deg, mean), per-frame tracking cost (s, wall and this process's CPU time; the
identity fit included), and per-ARKit-channel Pearson
correlation of the fitted curve with the truth (the ARKit curves take the gaze into the eye-look channels,
``io.live_link.to_arkit52``), gaze error (mean |fitted - true| of the four angles, degrees).
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from facesculpt.face_model import HeadParams, load_face_model
from facesculpt.io.live_link import ARKIT_52, GAZE_FULL_DEG, to_arkit52
from facesculpt.structures import Camera, Landmarks, Pose
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import face_pose


@dataclass(frozen=True)
class SyntheticClip:
    """A synthetic clip and its truth (T frames).

    landmarks: T Landmarks (478 noisy points each); identity (1, K); expression (T, E); gaze (T, 2, 2);
    rotvec, translation (T, 3) (model -> camera, cm); camera; fps; still: (start, stop) frame
    range of the still segment or None; kind: "motion" or "channels"; detect_seconds: wall time the
    landmark detection of a rendered clip took (0 for projected points); crops: with ``make_clip(...,
    crop_cfg=...)`` each rendered frame's ``track_photometric.FrameCrop`` (None without a face), else ();
    lid_cover: the frames were rendered with the lids pushed out of the eyeballs
    (``make_clip(..., lid_cover=True)``); mirrored_detection: each frame was detected mirrored too
    (``make_clip(..., turned=...)``)."""

    landmarks: list
    identity: torch.Tensor
    expression: torch.Tensor
    gaze: torch.Tensor
    rotvec: torch.Tensor
    translation: torch.Tensor
    camera: Camera
    fps: float
    still: tuple | None
    kind: str
    detect_seconds: float = 0.0
    crops: tuple = ()
    lid_cover: bool = False
    mirrored_detection: bool = False


def _bump(t: np.ndarray, start: float, length: float) -> np.ndarray:
    """Raised-cosine bump 0 -> 1 -> 0 over [start, start + length] (same units as t)."""
    x = (t - start) / length
    return np.where((x >= 0) & (x <= 1), 0.5 - 0.5 * np.cos(2 * np.pi * np.clip(x, 0, 1)), 0.0)


#: the motion clip's actions: (seconds after the still segment, length s, {expression: peak})
_ACTIONS = (
    (0.0, 1.0, {"jawOpen": 0.6, "mouthLowerDown_L": 0.2, "mouthLowerDown_R": 0.2}),
    (0.8, 1.2, {"mouthSmile_L": 0.7, "mouthSmile_R": 0.6, "cheekSquint_L": 0.3, "cheekSquint_R": 0.25}),
    (1.6, 0.25, {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0}),
    (2.0, 1.0, {"browInnerUp_L": 0.6, "browInnerUp_R": 0.6, "browOuterUp_L": 0.5, "browOuterUp_R": 0.5}),
    (2.7, 0.9, {"mouthPucker": 0.7}),
    (3.4, 0.8, {"mouthFunnel": 0.6, "jawOpen": 0.2}),
    (3.8, 0.25, {"eyeBlink_L": 1.0, "eyeBlink_R": 1.0}),
    (4.2, 1.0, {"eyeSquint_L": 0.5, "eyeSquint_R": 0.5, "browDown_L": 0.5, "browDown_R": 0.5}),
    (5.0, 0.9, {"cheekPuff_L": 0.7, "cheekPuff_R": 0.7}),
    (5.6, 0.8, {"noseSneer_L": 0.6, "noseSneer_R": 0.5}),
)


#: the model's eye-look shapes -> (gaze axis: 0 yaw, 1 pitch; sign): yaw positive turns the eyes towards the
#: subject's left (+X), where the left eye looks out and the right eye in
_LOOK_GAZE = {"eyeLookOut_L": (0, 1.0), "eyeLookIn_L": (0, -1.0), "eyeLookOut_R": (0, -1.0), "eyeLookIn_R": (0, 1.0),
              "eyeLookUp_L": (1, 1.0), "eyeLookUp_R": (1, 1.0), "eyeLookDown_L": (1, -1.0), "eyeLookDown_R": (1, -1.0)}


def make_clip(seed: int = 0, kind: str = "motion", frames: int = 240, fps: float = 30.0, size: int = 512,
              noise_px: float = 0.5, still_s: float = 2.0, bump_frames: int = 12, rendered: bool = False,
              photo_noise: float = 2.0 / 255, crop_cfg=None, look_gaze: bool = True,
              lid_cover: bool = False, turned=None) -> SyntheticClip:
    """A synthetic clip (module docstring); a deterministic function of the arguments. ``frames`` is
    ignored for ``channels`` (53 x (bump_frames + 4) + 10 frames).

    ``rendered``: instead of projecting the embedded points, render every frame as a photo
    (``synthetic.head.render_head_photo``: one painted albedo and light for the clip, drawn from the
    seed, plus per-frame Gaussian pixel noise of sd ``photo_noise``, as a camera's) and detect its
    landmarks with ``detect_faces`` as the video path does (a frame without a face gets None);
    ``noise_px`` is then unused. ``crop_cfg`` (a ``TrackPhotometricConfig``, with ``rendered``): also keep each
    frame's crop for the tracker's photometric pass (``SyntheticClip.crops``). ``lid_cover`` (with ``rendered``):
    the lids are pushed out of the eyeballs before each frame is rendered (``SyntheticConfig.lid_cover``).
    ``turned`` (a ``detect.turned.TurnedDetectConfig``, with ``rendered``): each frame is detected mirrored too and
    the two combined, as ``TrackConfig.mirrored_detection`` makes the video path do."""
    if kind not in ("motion", "channels"):
        raise ValueError(f"clip kind must be motion or channels, got {kind!r}")
    rng = np.random.default_rng(seed)
    model = load_face_model()
    names = model.expression_names
    E = len(names)
    ident = torch.tensor(rng.standard_normal(model.num_identity), dtype=torch.float32)[None]
    rest = 4
    T = frames if kind == "motion" else E * (bump_frames + rest) + 10
    t = np.arange(T) / fps
    expr = np.zeros((T, E))
    gaze = np.zeros((T, 2, 2))
    if kind == "motion":
        n_still = int(round(still_s * fps))
        tm = np.clip(t - still_s, 0, None)
        moving = t >= still_s
        yaw = 30 * np.sin(2 * np.pi * tm / 3.0) * moving
        pitch = 10 * np.sin(2 * np.pi * tm / 2.1) * moving + 3
        roll = 5 * np.sin(2 * np.pi * tm / 2.7) * moving
        sway = np.stack([2.0 * np.sin(2 * np.pi * tm / 3.3), 1.0 * np.sin(2 * np.pi * tm / 2.3), 0 * tm], 1) * moving[:, None]
        for start, length, peaks in _ACTIONS:
            b = _bump(tm, start, length) * moving
            for n, p in peaks.items():
                expr[:, names.index(n)] = np.maximum(expr[:, names.index(n)], p * b)
        expr[:, names.index("mouthSmile_L")] += 0.15  # a constant slight smile, also in the still part
        expr[:, names.index("mouthSmile_R")] += 0.15
        g = np.stack([0.2 * np.sin(2 * np.pi * tm / 1.7), 0.1 * np.sin(2 * np.pi * tm / 2.5)], 1) * moving[:, None]
        gaze[:] = g[:, None, :]
        still = (0, n_still)
    else:
        for e in range(E):
            start = 10 + e * (bump_frames + rest)
            expr[:, e] = 0.8 * _bump(np.arange(T, dtype=float), start, bump_frames)
            look = _LOOK_GAZE.get(names[e]) if look_gaze else None
            if look is not None:  # both eyes turn the way the lids look (module docstring)
                axis, sign = look
                gaze[:, :, axis] += sign * np.radians(GAZE_FULL_DEG[axis]) * expr[:, e][:, None]
        yaw = 15 * np.sin(2 * np.pi * t / 4.0)
        pitch = 3 + 0 * t
        roll = 0 * t
        sway = np.zeros((T, 3))
        still = None
    expr = np.clip(expr, 0, 1)
    head0 = HeadParams(ident, torch.zeros(1, E), torch.zeros(1, 2, 2))
    cfg = SyntheticConfig(model="head", size=size, lid_cover=bool(lid_cover and rendered))
    with torch.no_grad():
        neutral = model.vertices(head0)
        heads = HeadParams(ident.expand(T, -1), torch.tensor(expr, dtype=torch.float32),
                           torch.tensor(gaze, dtype=torch.float32))
        pts = model.points(model.vertices(heads), "mediapipe").double()  # (T, 478, 3)
    rot, trans, lms = [], [], []
    cam = None
    render = _frame_renderer(model, seed, cfg, crop_cfg, turned) if rendered else None
    for k in range(T):
        pose, cam, z = face_pose(model, neutral, float(yaw[k]), float(pitch[k]), float(roll[k]), np.zeros(2), cfg)
        T_k = pose.translation[0].double() + torch.tensor(sway[k])
        R_k = pose.matrix()[0].double()
        if render is None:
            lms.append(_project(pts[k], R_k, T_k, cam, rng, noise_px, size, model))
        else:
            lms.append(render(heads, k, Pose(pose.rotvec, T_k.float()[None]), cam, photo_noise))
        rot.append(pose.rotvec[0])
        trans.append(T_k.float())
    return SyntheticClip(lms, ident, torch.tensor(expr, dtype=torch.float32), torch.tensor(gaze, dtype=torch.float32),
                         torch.stack(rot), torch.stack(trans), cam, fps, still, kind,
                         render.detect_seconds if render is not None else 0.0,
                         tuple(render.crops) if render is not None and crop_cfg is not None else (),
                         bool(lid_cover and rendered), bool(rendered and turned is not None and turned.enabled))


def _frame_renderer(model, seed: int, cfg: SyntheticConfig, crop_cfg=None, turned=None):
    """``render(heads, k, pose, cam, photo_noise) -> Landmarks or None``: frame k of the clip rendered
    (one albedo, iris colour and light for the clip, from their own stream of ``seed``: the projected
    clip of the same seed is unchanged) and detected as the video path detects."""
    from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
    from facesculpt.detect import detect_faces
    from facesculpt.synthetic.generator import make_light
    from facesculpt.synthetic.head import IRIS_COLOURS, atlas, make_head_albedo, render_head_photo

    r = np.random.default_rng([int(seed), 7])
    albedo = torch.as_tensor(make_head_albedo(r, model, cfg.uv_size, cfg.freckles))[None]
    tex = atlas(model, albedo, IRIS_COLOURS[int(r.integers(len(IRIS_COLOURS)))])
    light = make_light(r, cfg.light_strength)

    def image(heads, k, pose, cam, photo_noise, rng):
        one = HeadParams(heads.identity[k:k + 1], heads.expression[k:k + 1], heads.gaze[k:k + 1])
        with torch.no_grad():
            rest = None
            if cfg.lid_cover:
                rest = model.vertices(HeadParams(one.identity, torch.zeros_like(one.expression), one.gaze))
            img = render_head_photo(model, model.vertices(one), tex, light, pose, cam, cfg, rest)
        if photo_noise > 0:
            img = np.rint(np.clip(img + rng.normal(0, photo_noise * 255, img.shape), 0, 255)).astype(np.uint8)
        return img

    def render(heads, k, pose, cam, photo_noise):
        img = image(heads, k, pose, cam, photo_noise, r)
        t = time.perf_counter()
        try:
            from facesculpt.detect.turned import detect_with_mirror

            # the mirrored frame's detection too with ``turned`` (TrackConfig.mirrored_detection)
            found = detect_with_mirror(img, lambda im: detect_faces(im, max_faces=1), turned)[0]
        except (FaceNotFoundError, FaceTooSmallError):
            found = None
        render.detect_seconds += time.perf_counter() - t
        if crop_cfg is not None:
            from facesculpt.fitting.track_photometric import crop_frame

            render.crops.append(None if found is None else crop_frame(img, found, crop_cfg))
        return found

    render.detect_seconds = 0.0
    render.crops = []
    render.image = image
    return render


def clip_frame_image(clip: SyntheticClip, seed: int, k: int, photo_noise: float = 2.0 / 255,
                     size: int = 512) -> np.ndarray:
    """(H, W, 3) uint8: frame ``k`` of the rendered clip ``make_clip(seed, ..., rendered=True)`` rendered again
    (the same albedo and light; its pixel noise drawn afresh), e.g. for the texture frame's reconstruction."""
    model = load_face_model()
    cfg = SyntheticConfig(model="head", size=size, lid_cover=bool(getattr(clip, "lid_cover", False)))
    heads = HeadParams(clip.identity.expand(len(clip.expression), -1), clip.expression, clip.gaze)
    pose = Pose(clip.rotvec[k:k + 1], clip.translation[k:k + 1])
    render = _frame_renderer(model, seed, cfg)
    return render.image(heads, k, pose, clip.camera, photo_noise, np.random.default_rng([int(seed), 8, int(k)]))


def make_views(seed: int, yaws_deg: tuple = (-45.0, 0.0, 45.0), noise_px: float = 0.5, size: int = 512,
               expression: bool = True, detector_bias: bool = True) -> tuple:
    """Landmarks of one synthetic person seen at several yaws (the multi-photo case on the landmark
    level): the model's embedded points projected + noise, each view with its own expression
    (a different sparse action set, ``synthetic.head.sample_expression``) unless ``expression`` is False;
    with ``detector_bias`` mediapipe's measured view-dependent offsets are added (``_project``).
    Returns (list of Landmarks, list of Camera, identity (1, K))."""
    from facesculpt.synthetic.head import sample_expression

    rng = np.random.default_rng(seed)
    model = load_face_model()
    E = model.num_expression
    ident = torch.tensor(rng.standard_normal(model.num_identity), dtype=torch.float32)[None]
    cfg = SyntheticConfig(model="head", size=size)
    with torch.no_grad():
        neutral = model.vertices(HeadParams(ident, torch.zeros(1, E), torch.zeros(1, 2, 2)))
    lms, cams = [], []
    for yaw in yaws_deg:
        ex = sample_expression(rng, model.expression_names)[0] if expression else np.zeros(E)
        with torch.no_grad():
            pts = model.points(model.vertices(HeadParams(ident, torch.tensor(ex, dtype=torch.float32)[None],
                                                         torch.zeros(1, 2, 2))), "mediapipe")[0].double()
        pose, cam, _ = face_pose(model, neutral, float(yaw), 5.0, 0.0, np.zeros(2), cfg)
        lms.append(_project(pts, pose.matrix()[0].double(), pose.translation[0].double(), cam, rng, noise_px, size,
                            model if detector_bias else None))
        cams.append(cam)
    return lms, cams, ident


def _project(pts: torch.Tensor, R: torch.Tensor, T: torch.Tensor, cam: Camera, rng, noise_px: float,
             size: int, model=None) -> Landmarks:
    """Landmarks (pixels + mediapipe-style relative depth, with noise) of model points (N, 3) cm.

    model: when its mediapipe embedding has a view-dependent ``bias``, mediapipe's measured
    systematic offset at this view is added (as the detector would place the points; the landmark
    stage's ``view_bias`` takes it out again), so these landmarks stand for detections."""
    X = pts @ R.T + T
    f = float(cam.focal[0])
    uv = X[:, :2] / X[:, 2:3] * f + cam.principal[0].double()
    emb = model.landmarks["mediapipe"] if model is not None else None
    if emb is not None and emb.bias is not None and uv.shape[0] == emb.bias.shape[0]:
        from facesculpt.fitting.landmark_bias import embedding_offsets_px

        uv = uv + embedding_offsets_px(emb, R, X, uv)
    zz = X[:, 2] * f / T[2]
    zz = zz - zz.mean()
    uv = uv + torch.from_numpy(rng.normal(0, noise_px, uv.shape))
    zz = zz + torch.from_numpy(rng.normal(0, 2 * noise_px, zz.shape))
    p = torch.cat([uv, zz[:, None]], 1).float()
    bbox = torch.stack([p[:, 0].min(), p[:, 1].min(), p[:, 0].max(), p[:, 1].max()])
    return Landmarks(p, bbox, (size, size))


def _face_camera_verts(model, identity, expression, rotvec, translation, gaze) -> torch.Tensor:
    """(T, n, 3) narrow-face vertices in the camera frame."""
    from facesculpt.structures import Pose

    region = model.narrow_face
    out = []
    with torch.no_grad():
        for s in range(0, len(rotvec), 64):
            sl = slice(s, s + 64)
            n = len(rotvec[sl])
            v = model.vertices(HeadParams(identity.expand(n, -1), expression[sl], gaze[sl]))[:, region]
            out.append(Pose(rotvec[sl], translation[sl]).apply(v))
    return torch.cat(out)


def _rotation_error_deg(r1: torch.Tensor, r2: torch.Tensor) -> np.ndarray:
    from facesculpt.ops.rotations import rotvec_to_matrix

    R = rotvec_to_matrix(r1.double()) @ rotvec_to_matrix(r2.double()).transpose(1, 2)
    c = ((R.diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2).clamp(-1, 1)
    return np.degrees(torch.arccos(c).numpy())


def evaluate_clip(clip: SyntheticClip, track, seconds: float) -> dict:
    """Metrics of ``track`` (``fitting.head_track.Track``) against ``clip``'s truth (module docstring)."""
    from facesculpt.bench.synthetic import gaze_error_deg, similarity_error_mm

    model = load_face_model()
    names = model.expression_names
    region = model.narrow_face
    with torch.no_grad():
        zero = lambda ident: model.vertices(HeadParams(ident, torch.zeros(1, len(names)), torch.zeros(1, 2, 2)))  # noqa: E731
        id_err = similarity_error_mm(zero(track.identity)[0, region], zero(clip.identity)[0, region])
    ef, et = track.expression.double(), clip.expression.double()
    a_f = to_arkit52(names, ef.numpy(), track.gaze.double().numpy())
    a_t = to_arkit52(names, et.numpy(), clip.gaze.double().numpy())
    out = {
        "frames": len(clip.landmarks),
        "identity_error_mm": id_err,
        "expression_mae": float((ef - et).abs().mean()),
        "expression_mae_arkit52": float(np.abs(a_f - a_t)[:, :51].mean()),
        "expression_mae_raw": float((track.raw_expression.double() - et).abs().mean()),
        "rotation_error_deg": float(_rotation_error_deg(track.rotvec, clip.rotvec).mean()),
        "rotation_error_raw_deg": float(_rotation_error_deg(track.raw_rotvec, clip.rotvec).mean()),
        "gaze_error_deg": gaze_error_deg(track.gaze, clip.gaze),
        "seconds_per_frame": seconds / len(clip.landmarks),
    }
    if clip.still is not None:
        s0, s1 = clip.still
        for key, (rv, tr, ex, gz) in {"jitter_mm": (track.rotvec, track.translation, track.expression, track.gaze),
                                      "jitter_raw_mm": (track.raw_rotvec, track.raw_translation,
                                                        track.raw_expression, track.raw_gaze)}.items():
            v = _face_camera_verts(model, track.identity, ex[s0:s1], rv[s0:s1], tr[s0:s1], gz[s0:s1])
            out[key] = float((v[1:] - v[:-1]).norm(dim=-1).pow(2).mean().sqrt()) * 10
    if clip.kind == "channels":
        corr = {}
        for j, n in enumerate(ARKIT_52):
            ft, tt = a_f[:, j], a_t[:, j]
            if tt.std() == 0:
                continue  # tongueOut: no shape in the model
            corr[n] = float(np.corrcoef(ft, tt)[0, 1]) if ft.std() > 0 else 0.0
        out["channel_correlation"] = corr
        out["channel_correlation_min"] = min(corr.values())
        out["channels_below_0.8"] = sorted(n for n, c in corr.items() if c < 0.8)
    return out


def _texture_frame(clip: SyntheticClip, seed: int, photo_noise: float):
    """(k, image, yaws): the frame ``track.reconstruct_clip`` takes for the texture (``track.texture_frame_score``
    over the frames with a face), rendered again (``clip_frame_image``), and each such frame's detected yaw
    (degrees; ``track.detected_view``, which gives both from one pose)."""
    from facesculpt.face_model import fit_view
    from facesculpt.track import detected_view

    canon = fit_view(load_face_model()).canonical
    views = {t: detected_view(lm, canon) for t, lm in enumerate(clip.landmarks) if lm is not None}
    k = min(views, key=lambda t: views[t][0])
    return k, clip_frame_image(clip, seed, k, photo_noise, int(clip.camera.image_size[0])), \
        {t: yaw for t, (_, yaw) in views.items()}


def clip_photometric_pass(clip: SyntheticClip, seed: int, track, track_cfg, still_cfg, photo_noise: float = 2.0 / 255):
    """The tracker's photometric pass on a rendered clip made with crops, as ``track.reconstruct_clip`` runs it:
    the texture frame chosen by ``track.texture_frame_score``, rendered again (``clip_frame_image``) and
    reconstructed with the track's pose and expression there (``still_cfg``'s photometric stage off), its
    albedo and light the appearance. Returns the refined ``Track``."""
    import dataclasses

    from facesculpt.fitting.track_photometric import appearance_from_reconstruction, refine_track
    from facesculpt.pipeline import reconstruct_head

    model = load_face_model()
    k, image, _ = _texture_frame(clip, seed, photo_noise)
    still_cfg = dataclasses.replace(still_cfg, photometric=dataclasses.replace(still_cfg.photometric, enabled=False))
    still = reconstruct_head(image, clip.landmarks[k], still_cfg, fixed=(track.pose(k), track.head(k)))
    app = appearance_from_reconstruction(still, track_cfg.photometric)
    return refine_track(track, clip.crops, clip.landmarks, model, app, clip.fps, track_cfg, still_cfg.head_landmarks)


def clip_still_identity(clip: SyntheticClip, seed: int, track, cfg=None, photo_noise: float = 2.0 / 255,
                        track_cfg=None, frames=None):
    """``track.refine_identity_on_views`` on a rendered clip's texture frame (chosen and rendered as
    ``clip_photometric_pass`` does) and the other views ``track_cfg`` (default ``cfg.track``) adds
    (``TrackConfig.still_identity_yaws``, picked as ``track.reconstruct_clip`` picks them and rendered again), with
    ``cfg`` (default the ``fast`` preset; its photometric stage is run anyway). Returns the track with the refined
    identity. ``frames``: ``clip_views``' result if made already."""
    from facesculpt.track import refine_identity_on_views

    if cfg is None:
        from facesculpt.config import make_config

        cfg = make_config("fast")
    track_cfg = cfg.track if track_cfg is None else track_cfg
    frames = clip_views(clip, seed, photo_noise, track_cfg) if frames is None else frames
    return refine_identity_on_views(track, frames, cfg, iterations=track_cfg.still_identity_iterations)


def clip_views(clip: SyntheticClip, seed: int, photo_noise: float, track_cfg) -> list:
    """[(frame, image, landmarks)]: a rendered clip's texture frame then the ``TrackConfig.still_identity_yaws``
    views, picked as ``track.reconstruct_clip`` picks them and rendered again."""
    from facesculpt.track import YawFramePicker, still_identity_views

    k, image, yaws = _texture_frame(clip, seed, photo_noise)
    views = YawFramePicker(track_cfg.still_identity_yaws)
    for t, yaw in yaws.items():  # in frame order, as the tracker offers them
        views.offer(t, yaw)
    size = int(clip.camera.image_size[0])
    return [(k, image, clip.landmarks[k])] + [(t, clip_frame_image(clip, seed, t, photo_noise, size), clip.landmarks[t])
                                              for t, _ in still_identity_views(views, k, len(yaws), track_cfg)]


def run_clip_benchmark(seed: int, kind: str, frames: int, noise_px: float, track_cfg, lm_cfg, fps: float = 30.0,
                       rendered: bool = False, photo_noise: float = 2.0 / 255, still_cfg=None,
                       look_gaze: bool = True, lid_cover: bool = False) -> dict:
    """Make one clip, track it, evaluate: the metrics of ``evaluate_clip`` plus the settings. ``rendered``:
    the frames are rendered photos and their landmarks mediapipe's (``make_clip``); the per-frame cost
    then also reports the detection (``detect_seconds_per_frame``) and the frames with a face. With
    ``track_cfg.photometric.enabled`` (rendered clips only) the photometric pass runs after the landmark track
    (``clip_photometric_pass``, the texture frame's reconstruction with ``still_cfg``, default the ``fast``
    preset); its time is in the per-frame cost and reported apart (``photometric_seconds_per_frame``)."""
    from facesculpt.fitting.head_track import track_landmarks

    photometric = bool(rendered and track_cfg.photometric.enabled)
    turned = None
    if rendered and track_cfg.mirrored_detection:  # as track.reconstruct_clip: Config.turned
        from facesculpt.detect.turned import TurnedDetectConfig

        turned = getattr(still_cfg, "turned", None) or TurnedDetectConfig()
    clip = make_clip(seed, kind, frames=frames, fps=fps, noise_px=noise_px, rendered=rendered,
                     photo_noise=photo_noise, crop_cfg=track_cfg.photometric if photometric else None,
                     look_gaze=look_gaze, lid_cover=lid_cover, turned=turned)
    t0, c0 = time.perf_counter(), time.process_time()
    views, prior = None, None
    prior_on = False
    if rendered:
        from facesculpt.config import make_config
        from facesculpt.track import clip_identity_prior, clip_prior_on

        still_cfg = make_config("fast") if still_cfg is None else still_cfg
        prior_on = clip_prior_on(still_cfg, track_cfg)
    if rendered and (track_cfg.still_identity or prior_on):
        views = clip_views(clip, seed, photo_noise, track_cfg)
    if prior_on:  # as track.reconstruct_clip: the views' embeddings
        prior = clip_identity_prior([v[1:] for v in views], load_face_model(), still_cfg, track_cfg)
    track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, lm_cfg, track_cfg, identity_prior=prior)
    t1 = time.perf_counter()
    if rendered and track_cfg.still_identity:  # as track.reconstruct_clip: the views' shading
        track = clip_still_identity(clip, seed, track, still_cfg, photo_noise, track_cfg, frames=views)
    if photometric:
        if still_cfg is None:
            from facesculpt.config import make_config

            still_cfg = make_config("fast")
        track = clip_photometric_pass(clip, seed, track, track_cfg, still_cfg, photo_noise)
    t2 = time.perf_counter()
    seconds, cpu = t2 - t0, time.process_time() - c0
    res = evaluate_clip(clip, track, seconds)
    # CPU time of this process: on a shared machine the wall time also counts the other processes
    res["cpu_seconds_per_frame"] = cpu / len(clip.landmarks)
    res.update(seed=seed, kind=kind, noise_px=noise_px, fps=fps, source="rendered" if rendered else "points",
               look_gaze=bool(look_gaze))
    if photometric:
        res["photometric_seconds_per_frame"] = (t2 - t1) / len(clip.landmarks)
    if rendered:
        res.update(photo_noise=photo_noise, frames_with_face=sum(lm is not None for lm in clip.landmarks),
                   detect_seconds_per_frame=clip.detect_seconds / len(clip.landmarks))
    return res


__all__ = ["SyntheticClip", "make_clip", "clip_frame_image", "clip_photometric_pass", "clip_still_identity", "clip_views",
           "make_views", "evaluate_clip", "run_clip_benchmark"]
