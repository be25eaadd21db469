"""What dominates the two-light albedo difference of the relight benchmark's pairs (issue 12, session 6).

For each synthetic head (``bench.relight.Subject``, with shadows) the photos under two lights (default:
white and side) are reconstructed with the pipeline, and the same photos are unwrapped with *oracle*
inputs, so the difference can be split by cause:

* ``oracle``: true geometry, pose and light, the true head's visibility in the de-lighting — what is left
  is 8-bit noise, the completion and the de-lighting floor;
* ``oracle_novis``: true geometry and light, no visibility — adds the cast shadows and ambient occlusion;
* ``true_geom_fitted_light``: true geometry, the pipeline's fitted light (no visibility) — adds the light
  estimate's error;
* ``pipeline``: the reconstructions (fitted geometry, pose and light) — adds the geometry;
* ``*_per_channel``: the same with one scale per colour channel instead of one global scale (what is
  left when the light's colour difference is taken out too);
* ``pipeline_sh9_removed``: the pipeline's albedo ratio (light B / light A) divided by its least-squares
  fit by 9 SH terms of the true normals (a smooth error of the light's shape, order 2) before the metric.

All numbers: albedo mean absolute difference after one global scale, per cent, over the skin texels both
photos saw (``bench.relight.two_light_mad_pct``'s rule).

    OMP_NUM_THREADS=1 python benchmarks/side_pairs_analysis.py [--n 2] [--lights white,side] [--preset default]
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


def _mad_per_channel(a: torch.Tensor, b: torch.Tensor, m: torch.Tensor) -> float:
    """As ``_mad`` with one scale per channel (the light's colour difference taken out too)."""
    from facesculpt.bench.relight import global_scale

    pa, pb = a[m], b[m]
    pa = torch.stack([pa[:, c] * global_scale(pa[:, c], pb[:, c]) for c in range(3)], -1)
    return float(100 * (pa - pb).abs().mean() / (0.5 * (pa + pb)).mean().clamp(min=1e-8))


def main() -> None:
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, exported_albedo, sh_light, _resize
    from facesculpt.config import make_config
    from facesculpt.face_model import fit_view
    from facesculpt.ops.sh import sh_basis
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer
    from facesculpt.texture.clipping import crop_clipped
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.completion import texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.unwrap import texel_geometry, unwrap

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--lights", default="white,side")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--set", action="append", default=[])
    a = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    ov = _parse_overrides(a.set)
    cfg = make_config(a.preset, **ov)
    la, lb = a.lights.split(",")
    S = 256
    rows = []
    for seed in range(a.n):
        subj = Subject(seed, shadows=True)
        view = fit_view(subj.model)
        dense = view.render_verts(subj.head_verts)
        O = head_occluded_transfer(dense, view.dense_faces, subj.pose, VisibilityConfig())
        grid, classes = texel_mirror_grid(view.fill, S), texel_classes(view, S)
        tcfg = cfg.texture.__class__(**{**cfg.texture.__dict__, "size": S})
        geo = texel_geometry(dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, S)
        res = {}
        for ln in (la, lb):
            light = sh_light(*SCENE_LIGHTS[ln])
            photo = subj.photo(light, seed=seed)
            img = srgb_to_linear(torch.from_numpy(photo).float()[None] / 255)
            clipped = crop_clipped(photo, 0.0, 0.0, float(photo.shape[1]), photo.shape[0], cfg.texture.clipping)
            rec = reconstruct_all(photo, config=cfg, max_faces=1, name=f"s{seed}_{ln}")[0]
            torch.set_grad_enabled(False)
            fitted = rec.params.light.coeffs

            def unw(lgt, occ):
                return unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, lgt, tcfg,
                              mirror_grid=grid, classes=classes, occluded=occ, clipped=clipped)
            res[ln] = {"oracle": unw(light, O), "oracle_novis": unw(light, None),
                       "true_geom_fitted_light": unw(fitted, None), "rec": rec}
            torch.set_grad_enabled(True)
        skin = subj.skin
        row = {"seed": seed}
        for key in ("oracle", "oracle_novis", "true_geom_fitted_light"):
            ma, mb = res[la][key], res[lb][key]
            m = skin & ((ma.visibility + (0 if ma.censored is None else ma.censored)) > 0.5) & \
                ((mb.visibility + (0 if mb.censored is None else mb.censored)) > 0.5)
            row[key] = _mad(ma.albedo, mb.albedo, m)
            row[key + "_per_channel"] = _mad_per_channel(ma.albedo, mb.albedo, m)
        ra, rb = res[la]["rec"], res[lb]["rec"]
        A, B = _resize(exported_albedo(ra), S), _resize(exported_albedo(rb), S)

        def seen(r):
            v = r.maps.visibility + (0 if r.maps.censored is None else r.maps.censored)
            return _resize(v[..., None], S)[..., 0] > 0.5
        m = skin & seen(ra) & seen(rb)
        row["pipeline"] = _mad(A, B, m)
        row["pipeline_per_channel"] = _mad_per_channel(A, B, m)
        # the smooth (order-2 SH of the true normals) part of the albedo ratio, taken out
        n = geo.normal_view[m].double()
        Y = sh_basis(n)
        ratio = (B[m].double() / A[m].double().clamp(min=1e-4)).clamp(0.05, 20)
        c = torch.linalg.lstsq(Y, ratio).solution
        smooth = (Y @ c).float()
        row["pipeline_sh9_removed"] = _mad(A[m] * smooth, B[m], torch.ones(int(m.sum()), 3, dtype=torch.bool))
        row["light_gain"] = {la: [round(float(x), 3) for x in ra.losses.get("skin_prior", {}).get("light_gain", [])],
                             lb: [round(float(x), 3) for x in rb.losses.get("skin_prior", {}).get("light_gain", [])]}
        rows.append(row)
        print(row, flush=True)
    keys = ("oracle", "oracle_novis", "true_geom_fitted_light", "true_geom_fitted_light_per_channel", "pipeline",
            "pipeline_per_channel", "pipeline_sh9_removed")
    print("mean over seeds: " + ", ".join(f"{k} {np.mean([r[k] for r in rows]):.2f} %" for k in keys))


if __name__ == "__main__":
    main()
