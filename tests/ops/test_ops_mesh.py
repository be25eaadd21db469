"""ops/mesh.py: normals, topology helpers, Laplacians."""
import math

import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.ops import mesh
from facesculpt.ops.subdivision import linear_subdivide_matrix

TETRA_V = torch.tensor([[1.0, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]])
# outward (ccw seen from outside) faces of the tetrahedron above
TETRA_F = torch.tensor([[0, 1, 2], [0, 3, 1], [0, 2, 3], [1, 3, 2]])


def icosphere(levels: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    t = (1.0 + 5 ** 0.5) / 2.0
    v = torch.tensor(
        [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t],
         [0, -1, -t], [0, 1, -t], [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]], dtype=torch.float64)
    f = torch.tensor(
        [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
         [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
         [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]])
    v = v / v.norm(dim=1, keepdim=True)
    for _ in range(levels):
        f, S = linear_subdivide_matrix(f, v.shape[0])
        v = torch.sparse.mm(S.double(), v)
        v = v / v.norm(dim=1, keepdim=True)
    return v, f


def grid(n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Flat (n x n) vertex grid in z = 0, ccw triangles seen from +z."""
    ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = np.stack([jj.ravel(), ii.ravel(), np.zeros(n * n)], 1).astype(np.float64)
    f = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j, (i + 1) * n + j + 1
            f += [[a, b, d], [a, d, c]]
    return v, np.array(f, dtype=np.int64)


def test_face_normals_ccw_triangle_points_to_plus_z():
    v = torch.tensor([[[0.0, 0, 0], [2, 0, 0], [0, 3, 0]]])
    f = torch.tensor([[0, 1, 2]])
    n = mesh.face_normals(v, f)
    assert torch.allclose(n, torch.tensor([[[0.0, 0, 1]]]))
    assert torch.allclose(mesh.face_areas(v, f), torch.tensor([[3.0]]))
    assert torch.allclose(mesh.face_areas(v[..., :2], f), torch.tensor([[3.0]]))  # signed, 2D
    assert torch.allclose(mesh.face_areas(v[..., :2], f[:, [0, 2, 1]]), torch.tensor([[-3.0]]))


def test_tetra_normals_point_outwards_and_are_batched():
    v = torch.stack([TETRA_V, 2.0 * TETRA_V + 1.0])
    fn = mesh.face_normals(v, TETRA_F)
    centroids = v[:, TETRA_F].mean(2) - v.mean(1, keepdim=True)
    assert fn.shape == (2, 4, 3)
    assert (torch.sum(fn * centroids, -1) > 0).all()
    vn = mesh.vertex_normals(v, TETRA_F)
    radial = v - v.mean(1, keepdim=True)
    radial = radial / radial.norm(dim=-1, keepdim=True)
    assert torch.allclose(vn, radial, atol=1e-6)  # regular tetrahedron: exact by symmetry


def test_vertex_normals_of_sphere_are_radial():
    v, f = icosphere(2)
    n = mesh.vertex_normals(v[None], f)[0]
    assert n.shape == v.shape
    assert torch.allclose(n.norm(dim=1), torch.ones(len(v), dtype=v.dtype))
    cos = (n * v).sum(1)
    assert cos.min() > 0.999


def test_vertex_normals_gradcheck():
    v = (TETRA_V + 0.1 * torch.randn(4, 3, generator=torch.Generator().manual_seed(0))).double()
    v = v[None].requires_grad_()
    assert torch.autograd.gradcheck(lambda x: mesh.vertex_normals(x, TETRA_F), (v,))


def test_unused_vertex_gets_zero_normal():
    v = torch.cat([TETRA_V, torch.tensor([[5.0, 5, 5]])])[None]
    n = mesh.vertex_normals(v, TETRA_F)
    assert torch.equal(n[0, 4], torch.zeros(3))


def test_normals_shape_errors():
    with pytest.raises(ShapeError, match="expected"):
        mesh.face_normals(TETRA_V, TETRA_F)  # missing batch dim
    with pytest.raises(ShapeError, match=r"\[0, 4\)"):
        mesh.face_normals(TETRA_V[None], TETRA_F + 1)


def test_edges_sorted_unique_and_same_kind():
    f = np.array([[0, 1, 2], [2, 1, 3]])
    e = mesh.edges(f)
    assert isinstance(e, np.ndarray)
    assert e.tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]
    et = mesh.edges(torch.as_tensor(f))
    assert isinstance(et, torch.Tensor) and et.dtype == torch.long
    assert et.tolist() == e.tolist()
    _, counts = mesh.edge_face_counts(f)
    assert counts.tolist() == [1, 1, 2, 1, 1]


def test_boundary_loops():
    v, f = grid(3)  # 3x3 grid: boundary of 8 vertices, ccw from +z
    loops = mesh.boundary_loops(f)
    assert len(loops) == 1
    assert loops[0].tolist() == [0, 1, 2, 5, 8, 7, 6, 3]  # counter-clockwise, starts at 0
    assert mesh.boundary_loops(TETRA_F) == []
    # annulus: drop the two triangles of the central quad of a 4x4 grid -> two loops
    v4, f4 = grid(4)
    centre = {5, 6, 9, 10}
    keep = [t for t in f4.tolist() if not set(t) <= centre]
    loops = mesh.boundary_loops(np.array(keep))
    assert sorted(len(lp) for lp in loops) == [4, 12]


def test_is_manifold_cases():
    assert mesh.is_manifold(TETRA_F)
    assert mesh.is_manifold(grid(4)[1])
    fin = np.array([[0, 1, 2], [1, 0, 3], [0, 1, 4]])  # edge (0, 1) in three faces
    assert not mesh.is_manifold(fin)
    flipped = np.array([[0, 1, 2], [0, 1, 3]])  # inconsistent orientation
    assert not mesh.is_manifold(flipped)
    assert mesh.is_manifold(flipped, oriented=False)
    bowtie = np.array([[0, 1, 2], [0, 3, 4]])  # two fans at vertex 0
    assert not mesh.is_manifold(bowtie)
    assert not mesh.is_manifold(np.array([[0, 0, 1]]))
    assert mesh.euler_characteristic(TETRA_F) == 2
    assert mesh.euler_characteristic(grid(4)[1]) == 1


def test_faces_shape_error():
    with pytest.raises(ShapeError, match=r"\(F, 3\)"):
        mesh.edges(np.zeros((3, 4), np.int64))


def test_uniform_laplacian_of_constant_is_zero():
    v, f = icosphere(1)
    L = mesh.laplacian(f, len(v))
    assert L.is_sparse and L.shape == (len(v), len(v))
    ones = torch.ones(len(v), 1)
    assert torch.allclose(torch.sparse.mm(L, ones), torch.zeros(len(v), 1))
    D = L.to_dense()
    assert torch.equal(D, D.T)
    # diagonal = valence (5 or 6 on an icosphere)
    assert set(torch.diagonal(D).tolist()) == {5.0, 6.0}
    Ln = mesh.laplacian(f, len(v), normalize=True).to_dense()
    assert torch.allclose(torch.diagonal(Ln), torch.ones(len(v)))


def test_cotan_laplacian_reference_and_linear_precision():
    # right isosceles triangle: angles 90 (at 0), 45, 45 -> w_12 = cot90/2 = 0, w_01 = w_02 = cot45/2 = 0.5
    v = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0]])
    L = mesh.laplacian(np.array([[0, 1, 2]]), 3, kind="cotan", verts=v, dtype=torch.float64).to_dense()
    expect = torch.tensor([[1.0, -0.5, -0.5], [-0.5, 0.5, 0.0], [-0.5, 0.0, 0.5]], dtype=torch.float64)
    assert torch.allclose(L, expect)
    # on a flat mesh the cotan Laplacian of a linear function vanishes at interior vertices
    v, f = grid(5)
    interior = (np.abs(v[:, :2] - 2) < 2).all(1)
    rng = np.random.default_rng(0)
    v[:, :2] += 0.08 * rng.standard_normal((len(v), 2)) * interior[:, None]
    L = mesh.laplacian(f, len(v), kind="cotan", verts=v, dtype=torch.float64)
    lin = torch.as_tensor(2.0 * v[:, 0] - 3.0 * v[:, 1] + 1.0)[:, None]
    out = torch.sparse.mm(L, lin)[:, 0]
    assert torch.allclose(out[interior], torch.zeros(int(interior.sum()), dtype=torch.float64), atol=1e-10)
    assert out[~interior].abs().max() > 1e-3  # boundary rows do not vanish: the test can fail


def test_laplacian_errors():
    with pytest.raises(ShapeError, match="verts"):
        mesh.laplacian(TETRA_F, 4, kind="cotan")
    with pytest.raises(ShapeError, match="kind"):
        mesh.laplacian(TETRA_F, 4, kind="graph")
    with pytest.raises(ShapeError, match="num_verts"):
        mesh.laplacian(TETRA_F, 3)


def test_angle_sum_sanity_of_icosphere_area():
    v, f = icosphere(3)
    area = mesh.face_areas(v[None], f).sum()
    assert abs(float(area) - 4 * math.pi) < 0.05 * 4 * math.pi


def test_vertex_normals_batch_matches_each_mesh_alone():
    """The batched scatter keeps each mesh's normals to itself: a batch of two different meshes gives, per
    mesh, the bytes of that mesh's own call (and the sum in the per-corner order, so the same bytes as
    three per-corner scatters)."""
    v, f = icosphere(2)
    g = torch.Generator().manual_seed(1)
    a = v[None].float()
    b = (v + 0.05 * torch.randn(v.shape, generator=g, dtype=v.dtype))[None].float()
    both = mesh.vertex_normals(torch.cat([a, b]), f)
    assert torch.equal(both[0], mesh.vertex_normals(a, f)[0])
    assert torch.equal(both[1], mesh.vertex_normals(b, f)[0])

    def per_corner(x):
        fn = mesh.face_normals(x, f, unit=False)
        ref = torch.zeros_like(x)
        for k in range(3):
            ref = ref.index_add(1, torch.as_tensor(f)[:, k], fn)
        return ref / ref.norm(dim=-1, keepdim=True).clamp(min=1e-12)

    x = torch.cat([a, b])
    assert torch.equal(both, per_corner(x))
    # the backward too, byte for byte: the photometric fit follows its gradients for 60 steps
    w = torch.randn(x.shape, generator=g)
    grads = []
    for fun in (mesh.vertex_normals, per_corner):
        xr = x.clone().requires_grad_()
        (fun(xr, f) if fun is mesh.vertex_normals else fun(xr)).mul(w).sum().backward()
        grads.append(xr.grad)
    assert torch.equal(grads[0], grads[1])


def test_vertex_normals_reuse_is_the_same_and_follows_in_place_changes():
    import torch

    from facesculpt.ops.mesh import vertex_normals

    g = torch.Generator().manual_seed(0)
    v = torch.randn(1, 60, 3, generator=g)
    f = torch.randint(0, 60, (90, 3), generator=g)
    a = vertex_normals(v, f)
    b = vertex_normals(v, f)
    assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # a copy: callers may write into theirs
    b.zero_()
    assert torch.equal(vertex_normals(v, f), a)
    v[..., 0].mul_(3.0)  # an in-place change is seen (the version counter)
    c = vertex_normals(v, f)
    assert not torch.equal(c, a)
    w = v.clone().requires_grad_(True)  # with autograd the normals stay differentiable
    assert vertex_normals(w, f).requires_grad


def test_unique_pairs_is_torch_row_unique():
    """``unique_pairs`` gives what ``torch.unique(..., dim=0)`` gives: the sorted rows, the inverse and the counts."""
    from facesculpt.core.errors import ShapeError
    from facesculpt.ops.mesh import unique_pairs

    g = torch.Generator().manual_seed(0)
    for hi, n in ((5, 40), (1000, 5000), (3, 1)):
        p = torch.randint(0, hi, (n, 2), generator=g)
        want = torch.unique(p, dim=0, return_inverse=True, return_counts=True)
        got = unique_pairs(p, return_inverse=True, return_counts=True)
        assert all(torch.equal(a, b) for a, b in zip(got, want))
        assert torch.equal(unique_pairs(p), torch.unique(p, dim=0))
        assert torch.equal(unique_pairs(p.int()), torch.unique(p.int(), dim=0)) and unique_pairs(p.int()).dtype == torch.int32
    for bad in (torch.zeros(4, 3, dtype=torch.long), torch.zeros(4, 2), torch.tensor([[0, -1]])):
        with pytest.raises(ShapeError):
            unique_pairs(bad)
