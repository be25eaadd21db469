"""Antialiasing: reference blends, gradcheck and finite differences through re-rasterising."""
import pytest
import torch

from facesculpt.render import antialias, composite, interpolate, rasterize
from facesculpt.render.antialias import silhouette_edges

D = torch.float64


def _quad(x0, y0, x1, y1, z):
    v = torch.tensor([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]], dtype=D)
    return v, torch.tensor([[0, 1, 2], [0, 2, 3]])


def _flat_render(verts, faces, colors, size, bg=0.0):
    fr = rasterize(verts, faces, size)
    img = composite(interpolate(colors, fr, faces), fr.mask, bg)
    return img, fr


@pytest.mark.parametrize("edge_x, col3, col4", [(3.8, 0.8, 0.0), (4.2, 1.0, 0.2), (3.5 + 0.5, 1.0, 0.0)])
def test_vertical_silhouette_box_filter_coverage(edge_x, col3, col4):
    v, f = _quad(-5.0, -5.0, edge_x, 12.0, 2.0)
    v = v[None]
    img, fr = _flat_render(v, f, torch.ones(4, 1, dtype=D), (6, 6))
    out = antialias(img, fr, v, f)[0, ..., 0]
    want = torch.zeros(6, 6, dtype=D)
    want[:, :3] = 1.0
    want[:, 3] = col3
    want[:, 4] = col4
    torch.testing.assert_close(out, want)  # the interior diagonal is not blended


def test_occlusion_edge_blends_into_far_surface():
    vn, fn = _quad(-5.0, -5.0, 2.3, 12.0, 2.0)
    vf, ff = _quad(-5.0, -5.0, 12.0, 12.0, 5.0)
    v = torch.cat([vf, vn])[None]
    f = torch.cat([ff, fn + 4])
    colors = torch.tensor([[0.25]] * 4 + [[1.0]] * 4, dtype=D)
    img, fr = _flat_render(v, f, colors, (6, 6))
    out = antialias(img, fr, v, f)[0, ..., 0]
    want = torch.full((6, 6), 0.25, dtype=D)
    want[:, :2] = 1.0
    want[:, 2] = 0.25 + 0.3 * 0.75  # t = 0.8 from the front pixel centre 1.5
    torch.testing.assert_close(out, want)


def test_silhouette_edges_of_a_folded_strip():
    # faces 0, 1 share edge (1, 2) with the same winding: interior; face 2 is flipped on screen
    v = torch.tensor([[[0.0, 0, 1], [4, 0, 1], [0, 4, 1], [4, 4, 1], [2, 2, 1]]], dtype=D)
    f = torch.tensor([[0, 1, 2], [1, 3, 2], [3, 1, 4]])
    sil = silhouette_edges(v, f)[0]
    assert sil.tolist() == [[True, False, True], [True, True, False], [True, True, True]]


def _tri_scene():
    # slanted edges whose crossings with the segments between neighbouring pixel centres
    # are all >= 0.06 px away from both pixel centres and from the segment midpoint (where
    # the blend switches pixel and has a kink), and no vertex on a row/column of pixel
    # centres; found by a small offline search.
    v = torch.tensor([[[1.1, 0.9, 2.0], [6.2, 3.8, 2.5], [3.1, 7.2, 3.0]]], dtype=D)
    f = torch.tensor([[0, 1, 2]])
    return v, f, (8, 9)


def test_antialias_gradcheck_verts():
    v, f, size = _tri_scene()
    fr = rasterize(v, f, size)
    color = composite(torch.tensor([0.9, 0.2, 0.4], dtype=D).expand(1, 8, 9, 3), fr.mask,
                      torch.tensor([0.1, 0.3, 0.8], dtype=D))
    vv = v.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: antialias(color, fr, x, f), (vv,), eps=1e-6, atol=1e-6)
    g = torch.autograd.grad(antialias(color, fr, vv, f).sum(), vv)[0]
    assert (g[..., :2].abs() > 1e-3).all()  # every silhouette vertex moves the image
    assert (g[..., 2] == 0).all()  # depth does not move a silhouette in screen space


def test_antialias_gradcheck_color():
    v, f, size = _tri_scene()
    fr = rasterize(v, f, size)
    c = torch.rand(1, 8, 9, 2, dtype=D, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: antialias(x, fr, v, f), (c,))


