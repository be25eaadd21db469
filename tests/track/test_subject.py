"""Several photos of one person: the joint identity, the albedo fusion, the identity check (facesculpt/subject.py)."""
import json

import numpy as np
import pytest
import torch

from facesculpt.bench.clip import make_views
from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.face_model import HeadParams, load_face_model
from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
from facesculpt.fitting.head_track import TrackConfig, fit_joint_identity
from facesculpt.fitting.initialize import initialize
from facesculpt.subject import fuse_albedos


def _err(model, a, b):
    z = lambda i: model.vertices(HeadParams(i, torch.zeros(1, 53), torch.zeros(1, 2, 2)))[0, model.narrow_face]  # noqa
    with torch.no_grad():
        return similarity_error_mm(z(a), z(b))


# seed 2 failed (1.341 vs 1.338 mm) while the identity rounds held expressions with the "step" active set
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_three_views_beat_the_best_single_view(seed):
    model = load_face_model()
    lms, cams, truth = make_views(seed, (-45.0, 0.0, 45.0), noise_px=0.5)
    canon = model.points(model.template[None], "mediapipe")[0, :468]
    single = []
    for lm, cam in zip(lms, cams):
        _, pose, _ = initialize(lm, canon)
        _, head, _ = fit_head_landmarks(lm, model, pose, cam, HeadLandmarkConfig())
        single.append(_err(model, head.identity, truth))
    ident, per = fit_joint_identity(lms, model, cams, HeadLandmarkConfig(), TrackConfig())
    joint = _err(model, ident, truth)
    assert len(per) == 3 and all(torch.equal(h.identity, ident) for _, h in per)
    assert joint < min(single), (joint, single)


def test_fuse_albedos_takes_the_photo_that_saw_each_texel():
    S = 4
    a = torch.zeros(1, S, S, 3)
    b = torch.ones(1, S, S, 3)
    va = torch.zeros(1, S, S)
    vb = torch.zeros(1, S, S)
    va[:, :, :2] = 1.0  # photo a saw the left half, b the right half
    vb[:, :, 2:] = 1.0
    vb[:, 0, 0] = 0.5  # a texel both saw, a squarer
    va[:, 3, 3] = 0.0
    f = fuse_albedos([a, b], [va, vb])
    assert torch.all(f[0, 1:, :2] == 0) and torch.all(f[0, :, 2:3] == 1)
    assert float(f[0, 0, 0, 0]) == pytest.approx(0.25 / 1.25)
    c = torch.full((1, S, S, 3), 0.5)
    g = fuse_albedos([a, c], [torch.zeros(1, S, S), torch.zeros(1, S, S)])  # nobody saw: the mean
    assert torch.allclose(g, torch.full_like(g, 0.25))


def test_subject_cli_refuses_two_people_and_fits_one(tmp_path, grace_hopper, astronaut, capsys):
    from PIL import Image

    from facesculpt.cli import main

    Image.fromarray(grace_hopper).save(tmp_path / "a_grace.png")
    Image.fromarray(np.ascontiguousarray(grace_hopper[:, ::-1])).save(tmp_path / "b_grace_mirrored.png")
    Image.fromarray(astronaut).save(tmp_path / "c_astronaut.png")
    args = ["--preset", "fast", "--set", "identity_metrics=false", "--quiet"]
    out = tmp_path / "out"
    assert main(["reconstruct", "--subject", str(tmp_path / "a_grace.png"), str(tmp_path / "c_astronaut.png"),
                 "-o", str(out), *args]) == 1
    err = capsys.readouterr().err
    assert "do not look like the same person" in err and "--force" in err and len(err.strip().splitlines()) == 1
    assert not (out / "a_grace").exists()
    # given out of alphabetical order: the folder is named after the first photo given, the photos keep that order
    assert main(["reconstruct", "--subject", str(tmp_path / "b_grace_mirrored.png"), str(tmp_path / "a_grace.png"),
                 "-o", str(out), *args]) == 0
    res = out / "b_grace_mirrored"
    d = json.loads((res / "subject.json").read_text())
    assert [p["photo"] for p in d["photos"]] == ["b_grace_mirrored.png", "a_grace.png"]
    assert d["identity_distances"][0][1] < 0.6 and len(d["identity"]) == 100
    assert (res / "mesh.glb").is_file() and (res / "albedo.png").is_file()
    # the head's report page, and the batch's index linking it, as for a single photo
    assert (res / "report.html").is_file() and (res / "report_data.js").is_file()
    assert 'href="b_grace_mirrored/report.html"' in (out / "index.html").read_text()


def test_public_api_errors(tmp_path, grace_hopper):
    import facesculpt
    from facesculpt.io.video import InvalidVideoError

    with pytest.raises(ValueError, match="at least two"):
        facesculpt.reconstruct_subject([grace_hopper], preset="fast")
    with pytest.raises(InvalidVideoError):
        facesculpt.reconstruct_video(tmp_path / "missing.mp4")
