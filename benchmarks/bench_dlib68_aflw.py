"""dlib's iBUG 300-W 68-point predictor scored on AFLW2000-3D-style pairs, per region: which 68-point convention the
ground truth follows (docs/large_poses.md, "The iBUG-68 brows, nose and outer lips registered on renders").

    .venv/bin/python benchmarks/bench_dlib68_aflw.py ../shared/aflw2000-sample

For each ``imageNNNNN.jpg`` + ``.mat`` (``pt3d_68``, ``Pose_Para``): dlib's frontal face detector (one upsampling;
the box nearest the ground truth's centre), its 68 points, the NME (mean distance / sqrt(w h) of the ground truth's
box, %) per region and the mean vertical offset (+ = dlib lower than the truth) of the jaw's sides (0-3, 13-16), the
brows and the chin (5-11). Needs dlib (the test extras). Photos dlib finds no face in are listed.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "mouth": range(48, 68)}
JAW_SIDES = [0, 1, 2, 3, 13, 14, 15, 16]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    args = ap.parse_args(argv)
    import dlib
    import scipy.io
    from PIL import Image

    from facesculpt.identity.weights import shape_predictor_68_path

    det = dlib.get_frontal_face_detector()
    sp = dlib.shape_predictor(str(shape_predictor_68_path()))
    rows = []
    for jpg in sorted(args.dir.glob("image*.jpg")):
        m = scipy.io.loadmat(str(jpg.with_suffix(".mat")))
        gt = m["pt3d_68"][:2].T.astype(np.float64)
        yaw = abs(float(np.degrees(m["Pose_Para"][0, 1])))
        img = np.ascontiguousarray(np.asarray(Image.open(jpg).convert("RGB")))
        boxes = det(img, 1)
        if len(boxes) == 0:
            print(f"{jpg.stem}  yaw {yaw:5.1f}  no face")
            continue
        c = gt.mean(0)
        b = min(boxes, key=lambda r: (r.center().x - c[0]) ** 2 + (r.center().y - c[1]) ** 2)
        s = sp(img, b)
        p = np.array([[s.part(i).x, s.part(i).y] for i in range(68)], np.float64)
        w, h = gt.max(0) - gt.min(0)
        d = float(np.sqrt(w * h))
        e = np.linalg.norm(p - gt, axis=1) / d * 100
        dy = (p - gt)[:, 1] / d * 100
        reg = {k: float(e[list(v)].mean()) for k, v in REGIONS.items()}
        rows.append((yaw, float(e.mean()), reg, float(dy[JAW_SIDES].mean()), float(dy[17:27].mean()),
                     float(dy[5:12].mean())))
        print(f"{jpg.stem}  yaw {yaw:5.1f}  NME {e.mean():5.2f}  " + "  ".join(f"{k} {v:5.2f}" for k, v in reg.items())
              + f"  dy: jaw sides {rows[-1][3]:+6.1f} brows {rows[-1][4]:+5.1f} chin {rows[-1][5]:+5.1f}")
    front = [r for r in rows if r[0] < 30]
    if front:
        print(f"|yaw| < 30 ({len(front)} photos): NME {np.mean([r[1] for r in front]):.2f}  "
              + "  ".join(f"{k} {np.mean([r[2][k] for r in front]):.2f}" for k in REGIONS)
              + f"  dy: jaw sides {np.mean([r[3] for r in front]):+.1f} brows {np.mean([r[4] for r in front]):+.1f} "
              f"chin {np.mean([r[5] for r in front]):+.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
