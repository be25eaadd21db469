"""Clips rendered and detected by mediapipe: the tracker's smoothing and its expression channels.
Not collected by pytest.

    .venv/bin/python benchmarks/bench_track_detected.py smoothing --kind motion --seeds 1,2 [--points]
        [--grid 2:0.6,0.5:0.3,0.3:0.2] [--cache DIR]
    .venv/bin/python benchmarks/bench_track_detected.py channels --seed 1 [--cache DIR]
    .venv/bin/python benchmarks/bench_track_detected.py basis --seed 1 --test-seed 2 [--oracle] [--cache DIR]

Each clip is made once with ``bench.clip.make_clip(..., rendered=True)`` (every frame rendered and
detected; ``--points``: the projected points instead) and cached in ``--cache`` (default
/tmp/facesculpt_track_detected), as is its raw track (``track.smooth=False``).

``smoothing``: re-filters the same raw track with each ``min_cutoff_hz:beta`` of ``--grid`` and prints
the still-segment jitter, the rotation error and the expression MAE (``evaluate_clip``); ``--part pose``
or ``expr`` filters only that part (the other left raw).

``channels`` (a channels clip): per channel, how far mediapipe's points move between the channel's rest
and peak frames, projected on the model's own motion of those points ("detector gain", 1 = as the
model); then, for three channels at their peak frame, the per-frame fit (the tracker's settings, 20
iterations, started from the true identity and pose) on the detected and on the projected points.

``basis`` (channels clips): a ceiling for any fit on mediapipe's points alone. The detected points'
offsets from the neutral head's projection (the track's identity and raw pose, or with ``--oracle`` the
true ones; in face sizes) are regressed on the true expression weights of clip ``--seed`` (a measured
2D motion per channel plus a static offset), then every frame of clip ``--test-seed`` is solved for
weights in [0, 1] against that basis; prints the channels' correlation with the truth.
"""
from __future__ import annotations

import argparse
import dataclasses
import os

import numpy as np
import torch


def _clip_and_track(kind: str, seed: int, points: bool, cache: str, cfg):
    from facesculpt.bench.clip import make_clip
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.head_track import track_landmarks

    os.makedirs(cache, exist_ok=True)
    tag = f"{kind}_{seed}{'_points' if points else ''}"
    cpath, tpath = os.path.join(cache, f"clip_{tag}.pt"), os.path.join(cache, f"track_{tag}.pt")
    if os.path.exists(cpath):
        clip = torch.load(cpath, weights_only=False)
    else:
        clip = make_clip(seed, kind, frames=240, rendered=not points)
        torch.save(clip, cpath)
    if os.path.exists(tpath):
        track = torch.load(tpath, weights_only=False)
    else:
        raw = dataclasses.replace(cfg.track, smooth=False)
        track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, cfg.head_landmarks, raw)
        torch.save(track, tpath)
    return clip, track


def smoothing(args, cfg) -> None:
    from facesculpt.bench.clip import evaluate_clip
    from facesculpt.fitting.head_track import smooth_track

    grid = [tuple(float(v) for v in g.split(":")) for g in args.grid.split(",")]
    for seed in (int(s) for s in args.seeds.split(",")):
        clip, tr = _clip_and_track(args.kind, seed, args.points, args.cache, cfg)
        for mc, beta in grid:
            tc = dataclasses.replace(cfg.track, min_cutoff_hz=mc, beta=beta)
            rot, trans, expr, gaze = smooth_track(tr.raw_rotvec, tr.raw_translation, tr.raw_expression,
                                                  tr.raw_gaze, clip.fps, tc)
            if args.part == "pose":
                expr, gaze = tr.raw_expression, tr.raw_gaze
            elif args.part == "expr":
                rot, trans = tr.raw_rotvec, tr.raw_translation
            r = evaluate_clip(clip, dataclasses.replace(tr, rotvec=rot, translation=trans, expression=expr, gaze=gaze),
                              1.0)
            print(f"{args.kind} seed {seed} {'points' if args.points else 'photos'} {mc:g}/{beta:g} ({args.part}): "
                  f"jitter {r.get('jitter_mm', float('nan')):.3f} mm (raw {r.get('jitter_raw_mm', float('nan')):.3f}), "
                  f"rotation {r['rotation_error_deg']:.2f} deg (raw {r['rotation_error_raw_deg']:.2f}), "
                  f"expression MAE {r['expression_mae']:.4f}, min channel corr "
                  f"{r.get('channel_correlation_min', float('nan')):.2f}", flush=True)


