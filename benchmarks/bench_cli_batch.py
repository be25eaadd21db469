"""Wall time of the command a user runs: `facesculpt reconstruct FOLDER -o OUT --preset P` on a folder of photos,
in a fresh process each time, outputs included (mesh.obj/.glb, textures, report). What `bench_pipeline.py` does not
time: start-up (imports, model loading) and writing the results.

    .venv/bin/python benchmarks/bench_cli_batch.py [--preset fast] [--copies 3] [--runs 2] [--code A B ...]

The folder holds ``--copies`` copies of each bundled photo (grace_hopper and scikit-image's astronaut). ``--code``
times other copies of the package in alternation with this one (each a folder holding a ``facesculpt`` package, put
first on PYTHONPATH; e.g. one made by ``git archive REV facesculpt | tar -x -C DIR``): the machine's speed moves
between processes, so compare runs taken side by side. Reports per run the whole command's wall time and CPU time
(user + system, all threads: it moves less than the wall time on a busy machine), the wall time per photo, and the
times of one photo alone (the cold start included). Never collected by pytest.
"""
from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _photos(folder: Path, copies: int) -> None:
    import numpy as np
    from PIL import Image
    from skimage import data

    folder.mkdir(parents=True)
    astronaut = Image.fromarray(np.ascontiguousarray(data.astronaut()))
    for k in range(copies):
        shutil.copy(ROOT / "facesculpt" / "assets" / "grace_hopper.jpg", folder / f"grace_hopper_{k}.jpg")
        astronaut.save(folder / f"astronaut_{k}.png")


def _run(code: str, inputs: Path, out: Path, preset: str) -> tuple[float, float]:
    env = dict(os.environ, PYTHONPATH=code + (os.pathsep + os.environ["PYTHONPATH"] if os.environ.get("PYTHONPATH")
                                               else ""))
    shutil.rmtree(out, ignore_errors=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "facesculpt.cli", "reconstruct", str(inputs), "-o", str(out),
                        "--preset", preset, "--quiet"], env=env, capture_output=True, text=True,
                       cwd=out.parent)  # not the repository: `python -m` puts the working folder first on sys.path
    dt = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode != 0:
        raise SystemExit(f"facesculpt failed with {code}: {r.stderr.strip().splitlines()[-1:]}")
    return dt, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--copies", type=int, default=3, help="copies of each bundled photo in the folder")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--code", nargs="*", default=[], help="other package copies to time in alternation")
    args = ap.parse_args()
    codes = [str(ROOT)] + [str(Path(c).resolve()) for c in args.code]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        batch, one = tmp / "batch", tmp / "one"
        _photos(batch, args.copies)
        one.mkdir()
        shutil.copy(ROOT / "facesculpt" / "assets" / "grace_hopper.jpg", one)
        n = 2 * args.copies
        print(f"preset {args.preset}: {n} photos in one command, and grace_hopper alone; {args.runs} runs")
        print("| code | run | batch s (CPU s) | s / photo | one photo s (CPU s) |")
        print("|---|---|---|---|---|")
        for run in range(args.runs):
            for code in codes:
                tb, cb = _run(code, batch, tmp / "out", args.preset)
                t1, c1 = _run(code, one, tmp / "out1", args.preset)
                print(f"| {code} | {run + 1} | {tb:.2f} ({cb:.2f}) | {tb / n:.2f} | {t1:.2f} ({c1:.2f}) |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
