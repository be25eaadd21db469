"""The initial light fit (``texture.light.initial_linear_light``) on the true geometry (issue 12, session 6).

The relight benchmark's synthetic head (``bench.relight.Subject``, with shadows) photographed under each
scene light; the light is fitted from the photo with the true head mesh and pose (``default``'s texture
config) and compared with the true light, both per unit ambient: band 1 (x right, y up, z to the camera,
in the order of ``ops.sh``: y, z, x) and band 2, and the band-1 ridge that was accepted.

    OMP_NUM_THREADS=1 python benchmarks/light_init_truth.py [--seeds 0] [--lights white,side] [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse

import torch


def main() -> None:
    import facesculpt.texture.light as L
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import make_config
    from facesculpt.face_model import fit_view
    from facesculpt.ops.sh import AMBIENT_BASIS
    from facesculpt.texture.color import srgb_to_linear

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--lights", default="white,side")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE, e.g. "
                    "texture.light_prior.enabled=true (session 7)")
    a = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    ov = _parse_overrides(a.set)
    ridges: list = []
    fit = L.fit_sh_robust

    def spy(n, c, w, ridge_band1=1e-4, **k):  # records the ridges the fit tries
        ridges.append(ridge_band1)
        return fit(n, c, w, ridge_band1=ridge_band1, **k)
    L.fit_sh_robust = spy
    cfg = make_config("default", **ov)
    for seed in [int(x) for x in a.seeds.split(",")]:
        subj = Subject(seed, shadows=True)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        for ln in a.lights.split(","):
            light = sh_light(*SCENE_LIGHTS[ln])
            img = srgb_to_linear(torch.from_numpy(subj.photo(light, seed=seed)).float()[None] / 255)
            ridges.clear()
            fl, _, _ = L.initial_linear_light(img, dense, view, subj.pose, subj.camera, cfg.texture)
            t = light[0, :, 0] / (light[0, 0, 0] * AMBIENT_BASIS)
            f = fl[0, :, 0]
            print(f"seed {seed} {ln:<7} band 1 (y, z, x) fitted {[round(float(v), 3) for v in f[1:4]]} true "
                  f"{[round(float(v), 3) for v in t[1:4]]}; band 2 fitted {[round(float(v), 3) for v in f[4:9]]}; "
                  f"ridges tried {sorted(set(ridges))}", flush=True)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
