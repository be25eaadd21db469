"""Build ``facesculpt/assets/topology.npz``: the coarse face topology of facesculpt.

Run from the repository root::

    .venv/bin/python tools/build_topology.py [--out PATH] [--preview DIR]

What it does (details and choices in ``facesculpt/assets/TOPOLOGY.md``):

1. runs mediapipe FaceMesh on the real photos that ship with matplotlib and
   scikit-image (grace_hopper, astronaut, the faces of lfw_subset), lifts the 468
   mesh landmarks to 3D, aligns them (generalised Procrustes, similarity) and averages;
2. finds the left/right vertex pairs from the geometry, makes the mean shape exactly
   symmetric about X = 0, turns it frontal and scales it to centimetres;
3. lays out a symmetric UV chart (angle-based cylindrical projection) and triangulates
   the right half of the face in that chart with a constrained Delaunay triangulation
   (face oval, eye and lip contours and the midline are constraints), then mirrors it;
4. stores the iBUG-68 landmark subset.

The output is deterministic: fixed dtypes, fixed key order, values rounded to a fixed
grid, ``np.savez`` (no compression, no timestamps in the members).

This is a tool, not part of the package: it may read files and print.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

NUM_MESH = 468  # landmarks 468..477 are the irises: not part of the topology
EYE_OUTER = (33, 263)  # subject's right / left outer eye corners (mediapipe)
EYE_INNER = (133, 362)
MOUTH_CORNERS = (61, 291)
NOSE_TIP = 1
EYE_CORNER_DISTANCE_CM = 9.0
CANONICAL_GRID_CM = 1e-4  # canonical coordinates are rounded to this grid
UV_GRID = 2.0 ** -20  # uvs are rounded to this grid (exact in float32)
UV_MARGIN = 0.02
#: horizontal distance from the face (eye-corner plane) to the axis of the cylinder
#: used for the UV unwrap, in cm (about the radius of a head seen from above).
UV_CYLINDER_RADIUS_CM = 9.0

# iBUG-68 -> mediapipe indices ('right' = the subject's right = image left = model -X).
LMK68 = [
    # 0-16 jaw, subject's right ear -> chin -> left ear
    127, 234, 93, 132, 58, 172, 150, 176, 152, 400, 379, 397, 288, 361, 323, 454, 356,
    # 17-21 right brow (outer -> inner), 22-26 left brow (inner -> outer)
    70, 63, 105, 66, 107, 336, 296, 334, 293, 300,
    # 27-30 nose bridge (top -> tip), 31-35 nostrils (subject's right -> left)
    168, 197, 5, 4, 75, 97, 2, 326, 305,
    # 36-41 right eye: outer corner, upper lid x2, inner corner, lower lid x2
    33, 160, 158, 133, 153, 144,
    # 42-47 left eye: inner corner, upper lid x2, outer corner, lower lid x2
    362, 385, 387, 263, 373, 380,
    # 48-59 outer lip: right corner, upper lip -> left corner, lower lip back
    61, 39, 37, 0, 267, 269, 291, 405, 314, 17, 84, 181,
    # 60-67 inner lip: right corner, upper, left corner, lower
    78, 82, 13, 312, 308, 317, 14, 87,
]


# ----------------------------------------------------------------------------- photos

def _photos() -> list[tuple[str, np.ndarray]]:
    """(name, HxWx3 uint8 RGB) of every real photo used."""
    import matplotlib
    import skimage.data
    from PIL import Image

    out = []
    gh = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if not gh.exists():
        gh = ROOT / "facesculpt" / "assets" / "grace_hopper.jpg"
    out.append(("grace_hopper", np.asarray(Image.open(gh).convert("RGB"))))
    out.append(("astronaut", np.asarray(skimage.data.astronaut())[..., :3]))
    lfw = skimage.data.lfw_subset()  # (200, 25, 25) float in [0, 1]; the first 100 are faces
    for i in range(100):
        g = (np.clip(lfw[i], 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        # upscale the tight 25x25 crop and pad it so that mediapipe's detector sees a
        # whole face with some context
        g = np.asarray(Image.fromarray(g).resize((192, 192), Image.BICUBIC))
        g = np.pad(g, 64, mode="edge")
        out.append((f"lfw_{i:03d}", np.ascontiguousarray(np.stack([g] * 3, -1))))
    return out


def detect_landmarks() -> tuple[list[str], np.ndarray]:
    """Run mediapipe on every photo: names and (N, 468, 3) float64 in pixels (x, y, z*W)."""
    import mediapipe as mp

    names, pts = [], []
    with mp.solutions.face_mesh.FaceMesh(
        static_image_mode=True, refine_landmarks=True, max_num_faces=1, min_detection_confidence=0.5
    ) as fm:
        for name, img in _photos():
            res = fm.process(img)
            if not res.multi_face_landmarks:
                continue
            h, w = img.shape[:2]
            lm = res.multi_face_landmarks[0].landmark
            p = np.array([[q.x * w, q.y * h, q.z * w] for q in lm], dtype=np.float64)
            names.append(name)
            pts.append(p[:NUM_MESH])
    return names, np.stack(pts)


# ----------------------------------------------------------------------------- shape

def pixels_to_model(p: np.ndarray) -> np.ndarray:
    """(..., 3) mediapipe pixels (x right, y down, z away) -> model frame axes (X, Y up, Z out)."""
    return p * np.array([1.0, -1.0, -1.0])


def similarity_align(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity transform of src (N, 3) onto dst (N, 3) (Umeyama), applied."""
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    u, s, vt = np.linalg.svd(b.T @ a)
    d = np.sign(np.linalg.det(u @ vt))
    D = np.diag([1.0, 1.0, d])
    R = u @ D @ vt
    scale = (s * np.diag(D)).sum() / (a ** 2).sum()
    return scale * a @ R.T + md


