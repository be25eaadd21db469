"""Speed of the CPU render primitives (rasterize, interpolate, antialias), forward and backward.

    .venv/bin/python benchmarks/bench_render.py [--repeat 10] [--sizes 256 512] [--backend cpu] [--threads N]

Mesh: a bumpy spherical cap on an 86 x 86 vertex grid (7396 vertices, 14450 faces), seen
front-on and filling about half the image, like the face mesh in the photometric fit.
Times are the median and the minimum over ``--repeat`` runs after one warm-up run (numba
compilation excluded); on a shared machine the minimum is the better estimate.
"""
from __future__ import annotations

import argparse
import math
import statistics
import time

import torch

from facesculpt.render import antialias, composite, interpolate, rasterize


def bumpy_cap(n: int = 86, dtype=torch.float32):
    """(V, 3) model-frame verts (+Y up, +Z to viewer), (F, 3) CCW faces, (V, 2) uvs."""
    u = torch.linspace(0, 1, n, dtype=dtype)
    vv, uu = torch.meshgrid(u, u, indexing="ij")
    th = (uu - 0.5) * 2.2  # longitude
    ph = (0.5 - vv) * 2.4  # latitude (row 0 at the top)
    r = 8.0 * (1 + 0.03 * torch.sin(9 * th) * torch.cos(7 * ph))
    verts = torch.stack([r * torch.sin(th) * torch.cos(ph), r * torch.sin(ph), r * torch.cos(th) * torch.cos(ph)], -1)
    idx = torch.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1], idx[:-1, 1:], idx[1:, :-1], idx[1:, 1:]
    faces = torch.cat([torch.stack([a, c, b], -1).reshape(-1, 3), torch.stack([b, c, d], -1).reshape(-1, 3)])
    return verts.reshape(-1, 3), faces, torch.stack([uu, 1 - vv], -1).reshape(-1, 2)


def screen(verts: torch.Tensor, size: int) -> torch.Tensor:
    cam = verts * torch.tensor([1.0, -1.0, -1.0]) + torch.tensor([0.0, 0.0, 28.0])  # MODEL_TO_CV, 28 cm away
    f = 1.4 * size
    return torch.cat([cam[:, :2] / cam[:, 2:] * f + size / 2, cam[:, 2:]], -1)[None]


def timed(fn, repeat):
    fn()  # warm-up (compilation, allocator)
    ts = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    return statistics.median(ts) * 1e3, min(ts) * 1e3


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    ap.add_argument("--backend", default="cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0: torch default)")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    verts, faces, uvs = bumpy_cap()
    rows = []
    for S in args.sizes:
        scr0 = screen(verts, S)
        attrs = torch.cat([uvs, torch.nn.functional.normalize(verts, dim=-1)], -1)[None]  # (1, V, 5)
        frags = rasterize(scr0, faces, (S, S), backend=args.backend)
        cover = frags.mask.float().mean().item()
        img = composite(interpolate(attrs, frags, faces)[..., 2:5], frags.mask, 0.3)
        t_rast = timed(lambda: rasterize(scr0, faces, (S, S), backend=args.backend), args.repeat)
        t_interp = timed(lambda: interpolate(attrs, frags, faces), args.repeat)
        t_aa = timed(lambda: antialias(img, frags, scr0, faces), args.repeat)

        def fwd():
            scr = scr0.clone().requires_grad_(True)
            a = attrs.clone().requires_grad_(True)
            fr = rasterize(scr, faces, (S, S), backend=args.backend)
            col = composite(interpolate(a, fr, faces)[..., 2:5], fr.mask, 0.3)
            return scr, a, antialias(col, fr, scr, faces).square().mean()

        def fwd_bwd():
            scr, a, loss = fwd()
            loss.backward()

        t_fwd = timed(fwd, args.repeat)
        t_fb = timed(fwd_bwd, args.repeat)
        rows.append((S, cover, t_rast, t_interp, t_aa, t_fwd, t_fb))
    print(f"mesh: {verts.shape[0]} verts, {faces.shape[0]} faces; backend={args.backend}; "
          f"torch threads={torch.get_num_threads()}; ms as median / min of {args.repeat} runs")
    hdr = ("size", "cover", "rasterize", "interpolate", "antialias", "fwd (all 3)", "fwd+bwd (all 3)")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join("---" for _ in hdr) + "|")
    for S, cov, *ts in rows:
        print(f"| {S}x{S} | {cov:.0%} | " + " | ".join(f"{md:.1f} / {mn:.1f}" for md, mn in ts) + " |")


if __name__ == "__main__":
    main()
