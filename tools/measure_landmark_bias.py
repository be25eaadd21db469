"""Measure mediapipe's systematic, view-dependent offset of each of its 478 points on renders of the model.

Run from the repository root after ``tools/register_landmarks_renders.py`` (it uses the packaged
embedding as the points the offsets are measured from), then rebuild the asset::

    OMP_NUM_THREADS=1 .venv/bin/python tools/measure_landmark_bias.py
    .venv/bin/python tools/build_face_model.py    # reads tools/data/mediapipe_view_bias.npz too

What it does (method and measured facts in docs/landmark_registration.md, "View-dependent bias"):

1. renders ``--n`` heads with ``register_landmarks_renders.render_view`` (seeds 20000 + i: disjoint
   from the registration's 10000+, the benchmarks' 0-129 and the tests'), yaw uniform in
   +-``--yaw-max`` (default 55, beyond the benchmarks' 45), pitch +-12, roll +-5, every second
   head plain (base skin only), the others painted;
2. runs the project's landmarker and takes, per point, the offset of the detection from the
   projection of the embedded point on the true head, over the detected face size, rotated by
   -roll (``facesculpt.fitting.landmark_bias``), with the view's yaw and pitch;
3. per point, pooled with the mirror images of its left/right partner's offsets (yaw -> -yaw,
   dx -> -dx: the model is symmetric), fits each axis as a polynomial in the features
   ``[1, s, s^2, s^3, p, s p]`` (s = sin yaw, p = sin pitch) by least squares with two rounds of
   Huber reweighting (threshold 2 x the point's median absolute residual) and a small ridge on the
   non-constant terms; brows and outer lips from the plain renders only (on painted ones the
   detector finds the paint, i.e. the embedding itself);
4. writes ``tools/data/mediapipe_view_bias.npz``: ``coef`` (478, 2, F) float32 (F = ``--features``, 6 shipped), ``limits`` (2,)
   (the largest |s| and |p| seen: the fit clamps to them), ``photo_encoding`` (``--photo-encoding``),
   ``embedding_faces`` / ``embedding_bary`` (the embedding the offsets are from: ``build_face_model.py``
   refuses to combine them with another), and the raw offsets for analysis.
   ``--fit-only`` refits from a previous run's raw offsets.

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

from register_landmarks_renders import partner, render_view  # noqa: E402

from facesculpt.core.errors import FaceSculptError  # noqa: E402
from facesculpt.detect import detect_faces  # noqa: E402
from facesculpt.face_model import load_face_model  # noqa: E402
from facesculpt.fitting.landmark_bias import MAX_FEATURES, NUM_FEATURES, features, rotate2d, view_angles  # noqa: E402
from facesculpt.synthetic.head import BROWS, LIPS_OUTER  # noqa: E402

DEFAULT_OUT = ROOT / "tools" / "data" / "mediapipe_view_bias.npz"
SEED0 = 20000


def _detector(detection: str):
    """``image -> Landmarks`` of the face: "one" (``detect_faces`` alone: the shipped bias) or
    "pipeline" (as ``reconstruct`` detects: the mirrored photo's detection averaged in, ``detect.turned``)."""
    from facesculpt.detect.turned import TurnedDetectConfig, detect_with_mirror

    cfg = TurnedDetectConfig() if detection == "pipeline" else None
    return lambda img: detect_with_mirror(img, detect_faces, cfg)[0]


def observe(n: int, yaw_max: float, srgb: bool = False, pitch_max: float = 12.0, detection: str = "one",
            max_offset: float = float("inf")):
    model = load_face_model()
    detect = _detector(detection)
    emb = model.landmarks["mediapipe"]
    F = model.faces.numpy()
    fa, ba = emb.faces.numpy(), emb.bary.numpy().astype(np.float64)
    off, yaw, pitch, plain, seeds = [], [], [], [], []
    for i in range(n):
        seed = SEED0 + i
        img, hv, pose, cam, info = render_view(model, seed, plain=(i % 2 == 0), yaw_max=yaw_max, srgb=srgb,
                                               pitch_max=pitch_max)
        try:
            lm = detect(img)
        except FaceSculptError:
            print(f"  seed {seed}: no face", flush=True)
            continue
        Xc = pose.apply(hv[None].float())[0].double().numpy()
        X = (Xc[F[fa]] * ba[:, :, None]).sum(1)
        f = float(cam.focal[0]); c = cam.principal[0].double().numpy()
        uv = X[:, :2] / X[:, 2:3] * f + c
        d = (lm.points[:, :2].double().numpy() - uv) / float(lm.size)
        y, p, r = view_angles(pose.matrix()[0].double(), torch.from_numpy(X.mean(0)))
        if np.linalg.norm(d, axis=1).mean() > max_offset:  # a torn or squashed mesh: a failure, not a bias
            print(f"  seed {seed}: yaw {np.degrees(y):+.1f} mean |offset| {np.linalg.norm(d, axis=1).mean() * 100:.2f} % "
                  f"> --max-offset: left out", flush=True)
            continue
        off.append(rotate2d(torch.from_numpy(d), -r).numpy())
        yaw.append(y); pitch.append(p); plain.append(info["plain"]); seeds.append(seed)
        print(f"  seed {seed}: yaw {np.degrees(y):+.1f} pitch {np.degrees(p):+.1f} roll {np.degrees(r):+.1f} "
              f"mean |offset| {np.linalg.norm(d, axis=1).mean() * 100:.2f} %", flush=True)
    return dict(offsets=np.array(off), yaw=np.array(yaw), pitch=np.array(pitch), plain=np.array(plain),
                seeds=np.array(seeds, np.int32),
                embedding_faces=fa.astype(np.int32), embedding_bary=ba.astype(np.float32))


def fit(obs, ridge: float = 1e-5, n_features: int = NUM_FEATURES):
    off, yaw, pitch, plain = obs["offsets"], obs["yaw"], obs["pitch"], obs["plain"].astype(bool)
    limits = np.array([np.abs(np.sin(yaw)).max(), np.abs(np.sin(pitch)).max()])
    painted_pts = set(LIPS_OUTER) | {i for L in BROWS for i in L}
    coef = np.zeros((478, 2, n_features))
    phi_p = features(torch.from_numpy(yaw), torch.from_numpy(pitch), n=n_features).numpy()
    phi_m = features(torch.from_numpy(-yaw), torch.from_numpy(pitch), n=n_features).numpy()
    for m in range(478):
        j = partner(m)
        use = plain if m in painted_pts else np.ones(len(yaw), bool)
        A = np.concatenate([phi_p[use], phi_m[use]])  # a midline point (j == m) is its own mirror
        for k in range(2):
            sgn = -1.0 if k == 0 else 1.0
            b = np.concatenate([off[use, m, k], sgn * off[use, j, k]])
            w = np.ones(len(b))
            reg = np.diag([0.0] + [ridge] * (n_features - 1)) * len(b)
            for _ in range(3):
                Aw = A * w[:, None]
                x = np.linalg.solve(A.T @ Aw + reg, Aw.T @ b)
                r = np.abs(b - A @ x)
                t = 2.0 * max(np.median(r), 1e-6)
                w = np.where(r <= t, 1.0, t / r)
            coef[m, k] = x
    return coef, limits


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=240, help="number of renders (240: the shipped bias)")
    ap.add_argument("--yaw-max", type=float, default=55.0)
    ap.add_argument("--pitch-max", type=float, default=12.0, help="renders' pitch drawn in +-this (degrees)")
    ap.add_argument("--detection", default="one", choices=("one", "pipeline"),
                    help="one: detect_faces alone; pipeline: with the mirrored photo's detection averaged in, as "
                         "reconstruct and the video tracker detect (detect.turned)")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--photo-encoding", default="none", choices=("srgb", "none"),
                    help="renders: the sRGB values shaded directly (none, the default: the shipped bias's) or "
                         "sRGB-encoded like a camera's (srgb: measured in session 6 and not shipped, docs/results.md); "
                         "use the registration's")
    ap.add_argument("--max-offset", type=float, default=float("inf"),
                    help="leave out views whose mean |offset| is over this share of the face size (a detection that "
                         "failed; inf: keep every view, as the shipped bias did)")
    ap.add_argument("--features", type=int, default=NUM_FEATURES, choices=(NUM_FEATURES, MAX_FEATURES),
                    help=f"polynomial terms per axis (fitting.landmark_bias.features; {NUM_FEATURES}: the shipped bias; "
                         f"{MAX_FEATURES}: for renders over a wider range of views, measured in session 38, not shipped)")
    ap.add_argument("--fit-only", action="store_true", help="refit from --out's raw offsets")
    ap.add_argument("--holdout", action="store_true",
                    help="with --fit-only: fit on half the renders (seeds 20000 + i with i // 2 even), print the "
                         "other half's offsets before/after, write nothing")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    out = Path(args.out)
    if args.fit_only:
        with np.load(out) as z:
            obs = {k: z[k] for k in ("offsets", "yaw", "pitch", "plain", "seeds", "embedding_faces", "embedding_bary")
                   if k in z.files}
            encoding = str(z["photo_encoding"]) if "photo_encoding" in z.files else "none"
    else:
        obs = observe(args.n, args.yaw_max, srgb=args.photo_encoding == "srgb", pitch_max=args.pitch_max,
                      detection=args.detection, max_offset=args.max_offset)
        encoding = args.photo_encoding
    obs = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in obs.items()}
    test = obs
    emb = {k: obs.pop(k) for k in ("embedding_faces", "embedding_bary") if k in obs}  # what the offsets are from
    if args.holdout:  # plain and painted renders in both halves
        half = ((obs["seeds"] - SEED0) // 2) % 2 == 0
        test = {k: v[~half] for k, v in obs.items()}
        obs = {k: v[half] for k, v in obs.items()}
    coef, limits = fit(obs, n_features=args.features)
    phi = features(torch.from_numpy(test["yaw"]), torch.from_numpy(test["pitch"]), limits, args.features).numpy()
    pred = np.einsum("nkf,vf->vnk", coef, phi)
    before = np.linalg.norm(test["offsets"], axis=-1)
    after = np.linalg.norm(test["offsets"] - pred, axis=-1)
    ay = np.degrees(np.abs(test["yaw"]))
    what = "held-out half" if args.holdout else "in-sample"
    for lo, hi in ((0, 15), (15, 30), (30, 45), (45, 60), (60, 90)):
        sel = (ay >= lo) & (ay < hi)
        if sel.any():
            print(f"|yaw| {lo}-{hi} ({int(sel.sum())} views): mean |offset| {before[sel].mean() * 100:.2f} % -> "
                  f"{after[sel].mean() * 100:.2f} % of the face size after the bias ({what})", flush=True)
    print(f"frontal bias (constant term) mean |c0| {np.linalg.norm(coef[:, :, 0], axis=-1).mean() * 100:.2f} %; "
          f"limits |sin yaw| {limits[0]:.3f} |sin pitch| {limits[1]:.3f}", flush=True)
    at = []
    for deg in (0, 15, 30, 45, 55, 65, 75):
        ph = features(np.radians(deg), 0.0, limits, args.features).numpy()
        at.append(f"{deg}: {np.linalg.norm(np.einsum('nkf,f->nk', coef, ph), axis=-1).mean() * 100:.2f}")
    print("modelled mean |bias| (% of the face size) at yaw (deg, pitch 0) " + ", ".join(at), flush=True)
    if args.holdout:
        return 0
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, coef=coef.astype(np.float32), limits=limits.astype(np.float32),
                        photo_encoding=np.array(encoding),
                        **{k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in emb.items()},
                        **{k: (v.astype(np.float32) if v.dtype == np.float64 else v) for k, v in obs.items()})
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
