"""The occluder mask's outline rule (``texture.occlusion.edge_frac``) on real colour photos: with it on and
off, on the same fits (the mask acts after the fits, which are deterministic), per photo:

- the narrow face's flagged share of the crop (``losses.occlusion.face_fraction``);
- in-view PSNR over each run's own pixels (the metric leaves occluder pixels out, so a larger mask changes its
  domain) and over the pixels the rule-off run used (the same domain for both);
- the identity distance in view (renders of the whole face part with the albedo);
- the off-skin texels among those the photo saw at a grazing angle (the rule-off run's confidence between 0.05
  and 0.6: where the background a fitted outline takes in lands): albedo log chromaticity more than 0.15 from
  the median of the well-seen texels' (confidence above 0.6) in some channel.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_occlusion_edge.py [DIR ...] [--preset default]
        [--frac 0.03] [--set KEY=VALUE ...] [--no-bundled] [--toggle texture.occlusion.ring_spill]
        [--toggle texture.occlusion.edge_hue --values 0,75] [--off KEY=VALUE] [--on KEY=VALUE]

Photos: grace_hopper (bundled), scikit-image's astronaut, and every ``*.jpg``/``*.png`` under the DIRs given (the
AFLW2000 sample's photos were measured this way, never committed). Never collected by pytest.
"""
from __future__ import annotations

import argparse
import glob
import os
import statistics

import numpy as np


def _photos(dirs, bundled: bool = True) -> dict:
    import facesculpt
    from facesculpt.io.image import load_image
    from skimage import data

    out = {}
    if bundled:
        out = {"grace_hopper": load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets",
                                                       "grace_hopper.jpg")),
               "astronaut": np.ascontiguousarray(data.astronaut())}
    for d in dirs:
        for p in sorted(glob.glob(os.path.join(d, "*.jpg")) + glob.glob(os.path.join(d, "*.png"))):
            out[os.path.splitext(os.path.basename(p))[0]] = load_image(p)
    return out


def _grazing_off_skin(rec, conf_off) -> float:
    """Share of the texels with ``conf_off`` (the rule-off run's confidence) in (0.05, 0.6) whose displayed albedo's
    log chromaticity lies more than 0.15 from the median of the texels above 0.6 in some channel."""
    from facesculpt.texture.color import to_display

    a = to_display(rec.maps.albedo[0], True).clamp(min=1 / 255).log()
    c = (a - a.mean(-1, keepdim=True)).numpy()
    v = conf_off.numpy()
    med = np.median(c[v > 0.6], axis=0)
    graze = (v > 0.05) & (v < 0.6)
    return float((np.abs(c[graze] - med) > 0.15).any(-1).mean())


def main() -> int:
    from dataclasses import replace

    from facesculpt.config import make_config
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.pipeline import evaluate, reconstruct_all

    ap = argparse.ArgumentParser()
    ap.add_argument("dirs", nargs="*")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--frac", type=float, default=0.03, help="edge_frac of the rule-on run")
    ap.add_argument("--toggle", default="texture.occlusion.edge_frac",
                    help="the config field compared (off: 0 / false; on: --frac, or true for a bool field)")
    ap.add_argument("--values", default=None, help="OFF,ON: the toggled field's two values (numbers)")
    ap.add_argument("--off", action="append", default=[], metavar="KEY=VALUE", help="config override for the off run")
    ap.add_argument("--on", action="append", default=[], metavar="KEY=VALUE", help="config override for the on run")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override for both runs")
    ap.add_argument("--no-bundled", action="store_true", help="only the photos under the DIRs")
    args = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    overrides = _parse_overrides(args.set)
    rows = []
    print("| photo | face flagged % off / on | in-view PSNR dB off / on (own pixels) | on (off's pixels) "
          "| identity in view off / on | off-skin grazing texels % off / on |")
    print("|---|---|---|---|---|---|")
    for name, img in _photos(args.dirs, not args.no_bundled).items():
        recs = []
        try:
            values = (0.0, args.frac) if args.toggle.endswith("_frac") else (False, True)
            if args.values:
                values = tuple(float(v) for v in args.values.split(","))
            for value, extra in zip(values, (_parse_overrides(args.off), _parse_overrides(args.on))):
                cfg = make_config(args.preset, **{**overrides, args.toggle: value, **extra})
                recs.append(reconstruct_all(img, config=cfg, max_faces=1)[0])
        except FaceSculptError as e:
            print(f"| {name} | failed: {e} |")
            continue
        off, on = recs
        topo = on.fit_topology
        same = evaluate(img, replace(on, occluded=off.occluded), topo, identity=False)
        r = dict(name=name,
                 ff=(off.losses["occlusion"]["face_fraction"] * 100, on.losses["occlusion"]["face_fraction"] * 100),
                 psnr=(off.metrics["inview_psnr"], on.metrics["inview_psnr"]), psnr_same=same["inview_psnr"],
                 idd=(off.metrics["identity_distance_inview"], on.metrics["identity_distance_inview"]),
                 offskin=(_grazing_off_skin(off, off.maps.visibility[0]) * 100,
                       _grazing_off_skin(on, off.maps.visibility[0]) * 100))
        rows.append(r)
        print(f"| {name} | {r['ff'][0]:.2f} / {r['ff'][1]:.2f} | {r['psnr'][0]:.2f} / {r['psnr'][1]:.2f} | "
              f"{r['psnr_same']:.2f} | {r['idd'][0]:.3f} / {r['idd'][1]:.3f} | "
              f"{r['offskin'][0]:.2f} / {r['offskin'][1]:.2f} |", flush=True)
    if rows:
        med = lambda k, i=None: statistics.median(r[k] if i is None else r[k][i] for r in rows)  # noqa: E731
        print(f"| median of {len(rows)} | {med('ff', 0):.2f} / {med('ff', 1):.2f} | {med('psnr', 0):.2f} / "
              f"{med('psnr', 1):.2f} | {med('psnr_same'):.2f} | {med('idd', 0):.3f} / {med('idd', 1):.3f} | "
              f"{med('offskin', 0):.2f} / {med('offskin', 1):.2f} |")
        changed = sum(r['ff'][1] > r['ff'][0] for r in rows)
        print(f"photos the rule changed (face flagged share up): {changed} of {len(rows)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
