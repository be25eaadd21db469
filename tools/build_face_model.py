"""Build ``facesculpt/assets/ict_head.npz``: the morphable head facesculpt fits (ICT FaceKit Light, MIT).

Run from the repository root (needs ``../shared/ict-facekit/``)::

    .venv/bin/python tools/build_face_model.py [--shared ../shared] [--out PATH]

What it does (details and measured facts in ``facesculpt/assets/FACE_MODEL.md``):

1. reads the neutral head's ``v``/``vt``/``f`` lines directly (no loader that splits vertices at UV
   seams: that would renumber them and break the blendshape deltas) and the 155 morph-target deltas;
2. keeps parts 0-8 (face, head and neck, mouth socket, eye sockets, gums and tongue, teeth, eyeballs)
   and drops the overlay meshes (tear films, eye blend/occlusion meshes, eyelashes);
3. splits every quad along its shorter diagonal (in the neutral shape) into two triangles;
4. finds the left/right mirror map inside each part (reflection x -> -x, nearest vertex; must be
   an involution);
5. stores the 100 identity modes (already scaled by their standard deviation) and the 53 expression
   blendshapes as float16 (max rounding error printed and written to the doc);
6. embeds the landmarks as barycentric points on the face surface:
   * iBUG-68: the Multi-PIE 68 vertex indices of the upstream README (one-hot barycentrics), except
     the sides of the jaw line (``JAW_ON_CONTOUR``), which go to the mean head's frontal face outline
     (``frontal_contour_point``);
   * then, when ``--ibug-registration`` (default ``tools/data/ibug68_on_renders.npz``, written by
     ``tools/register_ibug68_renders.py`` from renders of the model seen by dlib's iBUG-trained 68-point
     predictor) exists, the brows, nose and lips (the points it registered) are replaced by that
     registration; the embedding before it is kept as ``lmk_ibug68_multipie_*`` (the synthetic heads'
     painted brows and lips are placed with it, so their renders stay what they were);
   * mediapipe's 478: a registration of facesculpt's own mean mediapipe face
     (``facesculpt/assets/topology.npz``, 468 points) to the model: similarity + identity fit on the
     51 inner iBUG points both share, then every point is put at its closest point on the fitted
     model's face surface, except the eyelid and inner-lip contours, which go to the closest point
     of the matching half (upper / lower) of the model's eye and mouth hole boundaries; the 10 iris
     points go on the eyeballs' limbus circle (centre + 4 points at the angles mediapipe uses,
     measured on grace_hopper.jpg and kept in ``tools/data/iris_ring_angles.json``, ``--iris-angles``);
   * then, when ``--registration`` (default ``tools/data/mediapipe_on_renders.npz``, written by
     ``tools/register_landmarks_renders.py`` from renders of the model) exists, the 468 mesh points
     are replaced by that render-based registration and its per-point spreads are stored as
     ``lmk_mediapipe_sigma`` (``--registration none``: the registration of the mean face alone,
     what the render tool starts from);
   * when ``--bias`` (default ``tools/data/mediapipe_view_bias.npz``, written by
     ``tools/measure_landmark_bias.py``) exists, each mediapipe point's view-dependent offset
     (polynomial coefficients in yaw and pitch) is stored as ``lmk_mediapipe_bias`` (478, 2, 6)
     and ``lmk_mediapipe_bias_limits`` (2,). It is measured against the registered embedding:
     re-run that tool whenever the registration changes.

This is a tool, not part of the package: it may read files and print.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

# The landmark registration's least-squares solves and closest-point ties depend on how many threads
# the BLAS splits a product over (1 thread moves 2 of the 478 points to a neighbouring triangle), so
# the asset is built with a fixed count: the packaged one was built with 2. Set before numpy loads.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "2"
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: parts kept: (name, first vertex, last vertex, first polygon, last polygon), upstream README table
PARTS = [
    ("face", 0, 9408, 0, 9229),
    ("head_neck", 9409, 11247, 9230, 11143),
    ("mouth_socket", 11248, 13293, 11144, 13225),
    ("eye_socket_left", 13294, 13677, 13226, 13629),
    ("eye_socket_right", 13678, 14061, 13630, 14033),
    ("gums_tongue", 14062, 17038, 14034, 17005),
    ("teeth", 17039, 21450, 17006, 21495),
    ("eyeball_left", 21451, 23020, 21496, 23093),
    ("eyeball_right", 23021, 24590, 23094, 24691),
]
NUM_KEPT = 24591
NARROW_FACE_LAST = 6705  # "narrow face area" vertices [0:6705] (upstream README)
IRIS_LEFT = (22221, 23020)
IRIS_RIGHT = (23791, 24590)
SCLERA_LEFT = (21451, 22220)
SCLERA_RIGHT = (23021, 23790)
#: Multi-PIE / iBUG 68 landmark vertices (upstream README)
MULTIPIE68 = [
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088, 3443,
    268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942, 4857, 1140, 2075, 1147,
    4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732, 5708, 5695, 2081,
    0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841, 5702, 5711, 5533, 6216, 6207, 6470, 5517, 5966,
]
NUM_IDENTITY = 100
NUM_EXPRESSION = 53
#: iBUG jaw points placed on the mean head's frontal occluding contour instead of their Multi-PIE vertex
#: (the sides of the jaw line; the chin points 5-11 keep their vertices: under the chin the model's
#: surface faces the camera down to the neck, so a frontal contour there is not the chin)
JAW_ON_CONTOUR = (0, 1, 2, 3, 4, 12, 13, 14, 15, 16)

#: mediapipe iris indices: right iris centre 468 + ring 469-472, left iris centre 473 + ring 474-477
IRIS_RIGHT_MP = (468, 469, 470, 471, 472)
IRIS_LEFT_MP = (473, 474, 475, 476, 477)


def read_obj(path: Path):
    V, VT, polys, puv = [], [], [], []
    with open(path) as fh:
        for line in fh:
            if line.startswith("v "):
                V.append([float(x) for x in line.split()[1:4]])
            elif line.startswith("vt "):
                VT.append([float(x) for x in line.split()[1:3]])
            elif line.startswith("f "):
                corners = [c.split("/") for c in line.split()[1:]]
                polys.append([int(c[0]) - 1 for c in corners])
                puv.append([int(c[1]) - 1 for c in corners])
    return np.array(V), np.array(VT), polys, puv


def triangulate(V, polys, puv, first_poly, last_poly):
    faces, fuv, src = [], [], []
    for i in range(first_poly, last_poly + 1):
        p, t = polys[i], puv[i]
        if len(p) == 3:
            faces.append(p); fuv.append(t); src.append(i)
        elif len(p) == 4:
            d02 = np.linalg.norm(V[p[0]] - V[p[2]])
            d13 = np.linalg.norm(V[p[1]] - V[p[3]])
            if d02 <= d13:
                tri = [(0, 1, 2), (0, 2, 3)]
            else:
                tri = [(0, 1, 3), (1, 2, 3)]
            for a, b, c in tri:
                faces.append([p[a], p[b], p[c]]); fuv.append([t[a], t[b], t[c]]); src.append(i)
        else:
            raise SystemExit(f"polygon {i} has {len(p)} corners")
    return faces, fuv, src


def mirror_map(V, parts):
    from scipy.spatial import cKDTree

    mirror = np.full(len(V), -1, dtype=np.int64)
    for name, a, b, _, _ in parts:
        P = V[a:b + 1]
        d, idx = cKDTree(P).query(P * np.array([-1.0, 1.0, 1.0]))
        mirror[a:b + 1] = idx + a
    # left/right eyes and eye sockets are separate parts: pair them across parts
    for la, ra in (("eye_socket_left", "eye_socket_right"), ("eyeball_left", "eyeball_right")):
        pl = next(p for p in parts if p[0] == la)
        pr = next(p for p in parts if p[0] == ra)
        from scipy.spatial import cKDTree as T

        L = V[pl[1]:pl[2] + 1]
        Rr = V[pr[1]:pr[2] + 1]
        d, idx = T(Rr).query(L * np.array([-1.0, 1.0, 1.0]))
        mirror[pl[1]:pl[2] + 1] = idx + pr[1]
        d2, idx2 = T(L).query(Rr * np.array([-1.0, 1.0, 1.0]))
        mirror[pr[1]:pr[2] + 1] = idx2 + pl[1]
    worst = float(np.abs(V[mirror] * np.array([-1.0, 1.0, 1.0]) - V).max())
    bad = np.nonzero(mirror[mirror] != np.arange(len(V)))[0]
    return mirror, worst, bad


def boundary_loops(faces):
    """Ordered boundary loops (vertex lists) of a triangle set."""
    from collections import defaultdict

    count = defaultdict(int)
    for f in faces:
        for i in range(3):
            a, b = f[i], f[(i + 1) % 3]
            count[(min(a, b), max(a, b))] += 1
    nxt = {}
    for f in faces:
        for i in range(3):
            a, b = f[i], f[(i + 1) % 3]
            if count[(min(a, b), max(a, b))] == 1:
                nxt[a] = b
    loops, seen = [], set()
    for s in nxt:
        if s in seen:
            continue
        loop, v = [], s
        while v not in seen:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(loop)
    return loops


def closest_on_triangles(P, A, B, C):
    """Closest points of each P (N,3) on triangles (M,3,3): returns (tri index, barycentrics, distance)."""
    best_d = np.full(len(P), np.inf)
    best_t = np.zeros(len(P), dtype=np.int64)
    best_w = np.zeros((len(P), 3))
    for s in range(0, len(P), 64):
        p = P[s:s + 64, None, :]
        w, q = _closest_point_triangle(p, A[None], B[None], C[None])
        d = np.linalg.norm(q - p, axis=-1)
        j = d.argmin(1)
        r = np.arange(len(j))
        best_d[s:s + 64] = d[r, j]
        best_t[s:s + 64] = j
        best_w[s:s + 64] = w[r, j]
    return best_t, best_w, best_d


def _closest_point_triangle(p, a, b, c):
    """Barycentrics and closest point of p on triangle abc (broadcast), by projection and clamping
    to the edges (Ericson, Real-Time Collision Detection, 5.1.5, written here with numpy)."""
    ab, ac, ap = b - a, c - a, p - a
    d00 = (ab * ab).sum(-1); d01 = (ab * ac).sum(-1); d11 = (ac * ac).sum(-1)
    d20 = (ap * ab).sum(-1); d21 = (ap * ac).sum(-1)
    den = np.maximum(d00 * d11 - d01 * d01, 1e-18)
    v = (d11 * d20 - d01 * d21) / den
    w = (d00 * d21 - d01 * d20) / den
    u = 1 - v - w
    inside = (u >= 0) & (v >= 0) & (w >= 0)
    bary = np.stack([u, v, w], -1)
    q = a * u[..., None] + b * v[..., None] + c * w[..., None]
    # outside: best of the three edges
    cands = []
    for (x, y, ix, iy) in ((a, b, 0, 1), (b, c, 1, 2), (a, c, 0, 2)):
        e = y - x
        t = np.clip(((p - x) * e).sum(-1) / np.maximum((e * e).sum(-1), 1e-18), 0, 1)
        qe = x + e * t[..., None]
        be = np.zeros(t.shape + (3,))
        be[..., ix] = 1 - t
        be[..., iy] = t
        cands.append((np.linalg.norm(qe - p, axis=-1), qe, be))
    de = np.stack([c_[0] for c_ in cands], -1)
    k = de.argmin(-1)
    qe = np.choose(k[..., None], [c_[1] for c_ in cands])
    be = np.choose(k[..., None], [c_[2] for c_ in cands])
    q = np.where(inside[..., None], q, qe)
    bary = np.where(inside[..., None], bary, be)
    return bary, q


def similarity(src, dst):
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    U, S, Vt = np.linalg.svd(b.T @ a / len(src))
    D = np.eye(3)
    if np.linalg.det(U @ Vt) < 0:
        D[2, 2] = -1
    R = U @ D @ Vt
    s = (S * np.diag(D)).sum() / (a ** 2).sum() * len(src)
    return s, R, md - s * R @ ms


def closest_on_polyline(p, V, chain):
    """Closest point of p on the open polyline ``chain`` (vertex ids): (a, b, t)."""
    best = (np.inf, None)
    for a, b in zip(chain[:-1], chain[1:]):
        e = V[b] - V[a]
        t = float(np.clip(np.dot(p - V[a], e) / max(np.dot(e, e), 1e-18), 0, 1))
        d = np.linalg.norm(V[a] + t * e - p)
        if d < best[0]:
            best = (d, (a, b, t))
    return best[1], best[0]


def split_loop(loop, c0, c1):
    """The two chains of a closed loop between vertices c0 and c1 (both included)."""
    i, j = loop.index(c0), loop.index(c1)
    L = loop[i:] + loop[:i]
    j = L.index(c1)
    return L[:j + 1], L[j:] + [L[0]]


def iris_ring_angles(source="measure"):
    """Angles (image frame, y up) of mediapipe's 4 iris ring points around each iris centre: read from the
    JSON file ``source`` (``tools/data/iris_ring_angles.json``, what the packaged asset was built with), or
    measured on grace_hopper.jpg with the package's detector when ``source`` is ``"measure"``."""
    if source != "measure":
        data = json.loads(Path(source).read_text())
        return {key: np.asarray(data[key], np.float32) for key in ("right", "left")}
    from facesculpt.detect import detect_faces
    from facesculpt.io.image import load_image

    img = load_image(ROOT / "facesculpt" / "assets" / "grace_hopper.jpg")
    lm = detect_faces(img, max_faces=1, min_face_size=32, detection_max_side=1280, name="grace_hopper")[0]
    P = lm.points.numpy()
    out = {}
    for key, ids in (("right", IRIS_RIGHT_MP), ("left", IRIS_LEFT_MP)):
        c = P[ids[0], :2]
        d = P[list(ids[1:]), :2] - c
        out[key] = np.arctan2(-d[:, 1], d[:, 0])  # image y down -> up
    return out


