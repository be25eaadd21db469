"""Measure how mediapipe's 478 points respond to the model's identity and expression, on renders of the model.

Run from the repository root after ``tools/measure_landmark_bias.py`` (the offsets are measured on
top of the packaged view-dependent bias), then rebuild the asset::

    OMP_NUM_THREADS=1 .venv/bin/python tools/measure_landmark_response.py --part 0/2 &
    OMP_NUM_THREADS=1 .venv/bin/python tools/measure_landmark_response.py --part 1/2
    .venv/bin/python tools/measure_landmark_response.py --fit    # writes facesculpt/assets/mediapipe_response.npz

Why (docs/landmark_registration.md, "The detector's response to shape and expression"): a
detector's point is not a fixed surface point. On paired renders of one face with and without an
expression, mediapipe moves its points by 0.09-0.97 (median 0.48) of what the embedded surface points move (its
own prior pulls towards a typical face), so a fit that explains the detections with the embedded
points under-estimates expressions, and what it misses bends the identity.

What it does:

1. renders ``--n`` heads (seeds 40000 + i: disjoint from the registration's 10000+, the view
   bias's 20000+, the benchmarks' 0-129 and the tests'): identity N(0, 1); expression: each of the
   model's channels on with probability ``--p-channel`` at a weight uniform in [0.1, 1] (one head in
   six neutral); yaw uniform in +-``--yaw-max``, pitch +-12, roll +-5; every second head plain (base
   skin), the others painted (``register_landmarks_renders.render_view``'s scenes);
2. runs the project's landmarker and keeps, per point, the offset of the detection from the
   projected embedded point plus the packaged view-dependent bias (face-size units), with the
   derivative of the projection (face-size units per model cm) so a 3D displacement of the point in
   the model frame can be compared with it;
3. ``--fit``: per point, the 3D displacements ``D_id`` (K, 3) and ``D_ex`` (E, 3) such that
   ``offset ~ J (sum_k alpha_k D_id[k] + sum_e w_e D_ex[e])``, by least squares with a ridge towards 0
   (``--ridge``: in units of one unit coefficient's squared data) and two rounds of Huber
   reweighting; brows and outer lips from the plain renders only (on painted ones the detector
   finds the paint, i.e. the embedding itself). ``--holdout`` fits on half the renders and prints
   the other half's offsets before and after;
4. ``--part i/k`` runs write their raw observations to ``tools/data/mediapipe_response_part{i}of{k}.npz``
   (git-ignored, ~25 MB each); ``--fit`` writes the package asset ``facesculpt/assets/mediapipe_response.npz``:
   ``identity`` (K, 478, 3), ``expression`` (E, 478, 3) float16 (model cm per unit coefficient) and the
   embedding they were measured on (``load_face_model`` refuses another).
5. ``--rebase ASSET``: after the embedding changed (``ASSET`` a new build of ``ict_head.npz``), re-expresses the
   packaged responses from the old embedded points to the new ones without new renders: a point's detections are
   ``P_old(theta) + D_old theta = P_new(theta) + D_new theta``, so ``D_new = D_old + (J_old - J_new)`` with ``J`` the
   bases at the embedded point (exact for the linear model; the view bias the offsets were measured on top of is
   re-measured separately). Session 35 rebased the eyelid points this way (docs/landmark_registration.md).

Deterministic (seeded renders, repeatable mediapipe CPU inference). A tool, not the package: it may print.
"""
from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from facesculpt.core.errors import FaceSculptError  # noqa: E402
from facesculpt.detect import detect_faces  # noqa: E402
from facesculpt.face_model import HeadParams, load_face_model  # noqa: E402
from facesculpt.fitting.landmark_bias import embedding_offsets  # noqa: E402
from facesculpt.synthetic.generator import base_skin_albedo, make_light  # noqa: E402
from facesculpt.synthetic.head import (  # noqa: E402
    BROWS, LIPS_OUTER, atlas, face_pose, head_config, head_mesh, make_head_albedo, render_photo)

