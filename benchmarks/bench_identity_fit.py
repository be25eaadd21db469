"""The ``default`` preset with the identity losses off and on: time and identity distances.

    .venv/bin/python benchmarks/bench_identity_fit.py [--threads 2] [--set identity.w_identity=0.2 ...]

For grace_hopper (bundled) and scikit-image's astronaut: wall time of ``reconstruct`` per
image (after one warm-up run that loads the models and compiles the kernels), the
photometric stage's time, its final photometric loss, and the identity distances
(``facesculpt.metrics.identity``) of the in-view and +-30 deg yaw renders to the photo.
Prints one table to stdout.
"""
from __future__ import annotations

import argparse
import json
import time

import torch


def _parse_set(items):
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def main() -> None:
    import skimage.data

    from facesculpt.config import make_config
    from facesculpt.io.image import load_image
    from facesculpt.metrics.identity import identity_metrics
    from facesculpt.pipeline import reconstruct
    from facesculpt.topology import load_topology

    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="override for the identity-on runs")
    ap.add_argument("--iterations", type=int, default=None, help="photometric iterations (default: preset's)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from importlib import resources

    photos = {
        "grace_hopper": load_image(str(resources.files("facesculpt") / "assets" / "grace_hopper.jpg")),
        "astronaut": skimage.data.astronaut(),
    }
    common = {} if args.iterations is None else {"photometric.iterations": args.iterations}
    configs = {
        "off": make_config("default", **{**common, "identity.enabled": False}),
        "on": make_config("default", **{**common, "identity.enabled": True, **_parse_set(args.set)}),
    }
    topo = load_topology(configs["on"].subdivision_levels)
    reconstruct(photos["grace_hopper"], config=configs["on"])          # warm-up
    rows = []
    for name, img in photos.items():
        for mode, cfg in configs.items():
            t = time.perf_counter()
            rec = reconstruct(img, config=cfg)
            wall = time.perf_counter() - t
            m = identity_metrics(img, rec, topo)
            rows.append((name, mode, wall, rec.timings.get("photometric", 0.0),
                         rec.losses["photometric"]["photo_final"], m["identity_distance_inview"],
                         m["identity_distance_yaw_minus30"], m["identity_distance_yaw_plus30"],
                         m["identity_distance_inview_over_photo"]))
    on = configs["on"].identity
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, photometric iterations "
          f"{configs['on'].photometric.iterations}; identity-on settings: {on}")
    print("| photo | identity losses | wall s | photometric s | photo loss | d in-view | d yaw -30 | d yaw +30 "
          "| d in-view over photo |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.4f} | {r[5]:.3f} | {r[6]:.3f} | {r[7]:.3f} "
              f"| {r[8]:.3f} |")


if __name__ == "__main__":
    main()
