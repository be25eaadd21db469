"""``track.still_identity``: the texture frame's photometric stage refines the clip's identity."""
from __future__ import annotations

import dataclasses

import pytest

from facesculpt.bench.clip import clip_still_identity, make_clip
from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.config import make_config
from facesculpt.face_model import load_face_model
from facesculpt.fitting.head_track import TrackConfig, track_landmarks


@pytest.fixture(scope="module")
def tracked():
    clip = make_clip(1, "motion", frames=24, rendered=True)
    cfg = make_config("fast")
    track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, cfg.head_landmarks, TrackConfig())
    return clip, track


def _identity_error(model, identity, truth) -> float:
    zero = model.zero_params()
    a = model.vertices(dataclasses.replace(zero, identity=identity.float()))[0, model.narrow_face]
    b = model.vertices(dataclasses.replace(zero, identity=truth.float()))[0, model.narrow_face]
    return similarity_error_mm(a.detach(), b.detach())


def test_still_identity_moves_only_the_identity_and_lowers_its_error(tracked):
    clip, track = tracked
    model = load_face_model()
    # the texture frame and two more views (one per 12 of the 24 frames): the joint stage over three views
    refined = clip_still_identity(clip, 1, track, track_cfg=TrackConfig(still_identity_per_view=12))
    assert (refined.expression == track.expression).all() and (refined.rotvec == track.rotvec).all()
    before = _identity_error(model, track.identity, clip.identity)
    after = _identity_error(model, refined.identity, clip.identity)
    print(f"clip identity error {before:.3f} -> {after:.3f} mm")
    assert after < before - 0.1


def test_yaw_frame_picker_keeps_the_nearest_frame_per_target_once():
    from facesculpt.track import YawFramePicker

    picker = YawFramePicker((-20.0, 20.0, -10.0, 10.0))
    for position, yaw in enumerate([0.0, -19.0, 5.0, 21.0, -9.0, 12.0, -9.0, -30.0]):
        picker.offer(position, yaw, payload=f"frame {position}")
    # -20 -> 1 (-19), 20 -> 3 (21), -10 -> 4 (the first of the two -9s), 10 -> 5 (12)
    assert picker.picked() == [(1, "frame 1"), (3, "frame 3"), (4, "frame 4"), (5, "frame 5")]
    assert [p for p, _ in picker.picked(exclude=(3,), limit=2)] == [1, 4]


def test_a_frame_nearest_two_targets_runs_once_and_short_clips_get_fewer_views():
    from facesculpt.track import YawFramePicker, still_identity_views

    picker = YawFramePicker((-20.0, 20.0, -10.0, 10.0))
    for position, yaw in enumerate([0.0, 1.0, 2.0]):  # a clip that never turns
        picker.offer(position, yaw)
    assert [p for p, _ in picker.picked()] == [0, 2]  # -20 and -10 -> frame 0; 20 and 10 -> frame 2
    cfg = TrackConfig(still_identity_per_view=24)
    assert [p for p, _ in still_identity_views(picker, 0, 48, cfg)] == [2]  # the texture frame is not run twice
    assert still_identity_views(picker, 1, 47, cfg) == [(0, None)]  # one view per 24 frames with a face
    assert still_identity_views(picker, 1, 23, cfg) == []


def test_reconstruct_clip_refines_on_the_texture_frame_and_the_picked_views(grace_hopper, monkeypatch):
    """The video path refines the identity once, on the texture frame first and then the picked views, each a
    different frame with its own image and landmarks."""
    import numpy as np
    from PIL import Image

    import facesculpt.track as track_mod
    from facesculpt.io.video import VideoFrame

    calls = []

    def fake_refine(track, views, cfg, progress=None, iterations=None):
        assert iterations == cfg.track.still_identity_iterations
        calls.append([(k, image.shape, lmk) for k, image, lmk in views])
        return dataclasses.replace(track, identity=track.identity + 1.0)

    monkeypatch.setattr(track_mod, "refine_identity_on_views", fake_refine)
    face = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    frames = [np.roll(face, s, axis=1) for s in (0, 4, 8, 12)]
    cfg = make_config("fast", **{"track.identity_frames": 2, "identity_metrics": False,
                                 "track.still_identity_per_view": 1})
    clip = track_mod.reconstruct_clip([VideoFrame(i, i / 30.0, im) for i, im in enumerate(frames)], 30.0, cfg)
    assert len(calls) == 1
    ks = [k for k, _, _ in calls[0]]
    assert ks[0] == clip.texture_frame and len(ks) == len(set(ks)) >= 2
    assert all(shape == face.shape for _, shape, _ in calls[0])
    assert len({id(lmk) for _, _, lmk in calls[0]}) == len(ks)
    cfg1 = make_config("fast", **{"track.identity_frames": 2, "identity_metrics": False,
                                  "track.still_identity_per_view": 24})  # 4 frames: the texture frame alone
    calls.clear()
    track_mod.reconstruct_clip([VideoFrame(i, i / 30.0, im) for i, im in enumerate(frames)], 30.0, cfg1)
    assert len(calls) == 1 and len(calls[0]) == 1


