"""Multi-photo identity on the landmark stage alone: why the side views and the joint fit got worse.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_subject_landmarks.py --cache /tmp/scenes.pt [--seeds 5]
        [--first-seed 0] [--blotch 0.05] [--controls] [--joint-only] [--set head_landmarks.view_bias=false]

The scenes of ``bench_subject_views.py --rendered`` (``bench.subject.subject_scene``: one random head,
yaw -45 / 0 / +45, pitch 5, each photo its own random expression, blotches of sd ``--blotch``) are
rendered and run through mediapipe once and saved to ``--cache`` (read back when it exists: the same
detections can then be fitted by other code, e.g. ``PYTHONPATH=<an older tree>`` running this file,
or the renders of an older tree fitted by this one). Then only the landmark stage runs (milliseconds a
fit; the ``fast`` preset has nothing else that moves the identity), per photo and jointly. Narrow-face
identity error (mm, neutral, similarity aligned) per seed and the mean:

single photos: ``reg_p0`` (the regressor, pose refined, no polish), ``reg_p2`` (+ 2 LM iterations, the
default since issue 10), ``lm16`` (the LM fit from the mean, ``regressor.enabled=false``), and with
``head_landmarks.point_sigma=off`` where the code has it. Joint: ``cos4`` (``fit_regressed_identity``,
the regressed identities averaged with cos(turn)^4), ``gn`` (``fit_joint_identity``), ``subject pP``
(``fit_subject_identity`` with ``track.subject_facing_power`` P, where the code has it; ``subject pP rRsS``:
also ``track.subject_identity_rounds`` R and ``track.subject_identity_steps`` S, where the code has them:
p2 r1s1 is the default since session 6, p4 r2s3 session 4's). "best of all": the joint below every single
photo (``reg_p2``) of that scene; "below yaw 0": below the frontal photo's. ``--joint-only``: of the single
photos only ``reg_p2``. A cache holds the seeds it was written with (``--seeds``/``--first-seed`` then only
name them).

``--controls``: (a) per view the detector's error against the true projection of the model's points
after a 2D similarity, in % of the face size, and the share of its energy that is common to all seeds
(the seeds' mean residual: a bias of mediapipe at that yaw; pure noise would give ~1/seeds);
(b) the same fits on the true projections plus Gaussian noise of each photo's own error size
(unbiased noise); (c) the detections corrected by the bias of the *other* seeds (leave one out).
Never collected by pytest; prints markdown tables.
"""
from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np
import torch


def _scenes(path: str, seeds: int, blotch: float, first_seed: int = 0) -> list:
    if os.path.exists(path):
        return torch.load(path, weights_only=False)
    from facesculpt.bench.subject import subject_scene
    from facesculpt.detect import detect_faces

    data = []
    for seed in range(first_seed, first_seed + seeds):
        sc = subject_scene(seed, blotch_sd=blotch, expression=True)
        lms = [detect_faces(im, max_faces=1)[0] for im in sc.images]
        data.append(dict(seed=seed, identity=sc.identity, expressions=sc.expressions,
                         poses=[(p.rotvec, p.translation) for p in sc.poses],
                         cams=[(c.focal, c.principal) for c in sc.cameras],
                         lms=[(lm.points, lm.bbox, tuple(lm.image_size), lm.detector) for lm in lms]))
    torch.save(data, path)
    return data


