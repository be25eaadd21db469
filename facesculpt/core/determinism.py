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

So a fit can keep several threads and still repeat: inside ``repeatable_fit(threads)`` the identity
network's backward runs on one thread (``one_thread_backward``), everything else on ``threads``.
MKL's reproducible mode cannot be switched on later from here: ``mkl_serv_cbwr_set`` (which torch
exports) answers "mode change failure" once MKL has run, and setting it at import would slow every
MKL call in the user's process.
"""
from __future__ import annotations

import contextlib
import contextvars
from typing import Callable, Iterator, Sequence

import torch

#: True inside ``repeatable_fit`` with more than one thread: the networks whose backward is not
#: repeatable on several threads run it on one (``one_thread_backward``)
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
    thread, ``one_thread_backward`` on (two runs give the same bytes; docs/reliability.md)."""
    with fixed_threads(threads):
        token = _SERIAL_BACKWARD.set(bool(repeatable) and torch.get_num_threads() > 1)
        try:
            yield
        finally:
            _SERIAL_BACKWARD.reset(token)


class _OneThreadBackward(torch.autograd.Function):
    """``fn(x)`` forward on the current threads; its backward (to ``x``) on one thread."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, fn: Callable) -> tuple:  # type: ignore[override]
        with torch.enable_grad():
            xd = x.detach().requires_grad_(True)
            outs = tuple(fn(xd))
        ctx.xd, ctx.outs = xd, outs
        return tuple(o.detach() for o in outs)

    @staticmethod
    def backward(ctx, *grads: torch.Tensor):  # type: ignore[override]
        pairs = [(o, g) for o, g in zip(ctx.outs, grads) if g is not None and o.requires_grad]
        gx = None
        if pairs:
            with fixed_threads(1), torch.enable_grad():
                gx, = torch.autograd.grad([o for o, _ in pairs], [ctx.xd], [g for _, g in pairs],
                                          allow_unused=True)
        ctx.xd = ctx.outs = None
        return gx, None


def one_thread_backward(fn: Callable[[torch.Tensor], Sequence[torch.Tensor]], x: torch.Tensor) -> tuple:
    """``tuple(fn(x))``; inside ``repeatable_fit`` with several threads and when ``x`` needs a gradient,
    the backward of ``fn`` runs on one thread (MKL's convolution backward sums in thread order)."""
    if not (_SERIAL_BACKWARD.get() and x.requires_grad and torch.is_grad_enabled()):
        return tuple(fn(x))
    return _OneThreadBackward.apply(x, fn)


__all__ = ["fixed_threads", "one_thread_backward", "repeatable_fit"]
