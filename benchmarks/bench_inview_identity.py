"""In-view PSNR, identity distances (in view, +30 deg, -30 deg), landmark error and texture-stage time of one
preset on grace_hopper (bundled) and scikit-image's astronaut, with config overrides: the quick before/after
check of a texture change (issue 10, "the seen area of the texture").

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_inview_identity.py [preset=default] [KEY=VALUE ...]

e.g. ``texture.completion.enabled=false``. Runs in this process with torch's default threads (set
OMP_NUM_THREADS for a fixed count: the identity distances move by a few hundredths with the thread count).
Never collected by pytest.
"""
from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    import numpy as np
    from skimage import data

    import facesculpt
    from facesculpt.config import make_config
    from facesculpt.io.image import load_image

    overrides = {}
    for arg in sys.argv[1:]:
        key, _, value = arg.partition("=")
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    preset = overrides.pop("preset", "default")
    cfg = make_config(preset, **overrides)
    photos = {"grace_hopper": load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg")),
              "astronaut": np.ascontiguousarray(data.astronaut())}
    nan = float("nan")
    for name, img in photos.items():
        t = time.perf_counter()
        rec = facesculpt.reconstruct(img, config=cfg)
        m = rec.metrics
        print(f"{name:12s} PSNR {m['inview_psnr']:.2f} dB | id in view {m.get('identity_distance_inview', nan):.3f}"
              f" | +30 {m.get('identity_distance_yaw_plus30', nan):.3f} | -30 {m.get('identity_distance_yaw_minus30', nan):.3f}"
              f" | landmark_error_iod {m['landmark_error_iod']:.4f} | texture {rec.timings['texture']:.2f} s"
              f" | total {time.perf_counter() - t:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
