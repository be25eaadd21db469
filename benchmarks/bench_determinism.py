"""Determinism of the whole command line: ``facesculpt demo`` (the bundled photo) twice with the same
preset, then params.json (timings excluded), albedo.png and metrics.json compared byte for byte
(and, with the detail stage, displacement.png and normal.png).

    python benchmarks/bench_determinism.py [--preset default] [--threads N] [--set KEY=VALUE ...]

--threads sets OMP_NUM_THREADS for both runs (default: as inherited); --set passes config overrides
(``--set repeatable=false``: the backward passes on every thread too, to see that the results then
differ; ``--set threads=1``: the whole fit on one thread, the setting before the one-thread
backward). Prints each run's wall time and whether the files
are identical; exits 1 if they differ.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _params(folder: Path) -> dict:
    p = json.loads((folder / "params.json").read_text())
    p.pop("timings_s", None)
    return p


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="default")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()
    env = dict(os.environ)
    if args.threads:
        env["OMP_NUM_THREADS"] = str(args.threads)
    with tempfile.TemporaryDirectory() as d:
        outs = []
        for i in range(2):
            out = Path(d) / f"run{i}"
            t = time.perf_counter()
            subprocess.run([sys.executable, "-m", "facesculpt.cli", "demo", "-o", str(out), "--preset", args.preset,
                            "--quiet", *[x for kv in args.set for x in ("--set", kv)]],
                           check=True, env=env, capture_output=True)
            print(f"run {i + 1}: {time.perf_counter() - t:.1f} s")
            outs.append(out / "grace_hopper")
        a, b = outs
        same = {
            "params.json (minus timings)": _params(a) == _params(b),
            "albedo.png": (a / "albedo.png").read_bytes() == (b / "albedo.png").read_bytes(),
            "metrics.json": (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes(),
        }
        for name in ("displacement.png", "normal.png"):  # the detail stage's maps (``--preset full``)
            if (a / name).exists() or (b / name).exists():
                same[name] = (a / name).exists() and (b / name).exists() and \
                    (a / name).read_bytes() == (b / name).read_bytes()
    for k, v in same.items():
        print(f"{k}: {'identical' if v else 'DIFFERENT'}")
    return 0 if all(same.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
