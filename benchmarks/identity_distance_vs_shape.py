"""Is the +-30 degree identity distance a measure of the shape? On the synthetic heads (the benchmark's faces,
seeds 0..N-1), the face-region vertex error (mm, aligned) of each fit next to the identity distances the
pipeline reports (``metrics.json``'s ``identity_distance_*``). KEY=VALUE: overrides of the ``default`` preset
(detail off); NAME labels the output lines.

    .venv/bin/python benchmarks/identity_distance_vs_shape.py NAME N [KEY=VALUE ...]
"""
from __future__ import annotations

import sys

from facesculpt.bench.synthetic import evaluate_head_synthetic
from facesculpt.cli import _parse_overrides  # the CLI's --set KEY=VALUE parsing
from facesculpt.config import make_config
from facesculpt.pipeline import reconstruct_all
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import generate



def main(name: str, n: int, sets: dict) -> None:
    cfg = make_config("default", **{"detail.enabled": False, **sets})
    sc = SyntheticConfig(model="head", yaw_max=45.0, srgb=True)
    for seed in range(n):
        face = generate(seed, sc)
        rec = reconstruct_all(face.image, config=cfg, max_faces=1, name=str(seed))[0]
        m = evaluate_head_synthetic(face, rec)
        ids = {k: round(v, 3) for k, v in rec.metrics.items() if "identity" in k and isinstance(v, float)}
        print(name, seed, round(m["vertex_error_mm"]["aligned"], 2), ids, flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), _parse_overrides(sys.argv[3:]))
