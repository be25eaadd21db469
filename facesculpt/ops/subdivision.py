"""Loop subdivision (and its linear twin) as sparse matrices.

One step splits every triangle into four and inserts one vertex on every edge. The
new positions are a fixed linear map of the old ones, ``new = S @ old``, so a dense
mesh is a sparse matrix away from the coarse one and gradients flow through it.

Vertex numbering (part of the contract): the first ``num_verts`` new vertices are the
old ones ("even"), vertex ``num_verts + k`` sits on edge k of
``ops.mesh.edges(faces)`` ("odd"). Face ``4 f + k`` of the result is child k of old face
f = (a, b, c) with edge vertices ab, bc, ca: children (a, ab, ca), (ab, b, bc),
(ca, bc, c), (ab, bc, ca) — orientation is kept.

Loop weights (C. Loop, "Smooth subdivision surfaces based on triangles", 1987):

* odd vertex on an interior edge (a, b) with opposite vertices c, d:
  3/8 (a + b) + 1/8 (c + d); on a boundary edge: 1/2 (a + b);
* even interior vertex of valence n: (1 - n beta) v + beta * sum(neighbours),
  beta = (5/8 - (3/8 + 1/4 cos(2 pi / n))^2) / n  (beta = 1/16 for n = 6, 3/16 for n = 3);
* even boundary vertex (crease rule) with boundary neighbours b1, b2:
  3/4 v + 1/8 (b1 + b2); the boundary curve is thus subdivided as a cubic B-spline,
  independently of the interior.

Hand-written: no installable library builds the subdivision *matrix* (trimesh's
``subdivide_loop`` returns positions only, without the boundary-aware operator we need
to push gradients and other per-vertex attributes through).
"""
from __future__ import annotations

import math
from typing import Union

import numpy as np
import scipy.sparse as sp
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.ops.mesh import _faces_np, _like, face_edge_index

FacesLike = Union[np.ndarray, torch.Tensor]


def _split_faces(f: np.ndarray, fe: np.ndarray, num_verts: int) -> np.ndarray:
    """(4F, 3) children of every face, child k of face f at row 4 f + k."""
    a, b, c = f[:, 0], f[:, 1], f[:, 2]
    ab, bc, ca = num_verts + fe[:, 0], num_verts + fe[:, 1], num_verts + fe[:, 2]
    kids = np.stack(
        [
            np.stack([a, ab, ca], 1),
            np.stack([ab, b, bc], 1),
            np.stack([ca, bc, c], 1),
            np.stack([ab, bc, ca], 1),
        ],
        axis=1,
    )  # (F, 4, 3)
    return kids.reshape(-1, 3).astype(np.int64)


def _check(f: np.ndarray, num_verts: int) -> None:
    if f.size and f.max() >= num_verts:
        raise ShapeError(f"faces: expected vertex indices < num_verts={num_verts}, got max {int(f.max())}")


