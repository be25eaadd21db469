"""The synthetic benchmark on the morphable head: the head generator (deterministic, identities from
the prior, sparse expressions in [0, 1], yaw within bounds), the shape metrics, and
``facesculpt benchmark synthetic --model head`` end to end (fitted and with the true proxy)."""
import json
import math

import numpy as np
import pytest
import torch

from facesculpt.cli import main
from facesculpt.face_model import HeadParams, load_face_model
from facesculpt.synthetic.head import (
    ACTIONS,
    EXCLUSIVE,
    generate_head_face,
    head_config,
    landmark_uvs,
    sample_expression,
)

#: small faces: enough to exercise every part, fast on a 2-core CPU
SMALL = head_config(size=96, uv_size=64, head_levels=1, freckles=5)


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def test_head_generator_is_deterministic():
    a, b, c = generate_head_face(3, SMALL), generate_head_face(3, SMALL), generate_head_face(4, SMALL)
    assert a.image.tobytes() == b.image.tobytes()
    assert torch.equal(a.head.identity, b.head.identity) and torch.equal(a.head_verts, b.head_verts)
    assert a.image.tobytes() != c.image.tobytes()
    assert not torch.equal(a.head.identity, c.head.identity)
    # no global random state read or changed
    torch.manual_seed(0)
    np.random.seed(0)
    t, n = torch.rand(1), np.random.rand()
    torch.manual_seed(0)
    np.random.seed(0)
    generate_head_face(3, SMALL)
    assert torch.equal(torch.rand(1), t) and np.random.rand() == n


def test_head_generator_truth(model):
    f = generate_head_face(5, head_config(size=96, uv_size=64, head_levels=1, freckles=5, face_fraction=0.35))
    V = model.num_verts
    assert f.image.shape == f.clean.shape == (96, 96, 3) and f.image.dtype == np.uint8
    assert f.albedo.shape == (1, 64, 64, 3) and f.displacement.shape == (1, 64, 64)
    assert f.head.identity.shape == (1, 100) and f.head.expression.shape == (1, 53) and f.head.gaze.shape == (1, 2, 2)
    assert f.head_verts.shape == (1, V, 3) and f.verts.shape == (1, 478, 3)
    assert torch.allclose(model.vertices(f.head), f.head_verts)
    # the face (tile 0) is seen, and the rest of the head too (the silhouette is a head's): measured
    # 1806 face pixels, 583 more of the scalp, neck and eyes
    covered = f.depth > 0
    assert f.mask.sum() > 1000 and (covered & ~f.mask).sum() > 0.15 * covered.sum() and not (f.mask & ~covered).any()
    assert np.allclose(np.linalg.norm(f.normals[covered], axis=-1), 1, atol=1e-4)
    # the true landmarks project into the face mask (truth and photo agree)
    with torch.no_grad():
        px = f.camera.project(f.pose.apply(model.points(f.head_verts, "ibug68")))[0]
    for i in (30, 36, 45, 48, 54):  # nose tip, eye and mouth corners
        x, y = int(px[i, 0]), int(px[i, 1])
        assert f.mask[y, x] or f.info["yaw_deg"] > 45, (i, x, y)
    assert f.info["displacement_rms_cm"] > 0 and float(f.displacement.min()) < -0.03


def test_head_generator_variants_share_the_person():
    """detail=False and expression=False keep identity, pose and light (separate random streams)."""
    base = generate_head_face(6, SMALL)
    smooth = generate_head_face(6, head_config(size=96, uv_size=64, head_levels=1, freckles=5, detail=False))
    neutral = generate_head_face(6, SMALL, expression=False)
    for other in (smooth, neutral):
        assert torch.equal(other.head.identity, base.head.identity)
        assert torch.equal(other.pose.rotvec, base.pose.rotvec) and torch.equal(other.light, base.light)
    assert torch.equal(smooth.head.expression, base.head.expression) and float(smooth.displacement.abs().max()) == 0
    assert np.array_equal(smooth.normals, smooth.normals_smooth)
    assert float(neutral.head.expression.abs().max()) == 0 and float(neutral.head.gaze.abs().max()) == 0


