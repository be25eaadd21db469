"""Multi-photo identity: the variants of the joint landmark identity tried in issue 16, session 6.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_subject_identity_variants.py --cache /tmp/scenes.pt
        [--truth] [--axes]

``--cache``: the scenes and mediapipe detections written by ``bench_subject_landmarks.py --cache`` (one
random head at yaw -45 / 0 / +45, pitch 5, each photo its own expression). Every photo is fitted once as
the single photo is (``fit_head_from_regressor``: regressor + 2 LM iterations); then each variant
makes one identity of the three photos. Narrow-face identity error (mm, neutral, similarity aligned),
per variant: the mean over the scenes, its difference from the frontal photo's own (paired, with its
standard error), on how many scenes it is below the frontal photo's, below session 4's joint fit
(``fit_subject_identity`` with power 4, 2 rounds of 3 steps) and below every single photo.

Variants (``fit_subject_identity`` with ``track.subject_facing_power`` P, ``subject_identity_rounds`` R,
``subject_identity_steps`` S, written ``pP rRsS``; the shipped default is p2 r1s1) and, on p0 r2s3
(cos^0: the weights are 1 / each photo's residual alone), modified identity steps (this file's
``_steps``, the library's ``_identity_steps`` with hooks): per-point Cauchy weights at twice each
photo's robust residual scale, the turned photos' near-side half only, face-oval points at 0.3, a 3x
stronger identity prior, no mediapipe depth, the photo weights re-estimated from the held fits'
residuals every round, the frontal photo's well-determined identity directions (eigenvalues of its
Gauss-Newton matrix over the prior's > 10) held at its identity, the start at the cos^4 average of the
regressed identities; and plain weighted means of the three polished identities.

``--truth``: the single photos and the joint fits on the true projections of the model's points (no
detector; ``head_landmarks.view_bias`` off): what the fitter does when the points carry the identity.
``--axes``: the error's rms per axis (x, y, z = depth) after the alignment, for the mean head, each
photo and the shipped joint. Never collected by pytest; prints markdown tables.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np
import torch


def main() -> int:
    import facesculpt.fitting.head_track as ht
    from facesculpt.bench.synthetic import similarity_error_mm
    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.fitting.head_landmarks import (FACE_OVAL, IRIS_LEFT, IRIS_RIGHT, _landmark_normals, _smoothstep,
                                                   fit_head_landmarks)
    from facesculpt.fitting.initialize import initialize, similarity_procrustes
    from facesculpt.fitting.landmark_bias import embedding_offsets
    from facesculpt.fitting.regress_init import fit_head_from_regressor
    from facesculpt.ops.rotations import rotvec_to_matrix
    from facesculpt.structures import Landmarks, Pose

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cache", required=True, help="scenes + detections of bench_subject_landmarks.py")
    ap.add_argument("--truth", action="store_true", help="also fit the true projections (no detector)")
    ap.add_argument("--axes", action="store_true", help="the error per axis")
    args = ap.parse_args()
    data = torch.load(args.cache, weights_only=False)
    model = load_face_model()
    canon = fit_view(model).canonical
    cfg = make_config("fast")
    lm_cfg = cfg.head_landmarks
    K = model.num_identity

    def neutral(ident):
        with torch.no_grad():
            return model.vertices(HeadParams(ident.reshape(1, -1).float(), torch.zeros(1, model.num_expression),
                                             torch.zeros(1, 2, 2)))[0, model.narrow_face]

    scenes = []
    for d in data:
        lms = [Landmarks(p, b, tuple(s), det) for p, b, s, det in d["lms"]]
        cams = [initialize(lm, canon)[2] for lm in lms]
        scenes.append(dict(seed=d["seed"], d=d, lms=lms, cams=cams, truth=neutral(d["identity"])))

    def stage1(sc, lms, lmc=lm_cfg, rc=cfg.regressor):
        per = []
        for lm, cam in zip(lms, sc["cams"]):
            pose, head, losses = fit_head_from_regressor(lm, model, cam, lmc, rc)
            pose0, head0, _ = fit_head_from_regressor(lm, model, cam, lmc, dataclasses.replace(rc, polish_iterations=0))
            per.append(dict(pose=pose, head=head, losses=losses, head0=head0))
        return per

    def err(sc, ident):
        return similarity_error_mm(neutral(ident), sc["truth"])

    def facing(per):
        return [max(float(-rotvec_to_matrix(p["pose"].rotvec.double())[0][2, 2]), 1e-3) for p in per]

    mean_, idb, exb = (x.to(torch.float64) for x in model.landmark_model("mediapipe"))
    N = mean_.shape[0]
    keep = torch.ones(N, dtype=torch.bool)
    keep[list(IRIS_LEFT + IRIS_RIGHT)] = False
    normals0 = _landmark_normals(model, model.template.to(torch.float64))
    sig = model.landmarks["mediapipe"].sigma.to(torch.float64)[:N][keep]
    emb = model.landmarks["mediapipe"]
    x0 = mean_[keep][:, 0]

    def _steps(frames, a, cams, lmc, nsteps, vws, use_depth=True, w_id_mult=1.0, robust=None, near_side=None,
               oval_w=None, lock=None, hessian=False):
        """``head_track._identity_steps`` (point spreads on, view bias as ``lmc``) with the hooks above."""
        dt = torch.float64
        pt_w = torch.ones(N, dtype=dt)
        pt_w[list(FACE_OVAL)] = lmc.w_oval if oval_w is None else oval_w
        idb_k = idb.permute(1, 2, 0)[keep]
        a = a.to(dt).clone()
        for _ in range(nsteps):
            H = torch.eye(K, dtype=dt) * lmc.w_identity * w_id_mult
            g = a * lmc.w_identity * w_id_mult
            for (lmk, pose, head), cam, vw in zip(frames, cams, vws):
                f, c = cam.focal.to(dt)[0], cam.principal.to(dt)[0]
                R, T, b = pose.matrix()[0].to(dt), pose.translation[0].to(dt), head.expression[0].to(dt)
                Pall = mean_ + torch.einsum("k,knc->nc", a, idb) + torch.einsum("e,enc->nc", b, exb)
                X = Pall[keep] @ R.T + T
                uv = X[:, :2] / X[:, 2:3] * f + c
                scale = float(lmk.size)
                target = lmk.points[:N, :2].to(dt)[keep]
                if lmc.view_bias:
                    target = target - embedding_offsets(emb, R, Pall @ R.T + T)[keep] * scale
                e = ((uv - target) / scale).norm(dim=-1)
                hub = torch.where(e <= lmc.huber, torch.ones_like(e), lmc.huber / e.clamp(min=1e-12))
                cos = ((normals0[keep] @ R.T) * torch.nn.functional.normalize(-X, dim=-1)).sum(-1)
                w = _smoothstep(cos, *lmc.hidden_cos) * hub * pt_w[keep]
                w = w * sig[:, 0] ** 2 / (sig[:, 0] ** 2 + (sig[:, 1] * (1 - cos.clamp(-1, 1))) ** 2)
                if robust is not None:  # Cauchy at robust x the photo's median-based residual scale
                    s = 1.4826 * e[w > 0.5 * w.max()].median()
                    w = w / (1 + (e / (robust * s)) ** 2)
                if near_side is not None and float(-R[2, 2]) < 0.95:  # the side of x facing the camera more
                    sgn = 1.0 if float(cos[x0 > 0].mean()) > float(cos[x0 < 0].mean()) else -1.0
                    w = w * _smoothstep(sgn * x0, -near_side, near_side)
                sw = torch.sqrt(vw * w * lmc.w_landmark / w.sum().clamp(min=1e-12)) / scale
                x, y, z = X[:, 0], X[:, 1], X[:, 2]
                D = torch.einsum("ij,njk->nik", R, idb_k)
                du = (f / z)[:, None] * (D[:, 0] - (x / z)[:, None] * D[:, 2])
                dv = (f / z)[:, None] * (D[:, 1] - (y / z)[:, None] * D[:, 2])
                J = (torch.stack([du, dv], 1) * sw[:, None, None]).reshape(-1, K)
                H = H + J.T @ J
                g = g + J.T @ ((uv - target) * sw[:, None]).reshape(-1)
                if use_depth:
                    zt = lmk.points[:N, 2].to(dt)[keep]
                    zt = zt - zt.mean()
                    z_f = z * f / T[2]
                    sz = torch.sqrt(vw * lmc.w_depth * w / w.sum().clamp(min=1e-12)) / scale
                    dz = f / T[2] * D[:, 2]
                    J_z = (dz - dz.mean(0, keepdim=True)) * sz[:, None]
                    H = H + J_z.T @ J_z
                    g = g + J_z.T @ ((z_f - z_f.mean() - zt) * sz)
            if hessian:
                return H
            if lock is not None:
                P, mu, af = lock
                H = H + mu * P
                g = g + mu * P @ (a - af)
            a = a - torch.linalg.solve(H + 1e-9 * torch.eye(K, dtype=dt), g)
        return a

    def joint(sc, per, lms, power=0.0, rounds=2, nsteps=3, lmc=lm_cfg, reweight=False, start="wavg", lock_tau=None,
              **kw):
        fac = torch.tensor(facing(per), dtype=torch.float64)
        res = torch.tensor([max(p["losses"]["landmark_final"], 1e-8) for p in per], dtype=torch.float64)
        w = fac ** power / res
        w = w / w.max()
        A = torch.stack([p["head"].identity[0].double() for p in per])
        if start == "wavg":
            a = (A * w[:, None]).sum(0) / w.sum()
        else:  # the cos^4 average of the regressed identities
            A0 = torch.stack([p["head0"].identity[0].double() for p in per])
            a = (A0 * fac[:, None] ** 4).sum(0) / (fac ** 4).sum()
        held = dataclasses.replace(lmc, fit_identity=False, expression_first=0,
                                   active_set=cfg.track.identity_active_set)
        fits = [[lm, p["pose"], p["head"]] for lm, p in zip(lms, per)]
        lock = None
        if lock_tau is not None:  # the frontal photo's Gauss-Newton matrix (prior excluded), at its own fit
            fi = int(fac.argmax())
            Hf = _steps([tuple(fits[fi])], A[fi], [sc["cams"][fi]], lmc, 1, [1.0], w_id_mult=0.0, hessian=True)
            lam, U = torch.linalg.eigh(Hf / lmc.w_identity)
            Us = U[:, lam > lock_tau]
            lock = (Us @ Us.T, 1000.0 * lmc.w_identity, A[fi])
        for _ in range(rounds):
            r = []
            for fr, cam in zip(fits, sc["cams"]):
                lm, pose, head = fr
                fr[1], fr[2], losses = fit_head_landmarks(lm, model, pose, cam, held,
                                                          init=HeadParams(a[None].float(), head.expression, head.gaze))
                r.append(losses["landmark_final"])
            if reweight:
                w = fac ** power / torch.tensor(r, dtype=torch.float64)
                w = w / w.max()
            a = _steps([tuple(f) for f in fits], a, sc["cams"], lmc, nsteps, w.tolist(), lock=lock, **kw)
        return a

    def report(title, sets, per_sets, variants, single_rows):
        print(f"\n{title}\n")
        singles = np.array(single_rows)
        fr = singles[:, 1]
        print("| variant | mean | - yaw 0 (se) | below yaw 0 | below session 4's (p4 r2s3) | below every photo |")
        print("|---|---:|---:|---:|---:|---:|")
        for v, name in zip(range(3), ("photo yaw -45", "photo yaw 0", "photo yaw +45")):
            print(f"| {name} | {singles[:, v].mean():.3f} | | | | |")
        print(f"| the best photo of each scene (an oracle) | {singles.min(1).mean():.3f} | | | | |")
        mh = np.array([err(sc, torch.zeros(K)) for sc in scenes])
        print(f"| mean head | {mh.mean():.3f} | | | | |")
        ref = None
        for name, fn in variants:
            vals = np.array([err(sc, fn(sc, per, lms)) for sc, per, lms in zip(scenes, per_sets, sets)])
            if ref is None:
                ref = vals
            dlt = vals - fr
            print(f"| {name} | {vals.mean():.3f} | {dlt.mean():+.3f} ({dlt.std(ddof=1) / np.sqrt(len(dlt)):.3f}) | "
                  f"{int((vals < fr).sum())}/{len(vals)} | {int((vals < ref - 1e-9).sum())}/{len(vals)} | "
                  f"{int((vals < singles.min(1)).sum())}/{len(vals)} |", flush=True)

    def lib(power, rounds, steps, lmc=lm_cfg, rc=cfg.regressor):
        tc = dataclasses.replace(cfg.track, subject_facing_power=power, subject_identity_rounds=rounds,
                                 subject_identity_steps=steps)
        return lambda sc, per, lms: ht.fit_subject_identity(lms, model, sc["cams"], lmc, rc, tc)[0]

    def wmean(weights):
        def fn(sc, per, lms):
            A = torch.stack([p["head"].identity[0].double() for p in per])
            w = torch.tensor(weights(per), dtype=torch.float64)
            return (A * w[:, None]).sum(0) / w.sum()
        return fn

    sets = [sc["lms"] for sc in scenes]
    per_sets = [stage1(sc, sc["lms"]) for sc in scenes]
    single_rows = [[err(sc, p["head"].identity) for p in per] for sc, per in zip(scenes, per_sets)]
    variants = [
        ("session 4's fit: p4 r2s3", lib(4.0, 2, 3)),
        ("**p2 r1s1 (shipped)**", lib(2.0, 1, 1)),
        ("p0 r1s1", lib(0.0, 1, 1)),
        ("p4 r1s1", lib(4.0, 1, 1)),
        ("p0 r2s3", lib(0.0, 2, 3)),
        ("p0 r2s3, Cauchy point weights", lambda sc, per, lms: joint(sc, per, lms, robust=2.0)),
        ("p0 r2s3, near-side half of turned photos", lambda sc, per, lms: joint(sc, per, lms, near_side=1.0)),
        ("p0 r2s3, face oval at 0.3", lambda sc, per, lms: joint(sc, per, lms, oval_w=0.3)),
        ("p0 r2s3, identity prior x3", lambda sc, per, lms: joint(sc, per, lms, w_id_mult=3.0)),
        ("p0 r2s3, no mediapipe depth", lambda sc, per, lms: joint(sc, per, lms, use_depth=False)),
        ("p0 r2s3, photo weights from the held fits' residual",
         lambda sc, per, lms: joint(sc, per, lms, reweight=True)),
        ("p0 r2s3, the frontal photo's well-determined directions held",
         lambda sc, per, lms: joint(sc, per, lms, lock_tau=10.0)),
        ("p0 r1s1, started at the cos^4 regressed identity",
         lambda sc, per, lms: joint(sc, per, lms, rounds=1, nsteps=1, start="reg")),
        ("mean of the polished identities, cos^2 weights", wmean(lambda per: [f ** 2 for f in facing(per)])),
        ("mean of the polished identities, 0.2 / 0.6 / 0.2", wmean(lambda per: [0.2, 0.6, 0.2])),
    ]
    report("Detected landmarks (mediapipe on the renders)", sets, per_sets, variants, single_rows)

    if args.axes:
        print("\nError per axis after the alignment (rms mm, x / y / z = depth), mean over the scenes\n")
        print("| head | x | y | z |")
        print("|---|---:|---:|---:|")

        def comp(sc, ident):
            pred, true = neutral(ident), sc["truth"]
            s, R, t = similarity_procrustes(pred, true)
            return ((s * pred.double() @ R.T + t) - true.double()).pow(2).mean(0).sqrt().numpy() * 10

        heads = [("mean head", lambda sc, per, lms: torch.zeros(K))]
        heads += [(f"photo yaw {y}", (lambda v: lambda sc, per, lms: per[v]["head"].identity)(v))
                  for v, y in enumerate((-45, 0, 45))]
        heads += [("joint p2 r1s1 (shipped)", lib(2.0, 1, 1))]
        for name, fn in heads:
            m = np.mean([comp(sc, fn(sc, per, lms)) for sc, per, lms in zip(scenes, per_sets, sets)], 0)
            print(f"| {name} | {m[0]:.2f} | {m[1]:.2f} | {m[2]:.2f} |", flush=True)

    if args.truth:
        no_bias = dataclasses.replace(lm_cfg, view_bias=False)
        tsets = []
        for sc in scenes:
            d, out = sc["d"], []
            for v in range(3):
                rv, t = d["poses"][v]
                f, c = d["cams"][v]
                with torch.no_grad():
                    P = model.points(model.vertices(HeadParams(d["identity"], d["expressions"][v:v + 1],
                                                               torch.zeros(1, 2, 2))), "mediapipe")[0]
                X = P @ Pose(rv, t).matrix()[0].T + t[0]
                p = sc["lms"][v].points.clone()
                p[:, :2] = X[:, :2] / X[:, 2:3] * f + c
                out.append(dataclasses.replace(sc["lms"][v], points=p))
            tsets.append(out)
        tper = [stage1(sc, lms, no_bias) for sc, lms in zip(scenes, tsets)]
        trows = [[err(sc, p["head"].identity) for p in per] for sc, per in zip(scenes, tper)]
        tv = [("session 4's fit: p4 r2s3", lib(4.0, 2, 3, no_bias)), ("p2 r1s1 (shipped)", lib(2.0, 1, 1, no_bias)),
              ("p0 r2s3", lib(0.0, 2, 3, no_bias)),
              ("fit_joint_identity (equal weights, from LM fits)",
               lambda sc, per, lms: ht.fit_joint_identity(lms, model, sc["cams"], no_bias, cfg.track)[0])]
        report("True projections of the model's points (no detector; view bias off)", tsets, tper, tv, trows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
