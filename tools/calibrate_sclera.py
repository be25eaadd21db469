"""Measure the whites of the eyes' effective reflectance on rendered heads (``texture.sclera``).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python tools/calibrate_sclera.py [--seeds 20-59] [--light white[,cool,side]] [--band 0.7,0.97] [--direction view]
        [--censored-ratio] [--check-censored] [--openness]

Why: ``texture.sclera.sclera_light_gain`` reads the light's gain from the whites of the eyes as
``sclera colour / (reflectance x the light's irradiance at the view direction)``. The sclera in a
photo is darker than its albedo (the lids, lashes and the socket shade it); ``ScleraConfig.reflectance`` is
the albedo times that shading. This renders the relight benchmark's synthetic heads (``bench.relight.Subject``:
the project's sclera colour, sRGB (0.85, 0.82, 0.78), AO and cast shadows on) under one of its lights for seeds
the benchmark does not use (it uses 0 and 1), detects them, and prints per head the ratio of the sclera's
reading (``sclera_colour``) to the sclera albedo times the true light's irradiance at the view direction (its
best-lit normal within ``--cone`` degrees, ``texture.sclera.sclera_irradiance``), then
the geometric mean (the shading factor the default reflectance uses) and the spread of its log (between heads:
``sigma_brightness``'s floor; across channels: ``sigma_colour``'s). Deterministic. A tool: it may print.
"""
from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SCLERA_ALBEDO = np.array([0.85, 0.82, 0.78])  # texture.head.SCLERA_COLOUR, sRGB


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", default="20-59", help="first-last seeds (inclusive)")
    ap.add_argument("--light", default="white", help="one of bench.relight.SCENE_LIGHTS, or a comma list (pooled)")
    ap.add_argument("--censored-ratio", action="store_true",
                    help="also print ScleraConfig.censored_ratio: the mean over the heads of log(band reading / each "
                         "channel's quantile) at the levels texture.sclera.CENSORED_LEVELS (on unclipped lights)")
    ap.add_argument("--check-censored", action="store_true",
                    help="also print the error of the band's reading (before session 42, a floor where clipped) and "
                         "of the shipped reading (with censored_quantiles) against the calibrated factor")
    ap.add_argument("--openness", action="store_true",
                    help="also print ScleraConfig.openness_offset and openness_spread: the uncorrected readings' log "
                         "factor (each light's mean removed) against the eyes' opening in iris diameters "
                         "(texture.sclera.eye_openness), a hinge at 0.6 fitted over openings held to 0.45-0.75, and the "
                         "corrected readings' RMS in openings below 0.55, 0.55-0.62 and above")
    ap.add_argument("--band", default="0.7,0.97", help="ScleraConfig.band: the luminance percentiles read")
    ap.add_argument("--direction", choices=("view", "head"), default="view",
                    help="the irradiance around the view direction (what sclera_light_gain uses) or at the head's "
                         "forward axis (session 29's, for comparison)")
    ap.add_argument("--cone", type=float, default=None,
                    help="with --direction view: the irradiance at the best-lit normal within this many degrees of "
                         "the view direction (default ScleraConfig.cone_deg; 0: at the view direction itself, "
                         "sessions 30-40)")
    args = ap.parse_args(argv)
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.detect.mediapipe_landmarker import detect_faces
    from facesculpt.ops.sh import sh_basis
    from facesculpt.texture.sclera import (CENSORED_LEVELS, ScleraConfig, eye_openness, sclera_colour,
                                           sclera_irradiance, sclera_pixels, whites_quantile)

    lo, hi = (int(x) for x in args.seeds.split("-"))
    albedo = np.where(SCLERA_ALBEDO <= 0.04045, SCLERA_ALBEDO / 12.92, ((SCLERA_ALBEDO + 0.055) / 1.055) ** 2.4)
    cfg = ScleraConfig(enabled=True, band=tuple(float(x) for x in args.band.split(",")))
    band_cfg = ScleraConfig(enabled=True, band=cfg.band, censored_quantiles=False, max_clipped_share=1.0)
    raw_cfg = ScleraConfig(enabled=True, band=cfg.band, openness_correction=False)
    ks, disagree, ratios, checks, opens = [], [], [], [], []
    runs = [(name, seed) for name in args.light.split(",") for seed in range(lo, hi + 1)]
    for light_name, seed in runs:
        light = sh_light(*SCENE_LIGHTS[light_name])
        subject = Subject(seed)
        d = torch.tensor([[0.0, 0.0, 1.0]])
        if args.direction == "head":
            from facesculpt.render.face import to_view_frame

            d = torch.nn.functional.normalize(to_view_frame(d[None], subject.pose).reshape(1, 3), dim=-1)
            E = (sh_basis(d)[0][:, None] * light[0]).sum(0).double().numpy()
        else:
            E = sclera_irradiance(light, ScleraConfig().cone_deg if args.cone is None else args.cone)
        photo = subject.photo(light, seed=seed)
        faces = detect_faces(photo)
        if not faces:
            print(f"seed {seed}: no face")
            continue
        pts = faces[0].points.numpy()
        colour, info = sclera_colour(photo, pts, cfg)
        if args.censored_ratio or args.check_censored:
            band, _ = sclera_colour(photo, pts, band_cfg)  # the band's reading, clipped pixels and all
            if band is not None:
                if args.censored_ratio:
                    eyes = sclera_pixels(photo, pts)
                    ratios.append([float(np.log(band / whites_quantile(eyes, t)).mean()) for t in CENSORED_LEVELS])
                checks.append((float(np.log(band / (albedo * E)).mean()),
                               None if colour is None or not np.all(np.isfinite(colour))
                               else float(np.log(colour / (albedo * E)).mean()), info.get("censored_level")))
        if args.openness:
            raw, raw_info = sclera_colour(photo, pts, raw_cfg)
            o = eye_openness(pts)
            if raw is not None and np.all(np.isfinite(raw)) and o is not None and "censored_level" not in raw_info:
                opens.append((light_name, o, float(np.log(raw / (albedo * E)).mean())))
        if colour is None:
            print(f"{light_name} seed {seed}: refused ({info.get('refused')})")
            continue
        if not np.all(np.isfinite(colour)):
            print(f"{light_name} seed {seed}: clipped channels {info.get('clipped_channels')} (a floor, not a reading)")
            continue
        k = colour / (albedo * E)
        ks.append(k)
        disagree.append("eyes_disagree" in info)
        print(f"{light_name} seed {seed}: {info['pixels']} px, shading factor per channel {np.round(k, 3).tolist()}"
              + (" (eyes disagree)" if disagree[-1] else "")
              + (f" (censored: quantile {info['censored_level']:.2f})" if "censored_level" in info else ""))
    if not ks:
        print("no reading")
        return 1
    lk = np.log(np.asarray(ks))
    print(f"{len(ks)} heads read of {len(runs)}: geometric-mean shading factor {np.exp(lk.mean()):.3f} "
          f"(per channel {np.round(np.exp(lk.mean(0)), 3).tolist()}); std of its log between heads "
          f"{lk.mean(1).std():.3f}, across channels {np.round((lk - lk.mean(1, keepdims=True)).std(0), 3).tolist()}")
    dis = np.asarray(disagree)
    if dis.any():  # the readings sclera_colour gives the wide level spread (sigma_brightness_disagree)
        ld = lk[dis].mean(1)
        print(f"{int(dis.sum())} heads whose eyes disagree: their log factor {ld.mean() - lk.mean():+.3f} from the "
              f"mean above, std {ld.std():.3f}")
    print(f"reflectance = albedo {np.round(albedo, 3).tolist()} x factor = {np.round(albedo * np.exp(lk.mean()), 3).tolist()}")
    if ratios:
        r = np.asarray(ratios)
        print(f"censored_ratio over {len(r)} heads (levels {CENSORED_LEVELS[0]}-{CENSORED_LEVELS[-1]} by 0.05): "
              f"({', '.join(f'{x:.3f}' for x in r.mean(0))}); spread between heads "
              f"({', '.join(f'{x:.3f}' for x in r.std(0))})")
    if opens:
        names = sorted({r[0] for r in opens})
        o = np.array([r[1] for r in opens])
        k = np.array([r[2] for r in opens])
        for name in names:  # each light's own mean out (their factors differ by up to 0.008)
            m = np.array([r[0] == name for r in opens])
            k[m] -= k[m].mean()
        hinge, lo_o, hi_o = 0.6, 0.45, 0.75
        A = np.stack([np.ones_like(o), np.minimum(np.clip(o, lo_o, hi_o) - hinge, 0.0)], 1)
        (c, b), *_ = np.linalg.lstsq(A, k, rcond=None)
        res = k - A @ np.array([c, b])
        print(f"openness over {len(o)} readings ({o.min():.2f}-{o.max():.2f} iris diameters): log factor spread "
              f"{k.std():.3f} -> {res.std():.3f} corrected; openness_offset ((0.45, {c + b * (lo_o - hinge):.3f}), "
              f"(0.6, {c:.3f}), (0.75, {c:.3f}))")
        knots = []
        for a, z in ((0.0, 0.55), (0.55, 0.62), (0.62, 1.01)):
            m = (o >= a) & (o < z)
            knots.append(f"({o[m].mean():.3f}, {np.sqrt((res[m] ** 2).mean()):.3f})")
            print(f"  openings {a:.2f}-{min(z, 1.0):.2f}: {int(m.sum())} readings, raw mean {k[m].mean():+.3f}, corrected "
                  f"RMS {np.sqrt((res[m] ** 2).mean()):.3f}")
        print(f"openness_spread ({', '.join(knots)})")
    if checks:  # against the shipped reflectance's factor
        ref = float(np.log(np.asarray(cfg.reflectance) / albedo).mean())
        b = np.array([c[0] for c in checks]) - ref
        sh = np.array([c[1] for c in checks if c[1] is not None]) - ref
        nc = sum(c[2] is not None for c in checks)
        print(f"log error against the reflectance's factor ({len(checks)} heads; {nc} read below the clipping): band "
              f"mean {b.mean():+.3f} std {b.std():.3f}; shipped reading ({len(sh)} read) mean {sh.mean():+.3f} std "
              f"{sh.std():.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