def test_head_identities_expressions_and_pose_are_drawn_as_specified(model):
    cfg = head_config(size=64, uv_size=32, head_levels=0, freckles=0, yaw_max=30.0)
    ids, n_active, yaws = [], [], []
    for seed in range(4):
        f = generate_head_face(seed, cfg)
        ids.append(f.head.identity[0].numpy())
        w = f.head.expression[0].numpy()
        assert w.min() >= 0 and w.max() <= 1
        n_active.append(int((w > 0).sum()))
        assert abs(f.info["yaw_deg"]) <= 30 and abs(f.info["pitch_deg"]) <= 10 and abs(f.info["roll_deg"]) <= 10
        yaws.append(f.info["yaw_deg"])
        assert np.abs(f.head.gaze.numpy()).max() <= 0.25
    ids = np.concatenate(ids)  # 400 draws of the N(0, 1) prior
    assert abs(ids.mean()) < 0.2 and 0.85 < ids.std() < 1.15
    assert max(n_active) <= 12  # sparse: at most 3 actions of at most 4 shapes
    assert max(abs(y) for y in yaws) > 5  # the yaw is drawn, not fixed
    # the expression sampler alone, over many draws: 0-3 compatible actions, weights in [0, 1]
    rng = np.random.default_rng(0)
    names = model.expression_names
    counts = {a: 0 for a in ACTIONS}
    n_per = []
    for _ in range(300):
        w, acts = sample_expression(rng, names)
        assert w.shape == (53,) and w.min() >= 0 and w.max() <= 1
        assert len(acts) <= 3 and (len(acts) > 0) == bool((w > 0).any())
        assert not any(sum(a in grp for a in acts) > 1 for grp in EXCLUSIVE)
        n_per.append(len(acts))
        for a in acts:
            counts[a] += 1
    assert min(counts.values()) > 10 and set(n_per) == {0, 1, 2, 3}


def test_landmark_uvs_follow_the_face_layout(model):
    lm = landmark_uvs(model, "ibug68")
    assert lm.shape == (68, 2) and lm.min() > 0 and lm.max() < 1
    # the tile is laid out face-up and about symmetric: brows above eyes above mouth above chin,
    # mirrored eye corners at mirrored u
    assert lm[17:27, 1].min() > lm[36:48, 1].max() > lm[48:68, 1].max() > lm[8, 1]
    assert abs((lm[36, 0] + lm[45, 0]) / 2 - lm[30, 0]) < 0.01 and abs(lm[36, 1] - lm[45, 1]) < 0.01
    assert lm[36, 0] < lm[30, 0] < lm[45, 0]


def test_shape_metric_reference_values(model):
    from facesculpt.bench.synthetic import head_shape_errors, similarity_error_mm
    from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
    from facesculpt.structures import Pose

    g = torch.Generator().manual_seed(0)
    truth = model.vertices(HeadParams(torch.randn(1, 100, generator=g), torch.zeros(1, 53), torch.zeros(1, 2, 2)))
    R = euler_yxz_to_matrix(0.3, 0.1, -0.2)
    moved = 1.1 * truth @ R.T + torch.tensor([1.0, -2.0, 3.0])
    assert similarity_error_mm(moved[0], truth[0]) < 1e-3  # a similarity is aligned away
    bumped = truth.clone()
    bumped[0, :, 2] += 0.1  # 1 mm along z, a translation: aligned away too
    assert similarity_error_mm(bumped[0], truth[0]) < 1e-3
    pose = Pose(matrix_to_rotvec(R[None]), torch.tensor([[0.0, 0.0, 60.0]]))
    shifted = Pose(pose.rotvec, pose.translation + torch.tensor([[0.3, 0.0, 0.4]]))
    e = head_shape_errors(model, truth, shifted, truth, pose)
    assert e["aligned"] < 1e-3 and abs(e["camera"] - 5.0) < 1e-3  # 5 mm off in the camera frame
    other = model.vertices(model.zero_params())
    assert head_shape_errors(model, other, pose, truth, pose)["aligned"] > 0.5