def channels(args, cfg) -> None:
    from facesculpt.bench.clip import make_clip
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.fitting.head_landmarks import fit_head_landmarks
    from facesculpt.structures import Pose

    from facesculpt.bench.clip import evaluate_clip
    from facesculpt.fitting.head_track import smooth_track

    clip, tr = _clip_and_track("channels", args.seed, False, args.cache, cfg)
    sm = smooth_track(tr.raw_rotvec, tr.raw_translation, tr.raw_expression, tr.raw_gaze, clip.fps, cfg.track)
    r = evaluate_clip(clip, dataclasses.replace(tr, rotvec=sm[0], translation=sm[1], expression=sm[2], gaze=sm[3]), 1.0)
    corr = r["channel_correlation"]
    print(f"tracked: expression MAE {r['expression_mae']:.3f}, {len(r['channels_below_0.8'])} of {len(corr)} channels "
          f"below 0.8 (min {r['channel_correlation_min']:.2f}); highest: "
          + ", ".join(f"{k} {v:.2f}" for k, v in sorted(corr.items(), key=lambda x: -x[1])[:4]))
    truth = make_clip(args.seed, "channels", noise_px=0.0)
    model = load_face_model()
    names = model.expression_names
    E = clip.expression.numpy()
    det = np.stack([lm.points[:468, :2].numpy() for lm in clip.landmarks])
    tru = np.stack([lm.points[:468, :2].numpy() for lm in truth.landmarks])
    res = det - tru
    rows = []
    for e, n in enumerate(names):
        peak, on = np.where(E[:, e] >= 0.75)[0], np.where(E[:, e] > 0)[0]
        rest = np.arange(max(0, on[0] - 4), on[0])
        d = tru[peak].mean(0) - tru[rest].mean(0)  # the model's motion of the points (and the head's drift)
        dr = res[peak].mean(0) - res[rest].mean(0)  # the change of the detector's error (drift cancels)
        mag = np.linalg.norm(d, axis=1)
        sel = mag > 0.5 * mag.max()
        rows.append((n, float(mag.max()), 1 + float((dr[sel] * d[sel]).sum() / (d[sel] ** 2).sum())))
    for n, m, g in sorted(rows, key=lambda r: r[2]):
        print(f"{n:18} model motion up to {m:5.1f} px, detector gain {g:5.2f}")
    g = np.array([r[2] for r in rows])
    print(f"gain 0.8-1.35: {int(((g >= 0.8) & (g <= 1.35)).sum())} of {len(g)}; >= 0.5: {int((g >= 0.5).sum())}")
    tc = cfg.track
    lm = dataclasses.replace(cfg.head_landmarks, fit_identity=False, expression_first=0, iterations=20,
                             w_expression_l1=tc.w_expression_l1, w_expression_l2=tc.w_expression_l2,
                             active_set=tc.active_set)
    for n in ("eyeBlink_L", "cheekPuff_L", "mouthPucker"):
        e = names.index(n)
        k = int(np.where(E[:, e] >= 0.75)[0][0])
        pose = Pose(clip.rotvec[k:k + 1], clip.translation[k:k + 1])
        init = HeadParams(clip.identity, torch.zeros(1, len(names)), torch.zeros(1, 2, 2))
        for label, points in (("detected", clip.landmarks[k]), ("projected", truth.landmarks[k])):
            for vb in (True, False):
                _, h, _ = fit_head_landmarks(points, model, pose, clip.camera, dataclasses.replace(lm, view_bias=vb),
                                             init=init)
                ex = h.expression[0].numpy()
                top = np.argsort(-ex)[:4]
                print(f"{n} {E[k, e]:.2f} at frame {k}, {label:9} view_bias {vb!s:5}: fitted {ex[e]:.2f}; largest "
                      + ", ".join(f"{names[j]} {ex[j]:.2f}" for j in top), flush=True)


