"""The detail stage's backward keeps every thread and still repeats (``core/determinism.backward`` with
``order_fixed=True``): the same bytes as the one-thread backward, and in two processes."""
import hashlib
import subprocess
import sys

import pytest
import torch

import facesculpt.detail.sfs as sfs
from facesculpt.core import determinism
from facesculpt.core.determinism import backward, repeatable_fit
from facesculpt.detail.config import DetailConfig

# big enough that torch splits the elementwise ops and reductions between threads (grain 32768 values)
SIZE = 256


def _problem(S=SIZE, seed=0):
    """A bumpy, tilted surface patch lit from the side: texture, visibility, albedo0, light, frames, skin."""
    g = torch.Generator().manual_seed(seed)
    n = torch.nn.functional.normalize(torch.tensor([0.2, -0.1, 1.0]) + 0.2 * torch.randn(1, S, S, 3, generator=g), dim=-1)
    du = torch.tensor([10.0, 0.0, -1.0]) + 0.5 * torch.randn(1, S, S, 3, generator=g)
    dv = torch.tensor([0.0, 10.0, 0.5]) + 0.5 * torch.randn(1, S, S, 3, generator=g)
    inside = torch.rand(1, S, S, generator=g) > 0.05
    frames = sfs.TexelFrames(n, du, dv, inside, torch.zeros(1, S, S, dtype=torch.long))
    albedo0 = 0.4 + 0.3 * torch.rand(1, S, S, 3, generator=g)
    light = torch.zeros(1, 9, 3)
    light[:, 0], light[:, 3], light[:, 1] = 1.0, 0.6, 0.3
    texture = (albedo0 * (0.8 + 0.4 * torch.rand(1, S, S, 1, generator=g))).clamp(0, 1)
    vis = torch.rand(1, S, S, generator=g)
    skin = inside.float()
    return texture, vis, albedo0, light, frames, skin


def _solve(cfg, steps=6):
    texture, vis, albedo0, light, frames, skin = _problem()
    r = sfs.solve_displacement(texture, vis, albedo0, light, frames, skin, cfg, iterations=steps)
    return r.displacement.numpy().tobytes() + r.albedo.numpy().tobytes()


def test_order_fixed_backward_keeps_the_threads():
    seen = []
    x = torch.ones(4, requires_grad=True)
    x.register_hook(lambda g: seen.append(torch.get_num_threads()))
    with repeatable_fit(2, True):
        backward((x * 2).sum())
        backward((x * 2).sum(), order_fixed=True)
    assert seen == [1, 2]


@pytest.mark.parametrize("levels", [1, 3])
def test_detail_backward_on_two_threads_matches_one_thread(monkeypatch, levels):
    cfg = DetailConfig(enabled=True, pyramid_levels=levels)
    with repeatable_fit(2, True):
        fast = _solve(cfg)
        monkeypatch.setattr(sfs, "_backward", lambda loss, order_fixed=False: determinism.backward(loss))
        serial = _solve(cfg)
    assert hashlib.sha1(fast).hexdigest() == hashlib.sha1(serial).hexdigest()


CHILD = """
import hashlib, torch
from tests.detail.test_detail_threads import _solve
from facesculpt.core.determinism import repeatable_fit
from facesculpt.detail.config import DetailConfig
with repeatable_fit(2, True):
    print(hashlib.sha1(_solve(DetailConfig(enabled=True), steps=8)).hexdigest())
"""


def test_two_processes_on_two_threads_give_the_same_bytes():
    import os
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", ""), "OMP_NUM_THREADS": "2"}
    outs = [subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, check=True, cwd=root,
                           env=env).stdout.strip().splitlines()[-1] for _ in range(2)]
    assert outs[0] == outs[1]
