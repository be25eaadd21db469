"""Finding turned faces: the user box, the fall-back detectors, landmarks in a box."""
import math

import numpy as np
import pytest
import torch

from facesculpt.cli import main
from facesculpt.core.errors import InvalidBoxError
from facesculpt.detect import detect_faces
from facesculpt.detect.fallback import FALLBACKS, with_iris
from facesculpt.detect.mediapipe_landmarker import check_box
from facesculpt.io.image import load_image


@pytest.fixture(scope="module")
def grace():
    from facesculpt.cli import _bundled_photo

    return load_image(_bundled_photo())


def test_check_box():
    assert check_box("1 2 30 40".split(), (50, 60)) == (1.0, 2.0, 30.0, 40.0)
    for bad, msg in (((30, 2, 1, 40), "inverted"), ((1, 40, 30, 2), "inverted"), ((-5, 2, 30, 40), "outside"),
                     ((1, 2, 61, 40), "outside"), ((1, 2, 30, 51), "outside"), ((1, 2, 5, 40), "smaller"),
                     ((1, 2, 3), "four numbers"), ((1, 2, float("nan"), 4), "finite")):
        with pytest.raises(InvalidBoxError, match=msg) as e:
            check_box(bad, (50, 60))
        assert "\n" not in str(e.value)


def test_box_cli_errors_are_one_line(tmp_path, capsys):
    from facesculpt.cli import _bundled_photo

    photo = str(_bundled_photo())  # 512 x 600
    for box in ("300,100,200,300", "100,100,600,300", "-1,10,100,100"):
        assert main(["reconstruct", photo, "-o", str(tmp_path / "o"), f"--box={box}", "--quiet"]) == 1
        err = [line for line in capsys.readouterr().err.strip().splitlines() if line.startswith("error:")]
        assert len(err) == 1 and ("inverted" in err[0] or "outside" in err[0])
    assert not (tmp_path / "o" / "grace_hopper").exists()
    assert main(["reconstruct", photo, "-o", str(tmp_path / "o"), "--box", "1,2,3"]) == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: --box")


def test_user_box_matches_detection(grace):
    auto = detect_faces(grace)[0]
    assert auto.detector == "mediapipe_face_detector"
    x0, y0, x1, y1 = auto.bbox.tolist()
    boxed = detect_faces(grace, box=(x0 - 10, y0 - 5, x1 + 5, y1 + 10))[0]
    assert boxed.detector == "user_box" and boxed.points.shape == (478, 3)
    err = (boxed.points[:468, :2] - auto.points[:468, :2]).norm(dim=-1).mean()
    assert err < 0.03 * auto.size  # the same face, landmarks within 3 % of its size
    # the iris points stand in the eyes
    assert (boxed.points[468, :2] - auto.points[468, :2]).norm() < 0.05 * auto.size


def test_fallback_boxes_find_grace(grace):
    for name, find in FALLBACKS:
        b = find(grace)
        assert b is not None, name
        cx, cy = (b[0] + b[2]) / 2, (b[1] + b[3]) / 2
        assert 200 < cx < 320 and 170 < cy < 300, (name, b)  # grace's face centre is near (261, 232)
    assert all(find(np.full((200, 200, 3), 128, np.uint8)) is None for _, find in FALLBACKS)


def test_a_fallback_find_below_the_minimum_is_no_face_and_the_next_fallback_is_tried(grace, monkeypatch):
    """When mediapipe's own detectors find nothing, a fall-back's face below the minimum size is not taken for the
    face (the pose landmarker put a 27-px "face" on the sunglasses of an over-exposed profile, session 40): the next
    fall-back is tried, and if none finds a big enough face the error says no face was found and names the
    candidate, instead of calling the photo's face small."""
    import facesculpt.detect.fallback as fb
    import facesculpt.detect.mediapipe_landmarker as ml
    from facesculpt.core.errors import FaceNotFoundError

    monkeypatch.setattr(ml, "_boxes", lambda image: [])
    monkeypatch.setattr(ml, "_mesh_on", lambda image: [])
    real = fb.landmarks_in_box(grace, (180.0, 150.0, 340.0, 320.0))  # grace's face
    assert real.score >= fb.MIN_SCORE
    tiny = real.points.copy()
    tiny[:, :2] = 260 + (tiny[:, :2] - tiny[:, :2].mean(0)) * 0.15  # a 29-px copy of it
    lens_box = (250.0, 220.0, 270.0, 240.0)
    answers = {lens_box: fb.RoiLandmarks(tiny, -5.5)}
    monkeypatch.setattr(fb, "landmarks_in_box", lambda image, box: answers.get(tuple(box), real))
    monkeypatch.setattr(fb, "FALLBACKS", (("small_finder", lambda image: lens_box), ("none_finder", lambda image: None)))
    with pytest.raises(FaceNotFoundError) as e:
        detect_faces(grace, name="over.png")
    msg = str(e.value)
    assert "\n" not in msg and "no face of at least 64 px found in over.png" in msg
    bb = ml._bbox_of(tiny)
    assert "small_finder" in msg and f"is {max(bb[2] - bb[0], bb[3] - bb[1]):.0f} px" in msg
    # a later fall-back that finds the whole face wins over the small find
    monkeypatch.setattr(fb, "FALLBACKS", (("small_finder", lambda image: lens_box),
                                          ("face_finder", lambda image: (180.0, 150.0, 340.0, 320.0))))
    face = detect_faces(grace, name="over.png")[0]
    assert face.detector == "face_finder" and face.size > 100


