"""What holds the relight benchmark's two-light figure (issue 12): its floors, measured.

Two parts, on the benchmark's heads (``bench.relight.Subject``, 512 px, with shadows):

* ``noise``: one head, one light, the photo drawn twice with different sensor noise (seeds ``s`` and ``s + 1000``;
  the benchmark gives all photos of a head the same draw), both through the pipeline (``--preset``), and the
  benchmark's pair figure (``two_light_mad_pct``) between the two albedos: what noise alone costs.
* ``truth``: every light's photo unwrapped with the *true* geometry, pose, camera and light (completion off), with
  and without the head's visibility in the de-lighting, and the pair figure over every pair of lights: what a
  perfect fit of shape and light would still leave.
* ``swap``: the same unwrap (completion and visibility off) with one of the two fitted by the pipeline
  (``--preset``): the true geometry with the fitted light, the fitted geometry (mesh, pose, camera) with the true
  light, and both fitted: which of the two the pipeline's pair figure comes from.

    OMP_NUM_THREADS=1 python benchmarks/relight_pair_floor.py noise --seeds 0-5 --lights white,side
    OMP_NUM_THREADS=2 python benchmarks/relight_pair_floor.py truth --seeds 0-5 [--per-pair]
    OMP_NUM_THREADS=1 python benchmarks/relight_pair_floor.py swap --seeds 0-5

Numbers: docs/results.md, "Session 43". Never collected by pytest.
"""
from __future__ import annotations

import argparse
import itertools

import numpy as np
import torch


def _seeds(text: str) -> list[int]:
    out = []
    for part in text.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def noise(args) -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light, two_light_mad_pct
    from facesculpt.pipeline import reconstruct_all

    by_light: dict[str, list[float]] = {}
    for seed in _seeds(args.seeds):
        sub = Subject(seed)
        for light in args.lights.split(","):
            recs = []
            for draw in (seed, seed + 1000):
                photo = sub.photo(sh_light(*SCENE_LIGHTS[light]), seed=draw)
                recs.append(reconstruct_all(photo, preset=args.preset, max_faces=1, name="floor")[0])
                torch.set_grad_enabled(True)
            d = two_light_mad_pct(recs[0], recs[1], sub.skin)
            by_light.setdefault(light, []).append(d)
            print(f"seed {seed} {light:<7} two noise draws: {d:.2f} %", flush=True)
    for light, v in by_light.items():
        print(f"{light:<7} mean {np.mean(v):.2f} % (min {min(v):.2f}, max {max(v):.2f}, {len(v)} heads)")


def truth(args) -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, _resize, global_scale, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.completion import CompletionConfig, texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.unwrap import unwrap

    S = 512
    res: dict[bool, list[float]] = {False: [], True: []}
    for seed in _seeds(args.seeds):
        subj = Subject(seed, size=512, uv_size=256, shadows=True)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        grid, classes = texel_mirror_grid(view.fill, S), texel_classes(view, S)
        occ = head_occluded_transfer(dense, view.dense_faces, subj.pose, VisibilityConfig())
        cfg = TextureConfig(size=S, completion=CompletionConfig(enabled=False))
        for vis in (False, True):
            al = {}
            for name in SCENE_LIGHTS:
                light = sh_light(*SCENE_LIGHTS[name])
                img = srgb_to_linear(torch.from_numpy(subj.photo(light, seed=seed)).float()[None] / 255)
                m = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light, cfg,
                           occluded=occ if vis else None, mirror_grid=grid, classes=classes)
                al[name] = (_resize(m.albedo.clamp(0, 1), 256), _resize(m.visibility[..., None], 256)[..., 0])
            for a, b in itertools.combinations(SCENE_LIGHTS, 2):
                (pa, ca), (pb, cb) = al[a], al[b]
                msk = subj.skin & (ca > 0.5) & (cb > 0.5)
                x, y = pa[msk], pb[msk]
                x = x * global_scale(x, y)
                d = float(100 * (x - y).abs().mean() / (0.5 * (x + y)).mean())
                res[vis].append(d)
                if args.per_pair:
                    print(f"seed {seed} visibility {'on ' if vis else 'off'} {a}-{b}: {d:.2f} %", flush=True)
        print(f"seed {seed}: mean over its pairs, visibility off {np.mean(res[False][-15:]):.2f} %, "
              f"on {np.mean(res[True][-15:]):.2f} %", flush=True)
    for vis in (False, True):
        print(f"true geometry, pose, camera and light, visibility {'on' if vis else 'off'}: "
              f"{np.mean(res[vis]):.2f} % over {len(res[vis])} pairs")


