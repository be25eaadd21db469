"""`facesculpt benchmark clip` and the synthetic clips it makes."""
import json

import numpy as np
import pytest

from facesculpt.bench.clip import make_clip
from facesculpt.cli import main


def test_clip_truth_is_consistent():
    clip = make_clip(seed=1, kind="motion", frames=80, noise_px=0.0, still_s=1.0)
    assert len(clip.landmarks) == 80 and clip.still == (0, 30)
    s0, s1 = clip.still
    # still segment: the truth does not move; the noise-free points neither
    assert float((clip.expression[s0:s1] - clip.expression[s0]).abs().max()) == 0
    p = np.stack([lm.points.numpy() for lm in clip.landmarks[s0:s1]])
    assert np.abs(p - p[0]).max() < 1e-4
    assert float((clip.expression[s1:]).max()) > 0.5  # actions happen after it
    ch = make_clip(seed=1, kind="channels", bump_frames=6)
    assert len(ch.landmarks) == 53 * 10 + 10
    # each expression has exactly one bump
    on = (ch.expression > 0).numpy()
    assert all(np.count_nonzero(np.diff(on[:, e].astype(int)) == 1) == 1 for e in range(53))
    with pytest.raises(ValueError):
        make_clip(kind="dance")


def test_channels_clip_turns_the_eyes_with_the_eye_look_lids():
    """An eye-look shape's bump turns both eyes the way the lids look, by the angle the ARKit curves (the gaze's)
    read back as the shape's weight; every other bump keeps the eyes straight; ``look_gaze=False`` never turns them."""
    from facesculpt.face_model import load_face_model
    from facesculpt.io.live_link import ARKIT_52, to_arkit52

    names = load_face_model().expression_names
    ch = make_clip(seed=1, kind="channels", bump_frames=6)
    g, w = ch.gaze.double().numpy(), ch.expression.double().numpy()
    a = to_arkit52(names, w, g)
    out_l = w[:, names.index("eyeLookOut_L")]
    assert out_l.max() == pytest.approx(0.8, abs=1e-6)
    assert np.allclose(a[:, ARKIT_52.index("eyeLookOutLeft")][out_l > 0], out_l[out_l > 0], atol=1e-6)
    peak = int(np.argmax(out_l))
    assert g[peak, 0, 0] > 0.4 and g[peak, 1, 0] > 0.4  # both eyes towards the subject's left, 24 degrees
    down_r = w[:, names.index("eyeLookDown_R")]
    assert g[int(np.argmax(down_r)), :, 1].max() < -0.3  # both eyes down
    looks = [names.index(n) for n in names if n.startswith("eyeLook")]
    quiet = np.delete(w, looks, axis=1).max(1) > 0  # frames where another shape moves
    assert np.abs(g[quiet]).max() == 0
    assert float(make_clip(seed=1, kind="channels", bump_frames=6, look_gaze=False).gaze.abs().max()) == 0


def test_benchmark_clip_cli(tmp_path, capsys):
    out = tmp_path / "b"
    assert main(["benchmark", "clip", "--kinds", "motion", "--frames", "60", "-o", str(out), "--preset", "fast",
                 "--set", "track.identity_frames=3", "--set", "track.identity_rounds=1"]) == 0
    res = json.loads((out / "results.json").read_text())
    (r,) = res["clips"]
    assert r["frames"] == 60 and r["identity_error_mm"] < 2.0 and r["expression_mae"] < 0.1
    # reported; 60 frames are all the still segment (gaze 0): measured 1.56 deg, the iris points' 0.5 px noise
    assert 0 <= r["gaze_error_deg"] < 3.0
    assert res["track"]["identity_frames"] == 3
    assert "motion 0" in capsys.readouterr().out
    assert main(["benchmark", "clip", "--kinds", "dance", "-o", str(out)]) == 2


def test_rendered_clip_frames_are_detected_where_the_truth_projects():
    """``--frames-from photos``: each frame is a rendered photo whose mediapipe landmarks lie where the
    noise-free projected points of the same clip do (same identity, expressions, poses and camera)."""
    kw = dict(seed=2, kind="motion", frames=12, still_s=0.2)
    truth = make_clip(noise_px=0.0, **kw)
    seen = make_clip(rendered=True, **kw)
    assert len(seen.landmarks) == 12 and seen.detect_seconds > 0
    assert float((seen.expression - truth.expression).abs().max()) == 0
    found = [k for k, lm in enumerate(seen.landmarks) if lm is not None]
    assert len(found) >= 11
    err = [float((seen.landmarks[k].points[:468, :2] - truth.landmarks[k].points[:468, :2]).norm(dim=1).median())
           for k in found]
    assert np.median(err) < 6.0  # px on a 512 px frame whose face is ~250 px wide
    # the still segment's frames differ (per-frame pixel noise): the detector's points move a little
    s0, s1 = seen.still
    a, b = seen.landmarks[s0].points[:468, :2], seen.landmarks[s1 - 1].points[:468, :2]
    assert 0 < float((a - b).norm(dim=1).mean()) < 3.0


def test_lid_cover_changes_the_rendered_blink_and_not_the_open_face():
    """``--lid-cover`` (``SyntheticClip.lid_cover``): the frame at the left blink's peak renders differently with the
    lids pushed out of the eyeballs; a frame with no expression renders the same, pixel for pixel."""
    import dataclasses

    from facesculpt.bench.clip import clip_frame_image
    from facesculpt.face_model import load_face_model

    clip = make_clip(seed=1, kind="channels")
    names = list(load_face_model().expression_names)
    peak = int(clip.expression[:, names.index("eyeBlink_L")].argmax())
    calm = int((clip.expression.abs().sum(1) == 0).nonzero()[0, 0])
    covered = dataclasses.replace(clip, lid_cover=True)
    assert not clip.lid_cover
    a, b = clip_frame_image(clip, 1, peak), clip_frame_image(covered, 1, peak)
    assert np.abs(a.astype(int) - b.astype(int)).sum() > 0
    assert np.array_equal(clip_frame_image(clip, 1, calm), clip_frame_image(covered, 1, calm))
