"""Repeatable fits on a multi-threaded CPU (docs/reliability.md, "Determinism").

With two or more torch threads, some CPU kernels of the fit add partial sums in an order that depends on
thread timing — measured: the backward of advanced indexing (``x[:, idx]``, ``index_put_`` with
accumulation) — so two fits of the same photo drift apart over the optimisation's steps (a different pose
after 8 photometric steps with 2 threads; identical with 1). ``torch.use_deterministic_algorithms`` was
tried and is not enough (the fits still differed with 2 threads), so the fit runs on a fixed number of
threads instead: ``fixed_threads(n)`` sets torch's intra-op thread count for a block and restores the
previous one afterwards, so no global state is left behind.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

import torch


@contextlib.contextmanager
def fixed_threads(n: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(n)``; ``n <= 0`` leaves the count as it is."""
    if n <= 0:
        yield
        return
    before = torch.get_num_threads()
    if before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


__all__ = ["fixed_threads"]
