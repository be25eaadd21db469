"""The tracker's photometric pass (``track.photometric``) on clips rendered and detected by mediapipe: the
landmark track against the refined one. Not collected by pytest.

    .venv/bin/python benchmarks/bench_track_photometric.py --kind channels --seeds 0,1 [--set iterations=4 ...]
        [--cache DIR] [--top 12]

Each clip is rendered once (``bench.clip.make_clip(..., rendered=True, crop_cfg=...)``: every frame rendered,
detected, and cropped for the pass) and cached in ``--cache`` (default /tmp/facesculpt_track_photometric) with
its landmark track (the ``fast`` preset's ``track``, the pass off). Then the pass runs with the ``fast``
``track.photometric`` settings plus ``--set`` overrides (crop settings are the cache's) and both tracks are
scored by ``bench.clip.evaluate_clip``: identity, expression MAE, still jitter (motion clips), channels below
0.8 and the ``--top`` lowest channels (channels clips). Seconds are wall time of this process.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import time

import torch


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", default="channels", choices=("motion", "channels"))
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--set", nargs="*", default=[], help="track.photometric overrides, name=value")
    ap.add_argument("--cache", default="/tmp/facesculpt_track_photometric")
    ap.add_argument("--top", type=int, default=12)
    args = ap.parse_args()
    from facesculpt.bench.clip import clip_photometric_pass, evaluate_clip, make_clip
    from facesculpt.config import make_config
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.head_track import track_landmarks

    over = dict(kv.split("=", 1) for kv in args.set)
    cfg = make_config("fast", **{f"track.photometric.{k}": v for k, v in over.items()},
                      **{"track.photometric.enabled": True})
    pc = cfg.track.photometric
    os.makedirs(args.cache, exist_ok=True)
    for seed in (int(s) for s in args.seeds.split(",")):
        tag = f"{args.kind}_{seed}_crop{pc.crop_size}_{pc.crop_expand:g}"
        path = os.path.join(args.cache, f"{tag}.pt")
        if os.path.exists(path):
            clip, track = torch.load(path, weights_only=False)
        else:
            t0 = time.perf_counter()
            clip = make_clip(seed, args.kind, frames=240, rendered=True, crop_cfg=pc)
            t1 = time.perf_counter()
            off = dataclasses.replace(cfg.track, photometric=dataclasses.replace(pc, enabled=False))
            track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, cfg.head_landmarks, off)
            print(f"{tag}: rendered + detected {t1 - t0:.0f} s, landmark track {time.perf_counter() - t1:.0f} s "
                  f"({(time.perf_counter() - t1) / len(clip.landmarks):.3f} s/frame)", flush=True)
            torch.save((clip, track), path)
        t0, c0 = time.perf_counter(), time.process_time()
        refined = clip_photometric_pass(clip, seed, track, cfg.track, cfg)
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        n = len(clip.landmarks)
        res = {"landmarks": evaluate_clip(clip, track, 1.0), "photometric": evaluate_clip(clip, refined, 1.0)}
        print(f"{args.kind} seed {seed}, {n} frames, pass {dt / n:.3f} s/frame wall ({dc / n:.3f} CPU), settings "
              f"{' '.join(args.set) or 'default'}")
        for name, r in res.items():
            line = (f"  {name:12} identity {r['identity_error_mm']:.2f} mm, expression MAE {r['expression_mae']:.4f} "
                    f"(raw {r['expression_mae_raw']:.4f})")
            if "jitter_mm" in r:
                line += f", still jitter {r['jitter_mm']:.3f} mm (raw {r['jitter_raw_mm']:.3f})"
            if "channel_correlation" in r:
                c = r["channel_correlation"]
                line += (f", {len(r['channels_below_0.8'])} of {len(c)} channels below 0.8, min "
                         f"{r['channel_correlation_min']:.2f}, median {sorted(c.values())[len(c) // 2]:.2f}")
            print(line, flush=True)
        if args.kind == "channels":
            a, b = res["landmarks"]["channel_correlation"], res["photometric"]["channel_correlation"]
            print(f"  {'channel':20}{'landmarks':>10}{'photometric':>13}")
            for k in sorted(b, key=lambda k: b[k])[:args.top]:
                print(f"  {k:20}{a[k]:>10.2f}{b[k]:>13.2f}")


if __name__ == "__main__":
    main()
