"""The AFLW2000-3D landmark benchmark (the 3DDFA protocol) on a folder of ``imageNNNNN.jpg`` + ``.mat`` pairs.

Each ``.mat`` (MATLAB v5, read with ``scipy.io.loadmat``) holds ``pt3d_68`` (3, 68): the 68 iBUG points
in the photo's pixels (x right, y down, z towards the camera at pixel scale, arbitrary origin) and
``Pose_Para`` (1, 7): pitch, yaw, roll in radians, then translation and scale.

The metric, per image: the mean 2D distance over the 68 points divided by sqrt(w * h) of the ground
truth points' 2D box (``nme_2d``); the 3D variant uses the 3D distance after centring z of both sets
(``nme_3d``). Images are grouped by |yaw| into [0, 30), [30, 60), [60, 90] degrees (larger |yaw| go
to the last bin); the headline is the mean of the bin means over the faces found. The predicted
points are read from a result folder's ``landmarks.json`` (``ibug68_px``) and, for z, its
``ibug68_model_cm`` placed with ``params.json``'s pose and camera (``predicted_points``).
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from facesculpt.core.errors import FaceSculptError

#: |yaw| bins, degrees: (name, low, high); the last bin takes everything >= 60
YAW_BINS = (("0-30", 0.0, 30.0), ("30-60", 30.0, 60.0), ("60-90", 60.0, float("inf")))

_PAIR = re.compile(r"^image\d+\.(jpg|jpeg|png)$", re.IGNORECASE)


@dataclass(frozen=True)
class AflwTruth:
    """Ground truth of one photo.

    points: (68, 3) float64 — iBUG-68 in pixels (x right, y down, z towards the camera, pixel scale).
    yaw_deg: head yaw in degrees (``Pose_Para[1]``; positive turns the face towards image left).
    """

    points: np.ndarray
    yaw_deg: float


def load_truth(mat_path: Path) -> AflwTruth:
    """Read one AFLW2000-3D ``.mat``; a missing or malformed file raises a one-line FaceSculptError."""
    import scipy.io

    mat_path = Path(mat_path)
    try:
        m = scipy.io.loadmat(str(mat_path))
    except Exception as e:  # scipy raises several types for bad files
        raise FaceSculptError(f"{mat_path.name}: not a readable .mat file ({type(e).__name__})") from None
    if "pt3d_68" not in m or "Pose_Para" not in m:
        raise FaceSculptError(f"{mat_path.name}: expected pt3d_68 and Pose_Para in the .mat file")
    pts = np.asarray(m["pt3d_68"], dtype=np.float64)
    pose = np.asarray(m["Pose_Para"], dtype=np.float64).reshape(-1)
    if pts.shape != (3, 68) or pose.size < 3 or not np.isfinite(pts).all():
        raise FaceSculptError(f"{mat_path.name}: pt3d_68 must be (3, 68) finite and Pose_Para hold pitch, yaw, roll, "
                              f"got {pts.shape} and {pose.size} values")
    return AflwTruth(pts.T.copy(), math.degrees(float(pose[1])))


def find_pairs(folder: Path) -> list[tuple[Path, Path]]:
    """(image, .mat) pairs of ``folder`` (``imageNNNNN.jpg`` with a ``.mat`` of the same stem), sorted."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FaceSculptError(f"{folder} is not a folder (expected AFLW2000-3D imageNNNNN.jpg + .mat pairs)")
    out = []
    for img in sorted(folder.iterdir()):
        mat = img.with_suffix(".mat")
        if _PAIR.match(img.name) and mat.is_file():
            out.append((img, mat))
    return out


def box_size(gt: np.ndarray) -> float:
    """sqrt(w * h) of the 2D box of ``gt`` (68, >=2) points."""
    w = float(gt[:, 0].max() - gt[:, 0].min())
    h = float(gt[:, 1].max() - gt[:, 1].min())
    return math.sqrt(max(w * h, 1e-12))


def nme_2d(pred: np.ndarray, gt: np.ndarray) -> float:
    """Mean 2D distance of ``pred`` (68, >=2) to ``gt`` (68, >=2) over sqrt(w * h) of gt's box (a ratio, not %)."""
    d = np.linalg.norm(np.asarray(pred)[:, :2] - np.asarray(gt)[:, :2], axis=1)
    return float(d.mean() / box_size(gt))


def nme_3d(pred: np.ndarray, gt: np.ndarray) -> float:
    """``nme_2d`` with 3D distances, z of both (68, 3) sets centred on its mean first."""
    p, g = np.array(pred, dtype=np.float64), np.array(gt, dtype=np.float64)
    p[:, 2] -= p[:, 2].mean()
    g[:, 2] -= g[:, 2].mean()
    return float(np.linalg.norm(p - g, axis=1).mean() / box_size(g))


