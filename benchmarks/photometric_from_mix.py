"""The photometric stage started from mixes of stage 1's fit and the truth: which error of stage 1 does it keep?

For each synthetic head (the benchmark's faces: ``SyntheticConfig(model="head", yaw_max=45, srgb=True)``, seeds
0..N-1), stage 1 (``fit_head_landmarks``, shipped settings) is fitted to mediapipe's points; then the ``default``
preset's photometric stage (detail off, KEY=VALUE overrides) runs from a start made of, for identity, expression
(with gaze) and pose in that order, the truth (``t``) or stage 1's result (``s``): START is a comma list of such
three-letter codes, e.g. ``sss`` (the pipeline), ``tss`` (the true identity, stage 1's expression and pose),
``ttt`` (the truth). Prints, per face and as the mean, the face-region vertex error (mm, after a similarity
alignment) of the start and of the result.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/photometric_from_mix.py N START [KEY=VALUE ...]
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.cli import _parse_overrides  # the CLI's --set KEY=VALUE parsing
from facesculpt.config import make_config
from facesculpt.detect.mediapipe_landmarker import detect_faces
from facesculpt.face_model import fit_view, load_face_model
from facesculpt.fitting.head_landmarks import fit_head_landmarks
from facesculpt.fitting.initialize import initialize
from facesculpt.pipeline import reconstruct_head
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import generate


def main(n: int, starts: list[str], sets: dict) -> None:
    if any(len(s) != 3 or set(s) - {"s", "t"} for s in starts):
        raise SystemExit(f"START codes are three letters of s/t (identity, expression, pose), got {starts}")
    cfg = make_config("default", **{"detail.enabled": False, **sets})
    model = load_face_model()
    view = fit_view(model)
    region = model.narrow_face
    sc = SyntheticConfig(model="head", yaw_max=45.0, srgb=True)
    start_err = {s: [] for s in starts}
    end_err = {s: [] for s in starts}
    for seed in range(n):
        torch.set_grad_enabled(True)
        face = generate(seed, sc)
        truth = face.head_verts[0, region].float()
        det = detect_faces(face.image, max_faces=1)[0]
        _, pose0, cam = initialize(det, view.canonical)
        pose1, head1, _ = fit_head_landmarks(det, model, pose0, cam, cfg.head_landmarks)
        h = face.head
        Head = type(head1)
        line = [str(seed)]
        for s in starts:
            identity = (h.identity if s[0] == "t" else head1.identity).detach().float()
            expression, gaze = (h.expression, h.gaze) if s[1] == "t" else (head1.expression, head1.gaze)
            pose = face.pose if s[2] == "t" else pose1
            head = Head(identity, expression.detach().float(), gaze.detach().float(), None)
            with torch.no_grad():
                e0 = similarity_error_mm(model.vertices(head)[0, region], truth)
            rec = reconstruct_head(face.image, det, cfg, fixed=(pose, head))
            e1 = similarity_error_mm(rec.head_verts[0, region].detach(), truth)
            start_err[s].append(float(e0))
            end_err[s].append(float(e1))
            line.append(f"{s} {e0:.2f}->{e1:.2f}")
        print("  ".join(line), flush=True)
    print("MEAN", "  ".join(f"{s} {np.mean(start_err[s]):.2f}->{np.mean(end_err[s]):.2f}" for s in starts))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2].split(","), _parse_overrides(sys.argv[3:]))
