"""Report benchmark: how long the bundled photo's report takes to show the head in headless
Chromium, and what the report adds to a result folder. Not collected by pytest.

    .venv/bin/python benchmarks/bench_report.py [--loads 5] [--preset fast] [--out bench_report]

Reconstructs the bundled photo (``facesculpt demo``) unless ``--out`` already holds it, then loads
``report.html`` from file:// ``--loads`` times in a fresh headless Chromium (SwiftShader WebGL,
the test flags of tests/report/chromium.py) and prints, per load, the viewer's ready time (ms
since navigation start, ``performance.now()`` when the first frame with the head was drawn) and
the wall time from navigation to the ready flag; then the median, the time ``write_report``
takes (3 runs), and the bytes the report adds
(report.html + report_data.js + report_photo.jpg) and the shared ``_report/`` scripts.
Target (issue 15): ready <= 3 s after load; <= 2 MB per result folder.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "report"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loads", type=int, default=5)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--out", default="bench_report")
    args = ap.parse_args()
    from chromium import Browser, skip_reason

    if skip_reason():
        raise SystemExit(skip_reason())
    out = Path(args.out)
    page = out / "grace_hopper" / "report.html"
    if not page.is_file():
        subprocess.run([sys.executable, "-m", "facesculpt.cli", "demo", "--preset", args.preset, "-o", str(out)],
                       check=True)
    ready_ms, wall = [], []
    for i in range(args.loads):
        b = Browser()
        try:
            t0 = time.perf_counter()
            b.goto(page.resolve().as_uri())
            b.wait_for("window.facesculptViewer && (facesculptViewer.ready || !!facesculptViewer.error)", 120)
            wall.append(time.perf_counter() - t0)
            err = b.eval("facesculptViewer.error")
            if err:
                raise SystemExit(f"viewer error: {err}")
            ready_ms.append(b.eval("facesculptViewer.readyMs"))
        finally:
            b.close()
        print(f"load {i + 1}: ready at {ready_ms[-1]} ms after navigation start; {wall[-1]:.2f} s navigate->ready")
    folder = page.parent
    from facesculpt.report import write_report

    write_s = []
    for _ in range(3):  # the report writer alone (mesh.glb -> payload -> page), as reconstruct calls it
        t0 = time.perf_counter()
        write_report(folder, "../_report", index_href="../index.html")
        write_s.append(time.perf_counter() - t0)
    print("write_report: " + ", ".join(f"{t:.2f}" for t in write_s) + " s")
    added = sum((folder / n).stat().st_size for n in ("report.html", "report_data.js", "report_photo.jpg"))
    shared = sum(p.stat().st_size for p in (out / "_report").iterdir())
    print(f"median: ready {statistics.median(ready_ms):.0f} ms, navigate->ready {statistics.median(wall):.2f} s")
    print(f"report adds {added / 1e6:.2f} MB per result folder (mesh.glb: {(folder / 'mesh.glb').stat().st_size / 1e6:.2f} MB); "
          f"shared _report/: {shared / 1e6:.2f} MB per batch")


if __name__ == "__main__":
    main()
