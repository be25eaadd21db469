"""ops/subdivision.py: Loop and linear subdivision matrices."""
import math

import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.ops import mesh
from facesculpt.ops.subdivision import (
    linear_subdivide_matrix,
    loop_beta,
    loop_subdivide,
    subdivide_levels,
    subdivide_vertex_map,
)

TETRA_F = np.array([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])


def dense(S: torch.Tensor) -> np.ndarray:
    return S.to_dense().double().numpy()


def hexagon():
    """Regular hexagon fan: centre 0 (interior, valence 6), ring 1..6, ccw seen from +z."""
    ang = np.arange(6) * np.pi / 3
    v = np.concatenate([[[0.0, 0.0, 0.0]], np.stack([np.cos(ang), np.sin(ang), 0 * ang], 1)])
    f = np.array([[0, 1 + k, 1 + (k + 1) % 6] for k in range(6)])
    return v, f


def test_loop_beta_reference_values():
    assert loop_beta(6) == pytest.approx(1.0 / 16.0)
    assert loop_beta(3) == pytest.approx(3.0 / 16.0)
    assert loop_beta(4) == pytest.approx((5 / 8 - (3 / 8) ** 2) / 4)


def test_single_triangle_uses_boundary_rules():
    f, S = loop_subdivide(np.array([[0, 1, 2]]), 3)
    S = dense(S)
    assert S.shape == (6, 3)
    assert f.shape == (4, 3) and f.dtype == np.int64
    np.testing.assert_allclose(S[:3], [[0.75, 0.125, 0.125], [0.125, 0.75, 0.125], [0.125, 0.125, 0.75]])
    # edges (0,1), (0,2), (1,2) in lexicographic order -> vertices 3, 4, 5
    np.testing.assert_allclose(S[3:], [[0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]])
    assert f.tolist() == [[0, 3, 4], [3, 1, 5], [4, 5, 2], [3, 5, 4]]


def test_tetrahedron_weights():
    f, S = loop_subdivide(TETRA_F, 4)
    S = dense(S)
    # even: valence 3, beta = 3/16, centre 1 - 9/16
    np.testing.assert_allclose(S[0], [7 / 16, 3 / 16, 3 / 16, 3 / 16])
    # odd on edge (0, 1): 3/8 ends, 1/8 the two opposite vertices (2 and 3)
    np.testing.assert_allclose(S[4], [3 / 8, 3 / 8, 1 / 8, 1 / 8])
    assert f.shape == (16, 3)
    assert mesh.is_manifold(f) and mesh.euler_characteristic(f) == 2


def test_regular_interior_vertex_beta_one_sixteenth():
    v, f = hexagon()
    _, S = loop_subdivide(torch.as_tensor(f), 7)
    S = dense(S)
    np.testing.assert_allclose(S[0], [10 / 16] + [1 / 16] * 6)
    # ring vertices are boundary vertices: crease rule with their two ring neighbours
    np.testing.assert_allclose(S[1], [0, 0.75, 0.125, 0, 0, 0, 0.125])


def test_rows_sum_to_one_and_flat_stays_flat():
    v, f = hexagon()
    rng = np.random.default_rng(1)
    v = v + 0.1 * rng.standard_normal(v.shape) * np.array([1, 1, 0])
    # put the flat mesh on a tilted plane
    R = np.linalg.qr(rng.standard_normal((3, 3)))[0]
    v = v @ R.T + np.array([1.0, -2.0, 0.5])
    normal = R[:, 2]
    f2, S2, L2 = subdivide_levels(f, 7, 3)
    Sd = dense(S2)
    np.testing.assert_allclose(Sd.sum(1), 1.0, atol=1e-6)
    np.testing.assert_allclose(dense(L2).sum(1), 1.0, atol=1e-6)
    new = Sd @ v
    assert np.abs((new - v[0]) @ normal).max() < 1e-5
    assert f2.shape == (6 * 64, 3)
    n = mesh.face_normals(torch.as_tensor(new)[None], torch.as_tensor(f2))[0].numpy()
    np.testing.assert_allclose(n @ normal, 1.0, atol=1e-5)  # orientation kept, still flat


def test_loop_smooths_a_closed_mesh_inside_its_hull():
    v = np.array([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
    f, S, _ = subdivide_levels(TETRA_F, 4, 2)
    new = dense(S) @ v
    # convex combinations: everything stays inside the tetrahedron's bounding sphere and shrinks
    r = np.linalg.norm(new, axis=1)
    assert r.max() < math.sqrt(3) - 0.1


def test_linear_subdivision_midpoints():
    f, S = linear_subdivide_matrix(np.array([[0, 1, 2], [2, 1, 3]]), 4)
    S = dense(S)
    np.testing.assert_allclose(S[:4], np.eye(4))
    np.testing.assert_allclose(S[4:].sum(1), 1.0)
    assert set(np.unique(S[4:])) == {0.0, 0.5}
    f_loop, _ = loop_subdivide(np.array([[0, 1, 2], [2, 1, 3]]), 4)
    assert np.array_equal(f, f_loop)


def test_levels_zero_is_identity_and_counts():
    f0, S0, L0 = subdivide_levels(torch.tensor([[0, 1, 2]]), 3, 0)
    assert isinstance(f0, torch.Tensor) and f0.tolist() == [[0, 1, 2]]
    assert torch.equal(S0.to_dense(), torch.eye(3))
    f2, S2, _ = subdivide_levels(np.array([[0, 1, 2]]), 3, 2)
    assert S2.shape == (15, 3) and f2.shape == (16, 3)


def test_children_descend_from_parent_face():
    v, f = hexagon()
    f2, S2, L2 = subdivide_levels(f, 7, 2)
    new = dense(L2) @ v
    cen_child = new[f2].mean(1)
    for k in range(len(f)):
        tri = v[f[k], :2]
        for c in cen_child[16 * k: 16 * (k + 1), :2]:
            # barycentric coordinates of the child's centroid in its parent are all > 0
            T = np.stack([tri[1] - tri[0], tri[2] - tri[0]], 1)
            lam = np.linalg.solve(T, c - tri[0])
            assert lam.min() > 0 and lam.sum() < 1


def test_vertex_map_extends_mirror_symmetry():
    v, f = hexagon()  # symmetric under x -> -x: 0->0, 1->4, 2->3, 5->6
    m = np.array([0, 4, 3, 2, 1, 6, 5])
    f2, S2, L2 = subdivide_levels(f, 7, 2)
    m2 = subdivide_vertex_map(f, 7, m, 2)
    new = dense(S2) @ v
    assert np.array_equal(m2[m2], np.arange(len(m2)))
    np.testing.assert_allclose(new[m2], new * np.array([-1, 1, 1]), atol=1e-12)
    with pytest.raises(ShapeError, match="not an edge"):
        subdivide_vertex_map(f, 7, np.array([0, 2, 1, 3, 4, 5, 6]), 1)


def test_errors():
    with pytest.raises(ShapeError, match="manifold"):
        loop_subdivide(np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]]), 5)
    with pytest.raises(ShapeError, match="num_verts"):
        loop_subdivide(np.array([[0, 1, 2]]), 2)
    with pytest.raises(ShapeError, match="boundary edges"):
        loop_subdivide(np.array([[0, 1, 2], [0, 3, 4]]), 5)  # bowtie at vertex 0
    with pytest.raises(ShapeError, match="levels"):
        subdivide_levels(np.array([[0, 1, 2]]), 3, -1)