def frontal_contour_point(V, faces, fpart, p, centre):
    """Where the ray from ``centre`` through ``p`` (both projected on the image plane of a frontal view,
    looking down -Z) leaves the face outline of the neutral head ``V``: the outermost crossing of the
    narrow face area's (no ears) outline: occluding-contour edges (between a camera-facing and a
    turned-away triangle) and the area's own border edges where it ends facing the camera (beside the ears). iBUG annotators click the visible outline of the jaw; a vertex chosen on one face (the
    Multi-PIE indices) sits 0.8-2 cm in front of it on the mean head. Returns (triangle, barycentrics, point)."""
    sel = np.nonzero((fpart == 0) & (faces <= NARROW_FACE_LAST).all(1))[0]
    Fs = faces[sel]
    fz = np.cross(V[Fs[:, 1]] - V[Fs[:, 0]], V[Fs[:, 2]] - V[Fs[:, 0]])[:, 2] > 0
    owners = {}
    for i, t in enumerate(Fs):
        for a, b in ((t[0], t[1]), (t[1], t[2]), (t[2], t[0])):
            owners.setdefault((min(a, b), max(a, b)), []).append(i)
    edges = [(e, ts) for e, ts in owners.items()
             if (len(ts) == 2 and fz[ts[0]] != fz[ts[1]]) or (len(ts) == 1 and fz[ts[0]])]
    E = np.array([e for e, _ in edges])
    d = (p - centre)[:2] / np.linalg.norm((p - centre)[:2])
    A, B = V[E[:, 0], :2], V[E[:, 1], :2]
    e = B - A
    det = -d[0] * e[:, 1] + d[1] * e[:, 0]
    ok = np.abs(det) > 1e-12
    safe = np.where(ok, det, 1.0)
    r = A - centre[:2]
    s = (-r[:, 0] * e[:, 1] + r[:, 1] * e[:, 0]) / safe        # distance along the ray
    u = (d[0] * r[:, 1] - d[1] * r[:, 0]) / safe               # position on the edge
    hit = np.nonzero(ok & (s > 0) & (u >= 0) & (u <= 1))[0]
    if not len(hit):
        raise SystemExit("frontal contour: the ray from the face centre crosses no outline")
    k = hit[np.argmax(s[hit])]
    a, b = E[k]
    tri = int(sel[edges[k][1][0]])
    w = np.zeros(3)
    w[list(faces[tri]).index(a)] = 1 - u[k]
    w[list(faces[tri]).index(b)] = u[k]
    return tri, w, (1 - u[k]) * V[a] + u[k] * V[b]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", default=str(ROOT.parent / "shared"))
    ap.add_argument("--out", default=str(ROOT / "facesculpt" / "assets" / "ict_head.npz"))
    ap.add_argument("--bias", default=str(ROOT / "tools" / "data" / "mediapipe_view_bias.npz"),
                    help="view-dependent offsets of mediapipe's points (tools/measure_landmark_bias.py), "
                         "stored as lmk_mediapipe_bias; 'none' to leave them out")
    ap.add_argument("--registration", default=str(ROOT / "tools" / "data" / "mediapipe_on_renders.npz"),
                    help="render-based registration of the 468 mesh points (tools/register_landmarks_renders.py), "
                         "or 'none'")
    ap.add_argument("--ibug-registration", default=str(ROOT / "tools" / "data" / "ibug68_on_renders.npz"),
                    help="render-based registration of the iBUG-68 brows, nose and lips "
                         "(tools/register_ibug68_renders.py), or 'none'")
    ap.add_argument("--iris-angles", default=str(ROOT / "tools" / "data" / "iris_ring_angles.json"),
                    help="angles of mediapipe's iris ring points around the iris centre: a JSON file (the default is "
                         "what the packaged asset was built with), or 'measure' to detect them on grace_hopper.jpg "
                         "with the installed package (moves whenever the detector's pre-processing does)")
    args = ap.parse_args(argv)
    src = Path(args.shared) / "ict-facekit"

    V, VT, polys, puv = read_obj(src / "generic_neutral_mesh.obj")
    data = np.load(src / "morph_target_deltas.npz")
    names = [str(n) for n in data["names"]]
    meta = json.loads((src / "vertex_indices.json").read_text())
    if names[:NUM_IDENTITY] != [f"identity{i:03d}" for i in range(NUM_IDENTITY)]:
        raise SystemExit("morph_target_deltas.npz: expected identity000..identity099 first")
    expr_names = meta["expressions"]
    if names[NUM_IDENTITY:NUM_IDENTITY + NUM_EXPRESSION] != expr_names:
        raise SystemExit("morph_target_deltas.npz: the 53 expressions are not in vertex_indices.json's order")
    neutral = data["neutral"].astype(np.float64)
    print("neutral vs obj max diff (cm):", np.abs(neutral - V).max())

    faces, fuv, fpart = [], [], []
    for k, (name, a, b, p0, p1) in enumerate(PARTS):
        f, t, _ = triangulate(V, polys, puv, p0, p1)
        f = np.array(f)
        if f.max() >= NUM_KEPT:  # parts share their border vertices with neighbours; none uses a dropped one
            raise SystemExit(f"part {name}: polygons use vertices beyond {NUM_KEPT - 1}")
        faces.append(f); fuv.append(np.array(t)); fpart.append(np.full(len(f), k, np.int8))
    faces = np.concatenate(faces); fuv = np.concatenate(fuv); fpart = np.concatenate(fpart)
    vpart = np.zeros(NUM_KEPT, np.int8)
    for k, (_, a, b, _, _) in enumerate(PARTS):
        vpart[a:b + 1] = k
    V = neutral[:NUM_KEPT]
    used_uv = np.unique(fuv)
    remap = np.full(len(VT), -1, np.int64)
    remap[used_uv] = np.arange(len(used_uv))
    uvs = VT[used_uv]
    fuv = remap[fuv]
    print(f"kept {NUM_KEPT} vertices, {len(faces)} triangles, {len(uvs)} uvs")

    # face normals point out? (CCW winding facing out): check on the face part against the radial direction
    fn = np.cross(V[faces[:, 1]] - V[faces[:, 0]], V[faces[:, 2]] - V[faces[:, 0]])
    ff = fpart == 0
    cen = V[faces[ff]].mean(1) - np.array([0, 0, 0.0])
    print("face part: fraction of triangles facing away from the head centre:",
          float(((fn[ff] * cen).sum(-1) < 0).mean()))

    mirror, worst, bad = mirror_map(V, PARTS)
    print(f"mirror: max reflection distance {worst:.2e} cm, non-involutive {len(bad)}")
    if len(bad):
        # pairs that are not one-to-one (a handful in the gums): make them self-mirrored and say so
        mirror[bad] = bad
        bad2 = np.nonzero(mirror[mirror] != np.arange(NUM_KEPT))[0]
        mirror[bad2] = bad2
        print(f"  {len(bad) + len(bad2)} vertices set to mirror themselves")

    D = data["deltas"][:, :NUM_KEPT].astype(np.float64)
    id_basis = D[:NUM_IDENTITY]
    ex_basis = D[NUM_IDENTITY:NUM_IDENTITY + NUM_EXPRESSION]
    id16 = id_basis.astype(np.float16)
    ex16 = ex_basis.astype(np.float16)
    err_id = float(np.abs(id16.astype(np.float64) - id_basis).max())
    err_ex = float(np.abs(ex16.astype(np.float64) - ex_basis).max())
    print(f"float16 max error: identity {err_id:.2e} cm, expression {err_ex:.2e} cm")

    # ---- landmark embedding ----
    face_tris = np.nonzero(fpart == 0)[0]
    vert_to_face = {}
    for t in face_tris:
        for v in faces[t]:
            vert_to_face.setdefault(int(v), int(t))

    def onehot(v):
        t = vert_to_face[int(v)]
        w = (faces[t] == v).astype(np.float64)
        return t, w

    l68 = [onehot(v) for v in MULTIPIE68]
    lmk68_faces = np.array([t for t, _ in l68]); lmk68_bary = np.array([w for _, w in l68])
    p68 = (V[faces[lmk68_faces]] * lmk68_bary[:, :, None]).sum(1)
    for j in JAW_ON_CONTOUR:
        t, w, q = frontal_contour_point(V, faces, fpart, p68[j], p68[17:].mean(0))
        print(f"iBUG jaw point {j}: Multi-PIE vertex {MULTIPIE68[j]} -> frontal contour, moved "
              f"{np.round(q - p68[j], 2).tolist()} cm")
        lmk68_faces[j] = t; lmk68_bary[j] = w
    multipie68_faces, multipie68_bary = lmk68_faces.copy(), lmk68_bary.copy()
    if args.ibug_registration != "none" and Path(args.ibug_registration).is_file():
        with np.load(args.ibug_registration) as zi:
            reg = zi["registered"].astype(np.int64)
            lmk68_faces[reg] = zi["faces"][reg]
            lmk68_bary[reg] = zi["bary"][reg].astype(np.float64)
        moved = np.linalg.norm((V[faces[lmk68_faces]] * lmk68_bary[:, :, None]).sum(1) - p68, axis=1)[reg]
        print(f"iBUG registration {args.ibug_registration}: {len(reg)} points moved mean {moved.mean():.3f} cm, "
              f"max {moved.max():.3f} cm")

    topo = np.load(ROOT / "facesculpt" / "assets" / "topology.npz")
    mp = topo["canonical"].astype(np.float64)
    mp68 = topo["lmk68"]
    inner = np.arange(17, 68)
    src_pts = V[np.array(MULTIPIE68)[inner]]
    dst_pts = mp[mp68[inner]]
    # fit: mediapipe points ~ s R (ICT(alpha) landmarks) + t, alpha on the first 40 modes
    K = 40
    B = id_basis[:K][:, np.array(MULTIPIE68)[inner]]  # (K, 51, 3)
    alpha = np.zeros(K)
    for _ in range(15):
        cur = src_pts + np.einsum("k,knc->nc", alpha, B)
        s, R, t = similarity(cur, dst_pts)
        # solve alpha: s R (src + B alpha) + t = dst  ->  B alpha = R^T (dst - t)/s - src
        rhs = ((dst_pts - t) @ R) / s - src_pts
        A = B.reshape(K, -1).T
        lam = 0.5
        alpha = np.linalg.solve(A.T @ A + lam * np.eye(K), A.T @ rhs.reshape(-1))
    fitted = V + np.einsum("k,kvc->vc", alpha, id_basis[:K])
    res = np.linalg.norm(s * (fitted[np.array(MULTIPIE68)[inner]] @ R.T) + t - dst_pts, axis=1)
    print(f"registration: scale {s:.3f}, |alpha| {np.linalg.norm(alpha):.2f}, 51-point residual mean {res.mean():.3f} cm max {res.max():.3f} cm")
    mp_model = ((mp - t) @ R) / s  # mediapipe points in the fitted model's frame
    Fv = fitted[faces[face_tris]]
    tri, bary, dist = closest_on_triangles(mp_model, Fv[:, 0], Fv[:, 1], Fv[:, 2])
    mp_faces = face_tris[tri]
    mp_bary = bary.copy()

    # contours: eyelids and inner lips onto the matching half of the model's hole boundaries
    loops = boundary_loops([faces[t] for t in face_tris])
    def loop_near(p):
        return min(loops, key=lambda L: np.linalg.norm(fitted[L] - p, axis=1).min() if len(L) < 200 else np.inf)

    edge_face = {}
    for tt in face_tris:
        f = faces[tt]
        for i in range(3):
            edge_face[(int(f[i]), int(f[(i + 1) % 3]))] = (int(tt), i, (i + 1) % 3)
            edge_face[(int(f[(i + 1) % 3]), int(f[i]))] = (int(tt), (i + 1) % 3, i)

    contour_dist = []
    M68 = np.array(MULTIPIE68)
    contour_defs = [
        # (mediapipe loop, mp corner a, mp corner b, model corner a, model corner b)
        (topo["eye_left_loop"], 263, 362, M68[45], M68[42]),
        (topo["eye_right_loop"], 133, 33, M68[39], M68[36]),
        (topo["mouth_loop"], 308, 78, M68[64], M68[60]),
    ]
    for mloop, ma, mb, ia, ib in contour_defs:
        mloop = [int(x) for x in mloop]
        L = loop_near(fitted[ia])
        # snap the model corners onto this loop
        ia = L[int(np.argmin(np.linalg.norm(fitted[L] - fitted[ia], axis=1)))]
        ib = L[int(np.argmin(np.linalg.norm(fitted[L] - fitted[ib], axis=1)))]
        m1, m2 = split_loop(mloop, ma, mb)
        c1, c2 = split_loop(L, ia, ib)
        # pair halves by height (upper with upper)
        hm1 = mp_model[m1].mean(0)[1] > mp_model[m2].mean(0)[1]
        hc1 = fitted[c1].mean(0)[1] > fitted[c2].mean(0)[1]
        pairs = [(m1, c1), (m2, c2)] if hm1 == hc1 else [(m1, c2), (m2, c1)]
        for mh, ch in pairs:
            for v in mh:
                (a, b, tt), d = closest_on_polyline(mp_model[v], fitted, ch)
                tri_i, ia_, ib_ = edge_face[(a, b)]
                w = np.zeros(3); w[ia_] = 1 - tt; w[ib_] = tt
                mp_faces[v] = tri_i; mp_bary[v] = w
                dist[v] = d
                contour_dist.append(d)
    print(f"mediapipe 468 embedding: surface distance mean {dist.mean():.3f} cm, max {dist.max():.3f} cm; "
          f"contour points mean {np.mean(contour_dist):.3f} cm")

    # irises: centre and 4 limbus points on each eyeball
    angles = iris_ring_angles(args.iris_angles)
    print(f"iris ring angles from {args.iris_angles}")
    eye_centres, iris_axes, iris_radius = [], [], []
    mp_faces_all = np.zeros(478, np.int64); mp_bary_all = np.zeros((478, 3))
    mp_faces_all[:468] = mp_faces; mp_bary_all[:468] = mp_bary
    for key, (s0, s1), (i0, i1), ids, part in (("left", SCLERA_LEFT, IRIS_LEFT, IRIS_LEFT_MP, 7),
                                               ("right", SCLERA_RIGHT, IRIS_RIGHT, IRIS_RIGHT_MP, 8)):
        S = V[s0:s1 + 1]
        # sphere fit (linear least squares) to the sclera, twice: the second without the corneal bulge
        for _ in range(2):
            A = np.c_[2 * S, np.ones(len(S))]
            sol = np.linalg.lstsq(A, (S ** 2).sum(1), rcond=None)[0]
            c = sol[:3]
            r = np.sqrt(sol[3] + c @ c)
            S = S[np.linalg.norm(S - c, axis=1) < r + 0.05]
        I = V[i0:i1 + 1]
        axis = I.mean(0) - c
        axis /= np.linalg.norm(axis)
        h = (I - c) @ axis
        radial = I - c - np.outer(h, axis)
        front = h > h.max() - 0.1  # the flat iris disc (the part's rim curls back under the sclera)
        rlim = float(np.linalg.norm(radial[front], axis=1).max())
        eye_centres.append(c); iris_axes.append(axis); iris_radius.append(rlim)
        ptris = np.nonzero(fpart == part)[0]
        Pv = V[faces[ptris]]
        # points: front pole and 4 limbus points (x right = +X, y up = +Y around the axis)
        ex = np.cross([0, 1, 0], axis); ex /= np.linalg.norm(ex)
        ey = np.cross(axis, ex)
        if ex[0] < 0:
            ex = -ex
        rad_sphere = float(np.linalg.norm(S - c, axis=1).mean())
        # the front pole, and the 4 limbus points: rays from the centre at the angle whose
        # circle on the sclera sphere has the limbus radius, snapped to the eyeball surface
        pts = [c + axis * rad_sphere * 1.05]
        phi = np.arcsin(min(rlim / rad_sphere, 0.99))
        for a in angles[key]:
            d = np.cos(phi) * axis + np.sin(phi) * (np.cos(a) * ex + np.sin(a) * ey)
            pts.append(c + d * rad_sphere)
        # project towards the centre onto the eyeball: closest point on the eyeball surface
        tri_e, bary_e, d_e = closest_on_triangles(np.array(pts), Pv[:, 0], Pv[:, 1], Pv[:, 2])
        for j, mpid in enumerate(ids):
            mp_faces_all[mpid] = ptris[tri_e[j]]
            mp_bary_all[mpid] = bary_e[j]
    print("eye centres (cm):", np.round(eye_centres, 3).tolist(), "limbus radius (cm):", np.round(iris_radius, 3).tolist())

    extra = {}
    if args.registration != "none" and Path(args.registration).exists():
        reg = np.load(args.registration)
        moved = np.linalg.norm((V[faces[reg["faces"][:468]]] * reg["bary"][:468, :, None]).sum(1)
                               - (V[faces[mp_faces_all[:468]]] * mp_bary_all[:468, :, None]).sum(1), axis=1)
        mp_faces_all[:468] = reg["faces"][:468]
        mp_bary_all[:468] = reg["bary"][:468]
        extra["lmk_mediapipe_sigma"] = np.stack([reg["sigma0"], reg["sigma1"]], 1).astype(np.float32)
        print(f"render registration {args.registration}: mesh points moved mean {moved.mean():.3f} cm, "
              f"max {moved.max():.3f} cm")

    if args.bias != "none" and Path(args.bias).exists():
        with np.load(args.bias) as zb:
            # the offsets are measured from an embedding: it must be the one this build ships
            if "embedding_faces" in zb.files and not (
                    np.array_equal(zb["embedding_faces"], mp_faces_all)
                    and np.allclose(zb["embedding_bary"], mp_bary_all, atol=1e-6)):
                raise SystemExit(f"{args.bias} was measured from another mediapipe embedding than this build's: "
                                 "re-run tools/measure_landmark_bias.py after building with the registration")
            enc = str(zb["photo_encoding"]) if "photo_encoding" in zb.files else "none"
            print(f"view bias measured on renders with photo encoding {enc!r}")
        with np.load(args.bias) as zb:
            extra["lmk_mediapipe_bias"] = zb["coef"].astype(np.float32)
            extra["lmk_mediapipe_bias_limits"] = zb["limits"].astype(np.float32)
        print(f"view-dependent landmark bias {args.bias}: {extra['lmk_mediapipe_bias'].shape}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        out,
        **extra,
        template=V.astype(np.float32),
        faces=faces.astype(np.int32),
        face_part=fpart,
        vert_part=vpart,
        part_names=np.array([p[0] for p in PARTS]),
        uvs=uvs.astype(np.float32),
        face_uvs=fuv.astype(np.int32),
        mirror=mirror.astype(np.int32),
        identity_basis=id16,
        expression_basis=ex16,
        expression_names=np.array(expr_names),
        lmk_mediapipe_faces=mp_faces_all.astype(np.int32),
        lmk_mediapipe_bary=mp_bary_all.astype(np.float32),
        lmk_ibug68_faces=lmk68_faces.astype(np.int32),
        lmk_ibug68_bary=lmk68_bary.astype(np.float32),
        lmk_ibug68_multipie_faces=multipie68_faces.astype(np.int32),
        lmk_ibug68_multipie_bary=multipie68_bary.astype(np.float32),
        eye_centres=np.array(eye_centres, np.float32),
        iris_axes=np.array(iris_axes, np.float32),
        iris_radius=np.array(iris_radius, np.float32),
        narrow_face_last=np.array(NARROW_FACE_LAST),
    )
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
