"""The head (``face_model="ict"``) against the earlier 468-point mask (``"mediapipe468"``) on real photos:
landmark agreement with mediapipe (``landmark_error_iod``), in-view PSNR and identity distances.

    .venv/bin/python benchmarks/bench_head_vs_mask.py [--presets fast default] [--models ict] [--set KEY=VALUE ...]
        [--per-photo]

``--per-photo`` adds a row per photo after the medians (which photos a change moves: a median of ten can hide
one photo's fit leaving its basin, as the astronaut's did in session 12).

Photos: grace_hopper (bundled), scikit-image's astronaut and the first 8 faces of lfw_subset
(25 x 25 grey, upscaled to 192 px and edge-padded as ``tools/build_topology.py`` does; the ones
mediapipe finds). Never collected by pytest.
"""
from __future__ import annotations

import argparse
import os
import statistics

import numpy as np


def photos() -> dict:
    import facesculpt
    from facesculpt.io.image import load_image
    from PIL import Image
    from skimage import data

    out = {"grace_hopper": load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg")),
           "astronaut": np.ascontiguousarray(data.astronaut())}
    for i, face in enumerate(data.lfw_subset()[:8]):
        g = np.asarray(Image.fromarray((face * 255).astype(np.uint8)).resize((192, 192), Image.BICUBIC))
        g = np.pad(g, 64, mode="edge")
        out[f"lfw_{i}"] = np.ascontiguousarray(np.repeat(g[..., None], 3, axis=2))
    return out


def main() -> int:
    import facesculpt
    from facesculpt.config import make_config
    from facesculpt.core.errors import FaceSculptError

    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["fast", "default"])
    ap.add_argument("--models", nargs="+", default=["mediapipe468", "ict"], choices=["mediapipe468", "ict"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every run (as facesculpt --set)")
    ap.add_argument("--per-photo", action="store_true", help="also print each photo's figures")
    args = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    overrides = _parse_overrides(args.set)
    nan = float("nan")
    imgs = photos()
    print("| preset | model | photos | median landmark_error_iod | median PSNR dB | median id d in-view | median id d ±30° |")
    print("|---|---|---|---|---|---|---|")
    per_photo = []
    for preset in args.presets:
        for model in args.models:
            cfg = make_config(preset, face_model=model, **overrides)
            rows = []
            for name, img in imgs.items():
                try:
                    m = facesculpt.reconstruct(img, config=cfg).metrics
                except FaceSculptError:
                    continue
                rows.append(m)
                per_photo.append((preset, model, name, m))
            # `fast` leaves the identity metrics out (identity_metrics): those columns are then nan
            med = lambda k: statistics.median(r.get(k, nan) for r in rows)  # noqa: E731
            side = statistics.median(max(r.get("identity_distance_yaw_minus30", nan),
                                         r.get("identity_distance_yaw_plus30", nan)) for r in rows)
            print(f"| {preset} | {model} | {len(rows)} | {med('landmark_error_iod'):.4f} | {med('inview_psnr'):.2f} | "
                  f"{med('identity_distance_inview'):.3f} | {side:.3f} |", flush=True)
    if args.per_photo:
        print()
        print("| preset | model | photo | landmark_error_iod | PSNR dB | id d in-view | id d +30° | id d -30° |")
        print("|---|---|---|---|---|---|---|---|")
        for preset, model, name, m in per_photo:
            g = lambda k: m.get(k, nan)  # noqa: E731
            print(f"| {preset} | {model} | {name} | {g('landmark_error_iod'):.4f} | {g('inview_psnr'):.2f} | "
                  f"{g('identity_distance_inview'):.3f} | {g('identity_distance_yaw_plus30'):.3f} | "
                  f"{g('identity_distance_yaw_minus30'):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
