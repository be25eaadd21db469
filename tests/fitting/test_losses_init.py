import torch

from facesculpt.fitting.initialize import similarity_procrustes
from facesculpt.fitting.losses import inlier_weights, landmark_loss, robust_photo_loss, uv_symmetry
from facesculpt.fitting.shape_models import PCAShapeModel
from facesculpt.metrics.image import psnr, ssim
from facesculpt.ops.image import push_pull_fill
from facesculpt.ops.rotations import rotvec_to_matrix


def test_procrustes_recovers_similarity():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(100, 3, generator=g, dtype=torch.float64)
    R = rotvec_to_matrix(torch.tensor([0.3, -0.5, 0.2], dtype=torch.float64))
    dst = 2.5 * src @ R.T + torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64)
    s, R2, t = similarity_procrustes(src, dst)
    assert abs(float(s) - 2.5) < 1e-9
    assert torch.allclose(R2, R, atol=1e-9)
    assert torch.allclose(t, torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64), atol=1e-9)


def test_inlier_weights_reject_occluder():
    target = torch.full((1, 20, 20, 3), 0.5)
    render = target + 0.01 * torch.randn(1, 20, 20, 3, generator=torch.Generator().manual_seed(1))
    render[:, :5, :5] = 1.0  # an occluder: large residual
    mask = torch.ones(1, 20, 20, dtype=torch.bool)
    w = inlier_weights(render, target, mask, 3.0)
    assert w[:, :5, :5].sum() == 0
    assert w[:, 10:, 10:].mean() > 0.95
    # and the robust loss ignores it
    assert robust_photo_loss(render, target, w) < 0.02 < robust_photo_loss(render, target, mask.float())


def test_landmark_loss_and_symmetry():
    a = torch.zeros(1, 3, 2)
    b = torch.ones(1, 3, 2)
    assert float(landmark_loss(a, b, 2.0)) == 0.5
    t = torch.rand(1, 8, 8, 3)
    assert float(uv_symmetry(t + t.flip(2))) < 1e-12 < float(uv_symmetry(t))


def test_pca_shape_model_interface():
    mean = torch.zeros(5, 3)
    bases = torch.eye(15).reshape(15, 5, 3)[:2]
    m = PCAShapeModel(mean, bases, torch.tensor([2.0, 1.0]))
    p = m.init_params(1)
    assert m.vertices(p).shape == (1, 5, 3)
    v = m.vertices(torch.tensor([[1.0, 0.0]]))
    assert float(v[0, 0, 0]) == 2.0
    assert float(m.regularizer(torch.tensor([[1.0, 1.0]]), 0.0, 1.0)) == 2.0


def test_metrics_reference():
    a = torch.zeros(1, 16, 16, 3)
    b = torch.full((1, 16, 16, 3), 0.1)
    assert abs(psnr(a, b) - 20.0) < 1e-4
    assert abs(ssim(a, a) - 1.0) < 1e-6
    x = torch.rand(1, 32, 32, 3, generator=torch.Generator().manual_seed(0))
    assert ssim(x, x.flip(1)) < 0.3


def test_push_pull_keeps_seen_and_fills_smoothly():
    v = torch.zeros(1, 32, 32, 3)
    v[:, :, :16] = 1.0
    w = torch.zeros(1, 32, 32)
    w[:, :, :8] = 1.0
    w[:, :, 24:] = 1.0  # right part seen with value 0
    out = push_pull_fill(v, w)
    assert torch.allclose(out[:, :, :8], v[:, :, :8])
    mid = out[0, 16, 8:24, 0]
    assert (mid[1:] <= mid[:-1] + 1e-6).all()  # monotone ramp from 1 to 0 across the hole
    assert 0.2 < float(mid.mean()) < 0.8
