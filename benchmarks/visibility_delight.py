"""De-lighting with and without the head's visibility on the true geometry (issue 12).

A constant albedo (0.4) on the true face mesh of the relight benchmark's head (seed 0) is rendered
with reference visibility (512 directions, 384^2 shadow maps) under the benchmark's white and side
lights, then unwrapped with the true light and pose: without visibility, and with the pipeline's
(``VisibilityConfig()``: 64 directions, 192^2) and finer settings. Prints the albedo's mean, mean
absolute error and 1st/99th percentiles over the well-seen texels (confidence > 0.5).

    OMP_NUM_THREADS=1 python benchmarks/visibility_delight.py
"""
from __future__ import annotations

import torch


def main() -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.render.face import render_face
    from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer
    from facesculpt.texture.unwrap import unwrap

    subj = Subject(0, size=384, uv_size=64, shadows=False)
    view = fit_view(subj.model)
    dense = view.render_verts(subj.head_verts)
    ref = head_occluded_transfer(dense, view.dense_faces, subj.pose, VisibilityConfig(directions=512, resolution=384))
    alb = torch.full((1, 64, 64, 3), 0.4)
    cfg = TextureConfig(size=256, mirror=False)
    variants = {"none": None,
                "64 dirs, 192^2 (default)": VisibilityConfig(),
                "128 dirs, 192^2": VisibilityConfig(directions=128),
                "64 dirs, 256^2": VisibilityConfig(resolution=256)}
    print(f"{'light':<6} {'visibility':<26}{'mean':>7}{'MAE':>8}{'p1':>7}{'p99':>7}")
    for ln in ("white", "side"):
        light = sh_light(*SCENE_LIGHTS[ln])
        with torch.no_grad():
            img = render_face(dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, alb, light,
                              occluded=ref).image
        for name, vc in variants.items():
            O = None if vc is None else head_occluded_transfer(dense, view.dense_faces, subj.pose, vc)
            m = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light, cfg, occluded=O)
            a = m.albedo[m.visibility > 0.5]
            print(f"{ln:<6} {name:<26}{float(a.mean()):>7.4f}{float((a - 0.4).abs().mean()):>8.4f}"
                  f"{float(a.quantile(0.01)):>7.3f}{float(a.quantile(0.99)):>7.3f}")


if __name__ == "__main__":
    main()
