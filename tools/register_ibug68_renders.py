"""Register the iBUG-68 brows, nose and lips on renders of the morphable head with dlib's 68-point predictor.

Run from the repository root (reads the packaged ``facesculpt/assets/ict_head.npz``; dlib comes with the
test extras, its 68-point model with ``face-recognition-models``, a package dependency)::

    OMP_NUM_THREADS=1 .venv/bin/python tools/register_ibug68_renders.py
    .venv/bin/python tools/build_face_model.py      # reads tools/data/ibug68_on_renders.npz

Why: the ICT model's 68 points are the upstream Multi-PIE vertex indices. Seen by a detector trained on the
iBUG 300-W annotations (dlib's ``shape_predictor_68_face_landmarks``, the iBUG convention the 68 points are
named after), the Multi-PIE brow vertices sit about 4 % of the face size above where iBUG annotators put the
brows (docs/large_poses.md, "The iBUG-68 brows, nose and lips registered on renders"). The points that lie on
the face's surface away from its outline and its holes are registered the way mediapipe's 478 are
(``tools/register_landmarks_renders.py``):

1. renders the same heads as that tool (``render_view``, seeds 10000 + i) and keeps the plain ones (the
   base skin tone only: the painted ones have brows and lips painted at the current embedding, which the
   detector would find);
2. runs dlib's frontal face detector (one upsampling) and the 68-point predictor on the largest box, and casts
   each detected brow, nose and lip point onto the true surface with the true camera (the nearest
   triangle under the pixel, perspective-correct barycentrics; hits off the face part are dropped);
3. over the views with |yaw| <= ``--reg-yaw``, maps every hit to the mean neutral head, pools it with the mirror
   images (x -> -x) of the partner point's hits (the embedding comes out symmetric), takes the coordinate-wise
   median and snaps it to the face surface; an inner-lip point (60-67) only to the triangles of its own lip
   (``own_lip_triangles``: on a closed mouth the two lips touch, and an upper-lip point put on the lower lip
   would open the wrong way). A point with fewer than ``--min-hits`` hits keeps its embedding.

Not registered: the jaw line (0-16: iBUG's jaw is the visible outline, not one surface point; the build puts its
sides on the mean head's frontal outline) and the eyelid contours (36-47), which lie on the eye holes'
boundaries (the detections' mean distance to them is 1.8 % of the face size; mediapipe's registered eyelid points
in their place are further, 2.1 %). Deterministic: the renders are a function of the seeds, dlib's CPU
inference is repeatable and the aggregation is a median. This is a tool, not part of the package: it may print.
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

from build_face_model import closest_on_triangles  # noqa: E402
from register_landmarks_renders import SEED0, cast, render_view  # noqa: E402

from facesculpt.face_model import PART_FACE, load_face_model  # noqa: E402
from facesculpt.identity.weights import shape_predictor_68_path  # noqa: E402

DEFAULT_OUT = ROOT / "tools" / "data" / "ibug68_on_renders.npz"
#: the registered points: brows (17-26), nose (27-35), outer lips (48-59), inner lips (60-67)
REGISTERED = tuple(range(17, 36)) + tuple(range(48, 68))
#: the inner lips: each snapped within its own lip (``LIP_REACH_CM`` around its upstream point, over the surface)
INNER_LIPS = tuple(range(60, 68))
LIP_REACH_CM = 1.0
#: iBUG-68's left/right partner of each point (the image mirrored)
IBUG_MIRROR = np.array(
    list(range(16, -1, -1))  # jaw
    + list(range(26, 16, -1))  # brows
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]  # nose bridge, nostrils
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]  # eyes
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]  # outer lips
    + [64, 63, 62, 61, 60, 67, 66, 65])  # inner lips
REGIONS = {"jaw": range(0, 17), "brows": range(17, 27), "nose": range(27, 36), "eyes": range(36, 48),
           "outer lips": range(48, 60), "inner lips": range(60, 68)}


def own_lip_triangles(F: np.ndarray, tris: np.ndarray, V: np.ndarray, start: int, centre: np.ndarray,
                      reach: float) -> np.ndarray:
    """The triangles of ``tris`` reached from ``start`` over shared edges without leaving the ball of radius
    ``reach`` around ``centre`` (their centroids): on a closed mouth the upper and lower lips touch in space but
    meet over the surface only at the corners, so an inner-lip point snapped among these stays on its own lip."""
    cen = V[F[tris]].mean(1)
    near = {int(t) for t, c in zip(tris, cen) if np.linalg.norm(c - centre) <= reach}
    by_edge: dict = {}
    for t in near:
        f = F[t]
        for i in range(3):
            by_edge.setdefault((min(f[i], f[(i + 1) % 3]), max(f[i], f[(i + 1) % 3])), []).append(t)
    seen, todo = {int(start)}, [int(start)]
    while todo:
        t = todo.pop()
        f = F[t]
        for i in range(3):
            for u in by_edge.get((min(f[i], f[(i + 1) % 3]), max(f[i], f[(i + 1) % 3])), []):
                if u not in seen:
                    seen.add(u)
                    todo.append(u)
    return np.array(sorted(seen), np.int64)


def detect68(img: np.ndarray, detector, predictor):
    """dlib's 68 points (68, 2) float pixels on the largest face dlib's detector finds in ``img``, or None.
    (dlib reads the array's memory as if C-contiguous: a strided view, as the renders are, gives detections that
    change from call to call.)"""
    img = np.ascontiguousarray(img)
    boxes = detector(img, 1)
    if len(boxes) == 0:
        return None
    b = max(boxes, key=lambda r: r.area())
    s = predictor(img, b)
    return np.array([[s.part(k).x, s.part(k).y] for k in range(68)], np.float64)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=320, help="number of renders, every second one plain (320: the shipped "
                                                       "registration)")
    ap.add_argument("--yaw-max", type=float, default=50.0)
    ap.add_argument("--reg-yaw", type=float, default=25.0, help="largest |yaw| of the registration views")
    ap.add_argument("--min-hits", type=int, default=8)
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    args = ap.parse_args(argv)
    import dlib

    torch.set_num_threads(1)
    detector = dlib.get_frontal_face_detector()
    predictor = dlib.shape_predictor(str(shape_predictor_68_path()))
    model = load_face_model()
    F = model.faces.numpy()
    fpart = model.face_part.numpy()
    V0 = model.template.numpy().astype(np.float64)
    old = model.landmarks["ibug68_multipie"]  # the build's embedding before this registration
    old_faces, old_bary = old.faces.numpy().copy(), old.bary.numpy().astype(np.float64).copy()
    face_tris = np.nonzero(fpart == PART_FACE)[0]

    views = []
    for i in range(0, args.n, 2):  # the plain renders of register_landmarks_renders.py's draws
        seed = SEED0 + i
        img, hv, pose, cam, info = render_view(model, seed, plain=True, yaw_max=args.yaw_max)
        pts = detect68(img, detector, predictor)
        if pts is None:
            print(f"  seed {seed}: yaw {info['yaw']:+.1f}, no face", flush=True)
            continue
        Xc = pose.apply(hv[None].float())[0].double().numpy()
        f = float(cam.focal[0])
        c = cam.principal[0].double().numpy()
        tri, bary = cast(pts, Xc, F, f, c)
        size = float((pts.max(0) - pts.min(0)).max())
        views.append(dict(seed=seed, yaw=info["yaw"], pts=pts, size=size, tri=tri, bary=bary, Xc=Xc, f=f, c=c))
    reg = [v for v in views if abs(v["yaw"]) <= args.reg_yaw]
    print(f"{len(views)} plain views with a face, {len(reg)} registration views (|yaw| <= {args.reg_yaw})", flush=True)

    obs = {}
    for m in REGISTERED:  # each hit on the mean neutral head
        P = [v["bary"][m] @ V0[F[v["tri"][m]]] for v in reg if v["tri"][m] >= 0 and fpart[v["tri"][m]] == PART_FACE]
        obs[m] = np.array(P).reshape(-1, 3)
    flip = np.array([-1.0, 1.0, 1.0])  # the mean head is symmetric about x = 0
    new_faces, new_bary = old_faces.copy(), old_bary.copy()
    for a, b in ((61, 67), (62, 66), (63, 65)):  # the upper and lower inner lips' regions do not meet
        ra, rb = (own_lip_triangles(F, face_tris, V0, old_faces[j], old_bary[j] @ V0[F[old_faces[j]]], LIP_REACH_CM)
                  for j in (a, b))
        if np.intersect1d(ra, rb).size:
            raise SystemExit(f"inner lips {a} and {b}: their lip regions meet (LIP_REACH_CM too large)")
    hits = np.zeros(68, np.int32)
    moved = np.zeros(68)
    for m in REGISTERED:
        P = np.concatenate([obs[m], obs[int(IBUG_MIRROR[m])] * flip])
        hits[m] = len(obs[m])
        if len(obs[m]) < args.min_hits:
            continue
        cand = face_tris
        if m in INNER_LIPS:
            cand = own_lip_triangles(F, face_tris, V0, old_faces[m], old_bary[m] @ V0[F[old_faces[m]]], LIP_REACH_CM)
        Fc = V0[F[cand]]
        tri_i, bary_i, _ = closest_on_triangles(np.median(P, 0)[None], Fc[:, 0], Fc[:, 1], Fc[:, 2])
        new_faces[m], new_bary[m] = cand[tri_i[0]], bary_i[0]
        moved[m] = np.linalg.norm(new_bary[m] @ V0[F[new_faces[m]]] - old_bary[m] @ V0[F[old_faces[m]]])
    kept = [m for m in REGISTERED if hits[m] < args.min_hits]
    for name, ids in REGIONS.items():
        ids = [m for m in ids if m in REGISTERED]
        if ids:
            print(f"{name}: moved mean {moved[ids].mean():.3f} cm, max {moved[ids].max():.3f} cm, hits "
                  f"{hits[ids].min()}-{hits[ids].max()}", flush=True)
    print(f"kept (too few hits): {kept}", flush=True)

    def project(v, faces_, bary_):
        X = (v["Xc"][F[faces_]] * bary_[:, :, None]).sum(1)
        return X[:, :2] / X[:, 2:3] * v["f"] + v["c"]

    # residuals (detection minus the projected embedded point, per cent of the detected face size) by region
    res_old = np.array([(v["pts"] - project(v, old_faces, old_bary)) / v["size"] * 100 for v in views])
    res_new = np.array([(v["pts"] - project(v, new_faces, new_bary)) / v["size"] * 100 for v in views])
    yaw = np.array([v["yaw"] for v in views])
    sel = np.abs(yaw) <= args.reg_yaw
    for name, ids in REGIONS.items():
        ids = list(ids)
        for lab, r in (("before", res_old), ("after", res_new)):
            rr = r[sel][:, ids]
            print(f"{name:10s} {lab:6s} |yaw| <= {args.reg_yaw:.0f}: mean distance {np.linalg.norm(rr, axis=-1).mean():.2f} "
                  f"%, mean dx {rr[..., 0].mean():+.2f} dy {rr[..., 1].mean():+.2f} (+ = detection lower)", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, registered=np.array(REGISTERED, np.int32), faces=new_faces.astype(np.int32),
                        bary=new_bary.astype(np.float32), hits=hits, seeds=np.array([v["seed"] for v in views], np.int32),
                        yaw=yaw.astype(np.float32), residual_before=res_old.astype(np.float32),
                        residual_after=res_new.astype(np.float32))
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
