"""The AFLW2000-3D benchmark: metric against a hand-computed case, made-up .mat files, scoring result folders."""
import json
import math

import numpy as np
import pytest
import scipy.io

from facesculpt.bench.aflw2000 import (
    find_pairs,
    load_truth,
    nme_2d,
    nme_3d,
    predicted_points,
    score,
    summarise,
    yaw_bin,
)
from facesculpt.cli import main
from facesculpt.core.errors import FaceSculptError


def _square_truth():
    """68 points: point 0 at (0, 0), point 1 at (40, 90), the rest at (20, 45); box 40 x 90 -> sqrt = 60."""
    gt = np.zeros((68, 3))
    gt[:, :2] = (20.0, 45.0)
    gt[0, :2] = (0.0, 0.0)
    gt[1, :2] = (40.0, 90.0)
    gt[:, 2] = np.arange(68) * 1.0
    return gt


def test_nme_hand_computed():
    gt = _square_truth()
    pred = gt.copy()
    pred[5, :2] += (3.0, 4.0)  # one point 5 px off
    pred[6, 0] += 12.0  # one point 12 px off
    # mean distance = (5 + 12) / 68, box sqrt(40 * 90) = 60
    assert nme_2d(pred, gt) == pytest.approx(17 / 68 / 60, rel=1e-12)
    # 3D: a constant z shift is removed by centring; a 6 px z error on one point is not
    pred3 = pred.copy()
    pred3[:, 2] += 100.0
    assert nme_3d(pred3, gt) == pytest.approx(17 / 68 / 60, rel=1e-12)
    pred3[7, 2] += 6.0 * 68 / 67  # after centring: point 7 off by 6, the 67 others by 6/67
    d = (np.linalg.norm([[5.0, 6 / 67]]) + np.linalg.norm([12.0, 6 / 67]) + 6.0 + 65 * 6 / 67) / 68
    assert nme_3d(pred3, gt) == pytest.approx(d / 60, rel=1e-9)
    assert nme_2d(gt, gt) == 0.0


def test_yaw_bins_and_summary():
    assert [yaw_bin(y) for y in (0, -29.9, 30, -59.9, 60, 90, -95)] == ["0-30", "0-30", "30-60", "30-60", "60-90",
                                                                     "60-90", "60-90"]
    rows = [{"bin": "0-30", "nme_2d_pct": 2.0, "nme_3d_pct": 3.0}, {"bin": "0-30", "nme_2d_pct": 4.0, "nme_3d_pct": 5.0},
            {"bin": "30-60", "nme_2d_pct": 6.0, "nme_3d_pct": 7.0}]
    s = summarise(rows, [1.0, -20.0, 45.0, 70.0])  # the 70 degree image was not found
    assert s["bins"]["0-30"]["found"] == 2 and s["bins"]["60-90"] == {**s["bins"]["60-90"], "images": 1, "found": 0}
    assert s["bins"]["0-30"]["nme_2d_pct"]["mean"] == 3.0 and s["bins"]["30-60"]["nme_2d_pct"]["median"] == 6.0
    assert s["nme_2d_pct"]["mean_of_bins"] == pytest.approx(4.5)  # bins with a face: (3 + 6) / 2
    assert s["nme_2d_pct"]["per_image_mean"] == pytest.approx(4.0)
    assert s["found"] == 3 and s["images"] == 4


def _write_pair(folder, stem, pts, yaw_rad, jpg=True):
    scipy.io.savemat(str(folder / f"{stem}.mat"), {"pt3d_68": pts.T, "Pose_Para": np.array([[0.1, yaw_rad, 0.0, 0, 0, 0, 1]])})
    if jpg:
        from PIL import Image

        Image.fromarray(np.full((64, 64, 3), 128, np.uint8)).save(folder / f"{stem}.jpg")


