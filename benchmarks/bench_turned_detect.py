"""Turned faces: one detection vs the mirrored second detection (``facesculpt.detect.turned``), on
synthetic heads with known truth. Not collected by pytest.

    .venv/bin/python benchmarks/bench_turned_detect.py [--seeds 0-149] [--min-yaw 40] [--size 384]
        [--preset fast] [--out FILE.json]
    .venv/bin/python benchmarks/bench_turned_detect.py --cost [--seeds 0,7,45] [--repeat 5]

Each seed is a synthetic head (``facesculpt.synthetic.head``, yaw up to 90 degrees, ``--size`` pixels);
seeds with |yaw| below ``--min-yaw`` are skipped (``--min-yaw 0 --max-yaw 25``: frontal controls). Per
face and per setting (``turned.enabled`` false / true) it reconstructs with ``--preset`` and prints, in
% of the face size (sqrt of the true 468 points' box area): ``det`` the detected 468 points' mean 2D
distance from the true embedded points, ``fit`` the fitted head's projected points' distance, and the
fitted head's rotation error (degrees) and the detection + fit time (s). Means per |yaw| bin at the end.
The true points are the model's embedded mediapipe points, so mediapipe's own view-dependent offsets
count as error in both settings alike.

``--cost``: the median wall time (``--repeat`` runs, models loaded first) of the detection alone
(``detect_faces``) and with the turned-face step (``refine_turned``, as the pipeline runs it) on
grace_hopper and the synthetic heads ``--seeds``. Target (issue 11): a fall-back adds <= 0.3 s.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from bench_upright import _seeds  # "0-74,80" -> seeds (this folder is on sys.path when run as a script)


def cost(seeds: list[int], size: int, repeat: int) -> None:
    import statistics

    from facesculpt.cli import _bundled_photo
    from facesculpt.detect import detect_faces
    from facesculpt.detect.turned import TurnedDetectConfig, refine_turned
    from facesculpt.face_model import load_face_model
    from facesculpt.io.image import load_image
    from facesculpt.synthetic.head import generate, head_config

    model = load_face_model()
    mean = model.points(model.template[None], "mediapipe")[0, :468].detach().numpy()
    photos = [("grace_hopper", load_image(_bundled_photo()))]
    photos += [(f"seed {s}", generate(s, head_config(yaw_max=90.0, size=size)).image) for s in seeds]

    def timed(fn):
        fn()  # models loaded, caches warm
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t)
        return statistics.median(times), out

    for name, img in photos:
        t1, _ = timed(lambda: detect_faces(img))
        t2, out = timed(lambda: refine_turned(img, detect_faces(img), detect_faces, mean, TurnedDetectConfig()))
        w = out[0].mirror_weight
        print(f"{name:14} detect {t1:6.3f} s   with the turned-face step {t2:6.3f} s   (+{t2 - t1:.3f} s, "
              f"mirror weight {'-' if w is None else f'{w:.2f}'})", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-149")
    ap.add_argument("--min-yaw", type=float, default=40.0)
    ap.add_argument("--max-yaw", type=float, default=90.0)
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--out", default=None)
    ap.add_argument("--cost", action="store_true", help="time the detection with and without the turned-face step")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    if args.cost:
        cost(_seeds(args.seeds), args.size, args.repeat)
        return

    from facesculpt.config import make_config
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.synthetic.head import generate, head_config

    cfg_s = head_config(yaw_max=90.0, size=args.size)
    settings = {"one": make_config(args.preset, **{"turned.enabled": False}), "mirror": make_config(args.preset)}
    rows = []
    print(f"{'seed':>5} {'yaw':>6}  " + "  ".join(f"{k + ' det/fit/rot/s':>26}" for k in settings) + "  weight")
    for seed in _seeds(args.seeds):
        face = generate(seed, cfg_s)
        yaw = face.info["yaw_deg"]
        if not args.min_yaw <= abs(yaw) <= args.max_yaw:
            continue
        with torch.no_grad():
            truth = face.camera.project(face.pose.apply(face.verts))[0, :468, :2].numpy().astype(np.float64)
        size = math.sqrt(float(np.ptp(truth[:, 0]) * np.ptp(truth[:, 1])))
        row = {"seed": seed, "yaw": yaw}
        for key, cfg in settings.items():
            t = time.perf_counter()
            try:
                rec = reconstruct_all(face.image, config=cfg, max_faces=1)[0]
            except FaceSculptError as e:
                row[key] = {"error": type(e).__name__}
                continue
            sec = time.perf_counter() - t
            with torch.no_grad():
                fit = rec.params.camera.project(rec.params.pose.apply(rec.coarse))[0, :468, :2].numpy()
                Rf, Rt = rec.params.pose.matrix()[0].double(), face.pose.matrix()[0].double()
            det = rec.landmarks.points[:468, :2].numpy().astype(np.float64)
            rot = math.degrees(math.acos(max(-1.0, min(1.0, (float(torch.trace(Rf @ Rt.T)) - 1) / 2))))
            row[key] = {"det": float(np.linalg.norm(det - truth, axis=1).mean() / size * 100),
                        "fit": float(np.linalg.norm(fit - truth, axis=1).mean() / size * 100),
                        "rot": rot, "s": sec, "detector": rec.landmarks.detector,
                        "weight": rec.landmarks.mirror_weight}
        rows.append(row)

        def txt(r):
            if "error" in r:
                return f"{'not found':>26}"
            return f"{r['det']:6.2f} {r['fit']:6.2f} {r['rot']:6.1f} {r['s']:5.2f}"
        w = row["mirror"].get("weight") if "error" not in row["mirror"] else None
        wtxt = "-" if w is None else f"{w:.2f}"
        print(f"{seed:5d} {yaw:6.1f}  " + "  ".join(txt(row[k]) for k in settings) + f"  {wtxt}", flush=True)
    bins = (("40-60", 0, 60), ("60-75", 60, 75), ("75-90", 75, 91)) if args.min_yaw >= 30 else (("all", 0, 91),)
    for name, lo, hi in bins:
        sel = [r for r in rows if lo <= abs(r["yaw"]) < hi and all("error" not in r[k] for k in settings)]
        if not sel:
            continue
        parts = []
        for k in settings:
            m = {q: [r[k][q] for r in sel] for q in ("det", "fit", "rot", "s")}
            parts.append(f"{k}: det {np.mean(m['det']):.2f} fit {np.mean(m['fit']):.2f} "
                         f"(median {np.median(m['fit']):.2f}) rot {np.mean(m['rot']):.1f} s {np.median(m['s']):.2f}")
        print(f"|yaw| {name} ({len(sel)} found by both): " + "; ".join(parts))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
