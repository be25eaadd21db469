"""The joint photometric stage of several photos (fitting/joint_photometric.py) and the registration
confidence of the albedo fusion (subject.py)."""
import dataclasses

import numpy as np
import pytest
import torch

from facesculpt.bench.subject import subject_scene
from facesculpt.config import make_config
from facesculpt.subject import fuse_albedos, reconstruct_subject, registration_confidence, registration_ncc


@pytest.fixture(scope="module")
def two_lights():
    """One head at yaw -20 / +20, the second photo under the same light at 60 %."""
    return subject_scene(3, yaws=(-20.0, 20.0), blotch_sd=0.05, light_scales=(1.0, 0.6), size=320, uv_size=256)


def _small_default():
    cfg = make_config("default")
    return dataclasses.replace(
        cfg, identity_metrics=False, identity=dataclasses.replace(cfg.identity, enabled=False),
        photometric=dataclasses.replace(cfg.photometric, iterations=20, joint_iterations=0, render_size=96),
        texture=dataclasses.replace(cfg.texture, size=256))


def test_joint_stage_shares_identity_and_albedo_with_a_light_per_photo(two_lights):
    res = reconstruct_subject(two_lights.images, _small_default(), force=True)
    assert "joint_photometric" in res.timings
    a, b = res.photos
    # one identity and one set of corrections (the joint stage's), each photo its own expression and light
    assert torch.equal(a.head.identity, b.head.identity) and a.head.offsets is not None
    assert torch.equal(a.head.offsets, b.head.offsets) and float(a.head.offsets.abs().max()) > 0
    ph = a.losses["joint_photometric"]
    assert len(ph["photo_final"]) == 2
    assert all(f < i for f, i in zip(ph["photo_final"], ph["photo_initial"])), ph
    # the second photo is darker: its light (not the shared albedo) carries it. The photos are sRGB
    # renders of the scaled light: 0.6 in sRGB is about 0.6 ** 2.2 = 0.33 in linear light.
    ratio = float(b.params.light.coeffs[0, 0].mean() / a.params.light.coeffs[0, 0].mean())
    assert 0.22 < ratio < 0.45, ratio
    # the two photos' albedos (each de-lit by its own light) agree in brightness where both saw the skin
    both = (a.maps.visibility > 0.5) & (b.maps.visibility > 0.5)
    ma, mb = (float(r.maps.albedo[both].mean()) for r in (a, b))
    assert abs(ma / mb - 1) < 0.1, (ma, mb)