def basis(args, cfg) -> None:
    from scipy.optimize import lsq_linear

    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.fitting.landmark_bias import embedding_offsets_px
    from facesculpt.io.live_link import ARKIT_52, to_arkit52
    from facesculpt.structures import Pose

    model = load_face_model()
    names = model.expression_names
    E = len(names)
    emb = model.landmarks["mediapipe"]

    def offsets(seed):
        clip, tr = _clip_and_track("channels", seed, False, args.cache, cfg)
        ident = clip.identity if args.oracle else tr.identity
        with torch.no_grad():
            pts = model.points(model.vertices(HeadParams(ident, torch.zeros(1, E), torch.zeros(1, 2, 2))),
                               "mediapipe")[0].double()
        rv, tv = (clip.rotvec, clip.translation) if args.oracle else (tr.raw_rotvec, tr.raw_translation)
        f, c = float(tr.camera.focal[0]), tr.camera.principal[0].double()
        out = []
        for t, lm in enumerate(clip.landmarks):
            pose = Pose(rv[t:t + 1].double(), tv[t:t + 1].double())
            R = pose.matrix()[0]
            X = pts @ R.T + pose.translation[0]
            uv = X[:, :2] / X[:, 2:3] * f + c
            uv = uv + embedding_offsets_px(emb, R, X, uv)
            size = float((uv.max(0).values - uv.min(0).values).max())
            out.append(((lm.points[:468, :2].double() - uv[:468]) / size).numpy().reshape(-1))
        return clip, np.stack(out)

    train, Y = offsets(args.seed)
    X = np.concatenate([train.expression.numpy(), np.ones((len(Y), 1))], 1)
    B = np.linalg.lstsq(X, Y, rcond=None)[0]
    test, Y2 = offsets(args.test_seed)
    W = np.stack([lsq_linear(B[:E].T, y - B[E], bounds=(0, 1)).x for y in Y2])
    truth = test.expression.numpy()
    a_f, a_t = to_arkit52(names, W), to_arkit52(names, truth)
    corr = {n: (float(np.corrcoef(a_f[:, j], a_t[:, j])[0, 1]) if a_f[:, j].std() > 0 else 0.0)
            for j, n in enumerate(ARKIT_52) if a_t[:, j].std() > 0}
    v = np.array(list(corr.values()))
    print(f"basis from seed {args.seed}{' (oracle pose and identity)' if args.oracle else ''}, solved on seed "
          f"{args.test_seed}: MAE {np.abs(W - truth).mean():.3f}, {int((v < 0.8).sum())} of {len(v)} channels below "
          f"0.8, median {np.median(v):.2f}, min {v.min():.2f}")
    print("lowest: " + ", ".join(f"{k} {x:.2f}" for k, x in sorted(corr.items(), key=lambda kv: kv[1])[:10]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("smoothing", "channels", "basis"))
    ap.add_argument("--kind", default="motion", choices=("motion", "channels"))
    ap.add_argument("--seeds", default="1,2")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--test-seed", type=int, default=2, help="basis: the clip the measured basis is solved on")
    ap.add_argument("--oracle", action="store_true", help="basis: the true pose and identity, not the track's")
    ap.add_argument("--points", action="store_true", help="projected points instead of rendered, detected frames")
    ap.add_argument("--grid", default="2:0.6,1:0.6,0.5:0.6,0.5:0.3,0.3:0.2,0.3:0.15,0.5:0.1")
    ap.add_argument("--part", default="all", choices=("all", "pose", "expr"))
    ap.add_argument("--cache", default="/tmp/facesculpt_track_detected")
    args = ap.parse_args()
    from facesculpt.config import make_config

    cfg = make_config("fast")
    {"smoothing": smoothing, "channels": channels, "basis": basis}[args.what](args, cfg)


if __name__ == "__main__":
    main()
