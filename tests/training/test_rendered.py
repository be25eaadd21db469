"""Training landmarks from mediapipe's detections of rendered heads (``training.rendered``) and their
use by the training loop."""
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from facesculpt.face_model import HeadParams, load_face_model
from facesculpt.models.regressor import batch_procrustes
from facesculpt.training.regressor import TrainConfig, rendered_chunk, train_regressor
from facesculpt.training.rendered import RenderedConfig, build_rendered, load_rendered, render_landmarks, render_sample
from training_tiny import tiny_config


@pytest.fixture(scope="module")
def model():
    return load_face_model()


@pytest.fixture(scope="module")
def rendered(model):
    return render_landmarks(model, 5, range(6))


def _embedded_camera_points(model, batch, i):
    """(478, 3) camera-frame embedded points of sample ``i`` at its true parameters and pose."""
    head = HeadParams(batch.identity[i:i + 1], batch.expression[i:i + 1], batch.gaze[i:i + 1])
    P = model.points(model.vertices(head), "mediapipe")[0]
    return P @ batch.rotation[i].T + batch.translation[i]


def test_render_sample_is_deterministic(model):
    a_img, a = render_sample(model, 5, 2)
    b_img, b = render_sample(model, 5, 2)
    c_img, c = render_sample(model, 5, 3)
    assert np.array_equal(a_img, b_img)
    for k in a:
        assert np.array_equal(a[k], b[k]), k
    assert not np.allclose(a["identity"], c["identity"])
    assert float(np.linalg.det(a["rotation"])) == pytest.approx(1.0, abs=1e-4)


def test_detections_sit_on_the_true_head(model, rendered):
    """Every face found; the detected points lie where the labels project the embedded points (the
    labels describe the photo: a few per cent of the face size, mediapipe's own error; more on a face
    turned past 45 degrees, where mediapipe guesses the far side)."""
    assert len(rendered["index"]) + len(rendered["missed"]) == 6
    assert len(rendered["index"]) >= 5
    from facesculpt.training.data import LandmarkBatch

    b = LandmarkBatch(*(torch.from_numpy(np.asarray(rendered[k], np.float32)) for k in
                        ("points", "identity", "expression", "gaze", "rotation", "translation", "focal")))
    for i in range(len(b)):
        X = _embedded_camera_points(model, b, i)
        uv = X[:, :2] / X[:, 2:3] * b.focal[i] + 256.0
        det = b.points[i, :468, :2]
        size = float((det.amax(0) - det.amin(0)).max())
        err = float((uv[:468] - det).norm(dim=-1).median()) / size
        frontal = float(b.rotation[i, 2, 2].abs()) > math.cos(math.radians(45))
        assert err < (0.03 if frontal else 0.08), (i, err)


def test_augmentation_turns_the_rotation_label_with_the_image(model, rendered):
    """An augmented sample's points and rotation label still agree: a Procrustes fit of the true head's
    points to the detections turns by what the label turns (exactly: an image rotation about the optical
    axis is a camera roll), and on faces turned less than 45 degrees it finds the label itself (roughly)."""
    from facesculpt.training.data import LandmarkBatch

    b = LandmarkBatch(*(torch.from_numpy(np.asarray(rendered[k], np.float32)) for k in
                        ("points", "identity", "expression", "gaze", "rotation", "translation", "focal")))
    aug = rendered_chunk(b, 11, 25.0, n=16)

    def ang(A, B):
        c = (float(torch.trace(A.double() @ B.double().T)) - 1) / 2
        return math.degrees(math.acos(max(-1.0, min(1.0, c))))

    turned = 0
    for i in range(len(aug)):
        j = int(torch.nonzero((b.identity == aug.identity[i]).all(1))[0, 0])
        head = HeadParams(aug.identity[i:i + 1], aug.expression[i:i + 1], aug.gaze[i:i + 1])
        P = model.points(model.vertices(head), "mediapipe")[0]
        _, Ra, _ = batch_procrustes(P[:468], aug.points[i:i + 1, :468])
        _, Ro, _ = batch_procrustes(P[:468], b.points[j:j + 1, :468])
        assert ang(Ra[0] @ Ro[0].T, aug.rotation[i].double() @ b.rotation[j].double().T) < 0.5, i
        if float(aug.rotation[i, 2, 2].abs()) > math.cos(math.radians(45)):
            assert ang(Ra[0], aug.rotation[i]) < 15.0, i  # perspective and mediapipe's depth scale
        turned += ang(aug.rotation[i], b.rotation[j]) > 10.0
    assert turned >= 3  # the augmentation does turn samples


def test_build_writes_a_resumable_file(model, tmp_path):
    out = tmp_path / "r.npz"
    res = build_rendered(out, 3, seed=9, workers=1, chunk=2)
    assert res["count"] + res["missed"] == 3
    assert not (tmp_path / "r.npz.parts").exists()
    rs = load_rendered(out)
    assert len(rs.batch) == res["count"] and rs.meta["seed"] == 9
    # the same command gives the same file; a chunk left from an interrupted run is used, not redone
    out2 = tmp_path / "r2.npz"
    parts = tmp_path / "r2.npz.parts"
    parts.mkdir()
    import json
    from dataclasses import asdict
    from facesculpt.training.rendered import RECIPE, RenderedConfig

    parts.joinpath("settings.json").write_text(json.dumps({"recipe": RECIPE, "seed": 9, "n": 3, "chunk": 2,
                                                           "config": asdict(RenderedConfig())}))
    first = render_landmarks(model, 9, [0, 1])
    np.savez(parts / "chunk00000.npz", **first)
    build_rendered(out2, 3, seed=9, workers=1, chunk=2)
    rs2 = load_rendered(out2)
    assert rs2.meta["sha"] == rs.meta["sha"]
    # a parts folder of other settings is refused
    bad = tmp_path / "r3.npz.parts"
    bad.mkdir()
    bad.joinpath("settings.json").write_text("{}")
    with pytest.raises(ValueError):
        build_rendered(tmp_path / "r3.npz", 3, seed=9, workers=1, chunk=2)