DEFAULT_OBS = ROOT / "tools" / "data" / "mediapipe_response.npz"
DEFAULT_OUT = ROOT / "facesculpt" / "assets" / "mediapipe_response.npz"
SEED0 = 40000


def rebase(asset: Path, out: Path) -> int:
    """``--rebase``: the responses in ``out`` re-expressed on ``asset``'s mediapipe embedding (module doc, 5.)."""
    with np.load(asset) as z:
        F = z["faces"].astype(np.int64)
        faces_new, bary_new = z["lmk_mediapipe_faces"].astype(np.int64), z["lmk_mediapipe_bary"].astype(np.float64)
        bases = {"identity": z["identity_basis"].astype(np.float64),
                 "expression": z["expression_basis"].astype(np.float64)}
    with np.load(out) as z:
        resp = {k: z[k].astype(np.float64) for k in z.files if k in bases}
        faces_old, bary_old = z["embedding_faces"].astype(np.int64), z["embedding_bary"].astype(np.float64)
    changed = np.nonzero((faces_old != faces_new) | (np.abs(bary_old - bary_new) > 1e-6).any(1))[0]

    def at(basis, faces, bary):  # (C, N, 3) the basis at the embedded points
        return (basis[:, F[faces]] * bary[None, :, :, None]).sum(2)

    for k, r in resp.items():
        r[:, changed] += (at(bases[k], faces_old[changed], bary_old[changed])
                          - at(bases[k], faces_new[changed], bary_new[changed]))
    np.savez_compressed(out, **{k: v.astype(np.float16) for k, v in resp.items()},
                        embedding_faces=faces_new.astype(np.int32), embedding_bary=bary_new.astype(np.float32))
    print(f"rebased {len(changed)} points' responses onto {asset}'s embedding; wrote {out}", flush=True)
    return 0


def scene(model, seed: int, p_channel: float, yaw_max: float):
    """(identity (K,), expression (E,), yaw, pitch, roll degrees, plain) of render ``seed``."""
    r_shape, r_expr, r_scene = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    ident = r_shape.standard_normal(model.num_identity)
    E = model.num_expression
    on = r_expr.random(E) < p_channel
    expr = np.where(on, r_expr.uniform(0.1, 1.0, E), 0.0)
    if seed % 6 == 0:
        expr[:] = 0.0
    yaw = float(r_scene.uniform(-yaw_max, yaw_max))
    pitch = float(r_scene.uniform(-12, 12))
    roll = float(r_scene.uniform(-5, 5))
    return ident, expr, yaw, pitch, roll, seed % 2 == 0


def render(model, seed, ident, expr, yaw, pitch, roll, plain, size: int = 512, uv: int = 256):
    """(image uint8, head verts (V, 3) float64, pose, camera) of one scene, as ``render_view`` renders."""
    r_alb, r_light = (np.random.default_rng(s) for s in np.random.SeedSequence(seed + 1_000_000).spawn(2))
    head = HeadParams(torch.tensor(ident, dtype=torch.float32)[None], torch.tensor(expr, dtype=torch.float32)[None],
                      torch.zeros(1, 2, 2))
    with torch.no_grad():
        hv = model.vertices(head)
    cfg = head_config(size=size, uv_size=uv, detail=False, head_levels=0, freckles=20)
    if plain:
        alb, _ = base_skin_albedo(r_alb, uv)
    else:
        alb = make_head_albedo(r_alb, model, uv, cfg.freckles)
    tex = atlas(model, torch.as_tensor(alb)[None], (0.25, 0.18, 0.1))
    light = make_light(r_light, cfg.light_strength)
    pose, cam, _ = face_pose(model, hv, yaw, pitch, roll, np.zeros(2), cfg)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, size, size, 3).contiguous()
    verts, faces, uvs, vn, _ = head_mesh(model, hv, None, 0)
    _, img = render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=False)
    return np.rint(img[0].numpy() * 255).astype(np.uint8), hv[0].double(), pose, cam


