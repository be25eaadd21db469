"""Register mediapipe's 478 points on renders of the morphable head, and measure each point's spread.

Run from the repository root (reads the packaged ``facesculpt/assets/ict_head.npz`` and the
starting embedding, the build without this registration)::

    .venv/bin/python tools/build_face_model.py --registration none --out /tmp/ict_start.npz
    OMP_NUM_THREADS=1 .venv/bin/python tools/register_landmarks_renders.py --start /tmp/ict_start.npz
    .venv/bin/python tools/build_face_model.py      # reads tools/data/mediapipe_on_renders.npz

The geometry, cameras and detections do not depend on the embedding; the starting embedding
decides the painted brows and lips of the painted renders, which contour edge each eyelid and
inner-lip point starts from, and where the 10 iris points stay.

What it does (measured facts in ``facesculpt/assets/FACE_MODEL.md``):

1. renders ``--n`` heads sampled from the model (seeds 10000 + i, disjoint from the benchmark's
   0-5 and the tests' seeds): identity N(0, 1), neutral (every third) or a mild expression
   (the synthetic generator's actions at half strength), gaze 0, yaw uniform in +-``--yaw-max``,
   pitch +-12, roll +-5 degrees, the generator's light; every second head "plain" (the base skin
   tone only) and the others painted like ``synthetic.head.make_head_albedo``, whose brows and lips
   are painted *from the current embedding* (circular for those points: see 3.);
2. runs the project's landmarker (``detect_faces``) on each and, with the true camera and
   geometry, casts every detected 2D point onto the true surface: the nearest triangle of the
   whole head under the pixel (perspective-correct barycentrics: identity- and expression-
   independent). Inner-lip contour points instead go to the closest point (in the image) of their
   hole boundary in the true head, within a quarter of the loop around the current embedding's edge
   (so an upper-lip point stays on the upper lip). Eyelid contour points go to the closest pixel
   (within ``--lid-radius`` px) where the rasterised head shows the face part: the visible lid
   margin. (Until session 35 they went to the eye hole's boundary like the lips: on this model that
   loop is the lid's inner rim, folded back against the eyeball 0.2-0.3 cm above the margin, hidden
   from the front, and a blink moves it half as far as the margin, so a closed eye's embedded upper
   lid stayed a third of the eye's width open: docs/landmark_registration.md, "The eyelids");
3. aggregates over the registration views (|yaw| <= ``--reg-yaw``): each hit is mapped to the
   mean neutral head, pooled with the mirror images (x -> -x) of the left/right partner point's
   hits (so the embedding is symmetric), the coordinate-wise median is taken and snapped back to
   the face surface (inner lips: to their loop; eyelids: to the triangles their hits, or their partner's
   mirrored hits, were seen on, so the point stays on the visible side of the lid's fold). Brows and
   outer lips use the plain renders only (on the painted ones the detector finds the paint, i.e. the
   current embedding). A point whose rays hit the
   face in fewer than ``--min-hits`` views keeps its current embedding. The 10 iris points keep
   theirs (the limbus circle of the eyeball, built geometrically);
4. with the new embedding, measures each point's residual (detection minus the projected true
   point, px / the detected face size) in every view and fits per point
   ``sigma^2 = s0^2 + s1^2 (1 - cos)^2``, cos = the cosine between the point's true normal and
   the direction to the camera (a point on a surface turning away slides along the silhouette or
   is guessed), pooled with the partner point's: ``sigma0``, ``sigma1``, stored in the asset and
   used by the landmark stage and the regressor's training noise.

Deterministic: the renders are a function of the seeds, mediapipe's CPU inference is repeatable,
and the aggregation is a median. This is a tool, not part of the package: it may print.
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

from build_face_model import boundary_loops, closest_on_polyline, closest_on_triangles  # noqa: E402

from facesculpt.core.errors import FaceSculptError  # noqa: E402
from facesculpt.detect import detect_faces  # noqa: E402
from facesculpt.face_model import PART_FACE, HeadParams, load_face_model  # noqa: E402
from facesculpt.render.rasterize import rasterize  # noqa: E402
from facesculpt.synthetic.generator import base_skin_albedo, make_light  # noqa: E402
from facesculpt.synthetic.head import (  # noqa: E402
    BROWS,
    LIPS_OUTER,
    atlas,
    face_pose,
    head_config,
    head_mesh,
    make_head_albedo,
    render_photo,
    sample_expression,
)

DEFAULT_OUT = ROOT / "tools" / "data" / "mediapipe_on_renders.npz"
#: mediapipe's eyelid and inner-lip contours (as in the mask topology's loops; the landmark fit's sliding contours)
from facesculpt.fitting.head_landmarks import EYE_LEFT_LOOP, EYE_RIGHT_LOOP  # noqa: E402
from facesculpt.fitting.head_landmarks import LIPS_INNER_LOOP as LIPS_INNER  # noqa: E402
EYELIDS = EYE_RIGHT_LOOP + EYE_LEFT_LOOP
IRIS = tuple(range(468, 478))
SEED0 = 10000
#: mediapipe's left/right point map (the 468-point mask topology's ``mirror``, package data)
MP_MIRROR = np.load(ROOT / "facesculpt" / "assets" / "topology.npz")["mirror"]


def partner(m: int) -> int:
    """mediapipe's left/right partner of point m (irises: right 468-472 <-> left 473-477)."""
    if m < 468:
        return int(MP_MIRROR[m])
    return m + 5 if m < 473 else m - 5


