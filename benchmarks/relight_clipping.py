"""How many face pixels of the relight benchmark's photos clip (issue 12, session 6).

For each synthetic head (seeds) and each scan pose, each scene light's photo (exactly as
``facesculpt benchmark relight`` makes it) is checked over the face-part pixels: the share with any
channel at 255, per channel (R, G, B), with any channel at 0, and with any channel at or above 250
(``texture.clipping``'s default ``high_level``).

    OMP_NUM_THREADS=1 python benchmarks/relight_clipping.py [--n 2] [--scan-poses 0,25]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def shares(photo: np.ndarray, mask: np.ndarray) -> dict:
    px = photo[mask]
    n = max(1, px.shape[0])
    hi = px >= 255
    return {"pixels": int(px.shape[0]), "any_255": 100.0 * hi.any(-1).sum() / n,
            "any_250": 100.0 * (px >= 250).any(-1).sum() / n,
            "r": 100.0 * hi[:, 0].sum() / n, "g": 100.0 * hi[:, 1].sum() / n, "b": 100.0 * hi[:, 2].sum() / n,
            "any_0": 100.0 * (px <= 0).any(-1).sum() / n}


def main() -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, ScanSubject, Subject, sh_light

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--scan-poses", default="0,25")
    ap.add_argument("--lights", default=",".join(SCENE_LIGHTS))
    a = ap.parse_args()
    lights = a.lights.split(",")
    print(f"{'subject':<10}{'light':<8}{'face px':>8}{'any 255 %':>10}{'R %':>7}{'G %':>7}{'B %':>7}{'any 0 %':>9}"
          f"{'any >=250 %':>12}")
    for seed in range(a.n):
        s = Subject(seed)
        for ln in lights:
            light = sh_light(*SCENE_LIGHTS[ln])
            photo = s.photo(light, seed=seed)
            _, mask = s.render(s.albedo, light)
            r = shares(photo, mask[0].numpy())
            print(f"{'seed ' + str(seed):<10}{ln:<8}{r['pixels']:>8}{r['any_255']:>10.1f}{r['r']:>7.1f}{r['g']:>7.1f}"
                  f"{r['b']:>7.1f}{r['any_0']:>9.2f}{r['any_250']:>12.1f}", flush=True)
    for yaw in [float(x) for x in a.scan_poses.split(",") if x.strip()]:
        s = ScanSubject(yaw)
        for ln in lights:
            light = sh_light(*SCENE_LIGHTS[ln])
            photo = s.photo(light, seed=int(yaw) % 1000)
            _, covered = s.render_linear(light)
            r = shares(photo, covered[0].numpy())
            print(f"{'scan ' + format(yaw, 'g'):<10}{ln:<8}{r['pixels']:>8}{r['any_255']:>10.1f}{r['r']:>7.1f}"
                  f"{r['g']:>7.1f}{r['b']:>7.1f}{r['any_0']:>9.2f}{r['any_250']:>12.1f}", flush=True)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