def test_registration_confidence_downweights_a_misplaced_photo():
    g = torch.Generator().manual_seed(0)
    S = 128
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 1, S, S, generator=g), 5, 1, 2)[0, 0]
    ref = base[None, :, :, None].expand(1, S, S, 3).contiguous() * 0.5 + 0.3
    good = ref + 0.02 * torch.rand(1, S, S, 3, generator=g)  # registered, a little noise
    bad = torch.roll(ref, shifts=(9, 13), dims=(1, 2))  # skin unwrapped to the wrong texels
    vis = torch.ones(1, S, S)
    ncc = registration_ncc([ref, good, bad], [vis, vis, vis], 0)
    assert ncc[0] == 1.0 and ncc[1] > 0.8 and abs(ncc[2]) < 0.2, ncc
    conf = registration_confidence([ref, good, bad], [vis, vis, vis], 0)
    assert conf[0] == 1.0 and conf[1] == 1.0 and conf[2] == pytest.approx(0.02)
    # a photo sharing no texels with the reference cannot be checked: it keeps full weight
    half = torch.zeros(1, S, S)
    half[..., : S // 2] = 1
    assert registration_confidence([ref, bad], [half, 1 - half], 0)[1] == 1.0
    fused = fuse_albedos([ref, bad], [vis, vis], conf[::2])
    assert torch.allclose(fused, (ref + 0.02 * bad) / 1.02, atol=1e-6)


def test_regressed_identity_weights_the_frontal_photo_most():
    from facesculpt.bench.clip import make_views
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig
    from facesculpt.fitting.head_track import TrackConfig, fit_regressed_identity
    from facesculpt.fitting.regress_init import RegressorInitConfig, regress_head

    model = load_face_model()
    # no detector offsets: the regressed rotations (which the weights use) stay near the true ones
    lms, cams, _ = make_views(0, (-45.0, 0.0, 45.0), noise_px=0.5, detector_bias=False)
    reg = RegressorInitConfig()
    ids = torch.stack([regress_head(lm, model, cam, reg.pose_iterations, reg.expression_floor)[1].identity[0]
                       for lm, cam in zip(lms, cams)]).double()
    for power in (0.0, 4.0):
        ident, per = fit_regressed_identity(lms, model, cams, HeadLandmarkConfig(), reg,
                                            TrackConfig(regressed_facing_power=power))
        assert len(per) == 3 and all(torch.equal(h.identity, ident) for _, h in per)
        # pitch 5 deg everywhere: cos(turn) = cos 5 cos 45 at the sides, cos 5 at the front
        c = np.cos(np.radians(5.0)) * np.cos(np.radians([45.0, 0.0, 45.0]))
        w = torch.tensor(c ** power)
        expect = (ids * w[:, None]).sum(0) / w.sum()
        # (the weights use the regressed rotation, a little off the true one)
        assert torch.allclose(ident[0].double(), expect, atol=1e-2), (power, (ident[0].double() - expect).abs().max())
        if power > 0:  # nearer the frontal photo's identity than the plain mean is
            assert (ident[0].double() - ids[1]).norm() < 0.6 * (ids.mean(0) - ids[1]).norm()


def test_two_runs_give_the_same_subject(two_lights):
    """``reconstruct_subject`` runs inside ``repeatable_fit`` (core.determinism): with two threads its joint
    photometric stage's backward passes run on one, so two runs agree exactly."""
    cfg = dataclasses.replace(_small_default(), threads=2)
    a = reconstruct_subject(two_lights.images, cfg, force=True)
    b = reconstruct_subject(two_lights.images, cfg, force=True)
    assert torch.equal(a.photos[0].head.identity, b.photos[0].head.identity)
    assert torch.equal(a.photos[0].head.offsets, b.photos[0].head.offsets)
    assert torch.equal(a.photos[1].head.expression, b.photos[1].head.expression)


def test_joint_stage_takes_its_own_step_count(two_lights, monkeypatch):
    """``photometric.joint_iterations`` sets the joint stage's Adam steps (0: ``photometric.iterations``, as
    ``_small_default`` sets it); the single-photo stages keep ``iterations``."""
    import facesculpt.subject as subject

    seen = []
    real = subject.joint_photometric

    def spy(images, lms, per, model, cfg, progress=None, **kw):
        seen.append(cfg.photometric.iterations)
        return real(images, lms, per, model, cfg, progress, **kw)

    monkeypatch.setattr(subject, "joint_photometric", spy)
    cfg = _small_default()
    reconstruct_subject(two_lights.images, cfg, force=True)
    reconstruct_subject(two_lights.images, dataclasses.replace(
        cfg, photometric=dataclasses.replace(cfg.photometric, joint_iterations=7)), force=True)
    assert seen == [20, 7]


def test_the_photos_poses_step_in_the_joint_stage_unless_held(two_lights, monkeypatch):
    """``track.subject_hold_pose`` (False by default): the joint stage's photos' poses start at their landmark
    stage's and step (the photos keep the stage's poses); True holds them there. The single photo's
    ``photometric.hold_pose_head`` is not what decides it."""
    import facesculpt.subject as subject

    seen = []
    real = subject.joint_photometric

    def spy(images, lms, per, model, cfg, progress=None, **kw):
        out, losses = real(images, lms, per, model, cfg, progress, **kw)
        seen.append((cfg.photometric.hold_pose_head, [p.rotvec.clone() for p, _ in per], [p.rotvec for p, _, _ in out]))
        return out, losses

    monkeypatch.setattr(subject, "joint_photometric", spy)
    cfg = _small_default()
    assert cfg.track.subject_hold_pose is False and cfg.photometric.hold_pose_head is True
    results = {}
    for hold in (True, False):
        results[hold] = reconstruct_subject(two_lights.images, dataclasses.replace(
            cfg, track=dataclasses.replace(cfg.track, subject_hold_pose=hold)), force=True)
    assert [h for h, _, _ in seen] == [True, False]
    for (hold, before, after), res in zip(seen, (results[True], results[False])):
        moved = max(float((a - b).abs().max()) for a, b in zip(after, before))
        assert (moved == 0.0) if hold else (moved > 1e-4), (hold, moved)
        for photo, rv in zip(res.photos, after):  # the photos keep the joint stage's poses
            assert torch.allclose(photo.params.pose.rotvec.float(), rv.detach().float())


def test_joint_stage_landmark_targets_take_off_the_view_bias(two_lights, monkeypatch):
    """The joint stage's landmark term compares with the detections minus mediapipe's view bias at each photo's
    stage-1 pose, as the single-photo stage does (``pipeline._landmark_targets``; before session 22 the joint
    stage used the raw detections); with ``head_landmarks.view_bias`` off, the raw detections."""
    import inspect

    import facesculpt.pipeline as pipeline

    real = pipeline._landmark_targets
    calls = []

    def spy(*args):
        calls.append((inspect.stack()[1].function, args))
        return real(*args)

    monkeypatch.setattr(pipeline, "_landmark_targets", spy)
    cfg = _small_default()
    assert cfg.head_landmarks.view_bias
    reconstruct_subject(two_lights.images, cfg, force=True)
    joint = [args for who, args in calls if who == "joint_photometric"]
    assert len(joint) == 2, [who for who, _ in calls]
    off = dataclasses.replace(cfg, head_landmarks=dataclasses.replace(cfg.head_landmarks, view_bias=False))
    for landmarks, model, pose, head, camera, crop, n_pts, _ in joint:
        x0, y0, side, R = crop
        raw = (landmarks.points[None, :n_pts, :2] - torch.tensor([x0, y0])) * (R / side)
        on = real(landmarks, model, pose, head, camera, crop, n_pts, cfg)
        d = float((on - raw).norm(dim=-1).mean())
        assert 0.05 < d < 20.0, d  # crop pixels: the bias moves every photo's targets, by a few pixels
        assert torch.equal(real(landmarks, model, pose, head, camera, crop, n_pts, off), raw)