def scipy_to_torch_sparse(M: sp.spmatrix, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A scipy sparse matrix as a coalesced torch sparse COO tensor of ``dtype``."""
    M = M.tocoo()
    idx = torch.as_tensor(np.stack([M.row, M.col]).astype(np.int64))
    return torch.sparse_coo_tensor(
        idx, torch.as_tensor(M.data, dtype=dtype), M.shape, check_invariants=True
    ).coalesce()


def loop_beta(n: int) -> float:
    """Loop's weight of each neighbour of an interior even vertex of valence ``n``."""
    return (5.0 / 8.0 - (3.0 / 8.0 + 0.25 * math.cos(2.0 * math.pi / n)) ** 2) / n


def _loop_scipy(f: np.ndarray, num_verts: int) -> tuple[np.ndarray, sp.csr_matrix]:
    _check(f, num_verts)
    E, fe = face_edge_index(f)
    nE = len(E)
    # faces per edge and the vertex opposite each (edge, face) incidence
    opp = np.stack([f[:, 2], f[:, 0], f[:, 1]], 1)  # opposite corner of edge k of each face
    counts = np.bincount(fe.ravel(), minlength=nE)
    if np.any(counts > 2):
        bad = E[np.argmax(counts > 2)]
        raise ShapeError(f"loop_subdivide: expected a manifold mesh, edge {tuple(bad)} is in {counts.max()} faces")
    rows, cols, vals = [], [], []

    # odd vertices
    odd_row = num_verts + np.arange(nE)
    boundary_edge = counts == 1
    w_end = np.where(boundary_edge, 0.5, 3.0 / 8.0)
    rows += [odd_row, odd_row]
    cols += [E[:, 0], E[:, 1]]
    vals += [w_end, w_end]
    inc_e, inc_o = fe.ravel(), opp.ravel()
    interior_inc = ~boundary_edge[inc_e]
    rows.append(num_verts + inc_e[interior_inc])
    cols.append(inc_o[interior_inc])
    vals.append(np.full(int(interior_inc.sum()), 1.0 / 8.0))

    # even vertices: neighbours from the edge list, boundary neighbours from boundary edges
    valence = np.bincount(E.ravel(), minlength=num_verts)
    bE = E[boundary_edge]
    bcount = np.bincount(bE.ravel(), minlength=num_verts)
    if np.any((bcount != 0) & (bcount != 2)):
        v = int(np.argmax((bcount != 0) & (bcount != 2)))
        raise ShapeError(
            f"loop_subdivide: expected 0 or 2 boundary edges at every vertex, vertex {v} has {bcount[v]}"
        )
    on_bnd = bcount == 2
    betas = np.array([loop_beta(int(n)) if n > 0 else 0.0 for n in valence])
    # interior vertices
    nb_i = np.concatenate([E[:, 0], E[:, 1]])
    nb_j = np.concatenate([E[:, 1], E[:, 0]])
    keep = ~on_bnd[nb_i]
    rows.append(nb_i[keep])
    cols.append(nb_j[keep])
    vals.append(betas[nb_i[keep]])
    # boundary vertices: 1/8 for each boundary neighbour
    rows += [bE[:, 0], bE[:, 1]]
    cols += [bE[:, 1], bE[:, 0]]
    vals += [np.full(len(bE), 1.0 / 8.0)] * 2
    # centre weights (vertices in no face keep their position)
    centre = np.where(on_bnd, 0.75, 1.0 - valence * betas)
    rows.append(np.arange(num_verts))
    cols.append(np.arange(num_verts))
    vals.append(centre)

    S = sp.coo_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(num_verts + nE, num_verts)
    ).tocsr()
    S.sum_duplicates()
    return _split_faces(f, fe, num_verts), S


def _linear_scipy(f: np.ndarray, num_verts: int) -> tuple[np.ndarray, sp.csr_matrix]:
    _check(f, num_verts)
    E, fe = face_edge_index(f)
    nE = len(E)
    odd = num_verts + np.arange(nE)
    rows = np.concatenate([np.arange(num_verts), odd, odd])
    cols = np.concatenate([np.arange(num_verts), E[:, 0], E[:, 1]])
    vals = np.concatenate([np.ones(num_verts), np.full(2 * nE, 0.5)])
    S = sp.coo_matrix((vals, (rows, cols)), shape=(num_verts + nE, num_verts)).tocsr()
    return _split_faces(f, fe, num_verts), S


def loop_subdivide(faces: FacesLike, num_verts: int) -> tuple[FacesLike, torch.Tensor]:
    """One step of Loop subdivision.

    faces: (F, 3) int (numpy or torch) of a manifold mesh with ``num_verts`` vertices.
    Returns new_faces (4F, 3) int64 (same kind as ``faces``) and S, a torch sparse COO
    float32 matrix (V + E, V) with ``new_verts = S @ verts``. Every row of S sums to 1.
    """
    f = _faces_np(faces)
    nf, S = _loop_scipy(f, num_verts)
    return _like(nf, faces), scipy_to_torch_sparse(S)


