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

So a fit can keep several threads for its forward passes and still repeat: inside
``repeatable_fit(threads)`` the optimisers' backward passes run on one thread (``backward``), the rest on
``threads``. Running only the identity network's backward on one thread was tried first: two processes
then still differed after 60 photometric steps, and without the identity terms already after 20 (the
scatter-adds of the renderer's backward).
A stage whose graph has no such op (the detail stage: per-texel maths, padding and pooling on the UV
map) passes ``order_fixed=True`` and keeps every thread for its backward too: its one-thread and
two-thread backward passes give the same bytes (``tests/detail/test_detail_threads.py``).
MKL's reproducible mode cannot be switched on later from here: ``mkl_serv_cbwr_set`` (which torch
exports) answers "mode change failure" once MKL has run, and setting it at import would slow every
MKL call in the user's process.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Iterator

import torch

#: True inside ``repeatable_fit`` with more than one thread: ``backward`` runs on one thread
_SERIAL_BACKWARD: contextvars.ContextVar[bool] = contextvars.ContextVar("facesculpt_serial_backward", default=False)


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


@contextlib.contextmanager
def repeatable_fit(threads: int, repeatable: bool = True) -> Iterator[None]:
    """The fit's thread setting: ``fixed_threads(threads)``, and with ``repeatable`` and more than one
    thread, the backward passes of ``backward`` on one thread (two runs give the same bytes;
    docs/reliability.md)."""
    with fixed_threads(threads):
        token = _SERIAL_BACKWARD.set(bool(repeatable) and torch.get_num_threads() > 1)
        try:
            yield
        finally:
            _SERIAL_BACKWARD.reset(token)


def sparse_mm(sparse: torch.Tensor, dense: torch.Tensor) -> torch.Tensor:
    """``sparse`` (N, M) COO @ ``dense`` (M, C), summed in a fixed order: a gather of the nonzeros' rows of
    ``dense`` and an ``index_add`` into the result, on one thread. ``torch.sparse.mm`` on the CPU gave
    different last bits for the same inputs in different processes, also on one thread (MKL's sparse
    product), and those bits sent the photometric fit to a different result in about one fresh process in
    five (docs/results.md, "Reliability: the fit's run-to-run spread, session 7"). Differentiable in
    ``dense`` (not in ``sparse``'s values); the fits' products are small (Laplacians, interpolations and
    subdivisions of at most a few hundred thousand nonzeros)."""
    if not sparse.is_coalesced():
        sparse = sparse.coalesce()
    rows, cols = sparse.indices()
    vals = sparse.values().to(dense.dtype)
    with fixed_threads(1):
        out = dense.new_zeros(sparse.shape[0], dense.shape[1])
        return out.index_add(0, rows, vals[:, None] * dense.index_select(0, cols))


def backward(loss: torch.Tensor, order_fixed: bool = False) -> None:
    """``loss.backward()``; inside ``repeatable_fit`` with several threads, on one thread (the forward
    pass keeps them all).

    ``order_fixed=True`` is the caller's promise that every op of the graph has a backward that sums in
    an order fixed by the tensor sizes alone, whatever the thread count: elementwise ops, padding,
    pooling, flips, broadcasts, reductions over a small last dimension; no scatter/``index_add_``/
    accumulating ``index_put_``, no MKL/oneDNN convolution or matrix product with a reduction over the
    parallel dimension. Such a backward keeps every thread and still repeats (the detail stage;
    ``tests/detail/test_detail_threads.py`` checks it against the one-thread backward, and two
    processes against each other).
    """
    if _SERIAL_BACKWARD.get() and not order_fixed:
        with fixed_threads(1):
            loss.backward()
    else:
        loss.backward()


__all__ = ["backward", "fixed_threads", "repeatable_fit", "sparse_mm"]