def test_a_small_face_from_mediapipe_lets_a_fallback_find_a_big_one(grace, monkeypatch):
    """mediapipe's detector finding only a small face (say one in the background of a turned one it misses) is not
    the end: a fall-back that finds a face of the minimum size or more is used; without one the error is the small
    face's, as before."""
    import facesculpt.detect.fallback as fb
    import facesculpt.detect.mediapipe_landmarker as ml
    from facesculpt.core.errors import FaceTooSmallError

    real = fb.landmarks_in_box(grace, (180.0, 150.0, 340.0, 320.0))
    small = real.points.copy()
    small[:, :2] = 100 + (small[:, :2] - small[:, :2].mean(0)) * 0.2
    monkeypatch.setattr(ml, "_boxes", lambda image: [])
    monkeypatch.setattr(ml, "_mesh_on", lambda image: [small.copy()])
    monkeypatch.setattr(fb, "FALLBACKS", (("none_finder", lambda image: None),))
    with pytest.raises(FaceTooSmallError, match="smaller than the 64 px minimum"):
        detect_faces(grace)
    monkeypatch.setattr(fb, "FALLBACKS", (("face_finder", lambda image: (180.0, 150.0, 340.0, 320.0)),))
    face = detect_faces(grace)[0]
    assert face.detector == "face_finder"
    assert np.allclose(face.points.numpy(), real.points, atol=1e-3)


def test_with_iris_layout():
    p = np.random.default_rng(0).normal(size=(468, 3)) * 10
    q = with_iris(p)
    assert q.shape == (478, 3) and np.array_equal(q[:468], p)
    assert np.allclose(q[468], p[[33, 133, 159, 145]].mean(0)) and np.allclose(q[473], p[[263, 362, 386, 374]].mean(0))
    assert q[469, 0] > q[468, 0] > q[471, 0] and q[470, 1] < q[468, 1] < q[472, 1]


def test_profile_synthetic_face_found_and_fitted():
    """A synthetic face turned 84.7 degrees (seed 121; mediapipe's face detectors miss it) is found by a
    fall-back, fitted, and the fitted head is turned the right way, in profile."""
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.synthetic.head import generate, head_config

    face = generate(121, head_config(yaw_max=90.0, size=384))
    assert abs(face.info["yaw_deg"]) > 80
    rec = reconstruct_all(face.image, config=make_config("fast"), max_faces=1)[0]
    assert rec.landmarks.detector in [name for name, _ in FALLBACKS]
    Rf, Rt = rec.params.pose.matrix()[0], face.pose.matrix()[0]
    angle = math.degrees(math.acos(max(-1.0, min(1.0, (float(torch.trace(Rf @ Rt.T)) - 1) / 2))))
    assert angle < 40  # measured 27.9 (docs/large_poses.md); a frontal fit would be ~85 off
    # the face's forward direction (model +Z in the camera frame) points sideways, as in the photo
    fwd_f, fwd_t = Rf[:, 2], Rt[:, 2]
    assert float(fwd_f[0]) * float(fwd_t[0]) > 0 and abs(float(fwd_f[0])) > 0.6


def test_box_is_refused_for_videos_and_subjects(tmp_path, capsys):
    """--box places one face on one photo: with a video or --subject it is refused in one line, before anything is
    read or written (it was silently ignored there)."""
    from facesculpt.cli import _bundled_photo

    photo = str(_bundled_photo())
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")  # refused before it is read
    out = tmp_path / "o"
    for args in ([str(video)], ["--subject", photo, photo]):
        assert main(["reconstruct", *args, "-o", str(out), "--box", "100,100,300,300", "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: --box applies to")
        assert not out.exists()


def test_subject_refuses_a_video_in_one_line(tmp_path, capsys):
    from facesculpt.cli import _bundled_photo

    video = tmp_path / "clip.mp4"
    video.write_bytes(b"")  # refused by name, before it is read
    out = tmp_path / "o"
    assert main(["reconstruct", "--subject", str(_bundled_photo()), str(video), "-o", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --subject takes photos, not videos (clip.mp4")
    assert not out.exists()


def test_a_group_photo_says_how_many_faces_were_left(grace_hopper, monkeypatch, capsys, tmp_path):
    """Two faces, ``max_faces`` 1: the first face records the other (``Landmarks.more_faces``), and the command says
    which ``--max-faces`` takes it too; with room for both, nothing is left."""
    from types import SimpleNamespace

    from PIL import Image

    import facesculpt.pipeline as pipeline
    import facesculpt.io.results as results
    from facesculpt.detect.mediapipe_landmarker import detect_faces
    from facesculpt.io.atomic import atomic_output_dir

    canvas = np.full((300, 520, 3), 200, np.uint8)
    canvas[:, :256] = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    canvas[21:279, 280:500] = np.asarray(Image.fromarray(grace_hopper).resize((220, 258)))
    one = detect_faces(canvas, max_faces=1)
    assert len(one) == 1 and one[0].more_faces == 1
    assert [f.more_faces for f in detect_faces(canvas, max_faces=2)] == [0, 0]
    assert detect_faces(grace_hopper)[0].more_faces == 0

    Image.fromarray(canvas).save(tmp_path / "group.png")
    rec = SimpleNamespace(metrics={"inview_psnr": 30.0, "inview_ssim": 0.9, "warnings": []}, timings={},
                          landmarks=one[0])
    monkeypatch.setattr(pipeline, "reconstruct_all", lambda image, **kw: [rec])

    def write(folder, image, r, extra_writers=()):
        with atomic_output_dir(folder):
            pass

    monkeypatch.setattr(results, "write_result", write)
    assert main(["reconstruct", str(tmp_path / "group.png"), "-o", str(tmp_path / "out"), "--quiet",
                 "--no-report"]) == 0
    assert "note: group.png: 1 more face(s) found; --max-faces 2 reconstructs them too" in capsys.readouterr().err
