"""The clipping rule without the pipeline: true geometry, pose and light (issue 12, session 6).

The relight benchmark's synthetic heads (``bench.relight.Subject``, no shadows) photographed under a
scene light (default: bright, the one that clips), unwrapped at 256^2 with the true head, pose and SH
light and the skin completion, with the clipping rule off and with ``high_level`` 255, 250 and 245:
the albedo's mean absolute error over the face chart's skin texels the photo saw (per cent of the true
mean; without and after one global scale) and its mean bias per channel.

    OMP_NUM_THREADS=1 python benchmarks/clipping_delight.py [--seeds 0,1] [--lights bright]
"""
from __future__ import annotations

import argparse

import torch


def main() -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.texture.clipping import ClippingConfig, crop_clipped
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.completion import texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.unwrap import unwrap

    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0,1")
    ap.add_argument("--lights", default="bright")
    a = ap.parse_args()
    S = 256
    variants = (("off", None), ("255", 255), ("250", 250), ("245", 245))
    for seed in [int(x) for x in a.seeds.split(",")]:
        subj = Subject(seed, size=384, uv_size=S, shadows=False)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        grid, classes = texel_mirror_grid(view.fill, S), texel_classes(view, S)
        for ln in a.lights.split(","):
            light = sh_light(*SCENE_LIGHTS[ln])
            photo = subj.photo(light, seed=seed)
            img = srgb_to_linear(torch.from_numpy(photo).float()[None] / 255)
            base = None
            for name, level in variants:
                cc = ClippingConfig(enabled=level is not None, high_level=level or 255)
                clipped = crop_clipped(photo, 0.0, 0.0, float(photo.shape[1]), photo.shape[0], cc)
                m = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light,
                           TextureConfig(size=S, clipping=cc), mirror_grid=grid, classes=classes, clipped=clipped)
                if base is None:  # the texels the photo saw (the same set for every variant)
                    base = subj.skin[0] & (m.visibility[0] > 0.5)
                p, t = m.albedo[0][base], subj.albedo[0][base]
                s = float((p * t).sum() / (p * p).sum())
                mad = 100 * float((p - t).abs().mean() / t.mean())
                mads = 100 * float((p * s - t).abs().mean() / t.mean())
                bias = (100 * (p - t).mean(0) / t.mean(0)).tolist()
                print(f"seed {seed} {ln:<7} clipping {name:>3}: skin albedo MAD {mad:5.2f} %, after one scale {mads:5.2f} %,"
                      f" bias R/G/B {bias[0]:+.1f}/{bias[1]:+.1f}/{bias[2]:+.1f} %", flush=True)


if __name__ == "__main__":
    torch.set_grad_enabled(False)
    main()