def render_view(model, seed: int, plain: bool, yaw_max: float, size: int = 512, uv: int = 256, srgb: bool = False,
                pitch_deg: float | None = None, pitch_max: float = 12.0):
    """One render: (image uint8, head verts (V, 3), pose, camera, info), through the synthetic
    benchmark's own ``synthetic.head.render_photo``. ``srgb=False`` (the default): the sRGB values
    shaded directly, the renders the shipped registration and view bias were measured on (byte for
    byte the same as before the option existed); True: shaded in linear light and sRGB-encoded like a
    camera's photo (measured in session 6, not shipped: docs/results.md). ``pitch_deg``: the view's pitch
    instead of the drawn one (the draws are made as before, so every other value of the view is the same);
    None: the drawn pitch in +-``pitch_max`` degrees (12: the registration's and the shipped view bias's renders;
    a wider range scales the same draw, so every other value of the view stays the same)."""
    r_shape, r_alb, r_scene = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3))
    ident = r_shape.standard_normal(model.num_identity)
    if seed % 3 == 0:
        expr = np.zeros(model.num_expression)
    else:
        expr, _ = sample_expression(r_shape, model.expression_names, max_actions=2)
        expr = 0.5 * expr
    head = HeadParams(torch.tensor(ident, dtype=torch.float32)[None], torch.tensor(expr, dtype=torch.float32)[None],
                      torch.zeros(1, 2, 2))
    with torch.no_grad():
        hv = model.vertices(head)
    cfg = head_config(size=size, uv_size=uv, detail=False, head_levels=0, freckles=20)
    if plain:
        alb, _ = base_skin_albedo(r_alb, uv)
    else:
        alb = make_head_albedo(r_alb, model, uv, cfg.freckles)
    tex = atlas(model, torch.as_tensor(alb)[None], (0.25, 0.18, 0.1))
    light = make_light(r_scene, cfg.light_strength)
    yaw = float(r_scene.uniform(-yaw_max, yaw_max))
    pitch = float(r_scene.uniform(-pitch_max, pitch_max))
    if pitch_deg is not None:
        pitch = float(pitch_deg)
    roll = float(r_scene.uniform(-5, 5))
    pose, cam, _ = face_pose(model, hv, yaw, pitch, roll, np.zeros(2), cfg)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, size, size, 3).contiguous()
    verts, faces, uvs, vn, _ = head_mesh(model, hv, None, 0)
    _, img = render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=srgb)
    image = np.rint(img[0].numpy() * 255).astype(np.uint8)
    return image, hv[0].double(), pose, cam, {"yaw": yaw, "pitch": pitch, "plain": plain}


