"""The ``default`` preset with the identity losses off and on: time and identity distances.

    .venv/bin/python benchmarks/bench_identity_fit.py [--threads 2] [--set identity.w_random_pose=30 ...]

For grace_hopper (bundled) and scikit-image's astronaut: wall time of ``reconstruct`` per
image (after one warm-up run that loads the models and compiles the kernels), the
photometric stage's time, its final photometric loss, and the identity distances
(``facesculpt.metrics.identity``) of the in-view and +-30 deg yaw renders to the photo, and
of held-out views the fit's random views never reach (yaw +-45 deg, pitch +-15 deg).
Prints one table to stdout, then the cost of one evaluation + backward of the in-view terms
and of the random view at the fit's render size (median of 5, identity-on settings).
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch


def _parse_set(items):
    out = {}
    for item in items or []:
        key, _, value = item.partition("=")
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def _step_costs(img, rec, cfg, repeats: int = 5) -> tuple[float, float]:
    """Seconds for (in-view identity + content, random view), each with its backward."""
    import statistics
    from dataclasses import replace

    from facesculpt.identity.fitting import make_identity_terms
    from facesculpt.ops.image import crop_resize, square_box, to_tensor
    from facesculpt.pipeline import FIT_CROP_EXPAND
    from facesculpt.render.face import render_face
    from facesculpt.topology import load_topology

    topo = load_topology(cfg.subdivision_levels)
    R = cfg.photometric.render_size
    x0, y0, side = square_box(rec.landmarks.bbox.tolist(), FIT_CROP_EXPAND)
    target = to_tensor(crop_resize(img, x0, y0, side, R))
    cam = rec.params.camera.crop(x0, y0, R / side, (R, R))
    lm68 = ((rec.landmarks.points[topo.lmk68, :2] - torch.tensor([x0, y0])) * (R / side))[None]
    out = []
    # the in-view terms are timed at run 2's weights when the settings have them off
    in_view = replace(cfg.identity, w_random_pose=0.0, w_identity=cfg.identity.w_identity or 0.05,
                      w_content=cfg.identity.w_content or 0.002)
    for icfg in (in_view, replace(cfg.identity, w_identity=0.0, w_content=0.0, random_pose_every=1, every=10 ** 9)):
        terms = make_identity_terms(target, lm68, icfg, topo, cfg.seed)
        ts = []
        for i in range(repeats + 1):
            coarse = rec.coarse.clone().requires_grad_(True)
            light = rec.params.light.coeffs.clone().requires_grad_(True)
            alb = rec.maps.albedo[:, ::4, ::4].contiguous().requires_grad_(True)
            dense = topo.densify(coarse)
            rend = render_face(dense, topo.dense_faces, topo.dense_uvs, rec.params.pose, cam, alb, light,
                               background=target, antialias=True)
            state = {"render": rend, "pose": rec.params.pose, "coarse": coarse, "dense": dense, "light": light,
                     "albedo_tex": alb, "camera": cam, "step": 1}
            t = time.perf_counter()
            loss, _ = terms(state)
            if loss.requires_grad:
                loss.backward()
            if i:
                ts.append(time.perf_counter() - t)
        out.append(statistics.median(ts))
    return out[0], out[1]


def main() -> None:
    import skimage.data

    from facesculpt.config import make_config
    from facesculpt.io.image import load_image
    from facesculpt.metrics.identity import identity_metrics, photo_embedding, render_embedding
    from facesculpt.pipeline import reconstruct
    from facesculpt.topology import load_topology

    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--set", action="append", metavar="KEY=VALUE", help="override for the identity-on runs")
    ap.add_argument("--costs-only", action="store_true", help="only the per-step costs (fast preset fit)")
    ap.add_argument("--iterations", type=int, default=None, help="photometric iterations (default: preset's)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    from importlib import resources

    photos = {
        "grace_hopper": load_image(str(resources.files("facesculpt") / "assets" / "grace_hopper.jpg")),
        "astronaut": skimage.data.astronaut(),
    }
    common = {} if args.iterations is None else {"photometric.iterations": args.iterations}
    configs = {
        "off": make_config("default", **{**common, "identity.enabled": False}),
        "on": make_config("default", **{**common, "identity.enabled": True, **_parse_set(args.set)}),
    }
    topo = load_topology(configs["on"].subdivision_levels)
    if args.costs_only:
        rec = reconstruct(photos["grace_hopper"], config=make_config("fast"))
        _step_costs(photos["grace_hopper"], rec, configs["on"], 1)
        inview, rnd = _step_costs(photos["grace_hopper"], rec, configs["on"])
        print(f"in-view identity+content {inview:.3f} s, random view {rnd:.3f} s (with backward; load average "
              f"{os.getloadavg()[0]:.2f})")
        return
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    reconstruct(photos["grace_hopper"], config=configs["on"])          # warm-up
    rows = []
    for name, img in photos.items():
        for mode, cfg in configs.items():
            t = time.perf_counter()
            rec = reconstruct(img, config=cfg)
            if name == "grace_hopper" and mode == "on":
                rec_costs = rec
            wall = time.perf_counter() - t
            m = identity_metrics(img, rec, topo)
            e = photo_embedding(img, rec.landmarks.points[topo.lmk68, :2])
            held = [float(torch.linalg.vector_norm(render_embedding(rec, topo, y, pitch_deg=p) - e))
                    for y, p in ((-45, 0), (45, 0), (0, -15), (0, 15))]
            rows.append((name, mode, wall, rec.timings.get("photometric", 0.0),
                         rec.losses["photometric"]["photo_final"], m["identity_distance_inview"],
                         m["identity_distance_yaw_minus30"], m["identity_distance_yaw_plus30"],
                         m["identity_distance_inview_over_photo"], *held))
    on = configs["on"].identity
    print(f"torch {torch.__version__}, threads={torch.get_num_threads()}, photometric iterations "
          f"{configs['on'].photometric.iterations}; identity-on settings: {on}")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("| photo | identity losses | wall s | photometric s | photo loss | d in-view | d yaw -30 | d yaw +30 "
          "| d in-view over photo | d yaw -45 | d yaw +45 | d pitch -15 | d pitch +15 |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.1f} | {r[3]:.1f} | {r[4]:.4f} | "
              + " | ".join(f"{x:.3f}" for x in r[5:]) + " |")
    inview, rnd = _step_costs(photos["grace_hopper"], rec_costs, configs["on"])
    on = configs["on"].identity
    k = on.random_pose_every
    used = (inview / on.every if on.w_identity > 0 or on.w_content > 0 else 0.0) + rnd * on.random_views / k
    print(f"per step (grace_hopper, render {configs['on'].photometric.render_size}px, incl. backward): in-view "
          f"identity+content {inview:.3f} s, random view {rnd:.3f} s; these settings: {used:.3f} s/step")


if __name__ == "__main__":
    main()