def _mean_head_error_mm(model, face) -> float:
    from facesculpt.bench.synthetic import similarity_error_mm

    mean = model.vertices(model.zero_params())
    return similarity_error_mm(mean[0, model.narrow_face], face.head_verts[0, model.narrow_face])


def test_benchmark_head_end_to_end(tmp_path, capsys, model):
    out = tmp_path / "bh"
    args = ["benchmark", "synthetic", "--model", "head", "--n", "1", "--size", "256", "--preset", "fast",
            "--variants", "detail", "--yaw-max", "30", "--no-detail-stage", "-o", str(out)]
    assert main(args) == 0
    res = json.loads((out / "results.json").read_text())
    assert not res["failures"] and len(res["faces"]) == 1
    assert res["settings"]["model"] == "head" and res["settings"]["yaw_max"] == 30 and res["settings"]["face_model"] == "ict"
    s = res["summary"]
    v, mae = s["vertex_error_mm"], s["expression_mae"]
    assert all(math.isfinite(x) for x in (v["aligned"], v["camera"], v["mean_head"], mae))
    # the truth (regenerated: the generator is deterministic) and the no-fit baseline
    face = generate_head_face(0, head_config(size=256, yaw_max=30))
    baseline = _mean_head_error_mm(model, face)
    assert abs(baseline - v["mean_head"]) < 1e-6
    assert res["settings"]["photo_encoding"] == "srgb"  # the default since session 6: photos like a camera's
    # measured (fast preset: the landmark stage alone, on mediapipe's detections): aligned 2.09 mm
    # against 2.40 mm for the mean head with a neutral expression, camera frame 25 mm (mostly depth),
    # expression MAE 0.030, coarse normal error 10.4 deg (session 6, encoded photo; on the unencoded
    # one, the default before: 2.354 mm, 31 mm, 0.033, 12.8 deg). The margin over the mean head is small: the
    # landmark stage fitted to the true projected points reaches ~1.3 mm on such faces; mediapipe's
    # detections are 3-4 % of the eye distance off the model's embedded points (most at the temples)
    assert v["aligned"] < min(3.0, baseline), (v, baseline)
    assert v["camera"] < 50 and mae < 0.08
    assert 2 < s["normal_mad_deg"]["coarse"] < 30 and s["normal_mad_deg"]["detail"] == s["normal_mad_deg"]["coarse"]
    truth = json.loads((out / "faces" / "detail_0000" / "truth.json").read_text())
    assert len(truth["head"]["identity"]) == 100 and len(truth["head"]["expression"]) == 53
    table = capsys.readouterr().out
    assert "mm align" in table and "expr MAE" in table and "MAD coarse" in table