def cast(pts2d, Xc, faces, f, c):
    """Nearest triangle under each 2D point: (tri (N,) -1 if none, bary (N, 3) perspective-correct)."""
    uv = Xc[:, :2] / Xc[:, 2:3] * f + c
    T = uv[faces]  # (F, 3, 2)
    z = Xc[faces][:, :, 2]
    lo, hi = T.min(1), T.max(1)
    N = len(pts2d)
    tri = np.full(N, -1)
    bary = np.zeros((N, 3))
    for i, p in enumerate(pts2d):
        cand = np.nonzero((lo[:, 0] <= p[0]) & (hi[:, 0] >= p[0]) & (lo[:, 1] <= p[1]) & (hi[:, 1] >= p[1]))[0]
        if len(cand) == 0:
            continue
        a, b, cc = T[cand, 0], T[cand, 1], T[cand, 2]
        v0, v1, v2 = b - a, cc - a, p - a
        den = v0[:, 0] * v1[:, 1] - v1[:, 0] * v0[:, 1]
        ok = np.abs(den) > 1e-12
        den = np.where(ok, den, 1.0)
        l1 = (v2[:, 0] * v1[:, 1] - v1[:, 0] * v2[:, 1]) / den
        l2 = (v0[:, 0] * v2[:, 1] - v2[:, 0] * v0[:, 1]) / den
        l0 = 1 - l1 - l2
        inside = ok & (l0 >= -1e-9) & (l1 >= -1e-9) & (l2 >= -1e-9)
        if not inside.any():
            continue
        L = np.stack([l0, l1, l2], 1)[inside]
        zz = z[cand[inside]]
        w = L / zz
        w /= w.sum(1, keepdims=True)  # 3D barycentrics (perspective-correct)
        depth = (w * zz).sum(1)
        k = int(np.argmin(depth))
        tri[i] = cand[inside][k]
        bary[i] = w[k]
    return tri, bary


