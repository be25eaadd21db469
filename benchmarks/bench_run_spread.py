"""Run-to-run spread of the fit: the same photo reconstructed in N fresh processes. Not collected by pytest.

    .venv/bin/python benchmarks/bench_run_spread.py [--preset default] [--runs 6] [--photo PATH] [--env KEY=VALUE ...]
        [--set KEY=VALUE ...]

Each run is a new Python process (``facesculpt.reconstruct(photo, preset)``) with the given extra environment
variables (e.g. ``--env MKL_CBWR=AUTO,STRICT``); prints each run's in-view PSNR and in-view identity
distance, the wall time, and how many distinct results came out. ``bench_determinism.py`` compares two runs
only: with a spread like the one in docs/results.md ("Reliability: the fit's run-to-run spread, session 7")
two runs often agree by chance.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

CHILD = """
import json, sys, facesculpt
from facesculpt.config import make_config
cfg = make_config(sys.argv[2], **json.loads(sys.argv[3]))
rec = facesculpt.reconstruct(sys.argv[1], config=cfg)
m = rec.metrics
print("RESULT", repr(m.get("inview_psnr")), repr(m.get("identity_distance_inview")))
"""


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="default")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--photo", default=str(Path(__file__).resolve().parents[1] / "facesculpt/assets/grace_hopper.jpg"))
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override (as the CLI's)")
    args = ap.parse_args()
    import json

    from facesculpt.cli import _parse_overrides

    overrides = json.dumps(_parse_overrides(args.set))
    env = dict(os.environ)
    env.update(kv.split("=", 1) for kv in args.env)
    seen = {}
    for k in range(args.runs):
        t = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", CHILD, args.photo, args.preset, overrides], env=env, capture_output=True,
                             text=True, check=True).stdout
        line = next(x for x in out.splitlines() if x.startswith("RESULT"))
        _, psnr, ident = line.split()
        seen[(psnr, ident)] = seen.get((psnr, ident), 0) + 1
        print(f"run {k + 1}: in-view PSNR {float(psnr):.4f} dB, identity in view {float(ident):.4f}, "
              f"{time.perf_counter() - t:.1f} s", flush=True)
    print(f"{len(seen)} distinct result(s) in {args.runs} runs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
