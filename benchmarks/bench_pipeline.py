"""Per-stage wall time and peak memory of the presets on the bundled photos.

    .venv/bin/python benchmarks/bench_pipeline.py [--presets fast default] [--large] [--repeat N]
    BENCH_FIT_THREADS=0 .venv/bin/python benchmarks/bench_pipeline.py ...   # Config.threads (0: torch's own)
    .venv/bin/python benchmarks/bench_pipeline.py --presets fast --set texture.occlusion.outer=false  # overrides

Each preset runs in its own subprocess so its peak resident memory is its own. One warm-up
image first (numba kernels, imports, caches), then the timed images: grace_hopper
(matplotlib's sample photo, bundled) and scikit-image's astronaut. ``--large`` adds a 12 MP
(4000 x 3000) photo made by upscaling grace_hopper onto a canvas, to check peak memory. ``--repeat N``
times each photo N times and reports the run with the median total (``fast`` moves by a few
hundredths between single runs). "CPU s" is the process's CPU time over that run (all threads): on a
loaded machine it moves far less than the wall time.
Never collected by pytest.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

CHILD = r"""
import json, os, resource, sys, time
os.environ.setdefault("GLOG_minloglevel", "2")
import numpy as np
import torch
import facesculpt
from facesculpt.io.image import load_image
from facesculpt.config import make_config
preset, large, repeat = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3])
torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
gh = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
from skimage import data
photos = {"grace_hopper": gh, "astronaut": np.ascontiguousarray(data.astronaut())}
if large:
    from PIL import Image
    canvas = np.full((3000, 4000, 3), 180, np.uint8)
    face = np.asarray(Image.fromarray(gh).resize((1536, 1800), Image.BICUBIC))
    canvas[600:2400, 1200:2736] = face
    photos = {"large_12mp": canvas}
sets = json.loads(os.environ.get("BENCH_SETS", "{}"))
if "BENCH_FIT_THREADS" in os.environ:
    sets["threads"] = int(os.environ["BENCH_FIT_THREADS"])
cfg = make_config(preset, **sets)
facesculpt.reconstruct(gh, config=cfg)  # warm-up
rows = []
for name, img in photos.items():
    runs = []
    for _ in range(repeat):  # the run with the median total is reported
        t, c = time.perf_counter(), time.process_time()
        rec = facesculpt.reconstruct(img, config=cfg)
        runs.append((time.perf_counter() - t, rec, time.process_time() - c))
    runs.sort(key=lambda r: r[0])
    total, rec, cpu = runs[len(runs) // 2]
    rows.append({"photo": name, "size": f"{img.shape[1]}x{img.shape[0]}", "total_s": total, "cpu_s": cpu,
                 "all_totals_s": [r[0] for r in runs], "stages_s": rec.timings, "metrics": rec.metrics})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
print(json.dumps({"preset": preset, "rows": rows, "peak_rss_mb": peak}))
"""


def _ident(m: dict) -> str:
    """Identity distances (photo vs render) as 'in-view | worst of +-30 deg', or '- | -'."""
    if "identity_distance_inview" not in m:
        return "- | -"
    side = max(m["identity_distance_yaw_minus30"], m["identity_distance_yaw_plus30"])
    return f"{m['identity_distance_inview']:.3f} | {side:.3f}"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--presets", nargs="+", default=["fast", "default"])
    ap.add_argument("--large", action="store_true", help="also the 12 MP photo (per preset)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="runs per photo after the warm-up; the run with the median total is reported")
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override for every run (as facesculpt --set)")
    args = ap.parse_args()
    from facesculpt.cli import _parse_overrides

    sets = json.dumps(_parse_overrides(args.set))
    results = []
    for preset in args.presets:
        for large in ([False, True] if args.large else [False]):
            out = subprocess.run([sys.executable, "-c", CHILD, preset, "1" if large else "0", str(args.repeat)],
                                 capture_output=True, text=True,
                                 env={**os.environ, "GLOG_minloglevel": "2", "BENCH_SETS": sets})
            if out.returncode != 0:
                print(out.stderr[-3000:], file=sys.stderr)
                return 1
            results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    stages = ["detect", "landmarks", "light_init", "photometric", "texture", "detail", "metrics"]
    print(f"torch threads: {os.environ.get('BENCH_THREADS', '2')}, CPU: {os.cpu_count()} cores")
    head = "| preset | photo | size | total s | CPU s | " + " | ".join(stages) + " | PSNR dB | SSIM | id d in-view | id d ±30° | peak RSS MB |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    for res in results:
        for r in res["rows"]:
            st = " | ".join(f"{r['stages_s'][s]:.2f}" if s in r["stages_s"] else "-" for s in stages)
            m = r["metrics"]
            print(f"| {res['preset']} | {r['photo']} | {r['size']} | {r['total_s']:.2f} | {r['cpu_s']:.2f} | {st} | "
                  f"{m['inview_psnr']:.2f} | {m['inview_ssim']:.3f} | {_ident(m)} | {res['peak_rss_mb']:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
