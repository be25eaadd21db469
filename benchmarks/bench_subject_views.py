"""Multi-photo identity on the landmark level: one synthetic person at yaw -45, 0, +45 degrees.

    .venv/bin/python benchmarks/bench_subject_views.py [--seeds 5] [--noise-px 0.5]
    .venv/bin/python benchmarks/bench_subject_views.py --rendered [--seeds 3] [--presets fast default] [--blotch 0.05]

Per seed: the narrow-face identity vertex error (neutral expression, similarity aligned, mm) of each
single-view landmark fit (``fit_head_landmarks``) and of the joint fits over the three views
(``fitting.head_track.fit_joint_identity``, what ``reconstruct --subject`` uses with the regressor off;
``fit_subject_identity``, what it uses with the regressor on, every preset). The views are the
model's embedded mediapipe points projected with noise, each with its own random expression
(``bench.clip.make_views``): this measures the joint identity fit, not the detector. Never
collected by pytest.

``--rendered``: the same on rendered photos through mediapipe (``bench.subject.subject_scene``, each
view with its own random expression, blotches of sd ``--blotch``): per preset, each photo fitted on its
own by the pipeline (``reconstruct``: the landmark stage, and with ``default`` the photometric stage)
against ``subject.reconstruct_subject`` on the three (``fast``: the joint landmark identity; ``default``:
then the joint photometric stage). The error includes the fitted corrections (``HeadParams.offsets``).
"""
from __future__ import annotations

import argparse

import numpy as np
import torch


def main() -> int:
    from facesculpt.bench.clip import make_views
    from facesculpt.bench.synthetic import similarity_error_mm
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
    from facesculpt.fitting.head_track import TrackConfig, fit_joint_identity, fit_subject_identity
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import RegressorInitConfig

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--noise-px", type=float, default=0.5)
    ap.add_argument("--rendered", action="store_true", help="rendered photos through mediapipe and the pipeline")
    ap.add_argument("--presets", nargs="+", default=["fast", "default"])
    ap.add_argument("--blotch", type=float, default=0.05)
    ap.add_argument("--set", action="append", default=[], help="--rendered: config override KEY=VALUE (as the CLI's)")
    args = ap.parse_args()
    if args.rendered:
        return rendered(args)
    model = load_face_model()
    canon = model.points(model.template[None], "mediapipe")[0, :468]

    def err(a, b):
        z = lambda i: model.vertices(HeadParams(i, torch.zeros(1, 53), torch.zeros(1, 2, 2)))[0, model.narrow_face]  # noqa
        with torch.no_grad():
            return similarity_error_mm(z(a), z(b))

    print("| seed | yaw -45 | yaw 0 | yaw +45 | joint (3 views) | joint, regressor start (fit_subject_identity) |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = []
    for seed in range(args.seeds):
        lms, cams, truth = make_views(seed, (-45.0, 0.0, 45.0), noise_px=args.noise_px)
        single = []
        for lm, cam in zip(lms, cams):
            _, pose, _ = initialize(lm, canon)
            _, head, _ = fit_head_landmarks(lm, model, pose, cam, HeadLandmarkConfig())
            single.append(err(head.identity, truth))
        ident, _ = fit_joint_identity(lms, model, cams, HeadLandmarkConfig(), TrackConfig())
        ident_s, _, _ = fit_subject_identity(lms, model, cams, HeadLandmarkConfig(), RegressorInitConfig(), TrackConfig())
        rows.append(single + [err(ident, truth), err(ident_s, truth)])
        print(f"| {seed} | " + " | ".join(f"{x:.2f}" for x in rows[-1]) + " |", flush=True)
    m = np.mean(rows, 0)
    print("| mean | " + " | ".join(f"{x:.2f}" for x in m) + " |")
    wins = [sum(r[k] < min(r[:3]) for r in rows) for k in (3, 4)]
    print(f"joint best on {wins[0]}/{len(rows)}, regressor-start joint best on {wins[1]}/{len(rows)}")
    return 0


def rendered(args) -> int:
    import dataclasses
    import time

    from facesculpt.bench.subject import subject_scene
    from facesculpt.bench.synthetic import similarity_error_mm
    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.pipeline import reconstruct
    from facesculpt.subject import reconstruct_subject

    model = load_face_model()

    def neutral(h: HeadParams):
        with torch.no_grad():
            return model.vertices(h.neutral())[0, model.narrow_face]

    print("| preset | seed | yaw -45 | yaw 0 | yaw +45 | joint (3 photos) | joint s wall |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for preset in args.presets:
        from facesculpt.cli import _parse_overrides

        cfg = dataclasses.replace(make_config(preset, **_parse_overrides(args.set)), identity_metrics=False)
        rows = []
        for seed in range(args.seeds):
            sc = subject_scene(seed, blotch_sd=args.blotch, expression=True)
            truth = neutral(HeadParams(sc.identity, sc.expressions[:1] * 0, torch.zeros(1, 2, 2)))
            single = [similarity_error_mm(neutral(reconstruct(im, config=cfg).head), truth) for im in sc.images]
            t0 = time.perf_counter()
            res = reconstruct_subject(sc.images, cfg, force=True)
            wall = time.perf_counter() - t0
            rows.append(single + [similarity_error_mm(neutral(res.photos[0].head), truth)])
            print(f"| {preset} | {seed} | " + " | ".join(f"{x:.2f}" for x in rows[-1]) + f" | {wall:.0f} |", flush=True)
        m = np.mean(rows, 0)
        wins = sum(r[-1] < min(r[:-1]) for r in rows)
        print(f"| {preset} | mean | " + " | ".join(f"{x:.2f}" for x in m) + f" | joint best on {wins}/{len(rows)} |",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