def visible_face_pixels(pts2d, Xc, faces, fpart, f, c, size, radius):
    """Closest pixel showing the face part within ``radius`` px of each 2D point, on the head rasterised
    (every part, so the eyeballs hide what lies behind them): (tri (N,) -1 if none, bary (N, 3))."""
    H, W = size
    scr = torch.from_numpy(np.c_[Xc[:, :2] / Xc[:, 2:3] * f + c, Xc[:, 2:3]]).float()[None]
    fr = rasterize(scr, torch.from_numpy(faces).long(), (H, W))
    p2f = fr.pix_to_face[0].numpy()
    bar = fr.bary[0].double().numpy()
    face_px = (p2f >= 0) & (fpart[np.maximum(p2f, 0)] == PART_FACE)
    N = len(pts2d)
    tri = np.full(N, -1)
    bary = np.zeros((N, 3))
    for n, (x, y) in enumerate(pts2d):
        i0, i1 = max(int(np.floor(y - radius)), 0), min(int(np.ceil(y + radius)) + 1, H)
        j0, j1 = max(int(np.floor(x - radius)), 0), min(int(np.ceil(x + radius)) + 1, W)
        if i0 >= i1 or j0 >= j1:
            continue
        ii, jj = np.nonzero(face_px[i0:i1, j0:j1])
        if len(ii) == 0:
            continue
        d2 = (jj + j0 + 0.5 - x) ** 2 + (ii + i0 + 0.5 - y) ** 2
        k = int(np.argmin(d2))
        if d2[k] > radius * radius:
            continue
        tri[n] = p2f[ii[k] + i0, jj[k] + j0]
        bary[n] = bar[ii[k] + i0, jj[k] + j0]
    return tri, bary


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=160, help="number of renders (160: the shipped registration)")
    ap.add_argument("--yaw-max", type=float, default=50.0)
    ap.add_argument("--reg-yaw", type=float, default=25.0, help="largest |yaw| of the registration views")
    ap.add_argument("--min-hits", type=int, default=8)
    ap.add_argument("--lid-radius", type=float, default=8.0,
                    help="eyelid points: search radius (px of the 512-px render) for the visible lid margin")
    ap.add_argument("--out", default=str(DEFAULT_OUT))
    ap.add_argument("--photo-encoding", default="none", choices=("srgb", "none"),
                    help="renders: the sRGB values shaded directly (none, the default: the shipped registration's) or "
                         "shaded in linear light and sRGB-encoded like a camera's (srgb: measured in session 6 and not "
                         "shipped, docs/results.md)")
    ap.add_argument("--start", default=None,
                    help="npz with lmk_mediapipe_faces/bary to start from (default: the packaged asset's)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    model = load_face_model()
    if args.start:
        import dataclasses

        from facesculpt.face_model import Embedding

        with np.load(args.start) as z:
            emb = Embedding(torch.from_numpy(z["lmk_mediapipe_faces"].astype(np.int64)),
                            torch.from_numpy(z["lmk_mediapipe_bary"]))
        model = dataclasses.replace(model, landmarks={**model.landmarks, "mediapipe": emb})
    F = model.faces.numpy()
    fpart = model.face_part.numpy()
    V0 = model.template.numpy().astype(np.float64)
    old = model.landmarks["mediapipe"]
    old_faces, old_bary = old.faces.numpy().copy(), old.bary.numpy().astype(np.float64).copy()
    face_tris = np.nonzero(fpart == PART_FACE)[0]

    # hole boundaries of the face part and each contour point's loop and edge in the current embedding
    loops = [np.array(L) for L in boundary_loops([F[t] for t in face_tris])]
    contour = {}
    for ids in (LIPS_INNER,):
        for m in ids:
            t = old_faces[m]
            vs = F[t][old_bary[m] > 1e-6]
            for li, L in enumerate(loops):
                pos = [int(np.nonzero(L == v)[0][0]) for v in vs if v in L]
                if pos:
                    contour[m] = (li, pos[0])
                    break
    edge_face = {}
    for tt in face_tris:
        f = F[tt]
        for i in range(3):
            edge_face[(int(f[i]), int(f[(i + 1) % 3]))] = (int(tt), i, (i + 1) % 3)
            edge_face[(int(f[(i + 1) % 3]), int(f[i]))] = (int(tt), (i + 1) % 3, i)
    print(f"{len(contour)} contour points on {len({v[0] for v in contour.values()})} loops", flush=True)
    painted = set(LIPS_OUTER) | {i for L in BROWS for i in L}

    views = []  # per view: dict
    for i in range(args.n):
        seed = SEED0 + i
        img, hv, pose, cam, info = render_view(model, seed, plain=(i % 2 == 0), yaw_max=args.yaw_max,
                                             srgb=args.photo_encoding == "srgb")
        try:
            lm = detect_faces(img)[0]
        except FaceSculptError:
            print(f"  seed {seed}: no face", flush=True)
            continue
        Xc = pose.apply(hv[None].float())[0].double().numpy()
        f = float(cam.focal[0]); c = cam.principal[0].double().numpy()
        pts = lm.points[:, :2].double().numpy()
        tri, bary = cast(pts, Xc, F, f, c)
        lids = np.array(EYELIDS)
        tri[lids], bary[lids] = visible_face_pixels(pts[lids], Xc, F, fpart, f, c, img.shape[:2], args.lid_radius)
        # contour points: closest point of their loop (within a quarter loop of the current edge) in the image
        uv = Xc[:, :2] / Xc[:, 2:3] * f + c
        uv3 = np.c_[uv, np.zeros(len(uv))]
        cont = {}
        for m, (li, p0) in contour.items():
            L = loops[li]
            q = len(L) // 4
            chain = [int(L[(p0 + k) % len(L)]) for k in range(-q, q + 1)]
            (a, b, t), _ = closest_on_polyline(np.r_[pts[m], 0.0], uv3, chain)
            cont[m] = (a, b, t)
        views.append(dict(seed=seed, info=info, pts=pts, size=lm.size, tri=tri, bary=bary, cont=cont,
                          hv=hv.numpy(), Xc=Xc, f=f, c=c))
        print(f"  seed {seed}: yaw {info['yaw']:+.1f} plain {info['plain']} face hits "
              f"{int((fpart[np.maximum(tri, 0)] == PART_FACE)[tri >= 0].sum())}/478", flush=True)

    # ---- aggregate on the mean neutral head
    reg = [v for v in views if abs(v["info"]["yaw"]) <= args.reg_yaw]
    print(f"{len(views)} views detected, {len(reg)} registration views (|yaw| <= {args.reg_yaw})", flush=True)
    new_faces, new_bary = old_faces.copy(), old_bary.copy()
    Fv = V0[F[face_tris]]
    n_hits = np.zeros(478, int)
    moved = np.zeros(478)
    # observations of every point on the mean head, per point
    obs = {}
    hit_tris = {m: {int(v["tri"][m]) for v in reg if v["tri"][m] >= 0 and fpart[v["tri"][m]] == PART_FACE}
                for m in EYELIDS}
    mirror_np = model.mirror.numpy()
    tri_of = {frozenset(int(x) for x in F[t]): int(t) for t in face_tris}
    mirror_tri = {int(t): tri_of[k] for t in face_tris
                  if (k := frozenset(int(mirror_np[x]) for x in F[t])) in tri_of}
    for m in range(468):
        use = [v for v in reg if (m not in painted or v["info"]["plain"])]
        P = []
        for v in use:
            if m in contour:
                a, b, t = v["cont"][m]
                P.append((1 - t) * V0[a] + t * V0[b])
            else:
                t = v["tri"][m]
                if t >= 0 and fpart[t] == PART_FACE:
                    P.append(v["bary"][m] @ V0[F[t]])
        obs[m] = np.array(P).reshape(-1, 3)
    flip = np.array([-1.0, 1.0, 1.0])  # the mean head is symmetric about x = 0 (its mirror map is exact there)
    for m in range(468):
        # pooled with the mirror images of the partner point's observations (mediapipe's left/right
        # map): the embedding comes out symmetric, and a slight imbalance of turned-left and
        # turned-right views does not shift the outline points of one side
        P = np.concatenate([obs[m], obs[int(MP_MIRROR[m])] * flip])
        n_hits[m] = len(obs[m])
        if len(obs[m]) < args.min_hits:
            continue
        med = np.median(P, 0)
        if m in contour:
            li, p0 = contour[m]
            L = loops[li]
            q = len(L) // 4
            chain = [int(L[(p0 + k) % len(L)]) for k in range(-q, q + 1)]
            (a, b, t), _ = closest_on_polyline(med, V0, chain)
            tt, ia, ib = edge_face[(a, b)]
            w = np.zeros(3); w[ia] = 1 - t; w[ib] = t
            new_faces[m], new_bary[m] = tt, w
        elif m in EYELIDS:  # onto the triangles seen: the visible side of the lid's fold
            seen = sorted(hit_tris[m] | {mirror_tri[t] for t in hit_tris[int(MP_MIRROR[m])] if t in mirror_tri})
            T = V0[F[seen]]
            tri_i, bary_i, _ = closest_on_triangles(med[None], T[:, 0], T[:, 1], T[:, 2])
            new_faces[m], new_bary[m] = seen[tri_i[0]], bary_i[0]
        else:
            tri_i, bary_i, _ = closest_on_triangles(med[None], Fv[:, 0], Fv[:, 1], Fv[:, 2])
            new_faces[m], new_bary[m] = face_tris[tri_i[0]], bary_i[0]
        moved[m] = np.linalg.norm(new_bary[m] @ V0[F[new_faces[m]]] - old_bary[m] @ V0[F[old_faces[m]]])
    kept = [m for m in range(468) if n_hits[m] < args.min_hits]
    print(f"moved: mean {moved[:468].mean():.3f} cm, median {np.median(moved[:468]):.3f}, max {moved.max():.3f} "
          f"(point {int(moved.argmax())}); kept (too few hits): {kept}", flush=True)

    # ---- residuals with the new and the old embedding, per view, and the sigma model
    def project(v, faces_, bary_):
        P = (v["hv"][F[faces_]] * bary_[:, :, None]).sum(1)
        # the view's pose: camera points of the model points, via the camera-frame vertices
        X = (v["Xc"][F[faces_]] * bary_[:, :, None]).sum(1)
        return X[:, :2] / X[:, 2:3] * v["f"] + v["c"], P

    def normals_cos(v, faces_):
        T = v["Xc"][F[faces_]]
        n = np.cross(T[:, 1] - T[:, 0], T[:, 2] - T[:, 0])
        n /= np.linalg.norm(n, axis=1, keepdims=True)
        X = T.mean(1)
        return (n * -X / np.linalg.norm(X, axis=1, keepdims=True)).sum(1)

    R_new, R_old, COS, YAW = [], [], [], []
    for v in views:
        uvn, _ = project(v, new_faces, new_bary)
        uvo, _ = project(v, old_faces, old_bary)
        R_new.append(np.linalg.norm(uvn - v["pts"], axis=1) / v["size"])
        R_old.append(np.linalg.norm(uvo - v["pts"], axis=1) / v["size"])
        COS.append(normals_cos(v, new_faces))
        YAW.append(v["info"]["yaw"])
    R_new, R_old, COS, YAW = (np.array(x) for x in (R_new, R_old, COS, YAW))
    for lo, hi in ((0, 15), (15, 30), (30, 45), (45, 90)):
        sel = (np.abs(YAW) >= lo) & (np.abs(YAW) < hi)
        if sel.any():
            print(f"|yaw| {lo}-{hi} ({int(sel.sum())} views): mean residual / face size old {R_old[sel].mean():.4f} "
                  f"new {R_new[sel].mean():.4f}", flush=True)
    # sigma model per point: r^2 ~ s0^2 + s1^2 (1 - cos)^2 over the views where the point faces the camera
    s0 = np.zeros(478); s1 = np.zeros(478)
    for m in range(478):
        j = partner(m)
        pair = [m] if j == m else [m, j]
        cm, rm = COS[:, pair].T.reshape(-1), R_new[:, pair].T.reshape(-1)
        sel = cm > -0.05
        r2 = rm[sel] ** 2
        if sel.sum() < 10:  # a point whose embedded normal faces away in most views (inner lips): s0 alone
            r2 = rm ** 2
            s0[m], s1[m] = np.sqrt(np.minimum(r2, np.quantile(r2, 0.9)).mean()), 0.0
            continue
        r2 = np.minimum(r2, np.quantile(r2, 0.9))  # clip the worst 10 %
        x = (1 - np.clip(cm[sel], -1, 1)) ** 2
        A = np.c_[np.ones_like(x), x]
        coef = np.linalg.lstsq(A, r2, rcond=None)[0]
        coef = np.maximum(coef, [1e-6, 0.0])
        s0[m], s1[m] = np.sqrt(coef)
    s0 = np.maximum(s0, np.quantile(s0, 0.05))  # no point claims to be more certain than the best 5 %
    print(f"sigma0 (fraction of face size): median {np.median(s0):.4f}, range {s0.min():.4f}-{s0.max():.4f}; "
          f"sigma1 median {np.median(s1):.4f}, max {s1.max():.4f}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, faces=new_faces.astype(np.int32), bary=new_bary.astype(np.float32),
                        sigma0=s0.astype(np.float32), sigma1=s1.astype(np.float32), hits=n_hits.astype(np.int32),
                        seeds=np.array([v["seed"] for v in views], np.int32),
                        residual_old=R_old.astype(np.float32), residual_new=R_new.astype(np.float32),
                        cos=COS.astype(np.float32), yaw=YAW.astype(np.float32),
                        photo_encoding=np.array(args.photo_encoding))
    print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
