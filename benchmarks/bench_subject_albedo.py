"""Multi-photo albedo: real pixels on both sides, no mirrored halves (issue 16).

    .venv/bin/python benchmarks/bench_subject_albedo.py [--seed 0] [--preset fast] [--blotch 0.15]

One synthetic head (``bench.subject.subject_scene``: its painted albedo with freckles and blotches drawn
independently on every texel, smooth noise of standard deviation ``--blotch``, so its halves differ;
neutral expression) rendered at yaw -45, 0, +45 degrees (pitch 5), fitted by ``subject.reconstruct_subject``
through mediapipe (``force=True``: dlib's same-person check refuses some of these renders). The face
tile's UVs are mirror images about u = 0.5: flipping the tile left-right is the mirror. Scored on
texels the fused result saw (visibility > 0.5), per half of the tile: the correlation of the albedo's
detail (luminance, 5-texel minus 31-texel box blur) with the truth's, and with the **mirrored**
truth's. Mirrored halves would show as a high second number and a low first one on that half. The
same for each photo's own albedo, and the correlation of the detail's left-right asymmetric part
(detail minus its mirror image) with the truth's on texel pairs seen on both sides (a mirrored copy
has no asymmetric part: ~0). Also printed per photo: mediapipe's landmark error against the true
projection of the model's points (px; the registration the unwrap depends on), the correlation of an
unwrap through the *true* geometry and camera (what a perfect registration would give) and the
registration confidence the fusion used. Never collected by pytest.
"""
from __future__ import annotations

import argparse


def main() -> int:
    import dataclasses
    import time

    import torch
    import torch.nn.functional as F

    from facesculpt.bench.subject import detail, masked_corr, subject_scene
    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.ops.image import to_tensor
    from facesculpt.ops.sh import ambient_coeffs
    from facesculpt.subject import reconstruct_subject, registration_ncc
    from facesculpt.texture.unwrap import unwrap

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--blotch", type=float, default=0.15, help="standard deviation of the blotches (0.15: the "
                    "follow-up's texture, on which mediapipe misplaces the side views)")
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (as the CLI's)")
    args = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    cfg = make_config(args.preset, **_parse_overrides(args.set))
    cfg = dataclasses.replace(cfg, identity_metrics=False)
    sc = subject_scene(args.seed, blotch_sd=args.blotch)
    model = load_face_model()
    view = fit_view(model)
    t0 = time.perf_counter()
    res = reconstruct_subject(sc.images, cfg, names=["yaw-45", "yaw0", "yaw+45"], force=True)
    wall = time.perf_counter() - t0
    S = sc.albedo.shape[1]
    truth = detail(sc.albedo, S)
    mirrored = truth.flip(1)

    def down(v):
        return F.interpolate(v[:, None].float(), size=(S, S), mode="area")[0, 0] if v.shape[-1] != S else v[0]

    seen = down(res.fused.maps.visibility) > 0.5
    half = torch.zeros(S, S, dtype=torch.bool)
    half[:, : S // 2] = True
    print(f"preset {args.preset}, seed {args.seed}, blotch {args.blotch}: {wall:.1f} s wall; timings "
          + ", ".join(f"{k} {v:.1f}" for k, v in res.timings.items()))
    print(f"control: the truth's detail against its mirror image: {masked_corr(truth, mirrored, seen & half):.3f} / "
          f"{masked_corr(truth, mirrored, seen & ~half):.3f} (halves u < 0.5 / u >= 0.5)")
    ncc = registration_ncc([r.maps.albedo for r in res.photos], [r.maps.visibility for r in res.photos], res.front)
    print("| photo | mediapipe vs truth px (mean) | true-geometry unwrap corr | registration ncc | confidence |")
    print("|---|---:|---:|---:|---:|")
    tex_cfg = dataclasses.replace(cfg.texture, mirror=False, size=S)
    neutral = HeadParams(sc.identity, sc.expressions[:1] * 0, torch.zeros(1, 2, 2))
    for i, (rec, pose, cam, im) in enumerate(zip(res.photos, sc.poses, sc.cameras, sc.images)):
        with torch.no_grad():
            hv = model.vertices(dataclasses.replace(neutral, expression=sc.expressions[i:i + 1]))
            true_xy = cam.project(pose.apply(model.points(hv, "mediapipe")))[0, :468]
            err = float((rec.landmarks.points[:468, :2] - true_xy).norm(dim=-1).mean())
            m = unwrap(to_tensor(im), view.render_verts(hv), view.dense_faces, view.dense_uvs, pose, cam,
                       ambient_coeffs(1), tex_cfg)
        oracle = masked_corr(detail(m.albedo, S), truth, down(m.visibility) > 0.5)
        print(f"| {res.names[i]} | {err:.1f} | {oracle:.3f} | {ncc[i]:.3f} | "
              f"{rec.metrics['registration_confidence']:.3f} |")
    print()
    print("| albedo | half | texels | corr with truth | corr with mirrored truth |")
    print("|---|---|---:|---:|---:|")
    rows = [("fused", res.fused.maps.albedo)] + [
        (f"{n} alone", r.maps.albedo) for n, r in zip(res.names, res.photos)]
    for name, a in rows:
        d = detail(a, S)
        for hname, h in (("u < 0.5", half), ("u >= 0.5", ~half)):
            m = seen & h
            print(f"| {name} | {hname} | {int(m.sum())} | {masked_corr(d, truth, m):.3f} | "
                  f"{masked_corr(d, mirrored, m):.3f} |")
    # the left-right asymmetric part of the detail (d - mirror(d)), on texels seen on both sides: a
    # mirrored half has none (correlation ~0 with the truth's), real pixels on both sides follow it
    both = seen & seen.flip(1) & half
    t_anti = truth - mirrored
    print()
    print(f"asymmetric detail (d - mirrored d) against the truth's, {int(both.sum())} texel pairs seen on both sides:")
    for name, a in rows:
        d = detail(a, S)
        print(f"| {name} | {masked_corr(d - d.flip(1), t_anti, both):.3f} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
