"""Multi-photo albedo: real pixels on both sides, no mirrored halves (issue 16 follow-up).

    .venv/bin/python benchmarks/bench_subject_albedo.py [--seed 0] [--preset fast]

One synthetic head (``synthetic.head``: its painted albedo with freckles and blotches, neutral
expression) rendered at yaw -45, 0, +45 degrees (pitch 5), fitted by ``subject.reconstruct_subject``.
The painted albedo gets blotches drawn independently on every texel (smooth noise, sd 15 %), so its
halves differ. The face tile's UVs are mirror images about u = 0.5: flipping the tile left-right is the
mirror. Scored on texels the fused result saw (visibility > 0.5), per half of the tile: the
correlation of the fused albedo's detail (luminance, 5-texel minus 31-texel box blur) with the truth's, and with the
**mirrored** truth's. Mirrored halves would show as a high second number and a low first one on
that half. The same for each photo's own albedo, for comparison. Never collected by pytest.
"""
from __future__ import annotations

import argparse


def main() -> int:
    import numpy as np
    import torch
    import torch.nn.functional as F

    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.render.antialias import antialias
    from facesculpt.render.face import render_face
    from facesculpt.subject import reconstruct_subject
    from facesculpt.synthetic.head import (IRIS_COLOURS, atlas, face_pose, head_config, head_mesh,
                                           make_head_albedo, make_light)

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="fast")
    args = ap.parse_args()
    cfg = head_config()
    model = load_face_model()
    rng = np.random.default_rng(args.seed)
    E = model.num_expression
    head = HeadParams(torch.tensor(rng.standard_normal(model.num_identity), dtype=torch.float32)[None],
                      torch.zeros(1, E), torch.zeros(1, 2, 2))
    with torch.no_grad():
        hv = model.vertices(head)
    albedo = torch.as_tensor(make_head_albedo(rng, model, cfg.uv_size, cfg.freckles))[None].float()
    # blotches drawn independently on every texel (so the two halves differ): smooth noise, sd 15 %
    S0 = albedo.shape[1]
    noise = np.random.default_rng(args.seed + 1000).standard_normal((1, 1, S0, S0))
    blot = F.avg_pool2d(torch.tensor(noise, dtype=torch.float32), 15, 1, 7, count_include_pad=False)
    blot = blot / blot.std()
    albedo = (albedo * (1 + 0.15 * blot[0, 0, :, :, None])).clamp(0, 1)
    tex = atlas(model, albedo, IRIS_COLOURS[0])
    light = make_light(rng, cfg.light_strength)
    verts, faces, uvs, vn, _ = head_mesh(model, hv, None, cfg.head_levels)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, cfg.size, cfg.size, 3).contiguous()
    images = []
    for yaw in (-45.0, 0.0, 45.0):
        pose, cam, _ = face_pose(model, hv, yaw, 5.0, 0.0, np.zeros(2), cfg)
        with torch.no_grad():
            rend = render_face(verts, faces, uvs, pose, cam, tex, light, background=bg, normals_model=vn)
            img = antialias(rend.image, rend.frags, rend.screen, faces).clamp(0, 1)
        images.append(np.rint(img[0].numpy() * 255).astype(np.uint8))
    res = reconstruct_subject(images, make_config(args.preset), names=["yaw-45", "yaw0", "yaw+45"],
                              force=True)  # the dlib check: see docs/results.md

    def detail(a, S):  # (1, s, s, 3) -> (S, S) luminance detail
        a = a.permute(0, 3, 1, 2).float()
        a = F.interpolate(a, size=(S, S), mode="area") if a.shape[-1] != S else a
        lum = (a * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
        fine = F.avg_pool2d(lum, 5, 1, 2, count_include_pad=False)
        band = fine - F.avg_pool2d(lum, 31, 1, 15, count_include_pad=False)
        return band[0, 0]

    S = min(cfg.uv_size, res.fused.maps.albedo.shape[1])
    truth = detail(albedo, S)
    mirrored = truth.flip(1)
    vis = res.fused.maps.visibility
    vis = F.interpolate(vis[:, None].float(), size=(S, S), mode="area")[0, 0] if vis.shape[-1] != S else vis[0]
    seen = vis > 0.5

    def corr(x, y, m):
        x, y = x[m] - x[m].mean(), y[m] - y[m].mean()
        return float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-12))

    half = torch.zeros(S, S, dtype=torch.bool)
    half[:, : S // 2] = True
    print(f"control: the truth's detail against its mirror image: {corr(truth, mirrored, seen):.3f}")
    print("| albedo | half | texels | corr with truth | corr with mirrored truth |")
    print("|---|---|---:|---:|---:|")
    rows = [("fused (3 photos)", res.fused.maps.albedo)] + [
        (f"{n} photo alone", r.maps.albedo) for n, r in zip(("yaw -45", "frontal", "yaw +45"), res.photos)]
    for name, a in rows:
        d = detail(a, S)
        for hname, h in (("u < 0.5", half), ("u >= 0.5", ~half)):
            m = seen & h
            print(f"| {name} | {hname} | {int(m.sum())} | {corr(d, truth, m):.3f} | {corr(d, mirrored, m):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
