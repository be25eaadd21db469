"""The regressor's data generator and training loop: determinism, learning, resuming, DDP."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from facesculpt.face_model import HeadParams, load_face_model
from facesculpt.training.data import SampleConfig, landmark_points, sample_batch, sample_chunk
from facesculpt.training.regressor import regressor_loss, train_regressor
from training_tiny import tiny_config

HERE = Path(__file__).parent
ROOT = HERE.parent.parent


@pytest.fixture(scope="module")
def model():
    return load_face_model()


def test_generator_deterministic(model):
    state = torch.get_rng_state()
    a = sample_chunk(model, SampleConfig(), 7, n=8)
    b = sample_chunk(model, SampleConfig(), 7, n=8)
    c = sample_chunk(model, SampleConfig(), 8, n=8)
    assert torch.equal(torch.get_rng_state(), state)  # the global state is untouched
    for f in ("points", "identity", "expression", "gaze", "rotation", "translation"):
        assert torch.equal(getattr(a, f), getattr(b, f)), f
    assert not torch.allclose(a.points, c.points)
    # a batch is the same chunks whichever process draws them
    full = sample_batch(model, SampleConfig(), 0, 3, [0, 1])
    halves = [sample_batch(model, SampleConfig(), 0, 3, [k]) for k in (0, 1)]
    assert torch.equal(full.points, torch.cat([h.points for h in halves]))


def test_generator_points_are_the_models(model):
    """Without noise the points are the model's embedded points, projected by the batch's camera."""
    from facesculpt.training.data import LandmarkNoise

    quiet = SampleConfig(noise=LandmarkNoise(point=0, oval=0, hidden=0, smooth=0, silhouette=0))
    b = sample_chunk(model, quiet, 3, n=4)
    P = model.points(model.vertices(HeadParams(b.identity, b.expression, b.gaze)), "mediapipe")
    assert torch.allclose(P, landmark_points(model, b.identity, b.expression, b.gaze), atol=1e-4)
    X = P @ b.rotation.transpose(1, 2) + b.translation[:, None]
    uv = X[..., :2] / X[..., 2:3] * b.focal[:, None, None] + 256.0
    assert torch.allclose(uv, b.points[..., :2], atol=1e-2)
    # and noise moves them by a few per cent of the eye distance
    n = sample_chunk(model, SampleConfig(), 3, n=4)
    iod = (uv[:, 473] - uv[:, 468]).norm(dim=-1)
    d = ((n.points[..., :2] - uv).norm(dim=-1) / iod[:, None]).median()
    assert 0.01 < float(d) < 0.1


def test_generator_adds_the_detector_bias(model):
    """``LandmarkNoise.view_bias``: without noise, the points move by mediapipe's modelled offset at each
    sample's own pose (``landmark_bias`` at the batch's rotation and face centre, in face-size units).
    The packaged regressor learnt from mediapipe's own detections of rendered heads (``TrainConfig.rendered``),
    so its input needs no debias pass; weights trained on generated points alone do."""
    from facesculpt.fitting.landmark_bias import landmark_bias
    from facesculpt.fitting.regress_init import trained_on_biased_points
    from facesculpt.training.data import LandmarkNoise

    emb = model.landmarks["mediapipe"]
    kw = dict(point=0, oval=0, hidden=0, smooth=0, silhouette=0)
    plain = sample_chunk(model, SampleConfig(noise=LandmarkNoise(**kw)), 5, n=6)
    biased = sample_chunk(model, SampleConfig(noise=LandmarkNoise(view_bias=True, **kw)), 5, n=6)
    assert torch.equal(plain.identity, biased.identity) and torch.equal(plain.rotation, biased.rotation)
    moved = biased.points[..., :2] - plain.points[..., :2]
    P = landmark_points(model, plain.identity, plain.expression, plain.gaze)
    X = P @ plain.rotation.transpose(1, 2) + plain.translation[:, None]
    for i in range(6):
        off = landmark_bias(emb.bias, emb.bias_limits, plain.rotation[i].double(), X[i].double().mean(0)).float()
        q = biased.points[i, :, :2]
        face = float((q.amax(0) - q.amin(0)).max())
        assert torch.allclose(moved[i], off * face, atol=0.05 * float(off.abs().max() * face) + 1e-3), i
        assert float(moved[i].norm(dim=-1).mean()) > 0.3  # pixels: the offsets are not nothing
    assert torch.equal(plain.points[..., 2], biased.points[..., 2])  # depth untouched
    assert trained_on_biased_points()


def test_generator_adds_the_detector_response(model):
    """``LandmarkNoise.detector_response``: without noise, the points are the projections of the embedded points
    plus mediapipe's measured response to the sample's expression ("expression") and identity ("both")."""
    from facesculpt.face_model import HeadParams
    from facesculpt.training.data import LandmarkNoise

    kw = dict(point=0, oval=0, hidden=0, smooth=0, silhouette=0)
    plain = sample_chunk(model, SampleConfig(noise=LandmarkNoise(**kw)), 5, n=4)
    for mode in ("expression", "both"):
        moved = sample_chunk(model, SampleConfig(noise=LandmarkNoise(detector_response=mode, **kw)), 5, n=4)
        assert torch.equal(plain.identity, moved.identity) and torch.equal(plain.expression, moved.expression)
        P = landmark_points(model, plain.identity, plain.expression, plain.gaze)
        P = P + model.detector_offsets(HeadParams(plain.identity, plain.expression, plain.gaze), response=mode)
        X = P @ moved.rotation.transpose(1, 2) + moved.translation[:, None]
        uv = X[..., :2] / X[..., 2:3] * moved.focal[:, None, None] + 0.5 * SampleConfig().image_size
        assert torch.allclose(moved.points[..., :2], uv, atol=1e-2), mode
        assert float((moved.points[..., :2] - plain.points[..., :2]).norm(dim=-1).mean()) > 0.3, mode  # pixels


def test_few_steps_lower_the_loss(model, tmp_path):
    from facesculpt.models.regressor import frontalise
    from facesculpt.training.data import mean_frontal
    from facesculpt.training.regressor import _eval_vertices, _Geometry
    from facesculpt.models.regressor import LandmarkRegressor

    cfg = tiny_config(steps=25, warmup=1, lr=3e-3)
    geo = _Geometry(model, _eval_vertices(model)[0], True)
    batch = sample_batch(model, cfg.data, 99, 0, [0, 1])  # not a training batch
    fr = frontalise(batch.points, mean_frontal(model))

    def loss_of(net):
        with torch.no_grad():
            return float(regressor_loss(net(fr.features, fr.R0), batch, geo)[0])

    before = loss_of(LandmarkRegressor(cfg.spec, torch.Generator().manual_seed(cfg.seed)))
    res = train_regressor(model, cfg, tmp_path, resume=False)
    after = loss_of(res.net.eval())
    assert after < 0.8 * before
    assert res.weights is not None and res.weights.exists()
    assert np.isfinite(res.val_error_mm)


def test_resume_gives_the_same_weights(model, tmp_path):
    cfg = tiny_config()
    whole = train_regressor(model, cfg, tmp_path / "a", resume=False)
    part = train_regressor(model, cfg, tmp_path / "b", resume=False, stop_after=3)
    assert part.step == 3 and part.weights is None
    rest = train_regressor(model, cfg, tmp_path / "b", resume=True)
    assert rest.step == cfg.steps
    for k, v in whole.net.state_dict().items():
        assert torch.equal(v, rest.net.state_dict()[k]), k
    assert [h[1] for h in whole.history] == [h[1] for h in rest.history]


def test_resume_with_other_settings_fails(model, tmp_path):
    train_regressor(model, tiny_config(), tmp_path, resume=False, stop_after=3)
    with pytest.raises(ValueError, match="other settings"):
        train_regressor(model, tiny_config(lr=5e-3), tmp_path, resume=True)


def test_batch_not_divisible_by_processes_fails(model, tmp_path, monkeypatch):
    import facesculpt.training.regressor as tr

    monkeypatch.setattr(tr, "_dist", lambda: (0, 3, False))
    with pytest.raises(ValueError, match="multiple of the process count"):
        train_regressor(model, tiny_config(), tmp_path)


def test_torchrun_two_processes_gloo(model, tmp_path):
    """A 2-process torchrun run on gloo completes and both ranks end with the same weights. The launch is tried a
    second time, on another port and from scratch, if the first one dies: in one full-suite run of session 26 a rank
    aborted (SIGABRT, nothing else running on the machine) and the test then passed alone six times in a row; a
    failure of the code fails both tries."""
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    env = dict(os.environ, OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), str(HERE), os.environ.get("PYTHONPATH", "")]))
    errors = []
    for port in ("29517", "29533"):
        for f in tmp_path.iterdir():  # a fresh run each try (no checkpoint of the failed one resumed)
            shutil.rmtree(f) if f.is_dir() else f.unlink()
        cmd = [torchrun, "--nproc-per-node", "2", "--master-port", port, str(HERE / "ddp_worker.py"), str(tmp_path)]
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        if r.returncode == 0:
            break
        errors.append(r.stderr[-2000:])
    assert r.returncode == 0, "\n---\n".join(errors)
    w0 = torch.load(tmp_path / "rank0.pt")
    w1 = torch.load(tmp_path / "rank1.pt")
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    # the same global batches as one process: the same weights up to float summation order
    single = train_regressor(model, tiny_config(), tmp_path / "single", resume=False)
    for k, v in single.net.state_dict().items():
        assert torch.allclose(v, w0[k], atol=1e-4), k
    assert (tmp_path / "regressor.pt").exists()
    from facesculpt.fitting.regress_init import trained_on_biased_points

    assert not trained_on_biased_points(str(single.weights))  # generated points only: the pipeline debiases
