"""Reference values for rasterize: coverage, edge rule, barycentrics, depth, culling."""
import math

import pytest
import torch

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.render import NEAR_Z, rasterize

BACKENDS = ["cpu", "torch"]


def _tri(pts, z=2.0, dtype=torch.float64):
    v = torch.tensor([[p[0], p[1], p[2] if len(p) > 2 else z] for p in pts], dtype=dtype)
    return v[None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_single_triangle_coverage(backend):
    # (1,1) -> (7,2) -> (3,7); pixel centres on the left edge at rows 2 and 5 are included
    # (left edge), the rest worked out by hand from the edge lines.
    v = _tri([(1, 1), (7, 2), (3, 7)])
    fr = rasterize(v, torch.tensor([[0, 1, 2]]), (8, 8), backend=backend)
    got = {(int(i), int(j)) for i, j in (fr.pix_to_face[0] == 0).nonzero()}
    want = {(1, 1), (1, 2), (1, 3),
            (2, 1), (2, 2), (2, 3), (2, 4), (2, 5), (2, 6),
            (3, 2), (3, 3), (3, 4), (3, 5),
            (4, 2), (4, 3), (4, 4),
            (5, 2), (5, 3)}
    assert got == want
    assert set(fr.pix_to_face.unique().tolist()) == {-1, 0}
    bg = fr.pix_to_face < 0
    assert (fr.zbuf[bg] == 0).all() and (fr.bary[bg] == 0).all()


@pytest.mark.parametrize("backend", BACKENDS)
def test_barycentrics_known_pixel(backend):
    # pixel (3, 3), centre (3.5, 3.5): edge functions 11.5, 10, 12.5 over area 34.
    faces = torch.tensor([[0, 1, 2]])
    fr = rasterize(_tri([(1, 1), (7, 2), (3, 7)]), faces, (8, 8), backend=backend)
    torch.testing.assert_close(fr.bary[0, 3, 3], torch.tensor([11.5, 10.0, 12.5], dtype=torch.float64) / 34)
    assert fr.zbuf[0, 3, 3].item() == pytest.approx(2.0)
    # perspective correction with z = (1, 2, 4): b_k / z_k renormalised; z = 1 / sum(b_k / z_k).
    fr = rasterize(_tri([(1, 1, 1.0), (7, 2, 2.0), (3, 7, 4.0)]), faces, (8, 8), backend=backend)
    q = torch.tensor([11.5 / 1, 10.0 / 2, 12.5 / 4], dtype=torch.float64)
    torch.testing.assert_close(fr.bary[0, 3, 3], q / q.sum())
    assert fr.zbuf[0, 3, 3].item() == pytest.approx(34.0 / q.sum().item())


@pytest.mark.parametrize("backend", BACKENDS)
def test_perspective_bary_reprojects_to_pixel_centre(backend):
    # a tilted 3-D triangle seen by a pinhole: bary-interpolated camera points must lie on
    # the ray of each pixel centre, at depth zbuf.
    cam = torch.tensor([[-1.0, -0.8, 3.0], [1.2, -0.5, 6.0], [0.1, 1.0, 4.0]], dtype=torch.float64)
    f, c = 30.0, 8.0
    scr = torch.cat([cam[:, :2] / cam[:, 2:] * f + c, cam[:, 2:]], dim=1)[None]
    fr = rasterize(scr, torch.tensor([[0, 1, 2]]), (16, 16), backend=backend)
    ii, jj = (fr.pix_to_face[0] == 0).nonzero(as_tuple=True)
    assert ii.numel() > 20
    P = fr.bary[0, ii, jj] @ cam  # (K, 3) camera-space points
    torch.testing.assert_close(P[:, 0] / P[:, 2] * f + c, jj.double() + 0.5)
    torch.testing.assert_close(P[:, 1] / P[:, 2] * f + c, ii.double() + 0.5)
    torch.testing.assert_close(P[:, 2], fr.zbuf[0, ii, jj])


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("near_first", [True, False])
def test_depth_test_keeps_nearest(backend, near_first):
    near = [(0.2, 0.3, 2.0), (7.7, 0.6, 2.0), (0.4, 7.9, 2.0)]
    far = [(7.9, 7.6, 5.0), (7.4, 0.1, 5.0), (0.3, 7.3, 5.0)]
    v = _tri(near + far if near_first else far + near)
    faces = torch.tensor([[0, 1, 2], [3, 4, 5]])
    fr = rasterize(v, faces, (8, 8), backend=backend)
    near_id = 0 if near_first else 1
    solo = [rasterize(v, faces[k:k + 1], (8, 8), backend=backend).pix_to_face[0] == 0 for k in range(2)]
    m_near, m_far = (solo[0], solo[1]) if near_first else (solo[1], solo[0])
    both = m_near & m_far
    assert both.sum() >= 4 and (m_far & ~m_near).sum() >= 4
    assert (fr.pix_to_face[0][m_near] == near_id).all()
    assert (fr.pix_to_face[0][m_far & ~m_near] == 1 - near_id).all()
    torch.testing.assert_close(fr.zbuf[0][both], torch.full((int(both.sum()),), 2.0, dtype=torch.float64))
    only_far = fr.zbuf[0][m_far & ~m_near]
    torch.testing.assert_close(only_far, torch.full_like(only_far, 5.0))


def _grid_mesh(n, x0, step, jitter=0.0, seed=0):
    """(n+1)^2 vertices on a square grid, 2 triangles per cell, alternating diagonals."""
    g = torch.Generator().manual_seed(seed)
    ax = x0 + step * torch.arange(n + 1, dtype=torch.float64)
    yy, xx = torch.meshgrid(ax, ax, indexing="ij")
    xy = torch.stack([xx, yy], -1).reshape(-1, 2)
    if jitter:
        inner = torch.zeros(n + 1, n + 1, dtype=torch.bool)
        inner[1:-1, 1:-1] = True
        xy = xy + (torch.rand(xy.shape, generator=g, dtype=torch.float64) - 0.5) * jitter * inner.reshape(-1, 1)
    faces = []
    for r in range(n):
        for c in range(n):
            a, b, d, e = r * (n + 1) + c, r * (n + 1) + c + 1, (r + 1) * (n + 1) + c, (r + 1) * (n + 1) + c + 1
            if (r + c) % 2:
                faces += [[a, b, e], [a, e, d]]
            else:
                faces += [[a, b, d], [b, e, d]]
    z = torch.full((xy.shape[0], 1), 3.0, dtype=torch.float64)
    return torch.cat([xy, z], 1)[None], torch.tensor(faces)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("flip", [False, True])
def test_shared_edges_no_gaps_no_double_coverage(backend, flip):
    # vertices ON pixel centres (x, y in {0.5, 2.5, 4.5, 6.5}): every grid edge, diagonal
    # and vertex passes through pixel centres. Each centre of [0.5, 6.5) x [0.5, 6.5) must
    # be covered exactly once (outer top/left edges in, bottom/right out), others never.
    v, faces = _grid_mesh(3, 0.5, 2.0)
    if flip:
        faces = faces[:, [0, 2, 1]]
    count = torch.zeros(8, 8, dtype=torch.long)
    for k in range(faces.shape[0]):
        count += (rasterize(v, faces[k:k + 1], (8, 8), backend=backend).pix_to_face[0] == 0).long()
    want = torch.zeros(8, 8, dtype=torch.long)
    want[0:6, 0:6] = 1
    assert torch.equal(count, want)
    # and the whole mesh at once covers the same set
    assert torch.equal((rasterize(v, faces, (8, 8), backend=backend).pix_to_face[0] >= 0).long(), want)


@pytest.mark.parametrize("backend", BACKENDS)
def test_jittered_tiling_covers_exactly_once(backend):
    v, faces = _grid_mesh(4, 0.5, 3.0, jitter=2.0, seed=3)  # square [0.5, 12.5]
    count = torch.zeros(14, 14, dtype=torch.long)
    for k in range(faces.shape[0]):
        count += (rasterize(v, faces[k:k + 1], (14, 14), backend=backend).pix_to_face[0] == 0).long()
    want = torch.zeros(14, 14, dtype=torch.long)
    want[0:12, 0:12] = 1
    assert torch.equal(count, want)


def _cam_triangle(model_pts):
    """Model-frame points -> screen via MODEL_TO_CV, t = (0, 0, 10), f = 10, c = 4."""
    X = torch.tensor(model_pts, dtype=torch.float64)
    cam = X @ MODEL_TO_CV.double().T + torch.tensor([0.0, 0.0, 10.0], dtype=torch.float64)
    return torch.cat([cam[:, :2] / cam[:, 2:] * 10.0 + 4.0, cam[:, 2:]], 1)[None]


@pytest.mark.parametrize("backend", BACKENDS)
def test_cull_backfaces_keeps_model_ccw_faces(backend):
    # counter-clockwise seen from +Z (outside, towards the viewer) in the +Y-up model frame
    ccw = [(-2.0, -2.0, 0.0), (2.0, -2.0, 0.0), (0.0, 2.5, 0.0)]
    v = _cam_triangle(ccw)
    x, y = v[0, :, 0], v[0, :, 1]
    area = (x[1] - x[0]) * (y[2] - y[0]) - (y[1] - y[0]) * (x[2] - x[0])
    assert area < 0  # front faces have negative signed pixel area (CCW on a y-down screen)
    f = torch.tensor([[0, 1, 2]])
    kept = rasterize(v, f, (8, 8), backend=backend, cull_backfaces=True).pix_to_face
    assert (kept == 0).sum() > 5
    culled = rasterize(v, f[:, [0, 2, 1]], (8, 8), backend=backend, cull_backfaces=True).pix_to_face
    assert (culled >= 0).sum() == 0
    both = rasterize(v, f[:, [0, 2, 1]], (8, 8), backend=backend).pix_to_face
    assert torch.equal(both >= 0, kept >= 0)


@pytest.mark.parametrize("backend", BACKENDS)
def test_behind_camera_and_degenerate_dropped(backend):
    pts = [(1, 1, 2.0), (7, 1, 2.0), (1, 7, 2.0)]
    faces = torch.tensor([[0, 1, 2]])
    for bad in (0.0, NEAR_Z, -1.0):
        v = _tri(pts[:2] + [(1, 7, bad)])
        fr = rasterize(v, faces, (8, 8), backend=backend)
        assert (fr.pix_to_face < 0).all()
    v = _tri([(1, 1), (4, 4), (7, 7)])  # collinear: zero area
    fr = rasterize(v, faces, (8, 8), backend=backend)
    assert (fr.pix_to_face < 0).all() and torch.isfinite(fr.bary).all()
    v = _tri([(1, 1), (7, 1), (float("nan"), 7)])
    assert (rasterize(v, faces, (8, 8), backend=backend).pix_to_face < 0).all()


def test_float32_and_batch():
    v = _tri([(1, 1), (7, 2), (3, 7)], dtype=torch.float32)
    v = torch.cat([v, v + torch.tensor([0.5, 0.0, 1.0])], 0)
    fr = rasterize(v, torch.tensor([[0, 1, 2]]), (8, 8))
    assert fr.bary.dtype == torch.float32 and fr.pix_to_face.dtype == torch.long
    assert fr.pix_to_face.shape == (2, 8, 8) and fr.bary.shape == (2, 8, 8, 3)
    torch.testing.assert_close(fr.zbuf[1][fr.pix_to_face[1] == 0], torch.full_like(fr.zbuf[1][fr.pix_to_face[1] == 0], 3.0))
    assert not torch.equal(fr.pix_to_face[0], fr.pix_to_face[1])
    torch.testing.assert_close(fr.bary.sum(-1)[fr.mask], torch.ones(int(fr.mask.sum())))
    assert math.isclose(float(fr.bary[0, 3, 3, 0]), 11.5 / 34, rel_tol=1e-6)
