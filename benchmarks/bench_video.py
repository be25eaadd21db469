"""Wall time per frame of `facesculpt reconstruct VIDEO` (decode, fit, write every output).

    .venv/bin/python benchmarks/bench_video.py [--frames 30] [--presets fast default] [--track]

Makes an MP4 (mp4v) from the bundled grace_hopper photo, 512 x 600 at 25 fps, the face
drifting and zooming slightly from frame to frame, then runs the command line on it in a
subprocess, once on its first frame only (start-up: imports, models, numba compilation) and
once on all frames; per frame = (all - first only) / (frames - 1). Peak RSS is the largest
child process's. Without ``--track`` every frame is fitted on its own (``--no-track``); with it
the clip is tracked (one identity, animated GLB; then it also checks that mesh.glb has one
animation key per frame). Never collected by pytest.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def make_clip(path: Path, n: int) -> None:
    import cv2
    import numpy as np
    from PIL import Image

    import facesculpt
    from facesculpt.io.image import load_image

    gh = load_image(Path(facesculpt.__file__).parent / "assets" / "grace_hopper.jpg")
    H, W = gh.shape[:2]
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    for i in range(n):
        s = 1.0 + 0.04 * np.sin(i / 6)
        img = Image.fromarray(gh).resize((round(W * s), round(H * s)), Image.BICUBIC)
        dx, dy = round(8 * np.sin(i / 5)), round(4 * np.cos(i / 7))
        canvas = np.full((H, W, 3), 128, np.uint8)
        a = np.asarray(img)
        y0, x0 = (a.shape[0] - H) // 2 - dy, (a.shape[1] - W) // 2 - dx
        crop = a[max(y0, 0):max(y0, 0) + H, max(x0, 0):max(x0, 0) + W]
        canvas[:crop.shape[0], :crop.shape[1]] = crop
        out.write(np.ascontiguousarray(canvas[..., ::-1]))
    out.release()


def run(clip: Path, outdir: Path, preset: str, max_frames: int, track: bool = False) -> tuple[float, dict]:
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "facesculpt.cli", "reconstruct", str(clip), "-o", str(outdir),
                        "--preset", preset, "--max-frames", str(max_frames), "--quiet",
                        "--track" if track else "--no-track"],
                       capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"bench_video: the command failed: {r.stderr.strip().splitlines()[-1:]}")
    return wall, json.loads((outdir / clip.stem / "frames.json").read_text())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=30)
    ap.add_argument("--presets", nargs="+", default=["fast", "default"])
    ap.add_argument("--track", action="store_true", help="track the clip (the default of the command line)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        clip = d / "clip.mp4"
        make_clip(clip, args.frames)
        print(f"clip: {args.frames} frames, 512x600, 25 fps; CPU threads: {os.cpu_count()}")
        print("| preset | start-up + 1 frame s | all frames s | per frame s | frames with a face | peak RSS MB |")
        print("|---|---:|---:|---:|---:|---:|")
        for preset in args.presets:
            t1, _ = run(clip, d / f"one_{preset}", preset, 1, args.track)
            tn, index = run(clip, d / f"all_{preset}", preset, args.frames, args.track)
            if args.track:
                import pygltflib

                g = pygltflib.GLTF2().load(str(d / f"all_{preset}" / clip.stem / "mesh.glb"))
                keys = {g.accessors[s.input].count for s in g.animations[0].samplers}
                if keys != {args.frames}:
                    raise SystemExit(f"bench_video: mesh.glb has {keys} keys, expected {args.frames}")
            peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024.0
            per = (tn - t1) / max(args.frames - 1, 1)
            print(f"| {preset} | {t1:.1f} | {tn:.1f} | {per:.2f} | {index.get('frames_fitted', len(index.get('faces', [])))}/{index['frames_read']} | {peak:.0f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
