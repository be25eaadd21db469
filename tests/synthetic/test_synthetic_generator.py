"""The synthetic face generator: deterministic from the seed, sane truth maps."""
import dataclasses

import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.synthetic import SyntheticConfig, generate_face

SMALL = SyntheticConfig(size=96, uv_size=64, render_levels=2, freckles=5)


def test_generator_deterministic_and_seed_dependent():
    a, b, c = generate_face(3, SMALL), generate_face(3, SMALL), generate_face(4, SMALL)
    assert np.array_equal(a.image, b.image)
    assert torch.equal(a.displacement, b.displacement) and torch.equal(a.albedo, b.albedo)
    assert torch.equal(a.light, b.light)
    assert not np.array_equal(a.image, c.image)


def test_generator_does_not_touch_global_rng():
    torch.manual_seed(0)
    np.random.seed(0)
    x0, y0 = torch.rand(1).item(), np.random.rand()
    torch.manual_seed(0)
    np.random.seed(0)
    generate_face(1, SMALL)
    assert torch.rand(1).item() == x0 and np.random.rand() == y0


def test_truth_maps_consistent():
    f = generate_face(0, SMALL)
    assert f.image.shape == (96, 96, 3) and f.image.dtype == np.uint8
    assert f.mask.any() and (f.depth[f.mask] > 0).all()
    n = f.normals[f.mask]
    assert np.allclose(np.linalg.norm(n, axis=-1), 1, atol=1e-3)
    assert (n[:, 2] > 0).mean() > 0.95  # skin faces the camera
    assert float(f.displacement.abs().max()) > 0.02
    # the undisplaced surface's normals: unit where the face is, differ from the detailed ones only a little
    # (a few silhouette pixels of the displaced surface are not covered by the smooth one: zero there)
    ns = f.normals_smooth[f.mask]
    cover = np.abs(np.linalg.norm(ns, axis=-1) - 1) < 1e-3
    assert cover.mean() > 0.98
    ns, n = ns[cover], n[cover]
    ang = np.degrees(np.arccos(np.clip((ns * n).sum(-1), -1, 1)))
    assert 0.1 < ang.mean() < 15
    smooth = generate_face(0, SyntheticConfig(size=96, uv_size=64, render_levels=2, freckles=5, detail=False))
    assert float(smooth.displacement.abs().max()) == 0.0
    assert np.array_equal(smooth.normals_smooth, smooth.normals)


def test_degradations_change_only_the_photo():
    cfg = dataclasses.replace(SMALL, noise_sigma=0.05, blur_sigma=1.0, downsample=2)
    f = generate_face(2, cfg)
    g = generate_face(2, SMALL)
    assert np.array_equal(f.clean, g.clean) and not np.array_equal(f.image, f.clean)


def test_bad_config_fails():
    with pytest.raises(ShapeError):
        generate_face(0, SyntheticConfig(size=8))
