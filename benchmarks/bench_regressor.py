"""Landmark regressor on held-out synthetic heads: shape error and time of the landmark stage
started from the regressor vs from the mean head.

    python benchmarks/bench_regressor.py --n 20 --seed 100 [--yaw-max 60] [--cache /tmp/reg_faces.pt]
        [--weights facesculpt/assets/regressor.pt]

Faces: ``synthetic.head.generate`` (rendered photos with known truth, never seen in training: the
regressor trains on projected points, not photos), landmarks by mediapipe as the pipeline detects them
(``detect_faces``, then ``detect.turned.with_mirrored_detection`` with the default ``TurnedDetectConfig``: the mirrored photo's
detection averaged in; ``--turned-min-yaw 30``: only on faces turned 30 degrees or more, the rule before session 37);
``--detection one``: the first detection alone (what this benchmark measured before session 37).
Variants (all fitted to the same detections):

* ``mean``: the current landmark stage (``fit_head_landmarks`` from the mean head, 16 iterations);
* ``regressor``: the regressor's estimate alone (pose: its rotation and a least-squares translation);
* ``reg+gn5``: the same, then 5 Gauss-Newton iterations of the pose alone;
* ``reg+gn5+floor``: and expression weights under 0.1 set to 0 (the pipeline's start, all presets);
* ``reg+polishN``: N landmark iterations from the regressor's estimate (the pipeline's start);
* ``reg+poseN``: N iterations of pose and gaze only (the regressor's identity and expression kept);
* ``reg+expr3``: 3 iterations of pose, expression and gaze (the regressor's identity kept);
* ``+emb`` after a name: the same with the regressed identity refined by the photo's face-recognition embedding
  (``RegressorInitConfig.identity_features``, ``models.identity_refiner``; ``--refiner FILE`` for another map);
  ``+priorS``: the polish's identity prior centred on the refined identity with S times its weight
  (``polish_prior_at_start``, ``polish_prior_scale``). The refiner reads the mean of the photo's and the mirrored
  photo's chip (``identity_features_flip``, the default since session 21): their embeddings, or their recogniser
  feature maps for a ``--refiner`` made with ``--features map`` (session 25); ``+emb1`` rows: the photo's alone.

Per variant: mean narrow-face vertex error (mm) after a similarity alignment (the synthetic
benchmark's ``vertex_error_mm.aligned``), the mean rotation error (degrees) against the true pose, and the median wall time of the stage (seconds; on a
shared machine the times are inflated). The mean head (neutral, aligned) is the baseline row.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch


def faces(n, seed, yaw_max, cache, detection="pipeline", min_yaw=None):
    from facesculpt.detect import detect_faces
    from facesculpt.detect.turned import TurnedDetectConfig, detect_with_mirror
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.regress_init import identity_features, photo_identity_features
    from facesculpt.synthetic.head import generate, head_config

    turned = TurnedDetectConfig() if min_yaw is None else TurnedDetectConfig(min_yaw_deg=min_yaw)
    key = (n, seed, yaw_max, "embedding", "mirrored", "feature_map", detection,
           (turned.min_yaw_deg, turned.max_yaw_deg, turned.residual_scale) if detection == "pipeline" else None)
    if cache and Path(cache).exists():
        blob = torch.load(cache, weights_only=False)
        if blob["key"] == key:
            return blob["faces"]
    model = load_face_model()
    out = []
    for i in range(n):
        f = generate(seed + i, head_config(yaw_max=yaw_max, detail=False))
        try:
            lm = detect_with_mirror(f.image, lambda im: detect_faces(im, max_faces=1, name=f"seed{seed + i}"),
                                    turned if detection == "pipeline" else None)[0]  # "pipeline": as reconstruct detects
        except Exception as e:  # report and go on
            print(f"seed {seed + i}: {e}", file=sys.stderr)
            continue
        out.append({"seed": seed + i, "yaw": f.info["yaw_deg"], "landmarks": lm, "head_verts": f.head_verts,
                    "pose": f.pose, "head": f.head, "embedding": photo_identity_features(f.image, lm, model),
                    "embedding_mirrored": photo_identity_features(f.image, lm, model, mirrored=True),
                    "feature_map": identity_features(f.image, lm, model, True, feature_map=True),
                    "feature_map_photo": identity_features(f.image, lm, model, False, feature_map=True)})
    if cache:
        torch.save({"key": key, "faces": out}, cache)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--seed", type=int, default=100)
    ap.add_argument("--yaw-max", type=float, default=60.0)
    ap.add_argument("--cache", default=None, help="file to keep the generated faces' detections in")
    ap.add_argument("--detection", choices=("pipeline", "one"), default="pipeline",
                    help="landmarks as the pipeline detects them (the mirrored photo's detection averaged in, "
                         "default) or the first detection alone")
    ap.add_argument("--turned-min-yaw", type=float, default=None,
                    help="with --detection pipeline: the mirrored detection only from this estimated yaw (degrees; "
                         "the pipeline's turned.min_yaw_deg, 0 since session 37, 30 before)")
    ap.add_argument("--weights", default=None, help="regressor weights (default: the packaged ones)")
    ap.add_argument("--refiner", default="", help="identity refiner for the +emb rows (default: the packaged one)")
    args = ap.parse_args(argv)

    from facesculpt.bench.synthetic import head_shape_errors, similarity_error_mm
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.fitting import regress_init
    from facesculpt.fitting.regress_init import matching_refiner, refiner_reads_map
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
    from facesculpt.fitting.initialize import initialize
    from facesculpt.models import regressor as reg

    if args.weights:
        net_meta = reg.read_regressor(args.weights)
        reg.load_regressor = lambda: net_meta  # noqa: E731 (benchmark only)
    model = load_face_model()
    view = fit_view(model)
    data = faces(args.n, args.seed, args.yaw_max, args.cache, args.detection, args.turned_min_yaw)
    lm_cfg = HeadLandmarkConfig()
    mean_head = model.vertices(model.zero_params())

    def run_mean(lm):
        _, pose, cam = initialize(lm, view.canonical)
        pose, head, _ = fit_head_landmarks(lm, model, pose, cam, lm_cfg)
        return pose, head

    fmap = refiner_reads_map(matching_refiner(args.refiner, args.weights or ""))  # what the refiner reads

    def run_reg(n, shape=True, pose_it=5, floor=0.1, identity=True, emb=False, prior=0.0, flip=True):
        def f(lm, embeddings):
            _, _, cam = initialize(lm, view.canonical)
            embedding = None
            if emb and fmap:
                embedding = embeddings[2] if flip else embeddings[3]
            elif emb:
                embedding = 0.5 * (embeddings[0] + embeddings[1]) if flip else embeddings[0]
            if n == 0:
                return regress_init.regress_head(lm, model, cam, pose_it, floor, embedding=embedding,
                                                 refiner_weights=args.refiner)
            c = regress_init.RegressorInitConfig(polish_iterations=n, polish_shape=shape, pose_iterations=pose_it,
                                                 polish_identity=identity, refiner_weights=args.refiner,
                                                 identity_features=emb, polish_prior_at_start=prior > 0,
                                                 polish_prior_scale=prior if prior > 0 else 1.0)
            pose, head, _ = regress_init.fit_head_from_regressor(lm, model, cam, lm_cfg, c, embedding=embedding)
            return pose, head
        return f

    variants = {"mean": lambda lm, e: run_mean(lm), "regressor": run_reg(0, pose_it=0, floor=0.0),
                "reg+gn5": run_reg(0, floor=0.0),
                "reg+gn5+floor": run_reg(0), "reg+polish2": run_reg(2), "reg+polish4": run_reg(4),
                "reg+polish8": run_reg(8), "reg+pose4": run_reg(4, False),
                "reg+expr3": run_reg(3, identity=False),
                "regressor+emb": run_reg(0, pose_it=0, floor=0.0, emb=True), "reg+gn5+floor+emb": run_reg(0, emb=True),
                "regressor+emb1": run_reg(0, pose_it=0, floor=0.0, emb=True, flip=False),
                "reg+polish2+emb1+prior3": run_reg(2, emb=True, prior=3.0, flip=False),
                "reg+polish2+emb": run_reg(2, emb=True), "reg+expr3+emb": run_reg(3, identity=False, emb=True),
                "reg+polish2+emb+prior3": run_reg(2, emb=True, prior=3.0),
                "reg+polish2+emb+prior10": run_reg(2, emb=True, prior=10.0)}
    for d in data[:1]:  # warm-up (caches, weights)
        for fn in variants.values():
            fn(d["landmarks"], (d["embedding"], d["embedding_mirrored"], d["feature_map"], d["feature_map_photo"]))
    rows = {k: ([], [], []) for k in variants}
    base = []
    for d in data:
        tv = d["head_verts"]
        base.append(similarity_error_mm(mean_head[0, model.narrow_face], tv[0, model.narrow_face]))
        for k, fn in variants.items():
            t = time.perf_counter()
            pose, head = fn(d["landmarks"], (d["embedding"], d["embedding_mirrored"], d["feature_map"],
                                             d["feature_map_photo"]))
            dt = time.perf_counter() - t
            with torch.no_grad():
                v = model.vertices(HeadParams(head.identity, head.expression, head.gaze))
            e = head_shape_errors(model, v, pose, tv, d["pose"])
            rows[k][0].append(e["aligned"])
            rows[k][1].append(dt)
            dR = pose.matrix()[0].double() @ d["pose"].matrix()[0].double().T
            rows[k][2].append(float(torch.rad2deg(torch.acos(((dR.trace() - 1) / 2).clamp(-1, 1)))))
    print(f"{len(data)} faces (seeds {args.seed}-{args.seed + args.n - 1}, |yaw| <= {args.yaw_max:g}), "
          f"mean |yaw| {statistics.mean(abs(d['yaw']) for d in data):.1f} deg; detection {args.detection}, "
          f"{sum(d['landmarks'].mirror_weight is not None for d in data)} with the mirrored photo's")
    print(f"{'variant':<14}{'mm aligned':>12}{'median mm':>11}{'rot deg':>9}{'median s':>10}")
    print(f"{'mean head':<14}{statistics.mean(base):>12.3f}{statistics.median(base):>11.3f}{'-':>9}{'-':>10}")
    for k, (err, ts, rot) in rows.items():
        print(f"{k:<14}{statistics.mean(err):>12.3f}{statistics.median(err):>11.3f}{statistics.mean(rot):>9.2f}"
              f"{statistics.median(ts):>10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
