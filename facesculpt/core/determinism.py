"""Repeatable fits on a multi-threaded CPU (docs/reliability.md, "Determinism").

With two or more torch threads two fits of the same photo drift apart over the optimisation's steps (a
different pose after 8 photometric steps with 2 threads; identical with 1). ``torch.use_deterministic_algorithms``
was tried and is not enough, so the fit runs on a fixed number of threads: ``fixed_threads(n)`` sets torch's
intra-op thread count for a block and restores the previous one afterwards (no global state left behind).

Where the drift comes from (a later probe, hashing every op's output in two 2-thread fits with a
``TorchDispatchMode`` and comparing the first that differs): ``convolution_backward`` of the identity
network (``Config.identity``), run to run, also with oneDNN's ``deterministic`` flag and with oneDNN off;
the environment variable ``MKL_CBWR=COMPATIBLE`` (read when torch loads MKL, so it cannot be set from here
without a global side effect) removed it: two ``default`` fits (6 photometric steps, 2 threads) gave
identical tensors with it and differing ones without. Without the identity terms, 2-thread fits were
identical. The backward of advanced indexing (``index_put_`` with accumulation) also sums in thread order
above 32768 float32 values, but the fit's gathers were not what made these runs differ.
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
