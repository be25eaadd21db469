"""How far the landmark stage (stage 1) can get on the synthetic heads: detected vs perfect landmarks.

For each synthetic head (the benchmark's faces: ``SyntheticConfig(model="head", yaw_max=45, srgb=True)``,
seeds 0..N-1) the morphable head is fitted to

* ``det``: mediapipe's 478 points on the photo (the shipped stage-1 settings);
* ``perfect``: the true head's embedded points projected by the true camera (view bias, spreads and
  depth term off: they model mediapipe), with the shipped identity prior;
* ``perfect_noid``: the same with an almost-zero identity prior.

Per fit: the face-region vertex error (mm, after a similarity alignment) of the fitted head, of the
true identity with the fitted expression (``_trueid``) and of the fitted identity with the true
expression (``_trueex``); ``mean`` the mean head, ``trueid_neutral`` the true identity without expression.

    .venv/bin/python benchmarks/landmark_stage_ceiling.py [N]
"""
from __future__ import annotations

import json
import sys
from dataclasses import replace

import numpy as np
import torch

from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.detect.mediapipe_landmarker import detect_faces
from facesculpt.face_model import fit_view, load_face_model
from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
from facesculpt.fitting.initialize import initialize
from facesculpt.structures import Landmarks
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import generate


def main(n: int) -> None:
    model = load_face_model()
    view = fit_view(model)
    region = model.narrow_face
    sc = SyntheticConfig(model="head", yaw_max=45.0, srgb=True)
    plain = replace(HeadLandmarkConfig(), view_bias=False, point_sigma="off", w_depth=0.0)
    rows = []
    for seed in range(n):
        face = generate(seed, sc)
        tv = face.head_verts.float()
        Head = type(face.head)
        det = detect_faces(face.image, max_faces=1)[0]
        pts = face.camera.project(face.pose.apply(model.points(tv, "mediapipe")))[0]
        perfect = Landmarks(torch.cat([pts, torch.zeros(pts.shape[0], 1)], 1),
                            torch.cat([pts.min(0).values, pts.max(0).values]), tuple(face.image.shape[:2]))

        def err(head):
            with torch.no_grad():
                return similarity_error_mm(model.vertices(head)[0, region], tv[0, region])

        r = {"seed": seed}
        for name, lmk, cfg in [("det", det, HeadLandmarkConfig()), ("perfect", perfect, plain),
                               ("perfect_noid", perfect, replace(plain, w_identity=1e-9))]:
            _, pose, cam = initialize(lmk, view.canonical)
            pose, head, _ = fit_head_landmarks(lmk, model, pose, cam, cfg)
            r[name] = err(head)
            r[name + "_trueid"] = err(Head(face.head.identity.to(head.identity.dtype), head.expression, head.gaze,
                                           head.offsets))
            r[name + "_trueex"] = err(Head(head.identity, face.head.expression.to(head.expression.dtype), head.gaze,
                                           head.offsets))
        r["mean"] = err(model.zero_params())
        r["trueid_neutral"] = err(Head(face.head.identity.float(), torch.zeros_like(face.head.expression).float(),
                                       face.head.gaze.float(), None))
        rows.append(r)
        print(json.dumps({k: (round(v, 3) if isinstance(v, float) else v) for k, v in r.items()}), flush=True)
    keys = [k for k in rows[0] if k != "seed"]
    print("MEAN", {k: round(float(np.mean([r[k] for r in rows])), 3) for k in keys})


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 6)