def yaw_bin(yaw_deg: float) -> str:
    """The name of the |yaw| bin of ``yaw_deg``."""
    a = abs(yaw_deg)
    for name, lo, hi in YAW_BINS:
        if lo <= a < hi:
            return name
    return YAW_BINS[-1][0]


def predicted_points(folder: Path) -> np.ndarray:
    """(68, 3) predicted iBUG-68 of one result folder: x, y from ``landmarks.json`` (``ibug68_px``), z towards
    the camera at the pixel scale of the face (focal / mean depth of the 68 points), centred."""
    folder = Path(folder)
    lm = json.loads((folder / "landmarks.json").read_text())
    xy = np.asarray(lm["ibug68_px"], dtype=np.float64)
    z = np.full(len(xy), np.nan)
    params_path = folder / "params.json"
    if "ibug68_model_cm" in lm and params_path.is_file():
        p = json.loads(params_path.read_text())
        R = np.asarray(p["pose"]["rotation_matrix"], dtype=np.float64)
        t = np.asarray(p["pose"]["translation_cm"], dtype=np.float64)
        cam = np.asarray(lm["ibug68_model_cm"], dtype=np.float64) @ R.T + t
        depth = cam[:, 2]
        z = -(depth - depth.mean()) * float(p["camera"]["focal_px"]) / depth.mean()
    return np.concatenate([xy[:, :2], z[:, None]], axis=1)


def score(pred: np.ndarray, truth: AflwTruth) -> dict:
    """Per-image metrics (percent): ``nme_2d_pct``, ``nme_3d_pct`` (nan without a predicted z), yaw and bin."""
    n3 = nme_3d(pred, truth.points) if np.isfinite(pred[:, 2]).all() else float("nan")
    return {"nme_2d_pct": 100 * nme_2d(pred, truth.points), "nme_3d_pct": 100 * n3,
            "yaw_deg": truth.yaw_deg, "bin": yaw_bin(truth.yaw_deg)}


def _stats(values: list[float]) -> dict:
    v = [x for x in values if np.isfinite(x)]
    return {"mean": float(np.mean(v)) if v else float("nan"), "median": float(np.median(v)) if v else float("nan")}


def summarise(rows: list[dict], yaws: list[float]) -> dict:
    """Per bin: faces found (of the images there), NME mean and median (2D and 3D, %, found faces only);
    overall: the mean of the bin means over the bins with a face found, and the plain mean per image.

    rows: ``score`` dicts of the faces found; yaws: the yaw of every image tried (found or not)."""
    out: dict = {"bins": {}}
    for name, _, _ in YAW_BINS:
        rr = [r for r in rows if r["bin"] == name]
        out["bins"][name] = {"images": sum(yaw_bin(y) == name for y in yaws), "found": len(rr),
                             "nme_2d_pct": _stats([r["nme_2d_pct"] for r in rr]),
                             "nme_3d_pct": _stats([r["nme_3d_pct"] for r in rr])}
    for key in ("nme_2d_pct", "nme_3d_pct"):
        means = [b[key]["mean"] for b in out["bins"].values() if b["found"] and np.isfinite(b[key]["mean"])]
        out[key] = {"mean_of_bins": float(np.mean(means)) if means else float("nan"),
                    **{f"per_image_{k}": v for k, v in _stats([r[key] for r in rows]).items()}}
    out["images"] = len(yaws)
    out["found"] = len(rows)
    return out


def table(summary: dict) -> str:
    """The summary as a small text table."""
    f = lambda x: "nan" if not np.isfinite(x) else f"{x:.2f}"  # noqa: E731
    lines = [f"{'|yaw| bin':<10}{'found':>8}{'NME2D mean':>12}{'median':>8}{'NME3D mean':>12}{'median':>8}"]
    for name, b in summary["bins"].items():
        lines.append(f"{name:<10}{b['found']:>4}/{b['images']:<3}{f(b['nme_2d_pct']['mean']):>12}"
                     f"{f(b['nme_2d_pct']['median']):>8}{f(b['nme_3d_pct']['mean']):>12}{f(b['nme_3d_pct']['median']):>8}")
    lines.append(f"{'overall':<10}{summary['found']:>4}/{summary['images']:<3}{f(summary['nme_2d_pct']['mean_of_bins']):>12}"
                 f"{'':>8}{f(summary['nme_3d_pct']['mean_of_bins']):>12}   (mean of bin means, %)")
    return "\n".join(lines)


__all__ = ["AflwTruth", "YAW_BINS", "load_truth", "find_pairs", "box_size", "nme_2d", "nme_3d", "yaw_bin",
           "predicted_points", "score", "summarise", "table"]