def generalised_procrustes(shapes: np.ndarray, iters: int = 10, trim: float = 0.1):
    """Mean shape of (N, V, 3) shapes under similarity alignment, with outliers trimmed.

    Returns (mean (V, 3), kept indices, per-shape RMS residual relative to the mean size).
    """
    ref = shapes[0] - shapes[0].mean(0)
    ref = ref / np.sqrt((ref ** 2).sum(1).mean())
    keep = np.arange(len(shapes))
    for _ in range(iters):
        aligned = np.stack([similarity_align(s, ref) for s in shapes])
        mean = aligned[keep].mean(0)
        mean = mean - mean.mean(0)
        mean = mean / np.sqrt((mean ** 2).sum(1).mean())
        ref = mean
    aligned = np.stack([similarity_align(s, ref) for s in shapes])
    res = np.sqrt(((aligned - ref) ** 2).sum(2).mean(1))
    n_drop = int(np.floor(trim * len(shapes)))
    keep = np.sort(np.argsort(res, kind="stable")[: len(shapes) - n_drop])
    for _ in range(iters):
        aligned = np.stack([similarity_align(s, ref) for s in shapes])
        mean = aligned[keep].mean(0)
        mean = mean - mean.mean(0)
        ref = mean / np.sqrt((mean ** 2).sum(1).mean())
    aligned = np.stack([similarity_align(s, ref) for s in shapes])
    res = np.sqrt(((aligned - ref) ** 2).sum(2).mean(1))
    return ref, keep, res


def find_mirror(P: np.ndarray) -> np.ndarray:
    """Left/right partner of every vertex of a roughly symmetric shape (V, 3).

    The symmetry plane is estimated from the pairs themselves (three rounds); partners
    are matched one-to-one after reflection (minimum total distance; plain nearest
    neighbours are not one-to-one around the lips). Raises unless the map is an involution.
    """
    from scipy.optimize import linear_sum_assignment

    # first guess of the frame: X along the outer eye corners
    x = P[EYE_OUTER[1]] - P[EYE_OUTER[0]]
    n = x / np.linalg.norm(x)
    c = 0.5 * (P[EYE_OUTER[0]] + P[EYE_OUTER[1]])
    for _ in range(3):
        d = (P - c) @ n
        refl = P - 2.0 * d[:, None] * n[None, :]
        # optimal one-to-one matching (the cost is symmetric when the plane is right)
        cost = np.linalg.norm(refl[:, None, :] - P[None, :, :], axis=-1)
        _, mirror = linear_sum_assignment(cost)
        # refine the plane: normal = main direction of P[i] - P[m(i)], offset from midpoints
        diff = P - P[mirror]
        diff = diff * np.sign(diff @ n)[:, None]
        w, v = np.linalg.eigh(diff.T @ diff)
        n = v[:, -1] * np.sign(v[:, -1] @ n)
        c = (0.5 * (P + P[mirror])).mean(0)
    if not np.array_equal(mirror[mirror], np.arange(len(P))):
        bad = np.nonzero(mirror[mirror] != np.arange(len(P)))[0]
        raise RuntimeError(f"mirror map is not an involution at {len(bad)} vertices, e.g. {bad[:10]}")
    return mirror.astype(np.int64)


