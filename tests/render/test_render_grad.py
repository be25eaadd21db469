"""gradcheck (float64) for interpolate and texture, and texture reference values."""
import pytest
import torch

from facesculpt.render import interpolate, rasterize, texture

# two triangles sharing an edge, varied depth; no pixel centre within 0.05 px of an edge
VERTS = torch.tensor([[[0.7, 0.6, 2.0], [6.3, 1.2, 3.0], [1.1, 5.8, 2.5], [6.6, 6.2, 4.0]]], dtype=torch.float64)
FACES = torch.tensor([[0, 1, 2], [1, 3, 2]])
SIZE = (7, 7)


def test_interpolate_reference_and_background():
    fr = rasterize(VERTS, FACES, SIZE)
    attrs = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.0, 0.0], [2.0, 5.0]], dtype=torch.float64)
    out = interpolate(attrs, fr, FACES)
    assert out.shape == (1, 7, 7, 2)
    assert (out[~fr.mask] == 0).all()
    i, j = 2, 2
    f = int(fr.pix_to_face[0, i, j])
    want = (fr.bary[0, i, j, :, None] * attrs[FACES[f]]).sum(0)
    torch.testing.assert_close(out[0, i, j], want)
    # affine attribute in camera space is reproduced: interpolate the depth itself
    zi = interpolate(VERTS[..., 2:], fr, FACES)[..., 0]
    torch.testing.assert_close(zi, fr.zbuf)


def test_interpolate_gradcheck_attrs():
    fr = rasterize(VERTS, FACES, SIZE)
    attrs = torch.rand(1, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: interpolate(a, fr, FACES), (attrs,))
    shared = torch.rand(4, 2, dtype=torch.float64, requires_grad=True)  # (V, C) form
    assert torch.autograd.gradcheck(lambda a: interpolate(a, fr, FACES), (shared,))


def test_interpolate_gradcheck_verts():
    attrs = torch.tensor([[0.3, 1.0], [0.9, -1.0], [0.1, 0.5], [2.0, 0.0]], dtype=torch.float64)
    v = VERTS.clone().requires_grad_(True)
    base = rasterize(VERTS, FACES, SIZE).pix_to_face

    def f(verts):
        fr = rasterize(verts, FACES, SIZE)
        if not torch.equal(fr.pix_to_face, base):  # the perturbation must not change coverage
            raise AssertionError("coverage changed under the gradcheck step")
        return interpolate(attrs, fr, FACES)

    assert torch.autograd.gradcheck(f, (v,), eps=1e-6, atol=1e-6)
    # the gradient w.r.t. x/y/z of every vertex is non-trivial
    g = torch.autograd.grad(f(v).sum(), v)[0]
    assert (g.abs() > 1e-6).all()


def test_texture_reference_uv_convention():
    S = 4
    tex = torch.arange(S * S * 1, dtype=torch.float64).reshape(1, S, S, 1)  # texel (i, j) = 4 i + j
    i = torch.tensor([0, 0, 3, 2])
    j = torch.tensor([0, 3, 0, 1])
    uv = torch.stack([(j + 0.5) / S, 1 - (i + 0.5) / S], -1).double().reshape(1, 1, 4, 2)
    for filt in ("bilinear", "nearest"):
        out = texture(tex, uv, filter=filt)
        torch.testing.assert_close(out[0, 0, :, 0], (4 * i + j).double())
    # v = 1 is the top row (row 0), v = 0 the bottom row; half way between texels blends
    mid = torch.tensor([[[[1.0 / S, 1 - 0.5 / S]]]], dtype=torch.float64)
    assert texture(tex, mid).item() == pytest.approx(0.5)


def test_texture_gradcheck():
    g = torch.Generator().manual_seed(0)
    tex = torch.rand(2, 4, 5, 3, generator=g, dtype=torch.float64, requires_grad=True)
    uv = (torch.rand(2, 3, 3, 2, generator=g, dtype=torch.float64) * 0.8 + 0.1).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda t, u: texture(t, u), (tex, uv), eps=1e-6, atol=1e-6)
    shared = tex[:1].detach().clone().requires_grad_(True)  # batch-1 texture shared by the batch
    assert torch.autograd.gradcheck(lambda t: texture(t, uv.detach()), (shared,))