def _write_result(folder, pred_xy, model_cm=None, R=np.eye(3), t=(0.0, 0.0, 50.0), focal=500.0):
    folder.mkdir(parents=True)
    lm = {"ibug68_px": pred_xy.tolist()}
    if model_cm is not None:
        lm["ibug68_model_cm"] = model_cm.tolist()
    (folder / "landmarks.json").write_text(json.dumps(lm))
    (folder / "params.json").write_text(json.dumps({"pose": {"rotation_matrix": np.asarray(R).tolist(),
                                                             "translation_cm": list(t)},
                                                    "camera": {"focal_px": focal}}))


def test_mat_reading_and_scoring_a_result_folder(tmp_path):
    gt = _square_truth()
    _write_pair(tmp_path, "image00001", gt, math.radians(-40))
    _write_pair(tmp_path, "image00002", gt, math.radians(75))
    (tmp_path / "image00003.jpg").write_bytes(b"")  # no .mat: not a pair
    pairs = find_pairs(tmp_path)
    assert [p[0].name for p in pairs] == ["image00001.jpg", "image00002.jpg"]
    t = load_truth(pairs[0][1])
    assert t.points.shape == (68, 3) and t.yaw_deg == pytest.approx(-40) and np.allclose(t.points, gt)
    # a predicted head 50 cm away, focal 500: 1 cm of depth = 10 px; z towards the camera is -z_cam
    model = np.zeros((68, 3))
    model[:, 2] = -(gt[:, 2] - gt[:, 2].mean()) / 10.0
    res = tmp_path / "res" / "image00001"
    _write_result(res, gt[:, :2] + (3.0, 4.0), model)
    p = predicted_points(res)
    assert np.allclose(p[:, :2], gt[:, :2] + (3.0, 4.0))
    assert np.allclose(p[:, 2] - p[:, 2].mean(), gt[:, 2] - gt[:, 2].mean(), atol=1e-9)
    m = score(p, t)
    assert m["bin"] == "30-60" and m["nme_2d_pct"] == pytest.approx(100 * 5 / 60)


def test_bad_mat_fails(tmp_path):
    scipy.io.savemat(str(tmp_path / "image00001.mat"), {"pt3d_68": np.zeros((2, 68))})
    with pytest.raises(FaceSculptError, match="Pose_Para"):
        load_truth(tmp_path / "image00001.mat")
    scipy.io.savemat(str(tmp_path / "image00002.mat"), {"pt3d_68": np.zeros((2, 68)), "Pose_Para": np.zeros((1, 7))})
    with pytest.raises(FaceSculptError, match=r"\(3, 68\)"):
        load_truth(tmp_path / "image00002.mat")
    (tmp_path / "image00003.mat").write_bytes(b"not a mat file")
    with pytest.raises(FaceSculptError, match="not a readable"):
        load_truth(tmp_path / "image00003.mat")


def test_cli_from_results(tmp_path, capsys):
    gt = _square_truth()
    data = tmp_path / "data"
    data.mkdir()
    _write_pair(data, "image00001", gt, math.radians(10))
    _write_pair(data, "image00002", gt, math.radians(80))
    _write_result(tmp_path / "res" / "image00001", gt[:, :2] + (6.0, 0.0))  # image00002: no result (not found)
    out = tmp_path / "out"
    assert main(["benchmark", "aflw2000", str(data), "--from-results", str(tmp_path / "res"), "-o", str(out)]) == 0
    r = json.loads((out / "results.json").read_text())
    assert r["summary"]["bins"]["0-30"]["found"] == 1 and r["summary"]["bins"]["60-90"] == {
        **r["summary"]["bins"]["60-90"], "images": 1, "found": 0}
    assert r["summary"]["nme_2d_pct"]["mean_of_bins"] == pytest.approx(10.0)
    assert [m["image"] for m in r["not_found"]] == ["image00002.jpg"]
    assert "overall" in capsys.readouterr().out


def test_cli_bad_folder_fails(tmp_path, capsys):
    assert main(["benchmark", "aflw2000", str(tmp_path / "missing"), "-o", str(tmp_path / "o")]) == 2
    assert main(["benchmark", "aflw2000", str(tmp_path), "-o", str(tmp_path / "o")]) == 2  # no pairs
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(e.startswith("error:") for e in err)