def canonical_shape(mean: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """Symmetric, frontal, centimetre-scaled canonical shape from an aligned mean shape."""
    P = mean.copy()
    # symmetry plane from the pairs
    diff = P - P[mirror]
    ref_dir = P[EYE_OUTER[1]] - P[EYE_OUTER[0]]
    diff = diff * np.sign(diff @ ref_dir)[:, None]
    w, v = np.linalg.eigh(diff.T @ diff)
    ex = v[:, -1] * np.sign(v[:, -1] @ ref_dir)
    c = (0.5 * (P + P[mirror])).mean(0)
    # up: from the mouth corners' midpoint to the outer eye corners' midpoint, made
    # orthogonal to X. "Frontal" therefore means: eyes level, and the eye and mouth
    # corners lie in a vertical plane facing +Z.
    up = 0.5 * (P[EYE_OUTER[0]] + P[EYE_OUTER[1]]) - 0.5 * (P[MOUTH_CORNERS[0]] + P[MOUTH_CORNERS[1]])
    ey = up - (up @ ex) * ex
    ey /= np.linalg.norm(ey)
    ez = np.cross(ex, ey)
    R = np.stack([ex, ey, ez])  # rows: new axes
    Q = (P - c) @ R.T
    # exact symmetry: average every vertex with the mirror image of its partner
    flip = np.array([-1.0, 1.0, 1.0])
    Q = 0.5 * (Q + Q[mirror] * flip)
    Q[mirror == np.arange(len(Q)), 0] = 0.0
    # scale: outer eye corners 9 cm apart
    Q *= EYE_CORNER_DISTANCE_CM / np.linalg.norm(Q[EYE_OUTER[1]] - Q[EYE_OUTER[0]])
    # origin: centroid of the four eye corners (X = 0 by symmetry)
    eye = list(EYE_OUTER) + list(EYE_INNER)
    Q -= Q[eye].mean(0) * np.array([0.0, 1.0, 1.0])
    # round to a fixed grid (robust bytes), keeping the exact symmetry
    Q = np.round(Q / CANONICAL_GRID_CM) * CANONICAL_GRID_CM
    Q = 0.5 * (Q + Q[mirror] * flip)
    Q[mirror == np.arange(len(Q)), 0] = 0.0
    return Q


# ----------------------------------------------------------------------------- contours

def _loop_from_edges(edge_set) -> list[int]:
    """Order a set of undirected edges that form one closed loop."""
    adj: dict[int, list[int]] = {}
    for a, b in edge_set:
        adj.setdefault(a, []).append(b)
        adj.setdefault(b, []).append(a)
    if any(len(v) != 2 for v in adj.values()):
        raise RuntimeError("contour edges do not form a simple loop")
    start = min(adj)
    loop, prev, cur = [start], None, start
    while True:
        nbrs = sorted(adj[cur])
        nxt = nbrs[0] if nbrs[0] != prev else nbrs[1]
        if prev is None:
            nxt = nbrs[0]
        if nxt == start:
            break
        loop.append(nxt)
        prev, cur = cur, nxt
    if len(loop) != len(adj):
        raise RuntimeError("contour edges form more than one loop")
    return loop


def _ccw(loop: list[int], xy: np.ndarray) -> list[int]:
    """The loop, reversed if needed so that it runs counter-clockwise in xy; starts at min index."""
    p = xy[loop]
    area = 0.5 * np.sum(p[:, 0] * np.roll(p[:, 1], -1) - np.roll(p[:, 0], -1) * p[:, 1])
    if area < 0:
        loop = loop[::-1]
    k = int(np.argmin(loop))
    return loop[k:] + loop[:k]


def contours() -> dict[str, list[int]]:
    """Unordered-but-closed mediapipe contours as ordered index loops (orientation fixed later)."""
    from mediapipe.python.solutions import face_mesh_connections as fmc

    lips = {tuple(e) for e in fmc.FACEMESH_LIPS}
    lip_loops = _split_loops(lips)
    # the outer lip loop contains vertex 0 (upper lip top), the inner one vertex 13
    outer = next(lp for lp in lip_loops if 0 in lp)
    inner = next(lp for lp in lip_loops if 13 in lp)
    return {
        "oval": _loop_from_edges(fmc.FACEMESH_FACE_OVAL),
        "eye_left": _loop_from_edges(fmc.FACEMESH_LEFT_EYE),
        "eye_right": _loop_from_edges(fmc.FACEMESH_RIGHT_EYE),
        "lips_outer": outer,
        "lips_inner": inner,
    }


def _split_loops(edge_set) -> list[list[int]]:
    adj: dict[int, set[int]] = {}
    for a, b in edge_set:
        adj.setdefault(a, set()).add(b)
        adj.setdefault(b, set()).add(a)
    loops, seen = [], set()
    for v in sorted(adj):
        if v in seen:
            continue
        comp, stack = set(), [v]
        while stack:
            w = stack.pop()
            if w in comp:
                continue
            comp.add(w)
            stack.extend(adj[w] - comp)
        seen |= comp
        loops.append(_loop_from_edges([(a, b) for a, b in edge_set if a in comp]))
    return loops


# ----------------------------------------------------------------------------- UV chart

def cylinder_uv(Q: np.ndarray, radius: float = UV_CYLINDER_RADIUS_CM) -> np.ndarray:
    """Angle-based cylindrical unwrap (V, 2) in cm: u = radius * atan2(X, Z + radius), v = Y.

    The cylinder axis is vertical, ``radius`` behind the eye corners; u is arc length on
    that cylinder, so the cheeks are far less compressed than in a frontal projection.
    """
    u = radius * np.arctan2(Q[:, 0], Q[:, 2] + radius)
    return np.stack([u, Q[:, 1]], 1)


# ----------------------------------------------------------------------------- CDT

def _orient(a, b, c) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _segments_cross(p1, p2, q1, q2) -> bool:
    """Proper crossing of the open segments p1p2 and q1q2."""
    d1, d2 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    d3, d4 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    return d1 * d2 < 0 and d3 * d4 < 0


def _in_circle(a, b, c, d) -> float:
    """> 0 when d lies inside the circumcircle of the counter-clockwise triangle abc."""
    m = np.array(
        [
            [a[0] - d[0], a[1] - d[1], (a[0] - d[0]) ** 2 + (a[1] - d[1]) ** 2],
            [b[0] - d[0], b[1] - d[1], (b[0] - d[0]) ** 2 + (b[1] - d[1]) ** 2],
            [c[0] - d[0], c[1] - d[1], (c[0] - d[0]) ** 2 + (c[1] - d[1]) ** 2],
        ]
    )
    return float(np.linalg.det(m))


class _Tri:
    """A small mutable triangulation (ccw triangles) with edge flips."""

    def __init__(self, xy: np.ndarray, tris: np.ndarray):
        self.xy = xy
        self.tris: dict[int, tuple[int, int, int]] = {}
        self.edge: dict[tuple[int, int], int] = {}  # directed edge -> triangle id
        self.next_id = 0
        for t in tris.tolist():
            self.add(tuple(t))

    def add(self, t):
        a, b, c = t
        if _orient(self.xy[a], self.xy[b], self.xy[c]) <= 0:
            raise RuntimeError(f"triangle {t} is not counter-clockwise")
        tid = self.next_id
        self.next_id += 1
        self.tris[tid] = t
        for e in ((a, b), (b, c), (c, a)):
            self.edge[e] = tid
        return tid

    def remove(self, tid):
        a, b, c = self.tris.pop(tid)
        for e in ((a, b), (b, c), (c, a)):
            del self.edge[e]

    def opposite(self, tid, a, b):
        t = self.tris[tid]
        return next(v for v in t if v != a and v != b)

    def quad(self, a, b):
        """(c, d) where (a, b, c) and (b, a, d) are the triangles on edge ab, or None."""
        if (a, b) not in self.edge or (b, a) not in self.edge:
            return None
        c = self.opposite(self.edge[(a, b)], a, b)
        d = self.opposite(self.edge[(b, a)], b, a)
        return c, d

    def flippable(self, a, b) -> bool:
        q = self.quad(a, b)
        if q is None:
            return False
        c, d = q
        x = self.xy
        # convex quad a, d, b, c (ccw): the new diagonal cd must cross ab
        return _segments_cross(x[a], x[b], x[c], x[d])

    def flip(self, a, b):
        c, d = self.quad(a, b)
        self.remove(self.edge[(a, b)])
        self.remove(self.edge[(b, a)])
        self.add((c, d, b) if _orient(self.xy[c], self.xy[d], self.xy[b]) > 0 else (d, c, b))
        self.add((d, c, a) if _orient(self.xy[d], self.xy[c], self.xy[a]) > 0 else (c, d, a))
        return c, d

    def undirected_edges(self):
        return sorted({(min(a, b), max(a, b)) for (a, b) in self.edge})

    def has_edge(self, a, b):
        return (a, b) in self.edge or (b, a) in self.edge


def constrained_delaunay(xy: np.ndarray, points: np.ndarray, constraints: list[tuple[int, int]]) -> np.ndarray:
    """Constrained Delaunay triangulation of ``xy[points]`` with constraint edges.

    Start from the Delaunay triangulation (scipy/qhull), insert every missing constraint
    by flipping the edges that cross it (Sloan's edge-recovery), then restore the
    Delaunay property with Lawson flips that never flip a constraint. Returns (T, 3)
    ccw triangles in global indices, covering the convex hull of the points.
    """
    from scipy.spatial import Delaunay

    points = np.asarray(points)
    dt = Delaunay(xy[points])
    tris = points[dt.simplices]
    x = xy
    # make ccw and drop degenerate triangles
    keep = []
    for t in tris.tolist():
        o = _orient(x[t[0]], x[t[1]], x[t[2]])
        if abs(o) < 1e-14:
            continue
        keep.append(t if o > 0 else [t[0], t[2], t[1]])
    T = _Tri(xy, np.array(keep))
    cons = {(min(a, b), max(a, b)) for a, b in constraints}
    for a, b in sorted(cons):
        guard = 0
        while not T.has_edge(a, b):
            crossing = [
                e for e in T.undirected_edges()
                if a not in e and b not in e and _segments_cross(x[a], x[b], x[e[0]], x[e[1]])
            ]
            if not crossing:
                raise RuntimeError(f"constraint {(a, b)} is missing but crosses no edge (collinear vertex?)")
            progressed = False
            for e in crossing:
                if T.has_edge(*e) and T.flippable(*e):
                    T.flip(*e)
                    progressed = True
            guard += 1
            if not progressed or guard > 1000:
                raise RuntimeError(f"could not recover constraint edge {(a, b)}")
    # Lawson flips towards the constrained Delaunay triangulation
    changed = True
    while changed:
        changed = False
        for a, b in T.undirected_edges():
            if (a, b) in cons or not T.has_edge(a, b):
                continue
            q = T.quad(a, b)
            if q is None:
                continue
            c, d = q
            if _in_circle(x[a], x[b], x[c], x[d]) > 1e-12 * (1 + np.abs(x).max()) ** 4 and T.flippable(a, b):
                T.flip(a, b)
                changed = True
    out = np.array(sorted(T.tris.values(), key=lambda t: tuple(sorted(t))), dtype=np.int64)
    return out


def _point_in_polygon(p: np.ndarray, poly: np.ndarray) -> bool:
    """Even-odd rule for point p (2,) and polygon (N, 2)."""
    inside = False
    n = len(poly)
    for i in range(n):
        a, b = poly[i], poly[(i + 1) % n]
        if (a[1] > p[1]) != (b[1] > p[1]):
            xc = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if xc > p[0]:
                inside = not inside
    return inside


# ----------------------------------------------------------------------------- triangulation

def midline_chain(Q: np.ndarray, mirror: np.ndarray) -> list[int]:
    """Midline vertices (mirror[i] == i) from top to bottom."""
    mid = np.nonzero(mirror == np.arange(len(Q)))[0]
    order = np.argsort(-Q[mid, 1], kind="stable")
    return mid[order].tolist()


def _loop_edges(loop: list[int]) -> list[tuple[int, int]]:
    return [(loop[i], loop[(i + 1) % len(loop)]) for i in range(len(loop))]


def triangulate(Q: np.ndarray, mirror: np.ndarray, xy: np.ndarray, C: dict[str, list[int]]):
    """Symmetric triangulation of the face disk.

    The half X >= 0 (midline included) is triangulated in the 2D chart ``xy`` with a
    constrained Delaunay triangulation whose constraints are the face oval, the left eye
    opening, the outer and inner lip contours and the midline; triangles outside the
    oval are dropped, then the half is mirrored. Returns faces (F, 3) int64, ccw in xy.
    """
    V = len(Q)
    mid = midline_chain(Q, mirror)
    half = np.nonzero(Q[:, 0] >= 0.0)[0]
    in_half = np.zeros(V, bool)
    in_half[half] = True
    cons = []
    for name in ("oval", "eye_left", "lips_outer", "lips_inner"):
        cons += [(a, b) for a, b in _loop_edges(C[name]) if in_half[a] and in_half[b]]
    cons += [(mid[i], mid[i + 1]) for i in range(len(mid) - 1)]
    tris = constrained_delaunay(xy, half, cons)
    # keep the triangles inside the region bounded by the oval (half) and the midline
    oval = C["oval"]
    k0 = oval.index(mid[0])
    path = oval[k0:] + oval[:k0]
    if not in_half[path[1]]:
        path = [path[0]] + path[1:][::-1]
    k1 = path.index(mid[-1])
    region = path[: k1 + 1] + mid[::-1][1:-1]
    poly = xy[region]
    inside = np.array([_point_in_polygon(xy[t].mean(0), poly) for t in tris])
    half_faces = tris[inside]
    mirrored = mirror[half_faces][:, [0, 2, 1]]
    faces = np.concatenate([half_faces, mirrored], axis=0)
    return faces.astype(np.int64)


def face_labels(faces: np.ndarray, xy: np.ndarray, C: dict[str, list[int]]) -> np.ndarray:
    """(F,) int8: 0 skin, 1 eye opening, 2 mouth opening (centroid inside the contour)."""
    lab = np.zeros(len(faces), np.int8)
    cen = xy[faces].mean(1)
    for name, value in (("eye_left", 1), ("eye_right", 1), ("lips_inner", 2)):
        poly = xy[C[name]]
        for i, c in enumerate(cen):
            if _point_in_polygon(c, poly):
                lab[i] = value
    return lab


# ----------------------------------------------------------------------------- UV layout

def mean_value_weights(P: np.ndarray, faces: np.ndarray):
    """Floater's mean-value weights w_ij = (tan(a/2) + tan(b/2)) / |p_i - p_j| (all > 0)."""
    import scipy.sparse as sp

    rows, cols, vals = [], [], []
    for k in range(3):
        i, j, l = faces[:, k], faces[:, (k + 1) % 3], faces[:, (k + 2) % 3]
        e1, e2 = P[j] - P[i], P[l] - P[i]
        n1, n2 = np.linalg.norm(e1, axis=1), np.linalg.norm(e2, axis=1)
        ang = np.arccos(np.clip((e1 * e2).sum(1) / (n1 * n2), -1.0, 1.0))  # angle at i
        t = np.tan(0.5 * ang)
        rows += [i, i]
        cols += [j, l]
        vals += [t / n1, t / n2]
    W = sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(len(P),) * 2)
    return W.tocsr()


