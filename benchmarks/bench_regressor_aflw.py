"""The landmark stage on real photos: AFLW2000-3D's 68-point NME, started from the regressor vs
from the mean head.

    python benchmarks/bench_regressor_aflw.py ../shared/aflw2000-sample

For each ``imageNNNNN.jpg`` + ``.mat`` (``pt3d_68``, ``Pose_Para``) of the folder: mediapipe's
detections, then stage 1 of the ``fast`` preset both ways (``regressor``: the pipeline's
``fit_head_from_regressor`` with its defaults; ``mean``: ``fit_head_landmarks`` from the mean
head, 16 iterations), the model's embedded iBUG-68 points projected with the fitted pose and
camera, and the 3DDFA metric: mean 2D distance over the 68 points / sqrt(w * h) of the true
points' box, averaged in |yaw| bins [0, 30), [30, 60), [60, 90], headline the mean of the bins.
The photos are research-only: measure with them, never commit them.
"""
from __future__ import annotations

import argparse
import math
import statistics
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder")
    ap.add_argument("--polish", type=int, default=None, help="regressor.polish_iterations (default: the preset's)")
    ap.add_argument("--pose-only", action="store_true", help="the polish fits pose and gaze only")
    ap.add_argument("--keep-identity", action="store_true", help="the polish keeps the regressor's identity")
    args = ap.parse_args(argv)
    import numpy as np
    import scipy.io
    import torch

    from facesculpt.detect import detect_faces
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import RegressorInitConfig, fit_head_from_regressor
    from facesculpt.io.image import load_image

    model = load_face_model()
    view = fit_view(model)
    rows = {"mean": [], "regressor": []}
    yaws, missed = [], []
    for jpg in sorted(Path(args.folder).glob("*.jpg")):
        mat = scipy.io.loadmat(str(jpg.with_suffix(".mat")))
        gt = torch.tensor(mat["pt3d_68"][:2].T, dtype=torch.float64)
        yaw = abs(math.degrees(float(mat["Pose_Para"][0, 1])))
        try:
            lm = detect_faces(load_image(str(jpg)), max_faces=1, name=jpg.name)[0]
        except Exception as e:  # report and go on
            missed.append(f"{jpg.name}: {e}")
            continue
        yaws.append(yaw)
        wh = gt.max(0).values - gt.min(0).values
        norm = float(torch.sqrt(wh[0] * wh[1]))
        _, pose0, cam = initialize(lm, view.canonical)
        for k in rows:
            if k == "mean":
                pose, head, _ = fit_head_landmarks(lm, model, pose0, cam, HeadLandmarkConfig())
            else:
                rc = RegressorInitConfig()
                if args.polish is not None:
                    rc = RegressorInitConfig(polish_iterations=args.polish, polish_shape=not args.pose_only,
                                             polish_identity=not args.keep_identity)
                pose, head, _ = fit_head_from_regressor(lm, model, cam, HeadLandmarkConfig(), rc)
            with torch.no_grad():
                p68 = cam.project(pose.apply(model.points(model.vertices(head), "ibug68")))[0].double()
            rows[k].append(float((p68 - gt).norm(dim=-1).mean()) / norm * 100)
    print(f"{len(yaws)} photos with a face, {len(missed)} without: {missed}")
    bins = [(0, 30), (30, 60), (60, 91)]
    print(f"{'start':<10}" + "".join(f"{f'[{a},{b})':>10}" for a, b in bins) + f"{'mean bins':>11}{'mean all':>10}")
    for k, v in rows.items():
        per = []
        for a, b in bins:
            sel = [e for e, y in zip(v, yaws) if a <= y < b]
            per.append(statistics.mean(sel) if sel else float("nan"))
        ok = [p for p in per if not np.isnan(p)]
        print(f"{k:<10}" + "".join(f"{p:>10.2f}" for p in per) + f"{statistics.mean(ok):>11.2f}{statistics.mean(v):>10.2f}")
    print("bin sizes:", [sum(a <= y < b for y in yaws) for a, b in bins])
    return 0


if __name__ == "__main__":
    sys.exit(main())
