"""Analytic antialiasing: silhouette-edge gradients w.r.t. vertex positions.

In the spirit of nvdiffrast's antialiasing (Laine et al. 2020), written from the paper's
description. For each pair of neighbouring pixels (p, q) (right or below) that show
different triangles (or one shows background):

1. the front triangle is the one nearer the camera at its pixel (background is
   farthest); if none of its *silhouette* edges crosses the segment between the two
   pixel centres, the other triangle is tried;
2. the crossing point is at distance t in [0, 1] from the front pixel's centre along
   the segment; with a box pixel filter the front surface covers (t - 1/2) of the other
   pixel when t > 1/2, and leaves (1/2 - t) of its own pixel uncovered when t < 1/2, so

       t > 1/2:  c_other += (t - 1/2) * (c_front - c_other)
       t < 1/2:  c_front += (1/2 - t) * (c_other - c_front)

   t is a differentiable function of the edge's two screen vertices, which gives the
   gradient of the image w.r.t. silhouette positions that plain rasterisation lacks.

A silhouette edge of a triangle is a mesh edge used by one triangle only, by more than
two, or whose other triangle has the opposite screen winding (one front, one back
facing). Edges between two triangles of the same winding are interior: crossing them is
a continuous surface and is not blended.

The colour passed in should already contain the background (``composite`` first).
The blend weights are piecewise-smooth in the vertices: the choice of pairs and edges
is not differentiated (fixed for a given ``Fragments``), and the blend is continuous
but has a kink where a crossing passes the midpoint between two pixel centres (the
receiving pixel switches there). Heuristics, as in nvdiffrast: the front triangle is
chosen by comparing the depths at the two pixel centres, and only pairs of horizontal
and vertical neighbours are looked at (no diagonals).
"""
from __future__ import annotations

import weakref

import torch

from facesculpt.core.checks import check_float, check_shape
from facesculpt.render.rasterize import NEAR_Z, Fragments


