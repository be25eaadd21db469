"""The landmark tracker on clips rendered and detected by mediapipe, under config overrides (session 10:
``head_landmarks.detector_response``). Not collected by pytest.

    .venv/bin/python benchmarks/bench_track_response.py --kind channels --seeds 0,1 [--cache DIR] [KEY=VALUE ...]
    .venv/bin/python benchmarks/bench_track_response.py --kind motion --seeds 0,1,2,3 head_landmarks.detector_response=expression

Each clip is ``bench.clip.make_clip(seed, kind, frames=240, rendered=True)`` (every frame rendered and
detected; 858 frames for channels clips), cached in ``--cache`` (default /tmp/facesculpt_track_response);
the ``fast`` preset's tracker (plus the overrides) tracks it from the landmarks alone (no still-identity
refinement, no photometric pass) and ``bench.clip.evaluate_clip`` scores it: identity mm, expression MAE,
still jitter mm, rotation error; channels clips also the channels below 0.8 and the median correlation.
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="channels", choices=("motion", "channels"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--cache", default="/tmp/facesculpt_track_response")
    ap.add_argument("overrides", nargs="*", help="config overrides KEY=VALUE (as --set)")
    args = ap.parse_args()
    from facesculpt.bench.clip import evaluate_clip, make_clip
    from facesculpt.config import make_config
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.head_track import track_landmarks

    torch.set_num_threads(1)
    cfg = make_config("fast", **dict(kv.split("=", 1) for kv in args.overrides))
    os.makedirs(args.cache, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        path = os.path.join(args.cache, f"{args.kind}_{seed}.pt")
        if os.path.exists(path):
            clip = torch.load(path, weights_only=False)
        else:
            t0 = time.perf_counter()
            clip = make_clip(seed, args.kind, frames=240, rendered=True)
            torch.save(clip, path)
            print(f"{args.kind} {seed}: rendered and detected in {time.perf_counter() - t0:.0f} s", flush=True)
        t0 = time.perf_counter()
        track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, cfg.head_landmarks, cfg.track)
        dt = (time.perf_counter() - t0) / len(clip.landmarks)
        r = evaluate_clip(clip, track, dt)
        line = (f"{args.kind} {seed}: identity {r['identity_error_mm']:.2f} mm, expression MAE {r['expression_mae']:.3f}, "
                f"rotation error {r['rotation_error_deg']:.2f} deg, {dt:.3f} s/frame")
        if "jitter_mm" in r:
            line += f", still jitter {r['jitter_mm']:.3f} mm"
        if "channel_correlation" in r:
            c = r["channel_correlation"]
            low = sorted(c.items(), key=lambda kv: kv[1])[:5]
            line += (f", {len(r['channels_below_0.8'])} of {len(c)} channels below 0.8, median correlation "
                     f"{np.median(list(c.values())):.2f}; lowest " + ", ".join(f"{n} {v:.2f}" for n, v in low))
        print(line, flush=True)


if __name__ == "__main__":
    main()