def superellipse_boundary(xy: np.ndarray, loop: np.ndarray, power: float) -> np.ndarray:
    """Boundary vertices pushed radially (about the chart's box centre) onto |x|^p + |y|^p = 1."""
    lo, hi = xy[loop].min(0), xy[loop].max(0)
    c, h = 0.5 * (lo + hi), 0.5 * (hi - lo)
    q = (xy[loop] - c) / h
    phi = np.arctan2(q[:, 1], q[:, 0])
    cs, sn = np.cos(phi), np.sin(phi)
    r = (np.abs(cs) ** power + np.abs(sn) ** power) ** (-1.0 / power)
    return np.stack([r * cs, r * sn], 1)


def uv_layout(Q: np.ndarray, faces: np.ndarray, mirror: np.ndarray, loop: np.ndarray, power: float) -> np.ndarray:
    """One symmetric chart in [margin, 1 - margin]^2.

    The boundary (the face oval) is placed on a superellipse at the polar angles it has in
    the cylindrical unwrap; the inside is Floater's mean-value (Tutte-type, convex
    combination) map computed from the 3D canonical shape, which is guaranteed free of
    flips and overlaps for a convex boundary.
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    V = len(Q)
    B = superellipse_boundary(cylinder_uv(Q), loop, power)
    W = mean_value_weights(Q, faces)
    L = (sp.diags(np.asarray(W.sum(1)).ravel()) - W).tocsr()
    is_b = np.zeros(V, bool)
    is_b[loop] = True
    inner = np.nonzero(~is_b)[0]
    X = np.zeros((V, 2))
    X[loop] = B
    A = L[inner][:, inner].tocsc()
    rhs = -(L[inner][:, loop] @ B)
    X[inner] = np.stack([spla.spsolve(A, rhs[:, 0]), spla.spsolve(A, rhs[:, 1])], 1)
    uv = 0.5 + (0.5 - UV_MARGIN) * X
    # exact symmetry u -> 1 - u, rounded to a float32-exact grid
    uv = 0.5 * (uv + np.stack([1.0 - uv[mirror, 0], uv[mirror, 1]], 1))
    uv = np.round(uv / UV_GRID) * UV_GRID
    first = np.arange(V) <= mirror
    uv[~first] = np.stack([1.0 - uv[mirror[~first], 0], uv[mirror[~first], 1]], 1)
    uv[mirror == np.arange(V), 0] = 0.5
    return uv


# ----------------------------------------------------------------------------- main

UV_SUPERELLIPSE_POWER = 4.0


def _signed_areas(xy: np.ndarray, faces: np.ndarray) -> np.ndarray:
    a, b, c = xy[faces[:, 0]], xy[faces[:, 1]], xy[faces[:, 2]]
    e1, e2 = b - a, c - a
    return 0.5 * (e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])


def build(verbose: bool = True) -> dict[str, np.ndarray]:
    """Everything in topology.npz, in the order it is written."""
    from facesculpt.ops import mesh

    def say(*a):
        if verbose:
            print(*a)

    names, pix = detect_landmarks()
    say(f"mediapipe found a face in {len(names)} photos")
    mean, keep, res = generalised_procrustes(pixels_to_model(pix))
    dropped = [names[i] for i in range(len(names)) if i not in set(keep.tolist())]
    say(f"averaged {len(keep)} shapes; dropped as outliers (largest residual): {', '.join(dropped)}")
    mirror = find_mirror(mean)
    Q = canonical_shape(mean, mirror)
    V = len(Q)
    C = contours()
    xy = cylinder_uv(Q)
    faces = triangulate(Q, mirror, xy, C)

    # ---- checks (a failed check stops the build)
    if not mesh.is_manifold(faces):
        raise RuntimeError("triangulation is not an oriented manifold")
    loops = mesh.boundary_loops(faces)
    if len(loops) != 1 or set(loops[0].tolist()) != set(C["oval"]):
        raise RuntimeError(f"expected one boundary loop = the face oval, got {[len(lp) for lp in loops]}")
    if mesh.euler_characteristic(faces) != 1 or len(np.unique(faces)) != V:
        raise RuntimeError("triangulation is not a disk using every vertex")
    if np.any(_signed_areas(xy, faces) <= 0):
        raise RuntimeError("triangulation has clockwise triangles in the chart")

    # ---- ordered loops: counter-clockwise seen from +Z, i.e. along the faces' boundary
    oval = loops[0].tolist()
    k = oval.index(10)  # top of the forehead, on the midline
    oval = oval[k:] + oval[:k]
    uvs = uv_layout(Q, faces, mirror, np.asarray(oval), UV_SUPERELLIPSE_POWER)
    if np.any(_signed_areas(uvs, faces) <= 0):
        raise RuntimeError("UV layout has flipped or degenerate triangles")
    region = face_labels(faces, xy, C)
    lmk68 = np.asarray(LMK68, dtype=np.int64)
    if len(lmk68) != 68:
        raise RuntimeError(f"expected 68 iBUG landmarks, got {len(lmk68)}")

    def ccw_loop(loop, start):
        lp = _ccw(list(loop), xy)
        k = lp.index(start)
        return np.asarray(lp[k:] + lp[:k], dtype=np.int64)

    out = {
        "canonical": Q.astype(np.float32),
        "faces": faces.astype(np.int64),
        "uvs": uvs.astype(np.float32),
        "mirror": mirror.astype(np.int64),
        "lmk68": lmk68,
        "oval": np.asarray(oval, dtype=np.int64),
        "face_region": region.astype(np.int8),
        "eye_left_loop": ccw_loop(C["eye_left"], 263),
        "eye_right_loop": ccw_loop(C["eye_right"], 133),
        "mouth_loop": ccw_loop(C["lips_inner"], 308),
        "lips_outer_loop": ccw_loop(C["lips_outer"], 291),
        "midline": np.asarray(midline_chain(Q, mirror), dtype=np.int64),
    }
    say(
        f"V={V} F={len(faces)} eye faces={int((region == 1).sum())} mouth faces={int((region == 2).sum())} "
        f"UV coverage={_signed_areas(uvs, faces).sum():.3f} nose tip={Q[NOSE_TIP].round(3).tolist()} cm"
    )
    return out


def save(arrays: dict[str, np.ndarray], path: Path) -> str:
    """Write the npz (fixed key order, fixed dtypes; numpy stamps members 1980-01-01) -> sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(str(path), **arrays)
    return hashlib.sha256(path.read_bytes()).hexdigest()


