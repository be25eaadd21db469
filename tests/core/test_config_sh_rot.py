import math

import pytest
import torch

from facesculpt.config import PRESETS, make_config, with_overrides
from facesculpt.core.errors import ConfigError, ShapeError
from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec, rotvec_to_matrix
from facesculpt.ops.sh import AMBIENT_BASIS, ambient_coeffs, fit_sh, fit_sh_robust, sh_basis, sh_shade


def test_presets_exist_and_differ():
    assert set(PRESETS) >= {"fast", "default"}
    assert make_config("fast").photometric.enabled is False
    assert make_config("default").photometric.enabled is True


def test_override_nested_and_typo_fails():
    c = make_config("default", **{"photometric.iterations": 7}, max_faces=2)
    assert c.photometric.iterations == 7 and c.max_faces == 2
    with pytest.raises(ConfigError, match="photometrc"):
        make_config("default", photometrc=3)
    with pytest.raises(ConfigError, match="iteration"):
        with_overrides(c, **{"photometric.iteration": 3})
    with pytest.raises(ConfigError, match="unknown preset"):
        make_config("fastest")


def test_rotvec_roundtrip_and_reference():
    R = rotvec_to_matrix(torch.tensor([[0.0, 0.0, math.pi / 2]]))[0]
    assert torch.allclose(R @ torch.tensor([1.0, 0, 0]), torch.tensor([0.0, 1, 0]), atol=1e-6)
    r = torch.tensor([[0.3, -0.2, 0.1], [1e-9, 0, 0]])
    assert torch.allclose(matrix_to_rotvec(rotvec_to_matrix(r)), r, atol=1e-6)
    # yaw turns +Z (towards the viewer) towards +X
    assert euler_yxz_to_matrix(math.pi / 2)[0, 2] > 0.99


def test_rotvec_gradcheck_near_zero():
    r = torch.tensor([[1e-5, -2e-5, 3e-5]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rotvec_to_matrix, (r,))
    r = torch.tensor([[0.4, -0.1, 0.8]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rotvec_to_matrix, (r,))


def test_sh_ambient_and_reference_values():
    n = torch.nn.functional.normalize(torch.randn(1, 50, 3), dim=-1)
    assert torch.allclose(sh_shade(n, ambient_coeffs(1, 0.6)), torch.full((1, 50, 3), 0.6), atol=1e-6)
    # a light from +Z: coefficient on Y10 (index 2) brightens normals facing +Z only
    c = torch.zeros(1, 9, 3)
    c[0, 2] = 1.0
    up = sh_shade(torch.tensor([[[0.0, 0.0, 1.0]]]), c)
    down = sh_shade(torch.tensor([[[0.0, 0.0, -1.0]]]), c)
    expected = (2 * math.pi / 3) * math.sqrt(3 / (4 * math.pi))
    assert up[0, 0, 0] == pytest.approx(expected, rel=1e-6)
    assert down[0, 0, 0] == pytest.approx(-expected, rel=1e-6)
    assert AMBIENT_BASIS == pytest.approx(math.pi * 0.5 / math.sqrt(math.pi))


def test_fit_sh_recovers_light():
    n = torch.nn.functional.normalize(torch.randn(2000, 3, dtype=torch.float64), dim=-1)
    c = torch.randn(9, 3, dtype=torch.float64) * 0.3
    c[0] += 1.0
    col = sh_basis(n) @ c
    est = fit_sh(n, col, ridge=0.0)
    assert torch.allclose(est, c, atol=1e-8)


def test_sh_shape_error():
    with pytest.raises(ShapeError, match=r"expected shape \('B', 9, 3\)"):
        sh_shade(torch.zeros(1, 4, 3), torch.zeros(1, 4, 3))


def _cap_scene(seed: int = 0):
    """Normals on a face-like cap (n_z >= 0.45), a frontal light with directional/ambient 0.5,
    a constant albedo with 15 % dark 'brow/freckle' texels (albedo x 0.4)."""
    g = torch.Generator().manual_seed(seed)
    n = torch.nn.functional.normalize(torch.randn(6000, 3, generator=g, dtype=torch.float64), dim=-1)
    n = n * torch.sign(n[:, 2:3])
    n = n[n[:, 2] >= 0.45]
    light = ambient_coeffs(1, dtype=torch.float64)[0]
    a1 = sh_basis(torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64))[0, 1]
    direction = torch.tensor([0.2, 0.3, 1.0], dtype=torch.float64)
    light[1:4] = (0.5 * direction / direction.norm() / a1)[[1, 2, 0], None]
    albedo = torch.full((n.shape[0], 1), 0.6, dtype=torch.float64)
    albedo[torch.rand(n.shape[0], generator=g) < 0.15] *= 0.4
    return n, albedo * (sh_basis(n) @ light), light


def _dir_ratio(c):
    return float((c[1:4].norm(dim=0) / c[0]).mean())


def test_fit_sh_robust_keeps_the_directional_part():
    n, col, light = _cap_scene()
    est = fit_sh_robust(n, col)
    assert _dir_ratio(est) == pytest.approx(_dir_ratio(light), rel=0.02)
    # the plain ridge fit shrinks the directional part into the ambient term on such a cap
    assert _dir_ratio(fit_sh(n, col, ridge=1e-2)) < 0.75 * _dir_ratio(light)


def test_fit_sh_robust_shape_error():
    with pytest.raises(ShapeError, match="colors"):
        fit_sh_robust(torch.zeros(10, 3), torch.zeros(9, 3))


def test_pose_matrix_made_once_and_follows_in_place_changes():
    import copy
    import pickle

    from facesculpt.structures import Pose

    pose = Pose(torch.tensor([[0.1, -0.2, 0.3]]), torch.zeros(1, 3))
    a = pose.matrix()
    assert torch.equal(a, rotvec_to_matrix(pose.rotvec))
    b = pose.matrix()
    assert torch.equal(a, b) and a.data_ptr() != b.data_ptr()  # a copy each time: callers may write into it
    b.zero_()
    assert torch.equal(pose.matrix(), a)
    pose.rotvec.mul_(2.0)  # written in place: the version counter tells
    assert torch.allclose(pose.matrix(), rotvec_to_matrix(pose.rotvec))
    assert not torch.allclose(pose.matrix(), a)
    back = pickle.loads(pickle.dumps(pose))  # the cached matrix is not pickled (a version counter restarts at 0)
    assert "_matrix" not in back.__dict__ and torch.equal(back.matrix(), pose.matrix())
    assert torch.equal(copy.deepcopy(pose).matrix(), pose.matrix())
    r = torch.tensor([[0.1, -0.2, 0.3]], requires_grad=True)
    m = Pose(r, torch.zeros(1, 3)).matrix()  # with autograd: made every time, differentiable
    m.sum().backward()
    assert r.grad is not None and torch.isfinite(r.grad).all()
