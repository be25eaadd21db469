"""Wrong shapes raise ShapeError that names expected vs actual."""
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.render import antialias, composite, interpolate, lambertian_sh, rasterize, texture

V = torch.tensor([[[1.0, 1.0, 2.0], [7.0, 2.0, 2.0], [3.0, 7.0, 2.0]]])
F = torch.tensor([[0, 1, 2]])


def _fails(fn, *parts):
    with pytest.raises(ShapeError) as e:
        fn()
    msg = str(e.value)
    assert "expected" in msg and "got" in msg
    for p in parts:
        assert p in msg
    return msg


def test_rasterize_shape_errors_fails():
    _fails(lambda: rasterize(V[0], F, (8, 8)), "verts_screen", "(3, 3)")
    _fails(lambda: rasterize(V[..., :2], F, (8, 8)), "verts_screen", "(1, 3, 2)")
    _fails(lambda: rasterize(V, F[:, :2], (8, 8)), "faces")
    _fails(lambda: rasterize(V, F.float(), (8, 8)), "faces", "float32")
    _fails(lambda: rasterize(V, F + 1, (8, 8)), "faces", "[1, 3]")
    _fails(lambda: rasterize(V.long(), F, (8, 8)), "verts_screen", "int64")
    _fails(lambda: rasterize(V, F, (8,)), "image_size")
    _fails(lambda: rasterize(V, F, (0, 8)), "image_size")


def test_interpolate_shape_errors_fails():
    fr = rasterize(V, F, (8, 8))
    _fails(lambda: interpolate(torch.rand(2, 3, 4), fr, F), "attrs", "(2, 3, 4)")
    _fails(lambda: interpolate(torch.rand(2, 4), fr, F), "attrs", "V=2")
    _fails(lambda: interpolate(torch.rand(3), fr, F), "attrs")
    _fails(lambda: interpolate(torch.rand(3, 2), fr, F[0]), "faces")


def test_texture_shape_errors_fails():
    tex = torch.rand(1, 4, 4, 3)
    _fails(lambda: texture(tex, torch.rand(1, 5, 5, 3)), "uv", "(1, 5, 5, 3)")
    _fails(lambda: texture(tex[0], torch.rand(1, 5, 5, 2)), "tex", "(4, 4, 3)")
    _fails(lambda: texture(torch.rand(3, 4, 4, 3), torch.rand(2, 5, 5, 2)), "tex", "batch")
    with pytest.raises(ValueError, match="filter"):
        texture(tex, torch.rand(1, 5, 5, 2), filter="trilinear")


def test_antialias_shape_errors_fails():
    fr = rasterize(V, F, (8, 8))
    _fails(lambda: antialias(torch.rand(1, 8, 9, 3), fr, V, F), "frags.pix_to_face", "(1, 8, 8)")
    _fails(lambda: antialias(torch.rand(8, 8, 3), fr, V, F), "color")
    _fails(lambda: antialias(torch.rand(1, 8, 8, 3), fr, V[0], F), "verts_screen")


def test_shade_shape_errors_fails():
    a = torch.rand(1, 4, 4, 3)
    _fails(lambda: lambertian_sh(a, torch.rand(1, 4, 5, 3), torch.rand(1, 9, 3)), "normals")
    _fails(lambda: lambertian_sh(a, torch.rand(1, 4, 4, 3), torch.rand(1, 4, 3)), "coeffs", "(1, 4, 3)")
    _fails(lambda: composite(a, torch.ones(1, 4, 5), 0.0), "mask")
    _fails(lambda: composite(a, torch.ones(1, 4, 4), torch.zeros(2)), "bg", "(2,)")
