"""Self-visibility of a mesh (render.visibility, issue 12): known shapes, and shadows kept out of the albedo."""
import math

import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.ops.sh import ambient_coeffs, sh_shade
from facesculpt.render.visibility import (
    VisibilityConfig, fibonacci_directions, occluded_transfer, shade_with_visibility, visibility)


def _bowl(n_lat: int = 24, n_lon: int = 48):
    """Lower half of the unit sphere (z <= 0), open at z = 0: vertices (V, 3), faces (F, 3)."""
    verts = [[0.0, 0.0, -1.0]]
    for i in range(1, n_lat + 1):
        th = math.pi - 0.5 * math.pi * i / n_lat  # polar angle from +z: pi (bottom) .. pi/2 (rim)
        for j in range(n_lon):
            ph = 2 * math.pi * j / n_lon
            verts.append([math.sin(th) * math.cos(ph), math.sin(th) * math.sin(ph), math.cos(th)])
    faces = []
    for j in range(n_lon):
        faces.append([0, 1 + j, 1 + (j + 1) % n_lon])
    for i in range(n_lat - 1):
        a, b = 1 + i * n_lon, 1 + (i + 1) * n_lon
        for j in range(n_lon):
            k = (j + 1) % n_lon
            faces += [[a + j, b + j, b + k], [a + j, b + k, a + k]]
    return torch.tensor(verts, dtype=torch.float64), torch.tensor(faces)


def _ambient_fraction(O: torch.Tensor) -> torch.Tensor:
    """Shading of unit ambient light with visibility (1 = unoccluded)."""
    light = ambient_coeffs(1, dtype=torch.float64)
    base = torch.ones(1, O.shape[0], 3, dtype=torch.float64)
    return shade_with_visibility(base, O[None].double(), light)[0, :, 0]


def test_bowl_bottom_sees_its_opening_cosine_weighted():
    verts, faces = _bowl()
    # a point just above the bottom looks up at the rim circle (z = 0, radius 1) under a half
    # angle theta = atan(1 / 0.98); the cosine-weighted open fraction is sin^2(theta)
    p = torch.tensor([[0.0, 0.0, -0.98]], dtype=torch.float64)
    n = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    O = occluded_transfer(p, n, verts, faces, fibonacci_directions(512), resolution=256)
    expect = math.sin(math.atan(1 / 0.98)) ** 2
    assert abs(float(_ambient_fraction(O)[0]) - expect) < 0.04
    # a point on the rim looking up is not occluded at all, and its transfer is exactly 0
    p2 = torch.tensor([[0.0, 0.0, 0.5]], dtype=torch.float64)
    O2 = occluded_transfer(p2, n, verts, faces, fibonacci_directions(128))
    assert torch.equal(O2, torch.zeros_like(O2))


def test_plate_above_a_point_blocks_only_the_rays_that_hit_it():
    # a square plate x, y in [-1, 1] at z = 1 over a receiver at the origin facing +z
    plate = torch.tensor([[-1, -1, 1], [1, -1, 1], [1, 1, 1], [-1, 1, 1.0]], dtype=torch.float64)
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    p = torch.zeros(1, 3, dtype=torch.float64)
    n = torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)
    dirs = torch.tensor([[0.0, 0.0, 1.0], [0.5, 0.0, math.sqrt(0.75)], [0.8, 0.0, 0.6], [0.0, -0.8, 0.6],
                         [0.0, 0.0, -1.0]], dtype=torch.float64)
    vis = visibility(p, n, plate, faces, dirs)[0].tolist()
    # up: hits (0, 0, 1); 30 deg: hits x = 0.58; 53 deg: passes at x = 1.33 (open); below: open
    assert vis == [False, False, True, True, True]


def test_no_occluder_leaves_shading_unchanged_and_light_is_blocked_linearly():
    torch.manual_seed(0)
    nrm = torch.nn.functional.normalize(torch.randn(1, 50, 3), dim=-1)
    light = torch.randn(1, 9, 3) * 0.3
    light[:, 0] += 2.0
    s = sh_shade(nrm, light)
    assert torch.equal(shade_with_visibility(s, torch.zeros(1, 50, 9), light), s.clamp(min=0))
    O = torch.rand(1, 50, 9) * 0.1
    blocked = s - shade_with_visibility(s, O, light)
    assert torch.allclose(blocked, (O @ light).clamp(max=s), atol=1e-6)


def test_visibility_shape_errors_fail():
    with pytest.raises(ShapeError):
        visibility(torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(3, 3), torch.zeros(1, 3, dtype=torch.long),
                   fibonacci_directions(8))
    with pytest.raises(ValueError):
        fibonacci_directions(0)


