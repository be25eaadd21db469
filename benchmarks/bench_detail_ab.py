"""The detail stage's cost on a real photo, with two settings side by side. Not collected by pytest.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_detail_ab.py [--photo PATH] [--repeat 3]
        [--before detail.saturation=1.01 detail.data_blur=0 detail.albedo_weights=albedo]

The photo (default: the bundled grace_hopper.jpg) is reconstructed once with the ``full`` preset's
coarse stages (the detail stage off); then ``refine_detail`` runs on that reconstruction with the
``full`` preset's detail settings ("now") and with ``--before`` overrides on top ("before"),
alternately, ``--repeat`` times each (so machine load hits both alike). Prints the median wall time
of each, the ratio, and the displacement's RMS / largest value and the final data term of each.
The in-view metrics (PSNR, identity distances) do not read the detail stage's output, so they are
not repeated here; ``benchmarks/bench_pipeline.py --presets full`` gives the whole preset's time.
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--photo", default=str(Path(__file__).resolve().parents[1] / "facesculpt" / "assets" / "grace_hopper.jpg"))
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--before", nargs="*", default=["detail.saturation=1.01", "detail.data_blur=0",
                                                    "detail.albedo_weights=albedo"])
    args = ap.parse_args()

    import torch

    from facesculpt.cli import _parse_overrides
    from facesculpt.config import make_config
    from facesculpt.detail import refine_detail
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.io.image import load_image
    from facesculpt.pipeline import reconstruct_all

    image = load_image(args.photo)
    rec = reconstruct_all(image, config=make_config("full", **{"detail.enabled": False}), max_faces=1)[0]
    view = fit_view(load_face_model())
    cfgs = {"now": make_config("full").detail,
            "before": make_config("full", **_parse_overrides(args.before)).detail}
    times: dict = {k: [] for k in cfgs}
    out: dict = {}
    refine_detail(image, rec, view, cfgs["now"])  # warm-up
    for _ in range(args.repeat):
        for k, c in cfgs.items():
            t = time.perf_counter()
            out[k] = refine_detail(image, rec, view, c)
            times[k].append(time.perf_counter() - t)
    print(f"photo: {args.photo}  torch threads: {torch.get_num_threads()}  before: {' '.join(args.before)}")
    for k in cfgs:
        d = out[k].displacement[out[k].mask]
        print(f"{k:>7}: median {statistics.median(times[k]):.2f} s (runs {', '.join(f'{x:.2f}' for x in times[k])}); "
              f"displacement rms {float(d.pow(2).mean().sqrt()) * 10:.4f} mm, max {float(d.abs().max()) * 10:.3f} mm; "
              f"data {out[k].losses['data']:.3e} (start {out[k].losses['data_start']:.3e})")
    print(f"now / before: {statistics.median(times['now']) / statistics.median(times['before']):.2f}")


if __name__ == "__main__":
    main()
