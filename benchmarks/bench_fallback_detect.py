"""Fall-back detection benchmark: which detector finds synthetic profile faces, and what the fall-back
costs. Not collected by pytest.

    .venv/bin/python benchmarks/bench_fallback_detect.py [--seeds 121,286,228,100,37,109] [--size 384] [--repeat 3]

Each seed is a synthetic head (facesculpt.synthetic.head, yaw up to 90 degrees; the default seeds are
turned 80-88 degrees). Prints per face: its yaw, the detector that found it (or "not found"), the
median wall time of ``detect_faces`` over ``--repeat`` runs (models loaded before timing), and the
time of mediapipe's own two detectors alone on grace_hopper for comparison. Target (issue 11): a
fall-back detection adds <= 0.3 s.
"""
from __future__ import annotations

import argparse
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="121,286,228,100,37,109")
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()

    from facesculpt.cli import _bundled_photo
    from facesculpt.core.errors import FaceNotFoundError
    from facesculpt.detect import detect_faces
    from facesculpt.io.image import load_image
    from facesculpt.synthetic.head import generate, head_config

    def timed(img):
        times, det = [], "not found"
        for _ in range(args.repeat):
            t = time.perf_counter()
            try:
                det = detect_faces(img)[0].detector
            except FaceNotFoundError:
                det = "not found"
            times.append(time.perf_counter() - t)
        return det, statistics.median(times)

    grace = load_image(_bundled_photo())
    timed(grace)  # load the models
    det, t = timed(grace)
    print(f"{'grace_hopper':<14}{'':>8}  {det:<26}{t:>8.3f} s")
    cfg = head_config(yaw_max=90.0, size=args.size)
    for seed in (int(s) for s in args.seeds.split(",")):
        face = generate(seed, cfg)
        det, t = timed(face.image)
        print(f"{'seed ' + str(seed):<14}{face.info['yaw_deg']:>8.1f}  {det:<26}{t:>8.3f} s", flush=True)


if __name__ == "__main__":
    main()
