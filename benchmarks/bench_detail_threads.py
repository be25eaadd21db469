"""The detail stage with its backward on one thread (as before session 4) and on every thread (now,
``core/determinism.backward(order_fixed=True)``), on the bundled photo, same inputs, alternating.

    .venv/bin/python benchmarks/bench_detail_threads.py [--repeat 3] [--threads 2]

Runs the ``full`` preset once on grace_hopper (warm-up and to get the detail stage's inputs), then
``refine_detail`` ``--repeat`` times each way inside ``repeatable_fit`` (the setting ``reconstruct``
uses); prints the median wall and CPU seconds of each and whether the two give identical
displacement and albedo bytes. Never collected by pytest; timings mean something on an idle machine only.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    import torch

    import facesculpt
    import facesculpt.detail as detail
    import facesculpt.detail.sfs as sfs
    from facesculpt.core import determinism
    from facesculpt.io.image import load_image

    torch.set_num_threads(args.threads)
    captured = {}
    original = detail.refine_detail

    def capture(image, rec, topo, cfg, progress=None):
        captured["args"] = (image, rec, topo, cfg)
        return original(image, rec, topo, cfg, progress)

    detail.refine_detail = capture
    photo = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
    facesculpt.reconstruct(photo, preset="full")
    detail.refine_detail = original
    shipped = sfs._backward

    def one_thread(loss, order_fixed=False):
        determinism.backward(loss)  # ignores order_fixed: the backward on one thread, as before

    times = {"one-thread backward": [], "all-thread backward": []}
    results = {}
    for _ in range(args.repeat):
        for name, fn in (("one-thread backward", one_thread), ("all-thread backward", shipped)):
            sfs._backward = fn
            with determinism.repeatable_fit(0, True):
                t, c = time.perf_counter(), time.process_time()
                res = original(*captured["args"])
                times[name].append((time.perf_counter() - t, time.process_time() - c))
            results[name] = res.displacement.numpy().tobytes() + res.albedo.numpy().tobytes()
    sfs._backward = shipped
    print(f"torch threads: {torch.get_num_threads()}, repeats: {args.repeat}, map {captured['args'][3].size}^2, "
          f"{captured['args'][3].iterations} steps")
    for name, ts in times.items():
        print(f"{name}: wall {statistics.median(t for t, _ in ts):.2f} s, CPU {statistics.median(c for _, c in ts):.2f} s")
    same = results["one-thread backward"] == results["all-thread backward"]
    print(f"displacement and albedo: {'identical' if same else 'DIFFERENT'}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