def test_training_with_rendered_landmarks(model, tmp_path, rendered):
    from facesculpt.training.rendered import RenderedConfig, save_rendered

    f = tmp_path / "r.npz"
    save_rendered(f, rendered, 5, RenderedConfig())
    cfg = replace(tiny_config(), rendered=str(f), rendered_chunks=1, rendered_val=2)
    res = train_regressor(model, cfg, tmp_path / "run")
    blob = torch.load(res.weights, weights_only=False)
    meta = blob["meta"]
    assert meta["rendered_sha"] == load_rendered(f).meta["sha"]
    assert np.isfinite(meta["val_error_mm"]) and np.isfinite(meta["val_generated_mm"])
    assert meta["val_error_mm"] != meta["val_generated_mm"]  # validated on the held-out renders
    # the pipeline feeds such weights the raw detections (no debias pass: they learnt from detections)
    from facesculpt.fitting.regress_init import trained_on_biased_points

    assert trained_on_biased_points(str(res.weights))


def test_several_rendered_files_hold_out_each_ones_end(model, tmp_path, rendered):
    """``TrainConfig.rendered`` "a,b": each file holds out its last ``rendered_val / 2`` samples."""
    from facesculpt.training.regressor import _rendered_split
    from facesculpt.training.rendered import RenderedConfig, save_rendered

    a, b = tmp_path / "a.npz", tmp_path / "b.npz"
    save_rendered(a, rendered, 5, RenderedConfig())
    half = {k: v[:3] for k, v in rendered.items() if k != "missed"}
    half["missed"] = rendered["missed"]
    save_rendered(b, half, 5, RenderedConfig())
    train, val, _ = _rendered_split(replace(TrainConfig(), rendered=f"{a},{b}", rendered_val=2))
    n = len(rendered["index"])
    assert len(train) == (n - 1) + 2 and len(val) == 2
    assert torch.equal(val.points[0], torch.from_numpy(rendered["points"][n - 1]))
    assert torch.equal(val.points[1], torch.from_numpy(rendered["points"][2]))



def test_render_landmarks_cli(tmp_path, capsys):
    """``facesculpt train render-landmarks``: usage errors in one line with exit code 2; a small run writes
    the file and removes its parts folder."""
    from facesculpt.cli import main

    assert main(["train", "render-landmarks", "-o", str(tmp_path / "x.txt")]) == 2
    assert ".npz" in capsys.readouterr().err
    assert main(["train", "render-landmarks", "-o", str(tmp_path / "x.npz"), "--n", "0"]) == 2
    assert "--n" in capsys.readouterr().err
    out = tmp_path / "r.npz"
    assert main(["train", "render-landmarks", "-o", str(out), "--n", "2", "--workers", "1", "--quiet"]) == 0
    assert len(load_rendered(out).batch) == 2 and not (tmp_path / "r.npz.parts").exists()


def test_photo_realism_options(model):
    """Hair, a textured background, camera noise and blur change the photo, not the head: the labels are the
    plain sample's, the result is deterministic, and with the options off the photo is the plain one."""
    real = replace(RenderedConfig(), hair=1.0, textured_background=1.0, camera_noise=0.02, camera_blur=1.0)
    plain_img, plain = render_sample(model, 4, 1)
    img, lab = render_sample(model, 4, 1, real)
    img2, _ = render_sample(model, 4, 1, real)
    assert np.array_equal(img, img2)
    for k in plain:
        assert np.array_equal(plain[k], lab[k]), k
    assert np.abs(img.astype(int) - plain_img.astype(int)).mean() > 5
    off_img, _ = render_sample(model, 4, 1, replace(real, hair=0.0, textured_background=0.0, camera_noise=0.0,
                                                      camera_blur=0.0))
    assert np.array_equal(off_img, plain_img)


def test_mirrored_detection_is_the_pipelines(model, rendered):
    """``RenderedConfig.mirrored_detection``: each photo's points are what ``reconstruct`` detects (the mirrored
    photo's detection averaged in, ``detect.turned.with_mirrored_detection``), not the single detection."""
    from facesculpt.detect import detect_faces
    from facesculpt.detect.turned import TurnedDetectConfig, with_mirrored_detection

    both = render_landmarks(model, 5, range(2), replace(RenderedConfig(), mirrored_detection=True))
    assert list(both["index"]) == list(rendered["index"][:len(both["index"])])
    moved = 0
    for j, i in enumerate(both["index"]):
        image, _ = render_sample(model, 5, int(i))
        one = detect_faces(image, max_faces=1)
        want = with_mirrored_detection(image, one, lambda im: detect_faces(im, max_faces=1), TurnedDetectConfig())[0]
        assert np.allclose(both["points"][j], want.points.float().numpy())
        assert np.allclose(rendered["points"][j], one[0].points.float().numpy())
        moved += int(not np.allclose(both["points"][j], rendered["points"][j]))
    assert moved >= 1  # the combination changes the points of a face turned under 60 degrees