def test_the_views_are_a_list_of_numbers_of_any_length():
    from facesculpt.core.errors import ConfigError

    assert make_config("fast", **{"track.still_identity_yaws": []}).track.still_identity_yaws == ()
    assert make_config("fast", **{"track.still_identity_yaws": [5, -7.5]}).track.still_identity_yaws == (5.0, -7.5)
    with pytest.raises(ConfigError, match="still_identity_yaws"):
        make_config("fast", **{"track.still_identity_yaws": ["left"]})
    with pytest.raises(ConfigError, match="still_identity_yaws"):
        make_config("fast", **{"track.still_identity_yaws": 20})


def test_the_joint_stage_over_several_views_gets_the_tracks_expression_prior(tracked, monkeypatch):
    """``track.still_identity_expression_prior`` replaces ``head_priors.w_expression_stage1`` in the joint stage
    over several views (and only there: the rest of the config is the caller's)."""
    import facesculpt.subject as subject
    from facesculpt.track import refine_identity_on_views

    clip, track = tracked
    seen = {}

    def fake_joint(images, lms, per, model, cfg, progress=None, free_identity=False, shared_light=False):
        seen.update(prior=cfg.head_priors.w_expression_stage1, l1=cfg.head_priors.w_expression_l1,
                    steps=cfg.photometric.iterations, n=len(images), free=free_identity)
        return [(p, h) for p, h in per], None

    monkeypatch.setattr(subject, "joint_photometric", fake_joint)
    cfg = make_config("fast")
    cfg = dataclasses.replace(cfg, track=dataclasses.replace(cfg.track, still_identity_expression_prior=0.02,
                                                             still_identity_iterations=7))
    views = [(k, None, clip.landmarks[k]) for k in (0, 5)]
    out = refine_identity_on_views(track, views, cfg)
    assert seen == {"prior": 0.02, "l1": cfg.head_priors.w_expression_l1, "steps": 7, "n": 2, "free": True}
    assert (out.identity == track.identity).all()  # the fake stage kept the track's identity
    assert make_config("fast").track.still_identity_expression_prior < make_config("fast").head_priors.w_expression_stage1


def test_the_views_poses_step_in_the_joint_stage_so_the_tracks_pose_errors_stay_out_of_the_identity(tracked):
    """``track.still_identity_hold_pose`` (False by default): started from the true identity, expression and gaze
    at the landmark track's poses, the joint stage ends nearer the true identity when the views' poses may step
    than when they are held (held, the identity takes up the track's pose errors)."""
    from facesculpt.bench.clip import clip_frame_image
    from facesculpt.track import refine_identity_on_views

    clip, track = tracked
    model = load_face_model()
    size = int(clip.camera.image_size[0])
    views = [(k, clip_frame_image(clip, 1, k, 2.0 / 255, size), clip.landmarks[k]) for k in (0, 8, 16)]
    start = dataclasses.replace(track, identity=clip.identity.clone(), expression=clip.expression.clone(),
                                gaze=clip.gaze.clone())
    assert make_config("fast").track.still_identity_hold_pose is False
    err = {}
    for hold in (True, False):
        cfg = make_config("fast", **{"track.still_identity_hold_pose": hold, "photometric.render_size": 128})
        out = refine_identity_on_views(start, views, cfg, iterations=60)
        assert (out.rotvec == start.rotvec).all()  # the frames keep the track's poses either way
        err[hold] = _identity_error(model, out.identity, clip.identity)
    print(f"from the truth at the track's poses: held {err[True]:.3f} mm, free {err[False]:.3f} mm")
    assert err[False] < err[True] - 0.15, err
