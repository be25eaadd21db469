"""The landmark regressor: shipped weights, normalisation, pose helpers, errors."""
import math
from pathlib import Path

import pytest
import torch

from facesculpt.core.errors import AssetError, ShapeError
from facesculpt.face_model import load_face_model
from facesculpt.fitting.regress_init import refine_pose, solve_translation
from facesculpt.models import regressor as reg
from facesculpt.structures import Camera
from facesculpt.training.data import LandmarkNoise, SampleConfig, landmark_points, mean_frontal, sample_chunk

QUIET = SampleConfig(noise=LandmarkNoise(point=0, oval=0, hidden=0, smooth=0, silhouette=0))


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def _camera(b, i):
    return Camera(b.focal[i:i + 1], torch.tensor([[256.0, 256.0]]), (512, 512))


def test_shipped_weights_reproduce_their_validation_error(model):
    from facesculpt.training.regressor import evaluate_weights

    path = Path(reg.__file__).parent.parent / "assets" / reg.ASSET
    assert path.stat().st_size <= 5 * 1024 * 1024
    net, meta = reg.load_regressor()
    err = evaluate_weights(model, net, meta)
    # weights trained with rendered landmarks validate on their held-out renders (``val_error_mm``) and
    # record the generated validation faces' error beside it
    want = meta.get("val_generated_mm", meta["val_error_mm"])
    assert abs(err - want) < 5e-3, (err, want)


def test_shipped_weights_beat_the_mean_head(model):
    """On generated faces the regressed heads are much closer to the truth than the mean head."""
    net, _ = reg.load_regressor()
    b = sample_chunk(model, SampleConfig(), 424242, n=32)
    with torch.no_grad():
        out, _ = reg.regress(net, b.points, mean_frontal(model))
    idx = model.narrow_face

    def err(identity, expression):
        from facesculpt.face_model import HeadParams

        v = model.vertices(HeadParams(identity, expression, torch.zeros(len(identity), 2, 2)))[:, idx]
        t = model.vertices(HeadParams(b.identity, b.expression, torch.zeros(len(identity), 2, 2)))[:, idx]
        return float((v - t).norm(dim=-1).mean()) * 10

    e_reg = err(out.identity, out.expression)
    e_mean = err(torch.zeros_like(b.identity), torch.zeros_like(b.expression))
    assert e_reg < 0.8 * e_mean, (e_reg, e_mean)
    ang = torch.acos(((out.rotation.transpose(1, 2) @ b.rotation).diagonal(dim1=1, dim2=2).sum(-1) - 1) / 2)
    assert float(ang.mean()) < math.radians(6)


def test_solve_translation_exact_without_noise(model):
    b = sample_chunk(model, QUIET, 5, n=2)
    P = landmark_points(model, b.identity, b.expression, b.gaze)
    for i in range(2):
        T = solve_translation(P[i], b.rotation[i], b.points[i, :, :2], _camera(b, i))
        assert torch.allclose(T, b.translation[i], atol=1e-3, rtol=1e-4)


def test_refine_pose_recovers_a_perturbed_pose(model):
    from facesculpt.ops.rotations import rotvec_to_matrix

    b = sample_chunk(model, QUIET, 6, n=1)
    P = landmark_points(model, b.identity, b.expression, b.gaze)[0]
    R0 = rotvec_to_matrix(torch.tensor([0.05, -0.08, 0.03])) @ b.rotation[0]
    T0 = b.translation[0] + torch.tensor([0.5, -0.3, 2.0])
    R, T = refine_pose(P, R0, T0, b.points[0, :, :2], _camera(b, 0), torch.ones(len(P)), 10, huber=1e6)
    assert torch.allclose(R, b.rotation[0], atol=1e-4)
    assert torch.allclose(T, b.translation[0], atol=1e-2)


def test_frontalise_wrong_shape_fails(model):
    with pytest.raises(ShapeError, match="expected shape"):
        reg.frontalise(torch.zeros(1, 468, 3), mean_frontal(model))


def test_missing_weights_fail_with_one_line(monkeypatch):
    monkeypatch.setattr(reg, "ASSET", "no_such_regressor.pt")
    reg.load_regressor.cache_clear()
    try:
        with pytest.raises(AssetError, match="retrain with 'facesculpt train regressor'"):
            reg.load_regressor()
    finally:
        reg.load_regressor.cache_clear()


def test_train_cli_usage_error(capsys):
    from facesculpt.cli import main

    assert main(["train", "regressor", "-o", "/nonexistent/x", "--steps", "0"]) == 2
    assert "--steps" in capsys.readouterr().err


def test_weights_setting_reads_other_weights(model, tmp_path):
    """``regressor.weights``: a weights file instead of the packaged one (the same file gives the same
    head); a missing file is a one-line AssetError."""
    import shutil

    from facesculpt.fitting.regress_init import regress_head
    from facesculpt.structures import Landmarks

    b = sample_chunk(model, SampleConfig(), 99, n=1)
    xy = b.points[0, :, :2]
    lm = Landmarks(points=b.points[0], bbox=torch.cat([xy.amin(0), xy.amax(0)]), image_size=(512, 512))
    cam = _camera(b, 0)
    copy = tmp_path / "copy.pt"
    shutil.copy(Path(reg.__file__).parent.parent / "assets" / reg.ASSET, copy)
    p0, h0 = regress_head(lm, model, cam, 5, 0.1)
    p1, h1 = regress_head(lm, model, cam, 5, 0.1, weights=str(copy))
    assert torch.equal(h0.identity, h1.identity) and torch.equal(p0.rotvec, p1.rotvec)
    with pytest.raises(AssetError, match="no such file"):
        reg.get_regressor(str(tmp_path / "none.pt"))
