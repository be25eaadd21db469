"""Cost of the per-texel light ratio (issue 12 item 2, ``texture.local_light``): the solve alone on
the relight benchmark's head (512^2 maps, the default 128^2 solve grid and 64^2 light grid), and a
``default`` reconstruction of grace_hopper and astronaut with it off, on, and on with a smoother
ratio (wall and CPU seconds, the texture stage's seconds, in-view PSNR, identity distances). Run on an idle machine for speed figures:

    OMP_NUM_THREADS=1 python benchmarks/bench_local_light.py [--no-pipeline]
"""
from __future__ import annotations

import sys
import time
from importlib import resources

import numpy as np
import torch


def main() -> None:
    from PIL import Image

    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import TextureConfig, make_config
    from facesculpt.face_model import fit_view
    from facesculpt.pipeline import reconstruct
    from facesculpt.texture.completion import CompletionConfig, texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.local_light import LocalLightConfig, solve_local_light
    from facesculpt.texture.unwrap import unwrap

    S = 512
    subj = Subject(0, size=512, uv_size=256, shadows=False)
    view = fit_view(subj.model)
    dense = view.render_verts(subj.head_verts)
    light = sh_light(*SCENE_LIGHTS["side"])
    img = torch.from_numpy(subj.photo(light)).float()[None] / 255
    grid, classes = texel_mirror_grid(view.fill, S), texel_classes(view, S)
    m = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light,
               TextureConfig(size=S, completion=CompletionConfig(enabled=False)), mirror_grid=grid, classes=classes)
    cfg = LocalLightConfig(enabled=True)
    solve_local_light(m.texture, m.shading, m.visibility, cfg, mirror_grid=grid, classes=classes)
    w, c = time.perf_counter(), time.process_time()
    for _ in range(5):
        solve_local_light(m.texture, m.shading, m.visibility, cfg, mirror_grid=grid, classes=classes)
    print(f"solve_local_light 512^2 map: {(time.perf_counter() - w) / 5:.3f} s wall, "
          f"{(time.process_time() - c) / 5:.3f} s CPU")
    if "--no-pipeline" in sys.argv:
        return
    import skimage.data

    with resources.files("facesculpt").joinpath("assets/grace_hopper.jpg").open("rb") as f:
        photos = {"grace_hopper": np.asarray(Image.open(f).convert("RGB")), "astronaut": skimage.data.astronaut()}
    variants = {"off": {"enabled": False}, "on": {"enabled": True},
                "on, light_size=32, w_light_smooth=8": {"enabled": True, "light_size": 32, "w_light_smooth": 8.0}}
    for name, photo in photos.items():
        for label, v in variants.items():
            cfg = make_config("default", **{f"texture.local_light.{k}": x for k, x in v.items()})
            w, c = time.perf_counter(), time.process_time()
            rec = reconstruct(photo, config=cfg)
            m = rec.metrics
            print(f"{name} default, local light {label}: {time.perf_counter() - w:.2f} s wall, "
                  f"{time.process_time() - c:.2f} s CPU; texture {rec.timings.get('texture', 0.0):.2f} s; "
                  f"in-view PSNR {m['inview_psnr']:.2f} dB; identity in view {m['identity_distance_inview']:.3f}, "
                  f"-30 {m['identity_distance_yaw_minus30']:.3f}, +30 {m['identity_distance_yaw_plus30']:.3f}")


if __name__ == "__main__":
    main()