def preview(arrays: dict[str, np.ndarray], folder: Path) -> None:
    """PNGs for a visual check: the mesh in UV, and the iBUG-68 subset on grace_hopper."""
    from PIL import Image, ImageDraw

    folder.mkdir(parents=True, exist_ok=True)
    size = 1024
    uv, faces, reg = arrays["uvs"], arrays["faces"], arrays["face_region"]
    im = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(im)
    colour = {0: (235, 225, 210), 1: (150, 200, 255), 2: (255, 160, 160)}
    P = np.stack([uv[:, 0] * size, (1.0 - uv[:, 1]) * size], 1)
    for f, r in zip(faces, reg):
        d.polygon([tuple(P[i]) for i in f], fill=colour[int(r)], outline=(80, 80, 80))
    for k, i in enumerate(arrays["lmk68"]):
        x, y = P[i]
        d.ellipse([x - 3, y - 3, x + 3, y + 3], fill=(220, 0, 0))
        d.text((x + 3, y - 11), str(k), fill=(0, 0, 160))
    im.save(folder / "topology_uv.png")
    # landmarks of the first photo (grace_hopper), iBUG-68 subset numbered
    import mediapipe as mp

    name, img = _photos()[0]
    with mp.solutions.face_mesh.FaceMesh(static_image_mode=True, refine_landmarks=True, max_num_faces=1) as fm:
        lm = fm.process(img).multi_face_landmarks[0].landmark
    h, w = img.shape[:2]
    p = np.array([[q.x * w, q.y * h] for q in lm])
    im = Image.fromarray(img).copy()
    d = ImageDraw.Draw(im)
    for a, b, c in faces:
        d.line([tuple(p[a]), tuple(p[b]), tuple(p[c]), tuple(p[a])], fill=(90, 160, 255))
    for k, i in enumerate(arrays["lmk68"]):
        x, y = p[i]
        d.ellipse([x - 2, y - 2, x + 2, y + 2], fill=(255, 0, 0))
        d.text((x + 2, y - 9), str(k), fill=(255, 255, 0))
    im.save(folder / f"lmk68_{name}.png")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "facesculpt" / "assets" / "topology.npz")
    ap.add_argument("--preview", type=Path, default=None, help="folder for preview PNGs")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    arrays = build(verbose=not args.quiet)
    digest = save(arrays, args.out)
    if not args.quiet:
        print(f"wrote {args.out} sha256={digest}")
    if args.preview is not None:
        preview(arrays, args.preview)
    return 0


if __name__ == "__main__":
    sys.exit(main())