def linear_subdivide_matrix(faces: FacesLike, num_verts: int) -> tuple[FacesLike, torch.Tensor]:
    """One step of midpoint (linear) subdivision: same new faces as :func:`loop_subdivide`.

    Old vertices keep their values, edge vertices get the mean of the edge's ends; use it
    for attributes that must stay piecewise linear (UVs stay inside the chart and keep
    any exact symmetry). Returns (new_faces (4F, 3), S (V + E, V) torch sparse float32).
    """
    f = _faces_np(faces)
    nf, S = _linear_scipy(f, num_verts)
    return _like(nf, faces), scipy_to_torch_sparse(S)


def subdivide_levels_scipy(
    faces: FacesLike, num_verts: int, levels: int
) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """:func:`subdivide_levels` with float64 scipy CSR matrices and numpy faces."""
    if levels < 0:
        raise ShapeError(f"subdivide_levels: expected levels >= 0, got {levels}")
    f = _faces_np(faces)
    _check(f, num_verts)
    S_loop = sp.identity(num_verts, format="csr")
    S_lin = sp.identity(num_verts, format="csr")
    n = num_verts
    for _ in range(levels):
        nf, L = _loop_scipy(f, n)
        _, M = _linear_scipy(f, n)
        S_loop = (L @ S_loop).tocsr()
        S_lin = (M @ S_lin).tocsr()
        f, n = nf, L.shape[0]
    return f, S_loop, S_lin


def subdivide_levels(
    faces: FacesLike, num_verts: int, levels: int
) -> tuple[FacesLike, torch.Tensor, torch.Tensor]:
    """``levels`` steps of subdivision composed into one matrix each.

    Returns (faces (4^levels F, 3) like ``faces``, S_loop (V', V), S_linear (V', V)),
    torch sparse COO float32; Loop positions are ``S_loop @ verts``, UVs
    ``S_linear @ uvs``. Face ``4^levels f + k`` descends from coarse face f.
    ``levels = 0`` gives the input faces and identity matrices.
    """
    f, S_loop, S_lin = subdivide_levels_scipy(faces, num_verts, levels)
    return _like(f, faces), scipy_to_torch_sparse(S_loop), scipy_to_torch_sparse(S_lin)


def subdivide_vertex_map(faces: FacesLike, num_verts: int, vertex_map: FacesLike, levels: int) -> FacesLike:
    """Extend a symmetry of the mesh (a vertex permutation) to the subdivided mesh.

    vertex_map: (V,) int with ``vertex_map[i]`` the image of vertex i; every edge (a, b)
    must map to an edge (vertex_map[a], vertex_map[b]) of the mesh (e.g. the left/right
    mirror of a symmetric topology). The vertex on edge (a, b) maps to the vertex on the
    image edge. Returns (V',) int64, same kind as ``vertex_map``.
    """
    f = _faces_np(faces)
    m = vertex_map.detach().cpu().numpy() if isinstance(vertex_map, torch.Tensor) else np.asarray(vertex_map)
    m = m.astype(np.int64)
    if m.shape != (num_verts,):
        raise ShapeError(f"vertex_map: expected shape ({num_verts},), got {m.shape}")
    n = num_verts
    for _ in range(levels):
        E, fe = face_edge_index(f)
        img = np.sort(m[E], axis=1)
        key = E[:, 0] * n + E[:, 1]  # sorted, unique (lexicographic order of E)
        ikey = img[:, 0] * n + img[:, 1]
        pos = np.searchsorted(key, ikey)
        pos = np.clip(pos, 0, len(key) - 1)
        if not np.array_equal(key[pos], ikey):
            bad = int(np.argmax(key[pos] != ikey))
            raise ShapeError(
                f"subdivide_vertex_map: edge {tuple(E[bad])} maps to {tuple(img[bad])}, which is not an edge"
            )
        m = np.concatenate([m, n + pos])
        f = _split_faces(f, fe, n)
        n = n + len(E)
    return _like(m, vertex_map)


__all__ = [
    "loop_beta",
    "scipy_to_torch_sparse",
    "loop_subdivide",
    "linear_subdivide_matrix",
    "subdivide_levels",
    "subdivide_levels_scipy",
    "subdivide_vertex_map",
]
