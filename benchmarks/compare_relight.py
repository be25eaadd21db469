"""Before/after table of two `facesculpt benchmark relight` runs (results.json), as in docs/results.md:
per photo light (means over heads) relit PSNR, after one scale, SSIM, albedo MAD and after one scale;
the two-light albedo differences by pair group; the scan's rows by light and pose.

    python benchmarks/compare_relight.py BEFORE/results.json AFTER/results.json
"""
from __future__ import annotations

import json
import sys

import numpy as np

LIGHTS = ("white", "warm", "cool", "dim", "bright", "side")
COLOUR = {"white", "warm", "cool"}


def _mean(rows, key, light=None, **match):
    v = [r[key] for r in rows if (light is None or r["light"] == light)
         and all(r.get(k) == x for k, x in match.items())]
    return float(np.mean(v)) if v else float("nan")


def _pairs(pairs):
    groups = {"colour pairs (white/warm/cool)": lambda p: set(p["lights"]) <= COLOUR,
              "pairs with dim, bright or side": lambda p: not set(p["lights"]) <= COLOUR,
              "pairs with side": lambda p: "side" in p["lights"],
              "pairs with bright": lambda p: "bright" in p["lights"],
              "all pairs": lambda p: True}
    out = {}
    for name, f in groups.items():
        v = [p["mad_pct"] for p in pairs if f(p)]
        out[name] = (float(np.mean(v)) if v else float("nan"), float(np.max(v)) if v else float("nan"))
    return out


def main() -> None:
    a, b = (json.load(open(p)) for p in sys.argv[1:3])
    print("| photo light | relit PSNR dB | after one scale | relit SSIM | albedo MAD % | after one scale |")
    print("|---|---:|---:|---:|---:|---:|")
    keys = (("relit_psnr", 2), ("relit_psnr_scaled", 2), ("relit_ssim", 3), ("albedo_mad_pct", 1),
            ("albedo_mad_pct_scaled", 1))
    for light in LIGHTS + (None,):
        cells = []
        for k, d in keys:
            x, y = _mean(a["rows"], k, light), _mean(b["rows"], k, light)
            cells.append(f"{x:.{d}f} → {y:.{d}f}")
        print(f"| {light or 'mean'} | " + " | ".join(cells) + " |")
    pa, pb = _pairs(a["pairs"]), _pairs(b["pairs"])
    print("\nTwo-light albedo MAD after one scale (mean, max):")
    for k in pa:
        print(f"  {k}: {pa[k][0]:.1f} → {pb[k][0]:.1f} % (max {pa[k][1]:.1f} → {pb[k][1]:.1f})")
    if a.get("scan_rows") and b.get("scan_rows"):
        print("\n| scan, photo light | relit PSNR dB | after one scale | relit SSIM |")
        print("|---|---:|---:|---:|")
        for light in LIGHTS + (None,):
            cells = []
            for k, d in keys[:3]:
                x, y = _mean(a["scan_rows"], k, light), _mean(b["scan_rows"], k, light)
                cells.append(f"{x:.{d}f} → {y:.{d}f}")
            print(f"| {light or 'mean'} | " + " | ".join(cells) + " |")
        for yaw in sorted({r["yaw"] for r in a["scan_rows"]}):
            print(f"  yaw {yaw:g}: relit {_mean(a['scan_rows'], 'relit_psnr', yaw=yaw):.2f} / "
                  f"{_mean(a['scan_rows'], 'relit_psnr_scaled', yaw=yaw):.2f} → "
                  f"{_mean(b['scan_rows'], 'relit_psnr', yaw=yaw):.2f} / "
                  f"{_mean(b['scan_rows'], 'relit_psnr_scaled', yaw=yaw):.2f} dB")
        sa, sb = _pairs(a["scan_pairs"]), _pairs(b["scan_pairs"])
        print("Scan two-light albedo MAD after one scale:")
        for k in sa:
            print(f"  {k}: {sa[k][0]:.1f} → {sb[k][0]:.1f} % (max {sa[k][1]:.1f} → {sb[k][1]:.1f})")


if __name__ == "__main__":
    main()
