"""The same photo, preset and seed give the same result files (issue 13). A shortened ``default``
(few photometric steps, small texture) keeps it cheap; ``benchmarks/bench_determinism.py`` runs the full
preset through the command line twice."""
import json

import numpy as np
import pytest

from facesculpt.config import make_config
from facesculpt.io.results import write_result
from facesculpt.pipeline import reconstruct


def _params(folder):
    p = json.loads((folder / "params.json").read_text())
    p.pop("timings_s")
    return p


@pytest.mark.parametrize("threads", [1, 2])
def test_two_runs_write_identical_params_and_albedo(tmp_path, grace_hopper, threads):
    # 2 threads: the backward passes run on one thread (Config.repeatable), the forward passes on two.
    # 12 steps: with repeatable=False two 2-thread runs of 12 steps differ (of 6 they did not)
    cfg = make_config("default", identity_metrics=False, threads=threads,
                      **{"photometric.iterations": 12, "texture.size": 128})
    folders = []
    for i in range(2):
        rec = reconstruct(grace_hopper, config=cfg)
        folders.append(write_result(tmp_path / f"run{i}", grace_hopper, rec))
    a, b = folders
    assert _params(a) == _params(b)
    assert (a / "albedo.png").read_bytes() == (b / "albedo.png").read_bytes()
    assert (a / "metrics.json").read_bytes() == (b / "metrics.json").read_bytes()