def silhouette_edges(verts_screen: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """(B, F, 3) bool: is edge k of face f (faces[f, k] -> faces[f, (k+1) % 3]) a silhouette.

    verts_screen: (B, V, 3) float; faces: (F, 3) long. Faces with zero area or a vertex
    at z <= NEAR_Z count as absent, so their neighbours' shared edges are silhouettes.
    """
    v = verts_screen.detach()
    B, V = v.shape[0], v.shape[1]
    Fn = faces.shape[0]
    fv = v[:, faces]  # (B, F, 3, 3)
    x, y, z = fv.unbind(-1)
    area = (x[..., 1] - x[..., 0]) * (y[..., 2] - y[..., 0]) - (y[..., 1] - y[..., 0]) * (x[..., 2] - x[..., 0])
    s = torch.sign(area)
    s = torch.where((z > NEAR_Z).all(-1) & torch.isfinite(area), s, torch.zeros_like(s))
    inv, not_two, n_edges = _edge_groups(faces, V)
    s_rep = s.repeat_interleave(3, dim=1)  # (B, 3F), face-major like the edge list
    ssum = torch.zeros(B, n_edges, dtype=s.dtype, device=s.device).index_add_(1, inv, s_rep)
    other = ssum[:, inv] - s_rep
    return (not_two | (other != s_rep)).reshape(B, Fn, 3)


#: ``_edge_groups``' results by mesh: {(V, F, device, hash of the faces' bytes): (faces, inv, not_two, edges)}; a few
#: meshes at most (a fit renders one; about 7 MB for the synthetic heads' 133,040 triangles)
_EDGE_CACHE: dict = {}
#: the last faces tensor looked up: (weak reference, (V, its version counter), result); a tensor that is still the
#: same object and was not written to since has the same content
_EDGE_LAST: list = [None]


def _edge_groups(faces: torch.Tensor, V: int) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The mesh's undirected edges, for ``faces`` (F, 3) long on ``V`` vertices: (inv (3F,), the edge each
    directed triangle edge (f, k) is, numbered in sorted order of (min, max) vertex; not_two (1, 3F) bool, whether
    other than two triangle edges share that edge; the number of edges). It depends on the connectivity alone,
    which a fit renders again and again: cached by the faces' content (checked equal on a hit), so repeated
    renders of one mesh skip the sort."""
    last = _EDGE_LAST[0]
    if last is not None and last[0]() is faces and last[1] == (int(V), faces._version):
        return last[2]  # the same tensor, unchanged since: no hash of its bytes (1-2 ms a call on the head)
    key = (int(V), int(faces.shape[0]), str(faces.device), hash(faces.detach().cpu().numpy().tobytes()))
    hit = _EDGE_CACHE.get(key)
    if hit is not None and torch.equal(hit[0], faces):
        _EDGE_LAST[0] = (weakref.ref(faces), (int(V), faces._version), hit[1:])
        return hit[1:]
    a = faces
    b = faces[:, [1, 2, 0]]
    edge = (torch.minimum(a, b) * V + torch.maximum(a, b)).reshape(-1)  # (3F,)
    _, inv, counts = torch.unique(edge, return_inverse=True, return_counts=True)
    not_two = (counts != 2)[inv][None]
    if len(_EDGE_CACHE) >= 4:
        _EDGE_CACHE.clear()
    _EDGE_CACHE[key] = (faces.detach().clone(), inv, not_two, int(counts.shape[0]))
    _EDGE_LAST[0] = (weakref.ref(faces), (int(V), faces._version), (inv, not_two, int(counts.shape[0])))
    return inv, not_two, int(counts.shape[0])


def _crossings(verts_screen, faces, sil, bidx, face, front_xy, direction, horizontal):
    """Distance t from the front pixel centre to the first silhouette crossing of ``face``.

    Returns t (K,) (differentiable) and ok (K,) bool (a crossing with t in [0, 1] exists).
    """
    fs = face.clamp(min=0)
    va = faces[fs]  # (K, 3)
    vb = faces[fs][:, [1, 2, 0]]
    A = verts_screen[bidx[:, None], va, :2]  # (K, 3, 2)
    Bv = verts_screen[bidx[:, None], vb, :2]
    along, perp = (0, 1) if horizontal else (1, 0)
    line = front_xy[:, perp][:, None]
    an = A[..., perp] - line
    bn = Bv[..., perp] - line
    straddle = (an.detach() * bn.detach() < 0) & sil[bidx, fs] & (face >= 0)[:, None]
    den = torch.where(straddle, bn - an, torch.ones_like(bn))
    s = -an / den
    cross = A[..., along] + s * (Bv[..., along] - A[..., along])
    t = (cross - front_xy[:, along][:, None]) * direction[:, None]
    td = t.detach()
    ok = straddle & (td >= 0) & (td <= 1)
    key = torch.where(ok, td, torch.full_like(td, 2.0))
    k = key.argmin(dim=1, keepdim=True)
    return t.gather(1, k).squeeze(1), ok.any(dim=1)


def antialias(color: torch.Tensor, frags: Fragments, verts_screen: torch.Tensor,
              faces: torch.Tensor) -> torch.Tensor:
    """Blend colours across silhouette and occlusion edges (see module docstring).

    color:        (B, H, W, C) float — rendered image, background already composited.
    frags:        Fragments of ``verts_screen`` / ``faces`` at (H, W).
    verts_screen: (B, V, 3) float — the vertices that were rasterised.
    faces:        (F, 3) long.

    Returns (B, H, W, C), differentiable w.r.t. ``color`` and ``verts_screen``.
    """
    check_shape("color", color, ("B", "H", "W", "C"))
    check_float("color", color)
    B, H, W, C = color.shape
    check_shape("frags.pix_to_face", frags.pix_to_face, (B, H, W))
    check_shape("frags.zbuf", frags.zbuf, (B, H, W))
    check_shape("verts_screen", verts_screen, (B, "V", 3))
    check_float("verts_screen", verts_screen)
    check_shape("faces", faces, ("F", 3))
    faces = faces.long().to(verts_screen.device)
    p2f = frags.pix_to_face
    depth = torch.where(p2f >= 0, frags.zbuf.detach(), torch.full_like(frags.zbuf, float("inf")))
    sil = silhouette_edges(verts_screen, faces)
    # a pair can only be blended if one of its two faces has a silhouette edge at all
    has_sil = torch.cat([sil.any(-1), torch.zeros(B, 1, dtype=torch.bool, device=sil.device)], 1)
    hs = has_sil.gather(1, torch.where(p2f >= 0, p2f, sil.shape[1]).reshape(B, -1)).reshape(B, H, W)
    flat = color.reshape(B * H * W, C)
    vs = verts_screen.to(color.dtype)
    delta_idx, delta_val = [], []
    for horizontal in (True, False):
        if horizontal:
            fa, fb = p2f[:, :, :-1], p2f[:, :, 1:]
            da, db = depth[:, :, :-1], depth[:, :, 1:]
            cand = (fa != fb) & (hs[:, :, :-1] | hs[:, :, 1:])
        else:
            fa, fb = p2f[:, :-1, :], p2f[:, 1:, :]
            da, db = depth[:, :-1, :], depth[:, 1:, :]
            cand = (fa != fb) & (hs[:, :-1, :] | hs[:, 1:, :])
        bi, ii, jj = cand.nonzero(as_tuple=True)
        if bi.numel() == 0:
            continue
        ib, jb = (ii, jj + 1) if horizontal else (ii + 1, jj)
        pa = (bi * H + ii) * W + jj
        pb = (bi * H + ib) * W + jb
        xy_a = torch.stack([jj, ii], -1).to(vs.dtype) + 0.5
        xy_b = torch.stack([jb, ib], -1).to(vs.dtype) + 0.5
        a_front = da[bi, ii, jj] <= db[bi, ii, jj]
        face_a, face_b = fa[bi, ii, jj], fb[bi, ii, jj]
        one = torch.ones_like(xy_a[:, 0])
        # candidate 1: the nearer triangle; candidate 2: the other one.
        f1 = torch.where(a_front, face_a, face_b)
        f2 = torch.where(a_front, face_b, face_a)
        xy1 = torch.where(a_front[:, None], xy_a, xy_b)
        xy2 = torch.where(a_front[:, None], xy_b, xy_a)
        d1 = torch.where(a_front, one, -one)
        t1, ok1 = _crossings(vs, faces, sil, bi, f1, xy1, d1, horizontal)
        t2, ok2 = _crossings(vs, faces, sil, bi, f2, xy2, -d1, horizontal)
        use1 = ok1
        keep = ok1 | ok2
        t = torch.where(use1, t1, t2)
        front_is_a = torch.where(use1, a_front, ~a_front)
        p_front = torch.where(front_is_a, pa, pb)[keep]
        p_other = torch.where(front_is_a, pb, pa)[keep]
        t = t[keep]
        c_front, c_other = flat[p_front], flat[p_other]
        far = t.detach() > 0.5
        w = torch.where(far, t - 0.5, 0.5 - t)[:, None]
        delta_idx.append(torch.where(far, p_other, p_front))
        delta_val.append(w * torch.where(far[:, None], c_front - c_other, c_other - c_front))
    if not delta_idx:
        return color
    delta = torch.zeros_like(flat).index_add(0, torch.cat(delta_idx), torch.cat(delta_val))
    return (flat + delta).reshape(B, H, W, C)