def _pairs(al: dict, skin: torch.Tensor) -> list[float]:
    """The benchmark's pair figure over every pair of ``al`` {light: (albedo (1, S, S, 3), confidence (1, S, S))}."""
    from facesculpt.bench.relight import global_scale

    out = []
    for a, b in itertools.combinations(list(al), 2):
        (pa, ca), (pb, cb) = al[a], al[b]
        msk = skin & (ca > 0.5) & (cb > 0.5)
        x, y = pa[msk], pb[msk]
        x = x * global_scale(x, y)
        out.append(float(100 * (x - y).abs().mean() / (0.5 * (x + y)).mean()))
    return out


def swap(args) -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, _resize, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.completion import CompletionConfig
    from facesculpt.texture.unwrap import unwrap

    S = 512
    cfg = TextureConfig(size=S, completion=CompletionConfig(enabled=False))
    kinds = ("true geometry, true light", "true geometry, fitted light", "fitted geometry, true light",
             "fitted geometry, fitted light")
    res: dict[str, list[float]] = {k: [] for k in kinds}
    for seed in _seeds(args.seeds):
        subj = Subject(seed, size=512, uv_size=256, shadows=True)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        al: dict[str, dict] = {k: {} for k in kinds}
        for name in SCENE_LIGHTS:
            true_light = sh_light(*SCENE_LIGHTS[name])
            photo = subj.photo(true_light, seed=seed)
            rec = reconstruct_all(photo, preset=args.preset, max_faces=1, name="swap")[0]
            torch.set_grad_enabled(True)
            img = srgb_to_linear(torch.from_numpy(photo).float()[None] / 255)
            fit_light = rec.params.light.coeffs.detach()
            with torch.no_grad():
                for kind in kinds:
                    geo_true, light_true = kind.startswith("true geometry"), kind.endswith("true light")
                    verts = dense if geo_true else rec.mesh.verts.detach()
                    pose = subj.pose if geo_true else rec.params.pose
                    cam = subj.camera if geo_true else rec.params.camera
                    m = unwrap(img, verts, view.dense_faces, view.dense_uvs, pose, cam,
                               true_light if light_true else fit_light, cfg)
                    al[kind][name] = (_resize(m.albedo.clamp(0, 1), 256), _resize(m.visibility[..., None], 256)[..., 0])
        for kind in kinds:
            d = _pairs(al[kind], subj.skin)
            res[kind] += d
            print(f"seed {seed} {kind}: {np.mean(d):.2f} %", flush=True)
    for kind in kinds:
        print(f"{kind}: {np.mean(res[kind]):.2f} % over {len(res[kind])} pairs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["noise", "truth", "swap"])
    ap.add_argument("--seeds", default="0-5", help="heads, e.g. 0-5 or 0,2,4")
    ap.add_argument("--lights", default="white,side", help="noise: the lights to redraw")
    ap.add_argument("--preset", default="default", help="noise: the pipeline's preset")
    ap.add_argument("--per-pair", action="store_true", help="truth: print every pair")
    args = ap.parse_args()
    {"noise": noise, "truth": truth, "swap": swap}[args.part](args)


if __name__ == "__main__":
    main()
