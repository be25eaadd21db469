"""Why the initial light fit loses the frontal term (issue 12, session 7): the fit of
``texture.light.initial_linear_light`` on the true geometry, pose and camera of the relight benchmark's
synthetic heads, on photos with one cause removed at a time: the head's shadows and ambient occlusion
(``shadows``), the albedo's variation over the face (``flat albedo``: the skin's robust mean everywhere
on the face chart). Prints band-1 z (and x) per unit ambient, fitted vs true, and for each variant the
two-light albedo difference (``bench.relight.two_light_mad_pct``'s measure: MAD after one global scale, per
cent, skin texels both photos saw) of the albedos unwrapped at 256^2 on the true geometry with the fitted
initial lights (before the photometric stage; with ``skin_prior`` as configured).

    OMP_NUM_THREADS=1 python benchmarks/light_fit_causes.py [--seeds 0,1] [--lights white,side] [--variants photo]
        [--set KEY=VALUE ...]
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def _mad(a: torch.Tensor, b: torch.Tensor, m: torch.Tensor) -> float:
    from facesculpt.bench.relight import global_scale

    pa, pb = a[m], b[m]
    pa = pa * global_scale(pa, pb)
    return float(100 * (pa - pb).abs().mean() / (0.5 * (pa + pb)).mean().clamp(min=1e-8))


def main() -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import make_config
    from facesculpt.face_model import fit_view
    from facesculpt.ops.sh import AMBIENT_BASIS
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.light import initial_linear_light
    from facesculpt.texture.completion import texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.skin_prior import anchor_light, robust_skin_mean
    from facesculpt.texture.unwrap import unwrap

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--lights", default="white,side")
    ap.add_argument("--variants", default="photo,no shadows,flat albedo,flat+no shadows",
                    help="comma list of: photo, no shadows, flat albedo, flat+no shadows")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    ov = _parse_overrides(a.set)
    cfg = make_config("default", **ov)
    rows, mads = {}, {}
    S = 256
    tcfg = cfg.texture.__class__(**{**cfg.texture.__dict__, "size": S})
    for seed in [int(x) for x in a.seeds.split(",")]:
        subj = Subject(seed, shadows=True)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        grid, classes = texel_mirror_grid(view.fill, S), texel_classes(view, S)
        occ = subj.occluded
        skin = subj.skin.float()
        flat = robust_skin_mean(subj.albedo, skin).view(1, 1, 1, 3) * torch.ones_like(subj.albedo)
        flat = torch.where(subj.skin[..., None], flat, subj.albedo)
        albs = {}
        for ln in a.lights.split(","):
            light = sh_light(*SCENE_LIGHTS[ln])
            t = light[0, :, 0] / (light[0, 0, 0] * AMBIENT_BASIS)
            for name, alb, sh in (("photo", subj.albedo, True), ("no shadows", subj.albedo, False),
                                  ("flat albedo", flat, True), ("flat+no shadows", flat, False)):
                if name not in a.variants.split(","):
                    continue
                subj.occluded = occ if sh else None
                img, _ = subj.render(alb, light)
                rng = np.random.default_rng(seed)
                img = np.rint(np.clip(img[0].numpy() + rng.normal(0, 0.01, img.shape[1:]), 0, 1) * 255) / 255
                lin = srgb_to_linear(torch.from_numpy(img).float()[None])
                fl, a0, sk = initial_linear_light(lin, dense, view, subj.pose, subj.camera, cfg.texture)
                f = fl[0, :, 0].clone()  # per unit ambient (before the skin prior's gains)
                if cfg.texture.skin_prior:
                    fl, _, _ = anchor_light(fl, a0, sk, cfg.texture.skin)
                maps = unwrap(lin, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, fl, tcfg,
                              mirror_grid=grid, classes=classes)
                albs.setdefault(name, []).append(maps)
                rows.setdefault((ln, name), []).append((float(f[2]), float(t[2]), float(f[3]), float(t[3])))
                print(f"seed {seed} {ln:<6} {name:<17} z {float(f[2]):.3f} (true {float(t[2]):.3f})  "
                      f"x {float(f[3]):.3f} (true {float(t[3]):.3f})  y {float(f[1]):.3f} (true {float(t[1]):.3f})",
                      flush=True)
            subj.occluded = occ
        for name, (ma, mb) in albs.items():
            m = subj.skin & (ma.visibility > 0.5) & (mb.visibility > 0.5)
            mads.setdefault(name, []).append(_mad(ma.albedo, mb.albedo, m))
            print(f"seed {seed} {name}: two-light MAD {mads[name][-1]:.2f} %", flush=True)
    for name, v in mads.items():
        print(f"two-light MAD % ({name}), mean over seeds: {np.mean(v):.2f}  per seed {[round(x, 2) for x in v]}")
    print("means over seeds: z fitted / true, x fitted / true")
    for (ln, name), r in rows.items():
        r = np.array(r).mean(0)
        print(f"| {ln} | {name} | {r[0]:.3f} / {r[1]:.3f} | {r[2]:.3f} / {r[3]:.3f} |")


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
