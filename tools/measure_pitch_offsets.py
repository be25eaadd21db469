"""Diagnostic: how far mediapipe's chin, jaw-side and brow points sit from the model's embedded points at large pitch.

Run from the repository root::

    OMP_NUM_THREADS=1 .venv/bin/python tools/measure_pitch_offsets.py [--pitches -30,-15,0,15,30,40] [--n 8]

Why: on the AFLW2000-3D sample (issue 11) the predicted jaw and brows of the frontal photos seen from below
(pitch 31-36 degrees there) sit 5-10 % of the face box above the ground truth, and the packaged view bias
(``tools/measure_landmark_bias.py``) was measured on renders with pitch +-12 only (it is clamped beyond). This
renders ``--n`` heads of ``register_landmarks_renders.render_view`` (seeds 30000 + i, yaw drawn in +-10 degrees,
every second head plain) at each fixed pitch and prints, per pitch, the mean vertical offset of the detection from
the projection of the embedded point on the true head (per cent of the detected face size, + = the detection is
lower in the image), before and after the packaged bias is taken off, for the chin, the sides of the jaw and the
brows. Pitch here is ``fitting.landmark_bias.view_angles``'s: negative = the camera below the face (the face seen
from below). Deterministic (seeded renders, repeatable mediapipe CPU inference). A tool: it may print.
"""
from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from register_landmarks_renders import render_view  # noqa: E402

from facesculpt.core.errors import FaceSculptError  # noqa: E402
from facesculpt.detect import detect_faces  # noqa: E402
from facesculpt.face_model import load_face_model  # noqa: E402
from facesculpt.fitting.landmark_bias import landmark_bias, view_angles  # noqa: E402

#: mediapipe face-oval points around the chin, on the sides of the jaw, and the brows' upper rows
GROUPS = {"chin": (152, 148, 377, 176, 400, 149, 378), "jaw side": (136, 365, 172, 397, 58, 288, 132, 361),
          "brow": (70, 63, 105, 66, 107, 300, 293, 334, 296, 336)}
SEED0 = 30000
#: yaw range of the renders (degrees): near-frontal, so pitch is what varies
YAW_MAX = 10.0


def offsets_at(model, pitch_deg: float, n: int):
    """(raw, after bias) lists of (478, 2) offsets (face-size units) and the measured pitches (degrees)."""
    emb = model.landmarks["mediapipe"]
    F = model.faces.numpy()
    fa, ba = emb.faces.numpy(), emb.bary.numpy().astype(np.float64)
    raw, unbiased, pitches = [], [], []
    for i in range(n):
        img, hv, pose, cam, _ = render_view(model, SEED0 + i, plain=(i % 2 == 0), yaw_max=YAW_MAX,
                                            pitch_deg=pitch_deg)
        try:
            lm = detect_faces(img)[0]
        except FaceSculptError:
            continue
        Xc = pose.apply(hv[None].float())[0].double().numpy()
        X = (Xc[F[fa]] * ba[:, :, None]).sum(1)[:478]
        f = float(cam.focal[0])
        c = cam.principal[0].double().numpy()
        uv = X[:, :2] / X[:, 2:3] * f + c
        d = (lm.points[:478, :2].double().numpy() - uv) / float(lm.size)
        R = pose.matrix()[0].double()
        b = landmark_bias(emb.bias[:478], emb.bias_limits, R, torch.from_numpy(X.mean(0))).numpy()
        raw.append(d)
        unbiased.append(d - b)
        pitches.append(np.degrees(view_angles(R, torch.from_numpy(X.mean(0)))[1]))
    return raw, unbiased, pitches


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pitches", default="-30,-15,0,15,30,40", help="comma list of pitches (degrees)")
    ap.add_argument("--n", type=int, default=8, help="renders per pitch")
    args = ap.parse_args(argv)
    model = load_face_model()
    print("vertical offset, % of the face size (+ = detection lower): raw / after the packaged bias")
    print(f"{'pitch':>6} {'seen':>6} {'n':>3}" + "".join(f"{g:>18}" for g in GROUPS) + f"{'mean |offset|':>18}")
    for pd in (float(x) for x in args.pitches.split(",") if x.strip()):
        raw, unb, pitches = offsets_at(model, pd, args.n)
        if not raw:
            print(f"{pd:>+6.0f}  no face found in {args.n} renders")
            continue
        R, U = np.mean(raw, 0) * 100, np.mean(unb, 0) * 100
        cells = "".join(f"{R[list(ix), 1].mean():>+9.2f} /{U[list(ix), 1].mean():>+6.2f}  " for ix in GROUPS.values())
        print(f"{np.mean(pitches):>+6.1f} {'below' if pd < 0 else 'above' if pd > 0 else 'level':>6} {len(raw):>3}"
              f"{cells}{np.linalg.norm(R, axis=1).mean():>9.2f} /{np.linalg.norm(U, axis=1).mean():>6.2f}",
              flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
