"""Compare two mediapipe registrations (``tools/register_landmarks_renders.py`` outputs) per region.

    .venv/bin/python tools/compare_landmark_registrations.py OLD.npz NEW.npz

Prints, per region (brows, outer lips, face oval, eyelids, inner lips, irises, other), how far the
embedded points moved on the mean neutral head (mm, mean / max) and the median per-point spreads
sigma0 / sigma1 (% of the face size) of each, and the mean residual by |yaw| bin of each file's views.
A tool, not the package: it may print.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
for p in (str(ROOT), str(ROOT / "tools")):
    if p not in sys.path:
        sys.path.insert(0, p)

from register_landmarks_renders import EYE_LEFT_LOOP, EYE_RIGHT_LOOP, IRIS, LIPS_INNER  # noqa: E402

from facesculpt.face_model import load_face_model  # noqa: E402
from facesculpt.synthetic.head import BROWS, LIPS_OUTER  # noqa: E402
from facesculpt.fitting.head_landmarks import FACE_OVAL  # noqa: E402


def regions() -> dict[str, list[int]]:
    brows = sorted({i for L in BROWS for i in L})
    named = {"brows": brows, "outer lips": list(LIPS_OUTER), "face oval": list(FACE_OVAL),
             "eyelids": list(EYE_RIGHT_LOOP) + list(EYE_LEFT_LOOP), "inner lips": list(LIPS_INNER),
             "irises": list(IRIS)}
    used = {i for v in named.values() for i in v}
    return {"all 478": list(range(478)), **named, "other": [i for i in range(468) if i not in used]}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print(__doc__)
        return 2
    a, b = (np.load(p) for p in argv)
    model = load_face_model()
    V = model.template.numpy().astype(np.float64)
    F = model.faces.numpy()

    def pts(z):
        return (V[F[z["faces"]]] * z["bary"].astype(np.float64)[:, :, None]).sum(1)

    moved = np.linalg.norm(pts(b) - pts(a), axis=1) * 10  # mm
    print(f"{'points':12s} {'n':>4s} {'moved mm mean/max':>18s} {'s0 med % old/new':>18s} {'s1 med % old/new':>18s}")
    for name, idx in regions().items():
        idx = np.array(idx)
        print(f"{name:12s} {len(idx):4d} {moved[idx].mean():8.2f} / {moved[idx].max():6.2f} "
              f"{np.median(a['sigma0'][idx]) * 100:8.2f} / {np.median(b['sigma0'][idx]) * 100:6.2f} "
              f"{np.median(a['sigma1'][idx]) * 100:8.2f} / {np.median(b['sigma1'][idx]) * 100:6.2f}")
    for name, z in (("old", a), ("new", b)):
        yaw = np.abs(z["yaw"])
        enc = str(z["photo_encoding"]) if "photo_encoding" in z.files else "none"
        row = []
        for lo, hi in ((0, 15), (15, 30), (30, 45), (45, 90)):
            sel = (yaw >= lo) & (yaw < hi)
            row.append(f"{lo}-{hi}: {z['residual_new'][sel].mean() * 100:.2f}")
        print(f"{name} ({enc} renders) mean residual of its own embedding on its views, % of face size, |yaw| "
              + ", ".join(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