def observe(model, seeds, p_channel: float, yaw_max: float):
    emb = model.landmarks["mediapipe"]
    F = model.faces.numpy()
    fa, ba = emb.faces.numpy(), emb.bary.numpy().astype(np.float64)
    rows = {k: [] for k in ("offsets", "jac", "identity", "expression", "yaw", "plain", "seeds")}
    for seed in seeds:
        ident, expr, yaw, pitch, roll, plain = scene(model, seed, p_channel, yaw_max)
        img, hv, pose, cam = render(model, seed, ident, expr, yaw, pitch, roll, plain)
        try:
            lm = detect_faces(img)[0]
        except FaceSculptError:
            print(f"  seed {seed}: no face", flush=True)
            continue
        R = pose.matrix()[0].double()
        Xc = pose.apply(hv[None].float())[0].double().numpy()
        X = (Xc[F[fa]] * ba[:, :, None]).sum(1)
        f = float(cam.focal[0])
        c = cam.principal[0].double().numpy()
        size = float(lm.size)
        uv = X[:, :2] / X[:, 2:3] * f + c
        off = (lm.points[:, :2].double().numpy() - uv) / size
        off = off - embedding_offsets(emb, R, torch.from_numpy(X)).numpy()
        # d(uv / size) / d(model-frame displacement): f / (z size) [[1, 0, -x/z], [0, 1, -y/z]] R
        z = X[:, 2]
        P = np.zeros((len(X), 2, 3))
        P[:, 0, 0] = P[:, 1, 1] = 1.0
        P[:, 0, 2] = -X[:, 0] / z
        P[:, 1, 2] = -X[:, 1] / z
        J = (f / (z * size))[:, None, None] * (P @ R.numpy())
        rows["offsets"].append(off.astype(np.float32))
        rows["jac"].append(J.astype(np.float32))
        rows["identity"].append(ident.astype(np.float32))
        rows["expression"].append(expr.astype(np.float32))
        rows["yaw"].append(yaw)
        rows["plain"].append(plain)
        rows["seeds"].append(seed)
        print(f"  seed {seed}: yaw {yaw:+.1f} channels {int((expr > 0).sum())} "
              f"mean |offset| {np.linalg.norm(off, axis=1).mean() * 100:.2f} %", flush=True)
    return {k: np.array(v) for k, v in rows.items()}


def fit(obs, ridge: float, painted_pts, fields=("identity", "expression")):
    """Per point, the 3D responses to each coefficient: {field: (C, N, 3)} float64."""
    C = np.concatenate([obs[k].astype(np.float64) for k in fields], 1)  # (n, C)
    n, nc = C.shape
    N = obs["offsets"].shape[1]
    plain = obs["plain"].astype(bool)
    D = np.zeros((N, nc, 3))
    for m in range(N):
        use = plain if m in painted_pts else np.ones(n, bool)
        J = obs["jac"][use, m].astype(np.float64)  # (u, 2, 3)
        b = obs["offsets"][use, m].astype(np.float64).reshape(-1)  # (2u,)
        A = np.einsum("uc,ukj->ukcj", C[use], J).reshape(-1, nc * 3)  # (2u, 3C)
        cn = (C[use] ** 2).sum(0)  # a unit coefficient's data, per coefficient
        jn = (J ** 2).sum((0, 1)) / max(int(use.sum()), 1)  # mean squared derivative per axis
        reg = ridge * np.outer(cn / max(int(use.sum()), 1), jn).reshape(-1) * int(use.sum())
        reg = np.maximum(reg, 1e-6 * reg.max())  # coefficients no render moved stay at 0
        w = np.ones(len(b))
        for _ in range(3):
            Aw = A * w[:, None]
            x = np.linalg.solve(A.T @ Aw + np.diag(reg), Aw.T @ b)
            r = np.abs(b - A @ x)
            t = 2.0 * max(np.median(r), 1e-9)
            w = np.where(r <= t, 1.0, t / r)
        D[m] = x.reshape(nc, 3)
    out, k0 = {}, 0
    for k in fields:
        kk = obs[k].shape[1]
        out[k] = D[:, k0:k0 + kk].transpose(1, 0, 2)
        k0 += kk
    return out