def main() -> int:
    import facesculpt.fitting.head_track as ht
    from facesculpt.bench.synthetic import similarity_error_mm
    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.fitting.head_landmarks import fit_head_landmarks
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import fit_head_from_regressor
    from facesculpt.structures import Landmarks, Pose

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="scenes + detections (written when missing)")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--first-seed", type=int, default=0, help="scenes first_seed .. first_seed + seeds - 1")
    ap.add_argument("--joint-only", action="store_true", help="single photos: reg_p2 only (the joint counts need it)")
    ap.add_argument("--blotch", type=float, default=0.05)
    ap.add_argument("--controls", action="store_true", help="the bias share, unbiased noise and leave-one-out runs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override of the fits, e.g. head_landmarks.view_bias=false (repeatable)")
    args = ap.parse_args()
    data = _scenes(args.cache, args.seeds, args.blotch, args.first_seed)
    model = load_face_model()
    canon = fit_view(model).canonical
    from facesculpt.cli import _parse_overrides

    cfg = make_config("fast", **_parse_overrides(args.set))
    has_sigma = hasattr(cfg.head_landmarks, "point_sigma")
    has_subject = hasattr(ht, "fit_subject_identity")

    def neutral(ident):
        with torch.no_grad():
            return model.vertices(HeadParams(ident, torch.zeros(1, model.num_expression),
                                             torch.zeros(1, 2, 2)))[0, model.narrow_face]

    def reg(lm, cam, polish, lmc=None):
        rc = dataclasses.replace(cfg.regressor, polish_iterations=polish)
        return fit_head_from_regressor(lm, model, cam, lmc or cfg.head_landmarks, rc)[1].identity

    single = {"reg_p0": lambda lm, cam: reg(lm, cam, 0), "reg_p2": lambda lm, cam: reg(lm, cam, 2),
              "lm16": lambda lm, cam: fit_head_landmarks(lm, model, initialize(lm, canon)[1], cam,
                                                         cfg.head_landmarks)[1].identity}
    if has_sigma:
        off = dataclasses.replace(cfg.head_landmarks, point_sigma="off")
        single["reg_p2 sigma off"] = lambda lm, cam: reg(lm, cam, 2, off)
        single["lm16 sigma off"] = lambda lm, cam: fit_head_landmarks(lm, model, initialize(lm, canon)[1], cam,
                                                                      off)[1].identity
    joint = {"cos4": lambda lms, cams: ht.fit_regressed_identity(lms, model, cams, cfg.head_landmarks,
                                                                 cfg.regressor, cfg.track)[0],
             "gn": lambda lms, cams: ht.fit_joint_identity(lms, model, cams, cfg.head_landmarks, cfg.track)[0]}
    if has_subject:
        has_rounds = hasattr(cfg.track, "subject_identity_rounds")
        variants = [(p, None, None) for p in (0.0, 4.0, 8.0)]
        if has_rounds:  # session 6: power, rounds, steps (session 4's shipped fit: 4, 2, 3)
            variants = [(p, 1, 1) for p in (0.0, 2.0, 4.0)] + [(0.0, 2, 3), (4.0, 2, 3)]
        for p, r, st in variants:
            tc = dataclasses.replace(cfg.track, subject_facing_power=p)
            name = f"subject p{p:g}"
            if r is not None:
                tc = dataclasses.replace(tc, subject_identity_rounds=r, subject_identity_steps=st)
                name += f" r{r}s{st}"
            joint[name] = (lambda tc: lambda lms, cams: ht.fit_subject_identity(
                lms, model, cams, cfg.head_landmarks, cfg.regressor, tc)[0])(tc)

    def landmarks(d):
        return [Landmarks(p, b, tuple(s), det) for p, b, s, det in d["lms"]]

    def run(title, sets, names_single, names_joint):
        print(f"\n{title}\n")
        print("| fit | " + " | ".join(f"seed {d['seed']}" for d in data) + " | mean |")
        print("|---|" + "---:|" * (len(data) + 1))
        singles = []
        zero = [similarity_error_mm(neutral(torch.zeros(1, model.num_identity)), neutral(d["identity"])) for d in data]
        print("| mean head (identity 0: what no photo tells) | " + " | ".join(f"{x:.2f}" for x in zero)
              + f" | {np.mean(zero):.2f} |", flush=True)
        for name in names_single:
            rows = []
            for d, lms in zip(data, sets):
                cams = [initialize(lm, canon)[2] for lm in lms]
                truth = neutral(d["identity"])
                rows.append([similarity_error_mm(neutral(single[name](lm, cam)), truth) for lm, cam in zip(lms, cams)])
            r = np.array(rows)
            if name == "reg_p2":
                singles = r
            print(f"| {name} (yaw -45 / 0 / +45) | " + " | ".join("/".join(f"{x:.2f}" for x in row) for row in r)
                  + " | " + "/".join(f"{x:.3f}" for x in r.mean(0)) + " |", flush=True)
        for name in names_joint:
            r = []
            for d, lms in zip(data, sets):
                cams = [initialize(lm, canon)[2] for lm in lms]
                r.append(similarity_error_mm(neutral(joint[name](lms, cams)), neutral(d["identity"])))
            n_best = int(sum(j < min(s) for j, s in zip(r, singles)))
            n_front = int(sum(j < s[1] for j, s in zip(r, singles)))
            wins = f", best of all on {n_best}/{len(r)}, below yaw 0 on {n_front}/{len(r)}" if len(singles) else ""
            print(f"| joint {name} | " + " | ".join(f"{x:.2f}" for x in r) + f" | {np.mean(r):.3f}{wins} |", flush=True)

    names_single = ["reg_p2"] if args.joint_only else list(single)
    run("Detected landmarks (mediapipe on the renders)", [landmarks(d) for d in data], names_single, list(joint))
    if not args.controls:
        return 0

    def truth_uv(d, v):
        rv, t = d["poses"][v]
        f, c = d["cams"][v]
        with torch.no_grad():
            P = model.points(model.vertices(HeadParams(d["identity"], d["expressions"][v:v + 1],
                                                       torch.zeros(1, 2, 2))), "mediapipe")[0]
        X = P @ Pose(rv, t).matrix()[0].T + t[0]
        return X[:, :2] / X[:, 2:3] * f[0] + c[0], X

    def sim2d(a, b):  # a (N, 2) aligned onto b by the least-squares similarity
        ma, mb = a.mean(0), b.mean(0)
        A, B = a - ma, b - mb
        U, S, Vt = np.linalg.svd(A.T @ B)
        D = np.eye(2)
        D[1, 1] = np.sign(np.linalg.det(U @ Vt))
        R = (U @ D @ Vt).T
        return (S * np.diag(D)).sum() / (A ** 2).sum() * (R @ A.T).T + mb

    def residual(d, v):  # (468, 2) detector error after a 2D similarity, / face size
        uv, _ = truth_uv(d, v)
        uv = uv[:468].double().numpy()
        mp = d["lms"][v][0][:468, :2].double().numpy()
        b = d["lms"][v][1]
        return (sim2d(mp, uv) - uv) / float(max(b[2] - b[0], b[3] - b[1]))

    print("\n(a) detector error after a 2D similarity (% of the face size, points facing the camera, cos > 0.5)\n")
    print("| view | rms % | the seeds' common part (bias) rms % | its share of the energy |")
    print("|---|---:|---:|---:|")
    from facesculpt.fitting.head_landmarks import _landmark_normals

    for v, yaw in enumerate((-45, 0, 45)):
        rs, ok = [], torch.ones(468, dtype=torch.bool)
        for d in data:
            _, X = truth_uv(d, v)
            R = Pose(*d["poses"][v]).matrix()[0]
            n = _landmark_normals(model, model.template)[:468] @ R.T
            ok &= (n * torch.nn.functional.normalize(-X[:468], dim=-1)).sum(-1) > 0.5
            rs.append(residual(d, v))
        r = np.stack(rs)[:, ok.numpy()] * 100
        tot = (r ** 2).sum(-1).mean()
        m = r.mean(0)
        print(f"| yaw {yaw} | {np.sqrt(tot):.2f} | {np.sqrt((m ** 2).sum(-1).mean()):.2f} | "
              f"{(m ** 2).sum(-1).mean() / tot:.2f} |")

    rng = np.random.default_rng(0)
    noisy = []
    for d in data:
        out = []
        for v in range(3):
            uv, _ = truth_uv(d, v)
            p = d["lms"][v][0].clone()
            rms = float((uv[:468] - p[:468, :2]).pow(2).sum(-1).mean().sqrt())
            p[:, :2] = uv + torch.tensor(rng.standard_normal((uv.shape[0], 2)), dtype=torch.float32) * rms / np.sqrt(2)
            out.append(Landmarks(p, d["lms"][v][1], tuple(d["lms"][v][2]), d["lms"][v][3]))
        noisy.append(out)
    run("(b) true projections + unbiased Gaussian noise of each photo's own error size", noisy, ["reg_p2"],
        list(joint))
    fixed = []
    for k, d in enumerate(data):
        out = []
        for v in range(3):
            bias = np.mean([residual(e, v) for j, e in enumerate(data) if j != k], 0)
            p = d["lms"][v][0].clone()
            b = d["lms"][v][1]
            p[:468, :2] -= torch.tensor(bias * float(max(b[2] - b[0], b[3] - b[1])), dtype=torch.float32)
            out.append(Landmarks(p, b, tuple(d["lms"][v][2]), d["lms"][v][3]))
        fixed.append(out)
    run("(c) detections minus the other seeds' mean error at that yaw (leave one out)", fixed, ["reg_p2"],
        list(joint))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