def test_benchmark_head_true_proxy(tmp_path):
    out = tmp_path / "bp"
    assert main(["benchmark", "synthetic", "--model", "head", "--n", "1", "--seed", "2", "--size", "256",
                 "--preset", "fast", "--proxy", "true", "--variants", "detail,smooth", "-o", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert not res["failures"]
    s = res["summary"]
    assert s["vertex_error_mm"]["aligned"] < 1e-3 and s["vertex_error_mm"]["camera"] < 1e-3
    assert s["expression_mae"] == 0
    # (encoded photos, the proxy in linear light as the head pipeline since session 22; with unencoded photos,
    # `--photo-encoding none`, the same bounds hold: 2.40 and +0.58 deg)
    # the truth's own geometry: the smooth face is rendered on the model's surface, so its coarse
    # error is only texel sampling (measured 0.07 deg); on the detail face the coarse error is the
    # true detail's (measured 2.87 deg), which the detail stage lowers (measured to 2.37, -17 %)
    # and, on the smooth face, raises a little (measured +0.51 deg)
    assert s["smooth"]["normal_mad_deg"]["coarse"] < 0.5
    assert s["detail"]["normal_mad_deg"]["coarse"] > 2.0
    assert s["detail"]["normal_mad_deg"]["detail"] < 0.95 * s["detail"]["normal_mad_deg"]["coarse"]
    assert s["smooth"]["normal_mad_deg"]["detail"] < s["smooth"]["normal_mad_deg"]["coarse"] + 1.0


def test_benchmark_mask_still_runs(tmp_path):
    out = tmp_path / "bm"
    assert main(["benchmark", "synthetic", "--model", "mask", "--n", "1", "--size", "256", "--preset", "fast",
                 "--variants", "smooth", "--no-detail-stage", "-o", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    assert res["settings"]["face_model"] == "mediapipe468" and res["settings"]["yaw_max"] == 20
    assert "vertex_error_mm" not in res["faces"][0] and math.isfinite(res["summary"]["normal_mad_deg"]["coarse"])


def test_benchmark_head_bad_args_fail(tmp_path, capsys):
    o = str(tmp_path / "o")
    assert main(["benchmark", "synthetic", "--model", "bogus", "-o", o]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --model")
    for bad in ("95", "-5", "nan"):
        assert main(["benchmark", "synthetic", "--yaw-max", bad, "-o", o]) == 2
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --yaw-max")
    assert main(["benchmark", "synthetic", "--model", "head", "--set", "face_model=mediapipe468", "-o", o]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --model head")
    assert not (tmp_path / "o").exists()


def test_head_photo_srgb_encoding_option():
    """``SyntheticConfig.srgb``: the same face shaded in linear light and encoded is a different, less
    clipped photo (the painted albedo is sRGB-coded; a camera encodes linear light)."""
    import numpy as np

    from facesculpt.synthetic.head import generate_head_face, head_config

    a = generate_head_face(1, head_config(size=128, uv_size=64, detail=False)).image
    b = generate_head_face(1, head_config(size=128, uv_size=64, detail=False, srgb=True)).image
    assert a.shape == b.shape and not np.array_equal(a, b)
    assert float((b == 255).mean()) < float((a == 255).mean())


def test_skin_mottling_is_an_option_on_its_own_stream():
    """``skin_mottling`` 0 (the default) leaves the face as it was; on, it changes only the albedo (and the photo),
    by a multiplicative mottling of about the asked log standard deviation, the same for the same seed."""
    import dataclasses

    from facesculpt.synthetic.head import skin_mottling

    plain = generate_head_face(3, SMALL)
    mottled = generate_head_face(3, dataclasses.replace(SMALL, skin_mottling=0.08))
    again = generate_head_face(3, dataclasses.replace(SMALL, skin_mottling=0.08))
    assert torch.equal(mottled.albedo, again.albedo) and mottled.image.tobytes() == again.image.tobytes()
    assert torch.equal(plain.head.identity, mottled.head.identity) and torch.equal(plain.head_verts, mottled.head_verts)
    assert plain.pose.rotvec.tolist() == mottled.pose.rotvec.tolist()
    assert not torch.equal(plain.albedo, mottled.albedo) and plain.image.tobytes() != mottled.image.tobytes()
    # the factor: log standard deviation near the asked one (the chroma part adds a little); 0 gives ones
    m = skin_mottling(np.random.default_rng(0), 256, 0.08)
    lum = np.log(m).mean(-1)
    assert 0.06 < float(lum.std()) < 0.10
    assert np.array_equal(skin_mottling(np.random.default_rng(0), 32, 0.0), np.ones((32, 32, 3), np.float32))
    # the CLI refuses it out of range
    assert main(["benchmark", "synthetic", "--n", "1", "--skin-mottling", "0.9", "-o", "unused"]) != 0
