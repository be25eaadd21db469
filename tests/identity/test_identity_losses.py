"""Losses, network shapes and errors, chip_transform reference values (no dlib needed)."""
import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.identity import (FEATURE_NAMES, chip_transform, content_loss, cut_chips, embed, embed_chips,
                                 identity_distance, identity_loss, load_identity_network)
from facesculpt.identity.align import USED_LANDMARKS, _template


def test_identity_loss_and_distance_reference():
    a = torch.tensor([[1.0, 0.0], [1.0, 0.0], [3.0, 4.0]])
    b = torch.tensor([[2.0, 0.0], [0.0, 1.0], [-3.0, -4.0]])
    assert torch.allclose(identity_loss(a, b), torch.tensor([0.0, 1.0, 2.0]), atol=1e-6)
    assert torch.allclose(identity_distance(a, b), torch.tensor([1.0, 2 ** 0.5, 10.0]), atol=1e-6)


def test_loss_shape_errors_fail():
    with pytest.raises(ShapeError, match="shapes differ"):
        identity_loss(torch.zeros(2, 128), torch.zeros(3, 128))
    with pytest.raises(ShapeError, match="emb_a"):
        identity_distance(torch.zeros(128), torch.zeros(128))
    with pytest.raises(ShapeError, match="layers"):
        content_loss([torch.zeros(1, 2, 3, 3)], [])
    with pytest.raises(ShapeError, match="out of range"):
        content_loss([torch.zeros(1, 2, 3, 3)], [torch.zeros(1, 2, 3, 3)], layers=[3])


def test_content_loss_is_size_normalised():
    a = [torch.zeros(2, 4, 5, 5), torch.zeros(2, 8, 2, 2)]
    b = [torch.full((2, 4, 5, 5), 2.0), torch.full((2, 8, 2, 2), 1.0)]
    assert torch.allclose(content_loss(a, b), torch.tensor([2.5, 2.5]))
    assert torch.allclose(content_loss(a, b, layers=[1]), torch.tensor([1.0, 1.0]))


def test_forward_features_shapes_and_content_loss():
    net = load_identity_network()
    x = torch.rand(2, 3, 150, 150)
    emb, feats = net.forward_features(net.normalise(x))
    assert emb.shape == (2, 128) and len(feats) == len(FEATURE_NAMES)
    assert [tuple(f.shape[1:]) for f in feats] == [(32, 35, 35), (32, 35, 35), (64, 17, 17),
                                                    (128, 8, 8), (256, 4, 4), (256, 2, 2)]
    assert torch.allclose(emb, embed(x), atol=1e-6)
    assert content_loss(feats, feats).abs().max() == 0


def test_network_and_embed_shape_errors_fail():
    with pytest.raises(ShapeError, match="150"):
        embed(torch.rand(1, 3, 100, 100))
    with pytest.raises(ShapeError, match="floating"):
        embed(torch.zeros(1, 3, 150, 150, dtype=torch.uint8))
    with pytest.raises(ShapeError, match="uint8"):
        embed_chips(np.zeros((1, 150, 150, 3), np.float32))
    with pytest.raises(ShapeError, match="batch axis"):
        embed_chips(np.zeros((150, 150, 3), np.uint8))
    assert embed_chips(np.zeros((0, 150, 150, 3), np.uint8)).shape == (0, 128)


def _similar_landmarks(scale, angle, t):
    tmpl = _template(150, 0.25, torch.float64, "cpu")
    c, s = np.cos(angle), np.sin(angle)
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    lm = torch.zeros(68, 2, dtype=torch.float64)
    lm[list(USED_LANDMARKS)] = tmpl @ R.T * scale + torch.tensor(t, dtype=torch.float64)
    return lm[None]


def test_chip_transform_reference():
    # Landmarks that are an exact similarity of the template: the map sends chip centre
    # 74.5 to tform(75,75) and has scale (150*s - 1)/149, as dlib's rectangle does.
    scale, angle, t = 2.0, 0.3, (40.0, 25.0)
    m = chip_transform(_similar_landmarks(scale, angle, t))[0]
    c, s = np.cos(angle), np.sin(angle)
    k = (150 * scale - 1) / 149
    assert torch.allclose(m[:, :2], torch.tensor([[k * c, -k * s], [k * s, k * c]], dtype=torch.float64), atol=1e-9)
    centre = torch.tensor([[c, -s], [s, c]], dtype=torch.float64) @ torch.tensor([75.0, 75.0], dtype=torch.float64) * scale
    centre = centre + torch.tensor(t, dtype=torch.float64)
    assert torch.allclose(m @ torch.tensor([74.5, 74.5, 1.0], dtype=torch.float64), centre, atol=1e-9)


def test_chip_transform_gradcheck():
    lm = (_similar_landmarks(1.5, 0.1, (10.0, 5.0)) + 0.5 * torch.randn(1, 68, 2, dtype=torch.float64))
    lm.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: chip_transform(x, size=32), (lm,))


def test_cut_chips_identity_and_errors():
    # An image that is a linear ramp is reproduced exactly by bilinear sampling.
    lm = _similar_landmarks(1.0, 0.0, (5.0, 7.0))
    h, w = 200, 220
    yy, xx = torch.meshgrid(torch.arange(h, dtype=torch.float64), torch.arange(w, dtype=torch.float64), indexing="ij")
    img = torch.stack([xx, yy, xx + yy])[None] / 500
    chip = cut_chips(img, lm)
    m = chip_transform(lm)[0]
    p = m @ torch.tensor([10.0, 20.0, 1.0], dtype=torch.float64)
    assert torch.allclose(chip[0, :, 20, 10], torch.stack([p[0], p[1], p[0] + p[1]]) / 500, atol=1e-9)
    with pytest.raises(ShapeError, match="landmarks68"):
        cut_chips(img, torch.zeros(1, 5, 2, dtype=torch.float64))
    with pytest.raises(ShapeError, match="batch sizes"):
        cut_chips(img, torch.cat([lm, lm]))