def predict(obs, resp, fields=("identity", "expression")):
    disp = sum(np.einsum("nc,cpj->npj", obs[k].astype(np.float64), resp[k]) for k in fields)  # (n, N, 3)
    return np.einsum("npkj,npj->npk", obs["jac"].astype(np.float64), disp)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="number of renders (3000: the shipped response)")
    ap.add_argument("--part", default=None, help="i/k: observe every k-th render from i (parallel runs)")
    ap.add_argument("--yaw-max", type=float, default=45.0)
    ap.add_argument("--p-channel", type=float, default=0.08)
    ap.add_argument("--ridge", type=float, default=0.2,
                    help="ridge towards no response (0.2: the shipped asset; held-out scores in docs/results.md)")
    ap.add_argument("--fields", default="identity,expression")
    ap.add_argument("--obs", default=str(DEFAULT_OBS), help="stem of the --part files")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--fit", action="store_true", help="fit from the parts' raw observations and write --out")
    ap.add_argument("--holdout", action="store_true", help="with --fit: fit on half, score the other half, write nothing")
    ap.add_argument("--rebase", default=None, metavar="ASSET",
                    help="re-express --out's responses on the mediapipe embedding of ASSET (a new ict_head.npz build)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out, obs_stem = Path(args.out), Path(args.obs)
    if args.rebase:
        return rebase(Path(args.rebase), out)
    model = load_face_model()
    if args.part is not None:
        i, k = (int(x) for x in args.part.split("/"))
        obs = observe(model, range(SEED0 + i, SEED0 + args.n, k), args.p_channel, args.yaw_max)
        part = obs_stem.with_name(obs_stem.stem + f"_part{i}of{k}.npz")
        part.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(part, **obs)
        print(f"wrote {part} ({len(obs['seeds'])} renders)", flush=True)
        return 0
    parts = sorted(obs_stem.parent.glob(obs_stem.stem + "_part*.npz"))
    if not parts:
        print("no observations: run with --part first", file=sys.stderr)
        return 2
    obs = {}
    for p in parts:
        with np.load(p) as z:
            for key in z.files:
                obs.setdefault(key, []).append(z[key])
    obs = {k: np.concatenate(v) for k, v in obs.items()}
    fields = tuple(args.fields.split(","))
    painted = set(LIPS_OUTER) | {i for L in BROWS for i in L}
    test = obs
    if args.holdout:
        half = ((obs["seeds"] - SEED0) // 2) % 2 == 0
        test = {k: v[~half] for k, v in obs.items()}
        obs = {k: v[half] for k, v in obs.items()}
    print(f"{len(obs['seeds'])} renders to fit, {len(test['seeds'])} to score", flush=True)
    resp = fit(obs, args.ridge, painted, fields)
    pred = predict(test, resp, fields)
    before = np.linalg.norm(test["offsets"], axis=-1)
    after = np.linalg.norm(test["offsets"] - pred, axis=-1)
    what = "held-out half" if args.holdout else "in-sample"
    print(f"mean |offset| {before.mean() * 100:.3f} % -> {after.mean() * 100:.3f} % of the face size ({what})")
    for k in fields:
        mag = np.linalg.norm(resp[k], axis=-1).mean(1)
        print(f"{k}: mean |response| per unit coefficient (cm) first 8: " + " ".join(f"{v:.3f}" for v in mag[:8]))
    if args.holdout:
        return 0
    emb = model.landmarks["mediapipe"]
    np.savez_compressed(out, **{k: resp[k].astype(np.float16) for k in fields},
                        embedding_faces=emb.faces.numpy().astype(np.int32),
                        embedding_bary=emb.bary.numpy().astype(np.float32))
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
