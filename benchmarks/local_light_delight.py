"""De-lighting with the per-texel light ratio on the true geometry (issue 12, item 2).

The relight benchmark's head (seed 0, its painted albedo recoloured to a measured skin tone) is
rendered in linear light with its own visibility (ambient occlusion and the SH light's cast
shadows) under the benchmark's white and side lights, then unwrapped with the true light, pose and
geometry, with and without the head's visibility in the de-lighting (``--vis``) and with and
without the local light (``texture.local_light``). Prints the albedo's mean absolute error (linear,
per cent of the true mean) over the well-seen skin texels, without and after one global scale,
and the same restricted to the texels the head shades most (the 10 % with the lowest
visibility-to-plain shading ratio: creases and the nose's cast shadow).

    OMP_NUM_THREADS=1 python benchmarks/local_light_delight.py [--set-ll key=value ...]
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--set-ll", action="append", default=[], help="LocalLightConfig field=value")
    ap.add_argument("--lights", default="white,side")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.ops.sh import sh_shade
    from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer, shade_with_visibility
    from facesculpt.texture.completion import texel_classes, CompletionConfig
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.local_light import LocalLightConfig
    from facesculpt.texture.unwrap import texel_geometry, unwrap, uv_interpolate, uv_raster

    over = {}
    for kv in args.set_ll:
        k, v = kv.split("=", 1)
        over[k] = type(getattr(LocalLightConfig(), k))(eval(v))
    ll_on = LocalLightConfig(enabled=True, **over)
    S = 512
    subj = Subject(args.seed, size=512, uv_size=S, shadows=True)
    view = fit_view(subj.model)
    dense = view.render_verts(subj.head_verts)
    grid = texel_mirror_grid(view.fill, S)
    classes = texel_classes(view, S)
    O = head_occluded_transfer(dense, view.dense_faces, subj.pose, VisibilityConfig())
    truth = subj.albedo
    skin = subj.skin[0]
    # how much the head shades each texel (for the "shaded" rows)
    geo = texel_geometry(dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, S)
    occ = uv_interpolate(O, uv_raster(view.dense_uvs, view.dense_faces, S))
    print(f"{'light':<6} {'vis':<4} {'local':<6}{'MAD%':>7}{'scaled':>8}{'shaded':>8}{'sh.sc':>8}{'s':>7}")
    for ln in args.lights.split(","):
        light = sh_light(*SCENE_LIGHTS[ln])
        img = torch.from_numpy(subj.photo(light)).float()[None] / 255
        from facesculpt.texture.color import srgb_to_linear
        img = srgb_to_linear(img)
        plain = sh_shade(geo.normal_view, light)
        ratio = (shade_with_visibility(plain, occ, light).mean(-1) / plain.mean(-1).clamp(min=1e-4))[0]
        for vis in (False, True):
            for on in (False, True):
                cfg = TextureConfig(size=S, completion=CompletionConfig(enabled=False),
                                    local_light=ll_on if on else LocalLightConfig())
                t = time.perf_counter()
                m = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light, cfg,
                           occluded=O if vis else None, mirror_grid=grid, classes=classes)
                dt = time.perf_counter() - t
                sel = skin & (m.visibility[0] > 0.5)
                shaded = sel & (ratio <= ratio[sel].quantile(0.1))
                a, tr = m.albedo[0], truth[0]
                out = []
                for msk in (sel, shaded):
                    p, q = a[msk], tr[msk]
                    sc = float((p * q).sum() / (p * p).sum())
                    out += [float((p - q).abs().mean() / q.mean() * 100), float((sc * p - q).abs().mean() / q.mean() * 100)]
                print(f"{ln:<6} {'on' if vis else 'off':<4} {'on' if on else 'off':<6}"
                      + "".join(f"{x:>8.2f}" for x in out) + f"{dt:>7.2f}")


if __name__ == "__main__":
    main()
