"""Glasses frames (``texture.glasses``): which photos the search finds glasses on, with its scores.

    OMP_NUM_THREADS=1 python benchmarks/bench_glasses.py [PHOTO ...] [--preset fast] [--paste] [--set K=V ...]

Photos: the ten of ``bench_head_vs_mask.py`` (grace_hopper, the astronaut, eight lfw_subset faces) plus any given.
``--widths 200,1024``: each photo also resized to those widths. ``--paste``: each photo also with the benchmark's
drawn pair of glasses (``facesculpt benchmark occlusion``'s
``glasses`` occluder) pasted on: the search's recall on drawn frames. Prints one row per photo: found, the two
eyes' scores (25th percentile of the line response along the rim path; ``threshold`` decides), the share of each
path's rays on seen texels, the bridge's and arms' scores, and the chart share masked.
"""
from __future__ import annotations

import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main() -> int:
    from bench_head_vs_mask import photos

    from facesculpt.bench.occlusion import occluder
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.io.image import load_image
    from facesculpt.pipeline import reconstruct_all

    ap = argparse.ArgumentParser()
    ap.add_argument("paths", nargs="*")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--paste", action="store_true")
    ap.add_argument("--no-builtin", action="store_true", help="only the photos given")
    ap.add_argument("--set", action="append", default=[])
    ap.add_argument("--widths", default="", help="comma list: each photo also resized to these widths (LANCZOS)")
    a = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    cfg = make_config(a.preset, **_parse_overrides(a.set))
    ims = {} if a.no_builtin else photos()
    for p in a.paths:
        ims[os.path.splitext(os.path.basename(p))[0]] = load_image(p)
    print(f"{'photo':<22} {'found':>5} {'eye scores':>15} {'seen':>11} {'bridge, arms':>22} {'masked':>7}")
    for name, img in ims.items():
        variants = [(name, img)]
        for w in [int(x) for x in a.widths.split(",") if x.strip()]:
            from PIL import Image

            h = max(1, round(w * img.shape[0] / img.shape[1]))
            variants.append((f"{name}@{w}", np.asarray(Image.fromarray(img).resize((w, h), Image.LANCZOS))))
        if a.paste:
            try:
                lmk = detect_faces(img, max_faces=1)[0]
                variants.append((name + "+glasses", occluder(img, lmk, "glasses")[0]))
            except Exception as e:  # no face: nothing to paste on
                print(f"{name + '+glasses':<22} not pasted: {e}")
        for n, im in variants:
            try:
                rec = reconstruct_all(im, config=cfg, max_faces=1)[0]
            except Exception as e:
                print(f"{n:<22} failed: {e}")
                continue
            g = rec.losses.get("occlusion", {}).get("glasses")
            if g is None:
                print(f"{n:<22} not searched")
                continue
            sc = ", ".join(f"{v:.3f}" for v in g["scores"])
            se = ", ".join(f"{v:.2f}" for v in g["seen"])
            pa = ", ".join(f"{v:.3f}" for v in g["bridge_arms"]) or "-"
            print(f"{n:<22} {str(g['found']):>5} {sc:>15} {se:>11} {pa:>22} {g['mask_fraction']:>7.3f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