def test_rendered_loss_matches_finite_differences_of_rerasterised_image():
    v, f, size = _tri_scene()
    colors = torch.tensor([[1.0, 0.1], [0.2, 0.8], [0.5, 0.5]], dtype=D)
    g = torch.Generator().manual_seed(0)
    weights = torch.rand(1, *size, 2, generator=g, dtype=D)

    def loss(verts):
        img, fr = _flat_render(verts, f, colors, size, bg=torch.tensor([0.0, 1.0], dtype=D))
        return (antialias(img, fr, verts, f) * weights).sum(), fr.pix_to_face

    vv = v.clone().requires_grad_(True)
    L, base = loss(vv)
    grad = torch.autograd.grad(L, vv)[0]
    # step h = 0.01 px: moves every crossing (by up to ~3.2 h = 0.032 px on the steepest edge),
    # so the blend weights change, but no crossing reaches a pixel centre (coverage fixed,
    # checked below) or a segment midpoint (the kink of the blend): a fair central difference.
    h = 0.01
    fd = torch.zeros_like(v)
    for k in range(3):
        for c in range(3):
            e = torch.zeros_like(v)
            e[0, k, c] = h
            lp, pp = loss(v + e)
            lm, pm = loss(v - e)
            assert torch.equal(pp, base) and torch.equal(pm, base)
            fd[0, k, c] = (lp - lm) / (2 * h)
    torch.testing.assert_close(grad, fd, atol=2e-4, rtol=1e-3)
    # without antialias the image moves only through the interpolated colours; antialias
    # adds the silhouette term, so the gradients must differ clearly.
    def plain(verts):
        img, _ = _flat_render(verts, f, colors, size, bg=torch.tensor([0.0, 1.0], dtype=D))
        return (img * weights).sum()
    g_plain = torch.autograd.grad(plain(vv), vv)[0]
    assert (grad - g_plain)[..., :2].abs().max() > 0.05


def test_antialias_batch_and_no_edges():
    v, f, size = _tri_scene()
    v2 = torch.cat([v, v + torch.tensor([0.4, 0.3, 0.0], dtype=D)])
    fr = rasterize(v2, f, size)
    img = composite(torch.ones(2, *size, 1, dtype=D), fr.mask, 0.0)
    out = antialias(img, fr, v2, f)
    single = antialias(img[1:], rasterize(v2[1:], f, size), v2[1:], f)
    torch.testing.assert_close(out[1:], single)
    # a background-only image comes back unchanged
    far = v.clone()
    far[..., 0] += 100
    frb = rasterize(far, f, size)
    x = torch.rand(1, *size, 3, dtype=D)
    assert torch.equal(antialias(x, frb, far, f), x)


def _silhouettes_uncached(v, f):
    """The silhouette rule written out (no cache): an edge is a silhouette unless exactly two triangles share it
    with the same screen winding."""
    x, y = v[0, f, 0], v[0, f, 1]
    s = torch.sign((x[:, 1] - x[:, 0]) * (y[:, 2] - y[:, 0]) - (y[:, 1] - y[:, 0]) * (x[:, 2] - x[:, 0]))
    out = torch.zeros(f.shape, dtype=torch.bool)
    owners = {}
    for t in range(f.shape[0]):
        for k in range(3):
            a, b = int(f[t, k]), int(f[t, (k + 1) % 3])
            owners.setdefault((min(a, b), max(a, b)), []).append((t, k))
    for use in owners.values():
        for t, k in use:
            out[t, k] = len(use) != 2 or any(float(s[u]) != float(s[t]) for u, _ in use if u != t)
    return out


def test_silhouette_edges_cached_by_connectivity_not_by_shape():
    # two meshes with the same vertices and the same number of faces but different connectivity,
    # alternated: the cache must never hand one mesh's edge groups to the other
    import importlib

    aa = importlib.import_module("facesculpt.render.antialias")
    g = torch.Generator().manual_seed(3)
    grid = torch.stack(torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="xy"), -1).reshape(-1, 2)
    v = torch.cat([grid * 3 + torch.rand(16, 2, generator=g, dtype=D), torch.full((16, 1), 2.0, dtype=D)], 1)[None]
    quads = [(r * 4 + c, r * 4 + c + 1, r * 4 + c + 5, r * 4 + c + 4) for r in range(3) for c in range(3)]
    diag_a = torch.tensor([t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))])
    diag_b = torch.tensor([t for a, b, c, d in quads for t in ((a, b, d), (b, c, d))])
    diag_b[4] = diag_b[4].flip(0)  # one triangle flipped on screen: its edges become silhouettes
    aa._EDGE_CACHE.clear()
    for f in (diag_a, diag_b, diag_a, diag_b):
        assert torch.equal(silhouette_edges(v, f)[0], _silhouettes_uncached(v, f))
    assert len(aa._EDGE_CACHE) == 2
