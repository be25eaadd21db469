"""Where the time of the ``fast`` preset goes, started from the regressor vs from the mean head.

    python benchmarks/bench_regressor_speed.py [--repeats 3]

After one warm-up run per setting, the ``fast`` preset on grace_hopper (bundled) and scikit-image's
astronaut, ``--repeats`` times each: median seconds per stage (``Reconstruction.timings``), and the
regressor's own time (network forward on one face; the whole ``regress_head`` with the pose
refinement), median of 50 calls. Threads: ``OMP_NUM_THREADS`` as set by the caller.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args(argv)
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    import torch
    from skimage import data

    import facesculpt
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import regress_head
    from facesculpt.io.image import load_image
    from facesculpt.models.regressor import load_regressor, regress
    from facesculpt.training.data import mean_frontal

    photos = {"grace_hopper": load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg")),
              "astronaut": data.astronaut()}
    for label, over in (("regressor", {}), ("mean", {"regressor.enabled": False})):
        cfg = make_config("fast", **over)
        facesculpt.reconstruct(photos["grace_hopper"], config=cfg)  # warm-up
        for name, img in photos.items():
            runs = []
            for _ in range(args.repeats):
                t = time.perf_counter()
                rec = facesculpt.reconstruct(img, config=cfg)
                runs.append({"total": time.perf_counter() - t, **rec.timings})
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(f"fast/{label:<9} {name:<13} " + "  ".join(f"{k} {v:.3f}" for k, v in med.items()))
    model = load_face_model()
    net, _ = load_regressor()
    lm = detect_faces(photos["astronaut"], max_faces=1)[0]
    _, _, cam = initialize(lm, fit_view(model).canonical)
    ref = mean_frontal(model)
    pts = lm.points[None].float()

    def med_time(fn, n=50):
        fn()
        ts = []
        for _ in range(n):
            t = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t)
        return statistics.median(ts)

    with torch.no_grad():
        t_net = med_time(lambda: regress(net, pts, ref))
    t_head = med_time(lambda: regress_head(lm, model, cam, 5, 0.1))
    print(f"regressor forward (frontalise + MLP, one face): {1000 * t_net:.2f} ms; "
          f"regress_head with pose refinement: {1000 * t_head:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
