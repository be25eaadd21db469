"""Detail-stage benchmark: wall time of the detail stage and normal error (coarse vs detail) on a
few synthetic faces. Not collected by pytest.

    .venv/bin/python benchmarks/bench_detail.py --n 2 --size 512 [--preset default]

Each face is generated (facesculpt.synthetic), reconstructed with the preset plus the detail stage,
and scored with facesculpt.bench.synthetic.evaluate_synthetic; prints one row per face, the mean,
and the detail stage's seconds per image (target: <= 10 s on a 2-core CPU).
"""
from __future__ import annotations

import argparse
import resource
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--preset", default="default")
    ap.add_argument("--smooth", action="store_true", help="faces without detail")
    args = ap.parse_args()

    from facesculpt.bench.synthetic import evaluate_synthetic
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.synthetic import SyntheticConfig, generate_face
    from facesculpt.topology import load_topology

    cfg = make_config(args.preset, detail={"enabled": True})
    topo = load_topology(cfg.subdivision_levels)
    rows = []
    print(f"{'seed':>5} {'gen s':>6} {'recon s':>8} {'detail s':>9} {'MAD coarse':>11} {'MAD detail':>11}")
    for i in range(args.n):
        t = time.perf_counter()
        face = generate_face(args.seed + i, SyntheticConfig(size=args.size, detail=not args.smooth))
        t_gen = time.perf_counter() - t
        t = time.perf_counter()
        rec = reconstruct_all(face.image, config=cfg, max_faces=1)[0]
        t_rec = time.perf_counter() - t
        m = evaluate_synthetic(face, rec, topo)
        rows.append((t_gen, t_rec, rec.timings["detail"], m["normal_mad_deg"]["coarse"], m["normal_mad_deg"]["detail"]))
        print(f"{args.seed + i:>5} {t_gen:>6.1f} {t_rec:>8.1f} {rows[-1][2]:>9.2f} {rows[-1][3]:>11.2f} {rows[-1][4]:>11.2f}",
              flush=True)
    mean = [sum(r[k] for r in rows) / len(rows) for k in range(5)]
    print(f"{'mean':>5} {mean[0]:>6.1f} {mean[1]:>8.1f} {mean[2]:>9.2f} {mean[3]:>11.2f} {mean[4]:>11.2f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
