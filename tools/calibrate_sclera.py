"""Measure the whites of the eyes' effective reflectance on rendered heads (``texture.sclera``).

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python tools/calibrate_sclera.py [--seeds 20-59] [--light white] [--band 0.7,0.97] [--direction view]

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
    ap.add_argument("--light", default="white", help="one of bench.relight.SCENE_LIGHTS")
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
    from facesculpt.texture.sclera import ScleraConfig, sclera_colour, sclera_irradiance

    lo, hi = (int(x) for x in args.seeds.split("-"))
    albedo = np.where(SCLERA_ALBEDO <= 0.04045, SCLERA_ALBEDO / 12.92, ((SCLERA_ALBEDO + 0.055) / 1.055) ** 2.4)
    light = sh_light(*SCENE_LIGHTS[args.light])
    cfg = ScleraConfig(enabled=True, band=tuple(float(x) for x in args.band.split(",")))
    ks, disagree = [], []
    for seed in range(lo, hi + 1):
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
        colour, info = sclera_colour(photo, faces[0].points.numpy(), cfg)
        if colour is None:
            print(f"seed {seed}: refused ({info.get('refused')})")
            continue
        k = colour / (albedo * E)
        ks.append(k)
        disagree.append("eyes_disagree" in info)
        print(f"seed {seed}: {info['pixels']} px, shading factor per channel {np.round(k, 3).tolist()}"
              + (" (eyes disagree)" if disagree[-1] else ""))
    if not ks:
        print("no reading")
        return 1
    lk = np.log(np.asarray(ks))
    print(f"{len(ks)} heads read of {hi - lo + 1}: geometric-mean shading factor {np.exp(lk.mean()):.3f} "
          f"(per channel {np.round(np.exp(lk.mean(0)), 3).tolist()}); std of its log between heads "
          f"{lk.mean(1).std():.3f}, across channels {np.round((lk - lk.mean(1, keepdims=True)).std(0), 3).tolist()}")
    dis = np.asarray(disagree)
    if dis.any():  # the readings sclera_colour gives the wide level spread (sigma_brightness_disagree)
        ld = lk[dis].mean(1)
        print(f"{int(dis.sum())} heads whose eyes disagree: their log factor {ld.mean() - lk.mean():+.3f} from the "
              f"mean above, std {ld.std():.3f}")
    print(f"reflectance = albedo {np.round(albedo, 3).tolist()} x factor = {np.round(albedo * np.exp(lk.mean()), 3).tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
