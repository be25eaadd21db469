"""Reference values for lambertian_sh and composite."""
import math

import torch

from facesculpt.ops.sh import ambient_coeffs, sh_basis
from facesculpt.render import composite, lambertian_sh


def test_ambient_light_returns_albedo_and_normals_are_normalised():
    albedo = torch.rand(2, 3, 4, 3, dtype=torch.float64)
    n = torch.randn(2, 3, 4, 3, dtype=torch.float64) * 5  # not unit length
    out = lambertian_sh(albedo, n, ambient_coeffs(2, 0.7, torch.float64))
    torch.testing.assert_close(out, 0.7 * albedo)


def test_directional_term_uses_unit_normals():
    coeffs = torch.zeros(1, 9, 3, dtype=torch.float64)
    coeffs[0, 2] = 1.0  # z band-1 term
    n = torch.tensor([0.0, 0.0, 3.0], dtype=torch.float64).expand(1, 2, 2, 3)
    out = lambertian_sh(torch.ones(1, 2, 2, 3, dtype=torch.float64), n, coeffs)
    want = sh_basis(torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64))[2]
    torch.testing.assert_close(out, torch.full_like(out, float(want)))
    assert float(want) == 2 * math.pi / 3 * math.sqrt(3 / (4 * math.pi))


def test_composite():
    fg = torch.ones(1, 2, 2, 3)
    mask = torch.tensor([[[1.0, 0.0], [0.25, 1.0]]])
    out = composite(fg, mask, torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(out[0, 0, 1], torch.tensor([0.0, 0.5, 1.0]))
    torch.testing.assert_close(out[0, 1, 0], torch.tensor([0.25, 0.625, 1.0]))
    torch.testing.assert_close(out[0, 0, 0], torch.ones(3))
    out = composite(fg, mask > 0.5, 0.2)
    torch.testing.assert_close(out[0, 1, 0], torch.full((3,), 0.2))
