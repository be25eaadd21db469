"""Speed of dlib's face-recognition ResNet in PyTorch on the CPU.

    .venv/bin/python benchmarks/bench_identity.py [--threads 2] [--repeats 10]

Times (after warm-up): forward+backward (gradient w.r.t. the input chip) for one chip,
cut_chips+embed+backward for one photo, and forward for a batch of 64; for the contiguous
(NCHW) and channels_last memory formats. Affine layers are folded into the convs at load time.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import time

import torch

from facesculpt.identity import cut_chips, load_identity_network


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _time(fn, repeats: int, warmup: int = 2) -> float:
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    net = load_identity_network("cpu")
    rows = []
    for fmt_name, fmt in (("contiguous", torch.contiguous_format), ("channels_last", torch.channels_last)):
        net = net.to(memory_format=fmt)
        x1 = torch.rand(1, 3, 150, 150).contiguous(memory_format=fmt)

        def fwd_bwd():
            x = x1.clone().requires_grad_(True)
            net.embed(x).sum().backward()

        img = torch.rand(1, 3, 480, 400)
        lm = torch.rand(1, 68, 2) * 80 + 160

        def cut_fwd_bwd():
            x = img.clone().requires_grad_(True)
            net.embed(cut_chips(x, lm).contiguous(memory_format=fmt)).sum().backward()

        xb = torch.rand(args.batch, 3, 150, 150).contiguous(memory_format=fmt)

        def fwd_batch():
            with torch.inference_mode():
                net.embed(xb)

        rows.append((fmt_name, _time(fwd_bwd, args.repeats), _time(cut_fwd_bwd, args.repeats),
                     _time(fwd_batch, max(2, args.repeats // 3), warmup=1)))
    net.to(memory_format=torch.contiguous_format)
    print(f"device: {_cpu_name()}, torch {torch.__version__}, threads={torch.get_num_threads()}")
    print(f"{'format':<14}{'fwd+bwd 1 chip':>16}{'cut+fwd+bwd':>14}{f'fwd batch {args.batch}':>16}{'per chip':>11}")
    for name, fb, cfb, fwd in rows:
        print(f"{name:<14}{fb:>14.3f} s{cfb:>12.3f} s{fwd:>14.3f} s{fwd / args.batch * 1000:>8.1f} ms")


if __name__ == "__main__":
    main()