def test_shadowed_region_does_not_darken_the_albedo():
    """A constant albedo rendered with the head's own shadows under a harsh side light and
    de-lit with the head's visibility comes back flat; de-lit without, it is darker in the shade."""
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.config import TextureConfig
    from facesculpt.face_model import fit_view
    from facesculpt.render.face import render_face
    from facesculpt.render.visibility import head_occluded_transfer
    from facesculpt.texture.unwrap import unwrap

    subj = Subject(0, size=256, uv_size=64, shadows=False)
    view = fit_view(subj.model)
    dense = view.render_verts(subj.head_verts)
    O = head_occluded_transfer(dense, view.dense_faces, subj.pose, VisibilityConfig())
    light = sh_light(*SCENE_LIGHTS["side"])
    alb = torch.full((1, 64, 64, 3), 0.4)
    with torch.no_grad():
        img = render_face(dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, alb, light,
                          occluded=O).image
    cfg = TextureConfig(size=128, mirror=False)
    on = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light, cfg, occluded=O)
    off = unwrap(img, dense, view.dense_faces, view.dense_uvs, subj.pose, subj.camera, light, cfg)
    # texels seen well whose light the head blocks by at least 20 %
    blocked = 1 - on.shading.mean(-1) / off.shading.mean(-1).clamp(min=1e-6)
    m = (on.visibility > 0.5) & (blocked > 0.2)
    assert int(m.sum()) > 50
    err_on = float((on.albedo[m] - 0.4).abs().mean())
    dark_off = float(0.4 - off.albedo[m].mean())
    assert err_on < 0.03
    assert dark_off > 0.08


def test_pipeline_keeps_the_transfer_for_the_in_view_metrics(grace_hopper):
    # with texture.visibility on, the in-view metrics render with the same occlusion the fit used
    import facesculpt
    from facesculpt.config import make_config

    rec = facesculpt.reconstruct(grace_hopper, config=make_config("fast", **{"texture.visibility.enabled": True}))
    assert rec.vis_transfer is not None
    assert rec.vis_transfer.shape == (1, rec.mesh.verts.shape[1], 9)
    assert "visibility" in rec.timings
    off = facesculpt.reconstruct(grace_hopper, preset="fast")
    assert off.vis_transfer is None and "visibility" not in off.timings


def test_sh_rotation_is_a_representation_of_the_rotations():
    from facesculpt.ops.sh import sh_basis, sh_rotation

    from scipy.spatial.transform import Rotation
    Q = torch.tensor(Rotation.from_rotvec([0.3, -0.7, 0.4]).as_matrix())
    P = torch.tensor(Rotation.from_rotvec([-0.5, 0.2, 0.9]).as_matrix())
    D = sh_rotation(Q)
    assert torch.allclose(D @ sh_rotation(Q.T), torch.eye(9, dtype=D.dtype), atol=1e-10)
    assert torch.allclose(sh_rotation(torch.eye(3, dtype=torch.float64)), torch.eye(9, dtype=torch.float64),
                          atol=1e-12)
    assert torch.allclose(sh_rotation(Q @ P), D @ sh_rotation(P), atol=1e-10)  # a representation
    n = torch.nn.functional.normalize(torch.randn(20, 3, dtype=torch.float64), dim=-1)
    assert torch.allclose(sh_basis(n @ Q.T), sh_basis(n) @ D.T, atol=1e-10)


def test_a_turned_meshs_transfer_is_its_rotated_transfer():
    # points inside a bowl (their shadowing depends on the bowl's direction), the bowl turned 40 deg:
    # re-rasterising the turned bowl and rotating the transfer agree to the quadrature's noise, and
    # both differ from the unturned transfer by far more
    from scipy.spatial.transform import Rotation

    from facesculpt.render.visibility import turn_transfer

    verts, faces = _bowl()
    p = torch.tensor([[0.0, 0.0, -0.9], [0.5, 0.0, -0.7], [0.0, -0.6, -0.6], [-0.4, 0.4, -0.75]],
                     dtype=torch.float64)
    n = torch.nn.functional.normalize(-p, dim=-1)  # facing the bowl's centre
    dirs = fibonacci_directions(1024)
    O = occluded_transfer(p, n, verts, faces, dirs, resolution=256)
    Q = torch.tensor(Rotation.from_rotvec([0.0, math.radians(40.0), 0.0]).as_matrix())
    O_turned = occluded_transfer(p @ Q.T, n @ Q.T, verts @ Q.T, faces, dirs, resolution=256)
    O_rot = turn_transfer(O, Q)
    err = float((O_rot - O_turned).abs().mean())
    assert err < 0.01
    assert float((O - O_turned).abs().mean()) > 5 * err
