"""The detail stage: texel normals of a displaced surface, and a synthetic case where shape from
shading recovers a known displacement better than the coarse (smooth) geometry."""
import math

import pytest
import torch
import torch.nn.functional as F

from facesculpt.core.errors import ConfigError
from facesculpt.detail.config import DetailConfig
from facesculpt.detail.sfs import TexelFrames, detail_normals, solve_displacement, vertex_uv_jacobians
from facesculpt.ops.sh import AMBIENT_BASIS, sh_shade


def _plane(S, width_cm=10.0):
    """A frontal plane: u -> +x, v -> +y, normal +z, ``width_cm`` per UV unit."""
    n = torch.zeros(1, S, S, 3)
    n[..., 2] = 1
    du = torch.zeros(1, S, S, 3)
    du[..., 0] = width_cm
    dv = torch.zeros(1, S, S, 3)
    dv[..., 1] = width_cm
    return TexelFrames(n, du, dv, torch.ones(1, S, S, dtype=torch.bool), torch.zeros(1, S, S, dtype=torch.long))


def test_detail_normals_of_a_ramp():
    S, W = 32, 10.0
    fr = _plane(S, W)
    j = (torch.arange(S) + 0.5) / S
    slope = 0.5  # cm of d per cm along x
    d = (slope * W * j)[None, None].expand(1, S, S).clone()
    n = detail_normals(d, fr)[0, 5:-5, 5:-5]
    expect = F.normalize(torch.tensor([-slope, 0.0, 1.0]), dim=0)
    assert torch.allclose(n, expect.expand_as(n), atol=1e-4)
    # v grows upwards (towards row 0)
    dv = (slope * W * (1 - (torch.arange(S) + 0.5) / S))[None, :, None].expand(1, S, S).clone()
    n = detail_normals(dv, fr)[0, 5:-5, 5:-5]
    expect = F.normalize(torch.tensor([0.0, -slope, 1.0]), dim=0)
    assert torch.allclose(n, expect.expand_as(n), atol=1e-4)


def test_vertex_uv_jacobians_of_a_scaled_square():
    verts = torch.tensor([[[0.0, 0, 0], [4, 0, 0], [4, 2, 0], [0, 2, 0]]])
    faces = torch.tensor([[0, 1, 2], [0, 2, 3]])
    uvs = torch.tensor([[0.0, 0], [1, 0], [1, 1], [0, 1]])
    pu, pv = vertex_uv_jacobians(verts, faces, uvs)
    assert torch.allclose(pu, torch.tensor([4.0, 0, 0]).expand_as(pu))
    assert torch.allclose(pv, torch.tensor([0.0, 2, 0]).expand_as(pv))


def _side_light():
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1 / AMBIENT_BASIS
    light[:, 3] = 0.8  # from +x
    light[:, 1] = 0.4  # from +y
    return light


def _mad(n, n_true):
    return math.degrees(torch.acos((n * n_true).sum(-1).clamp(-1, 1)).mean())


@pytest.mark.parametrize("pyramid", [1, 4])
def test_sfs_beats_flat_geometry_on_a_known_bump(pyramid):
    torch.manual_seed(0)
    S, W = 64, 6.0
    fr = _plane(S, W)
    yy, xx = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    # two creases (Gaussian cross-section), depth 0.06 cm, sigma 2.5 texels
    d_true = -0.06 * (torch.exp(-((yy - 22) ** 2) / (2 * 2.5**2)) + torch.exp(-((xx - 40) ** 2) / (2 * 2.5**2)))
    d_true = d_true[None]
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1 / AMBIENT_BASIS
    light[:, 3] = 0.8  # from +x
    light[:, 1] = 0.4  # from +y
    albedo = torch.full((1, S, S, 3), 0.6)
    n_true = detail_normals(d_true, fr)
    texture = albedo * sh_shade(n_true, light)
    albedo0 = texture / sh_shade(fr.normal, light)  # what the texture stage hands over
    cfg = DetailConfig(enabled=True, lr_displacement=0.004, w_low=0.0, w_symmetry=0.0, albedo_blur=64,
                       w_laplacian=0.0005, w_albedo_smooth=20.0, pyramid_levels=pyramid)
    res = solve_displacement(texture, torch.ones(1, S, S), albedo0, light, fr, torch.ones(1, S, S), cfg, iterations=150)

    def mad(n):
        return math.degrees(torch.acos((n * n_true).sum(-1).clamp(-1, 1)).mean())

    coarse, detail = mad(fr.normal), mad(res.normal)
    assert detail < 0.75 * coarse, (coarse, detail)
    assert res.losses["data"] < 0.5 * res.losses["data_start"]  # the photometric residual went down
    assert torch.corrcoef(torch.stack([res.displacement.flatten(), d_true.flatten()]))[0, 1] > 0.5



@pytest.mark.parametrize("levels, skip", [(0, 0), (3, 3), (3, -1)])
def test_bad_pyramid_settings_fail(levels, skip):
    S = 8
    fr = _plane(S)
    with pytest.raises(ConfigError, match="pyramid"):
        solve_displacement(torch.full((1, S, S, 3), 0.5), torch.ones(1, S, S), torch.full((1, S, S, 3), 0.5),
                           _side_light(), fr, torch.ones(1, S, S), DetailConfig(pyramid_levels=levels, pyramid_skip=skip),
                           iterations=1)


def _band_fake_relief(band_colour, **cfg) -> float:
    """Fake relief (mean normal angle, degrees) next to the edges of an albedo band (rows 28-36,
    ``band_colour`` on a 0.7 grey skin) on a flat surface under a side light; ``cfg``: DetailConfig
    fields on top of the enabled stage without block-mean pull and symmetry."""
    S, W = 64, 6.0
    fr = _plane(S, W)
    albedo = torch.full((1, S, S, 3), 0.7)
    albedo[:, 28:36] = torch.as_tensor(band_colour, dtype=torch.float32)
    light = _side_light()
    texture = albedo * sh_shade(fr.normal, light)
    albedo0 = texture / sh_shade(fr.normal, light)
    ones = torch.ones(1, S, S)
    near = torch.zeros(S, dtype=torch.bool)
    near[24:32] = near[32:40] = True  # the texels around the two edges (28 and 36)
    res = solve_displacement(texture, ones, albedo0, light, fr, ones,
                             DetailConfig(enabled=True, w_low=0.0, w_symmetry=0.0, **cfg), iterations=60)
    return _mad(res.normal[:, near], fr.normal[:, near])


def test_edge_term_keeps_albedo_edges_out_of_the_relief():
    # a sharp coloured band (a lip outline): any relief is fake
    red = [0.45, 0.25, 0.25]
    without, with_edge = _band_fake_relief(red, w_edge=0.0), _band_fake_relief(red, w_edge=100.0)
    assert without > 0.05, without  # the blurred albedo start does leak the edge into the relief
    assert with_edge < 0.8 * without, (without, with_edge)


def test_log_step_edges_keep_grey_albedo_marks_out_of_the_relief():
    # a grey band (a brow: same chromaticity as the skin, half as bright): the chromaticity edges
    # cannot see it, the log-albedo steps can
    grey = [0.35, 0.35, 0.35]
    without, with_step = _band_fake_relief(grey, edge_log_step=0.0), _band_fake_relief(grey, edge_log_step=0.1)
    assert without > 0.05, without
    assert with_step < 0.8 * without, (without, with_step)  # measured: 0.16 -> 0.11 deg


def test_clipped_channels_only_bound_the_prediction():
    """A photo whose red channel is clipped at 1 on the lit side, and the true albedo and flat
    geometry as the start: with ``saturation`` 1 the clipped texels, which the truth over-shoots,
    cost nothing (the start fits the photo exactly, and the stage keeps it flat); taking the clipped
    values as colours (``saturation`` > 1) makes the true start look wrong and puts relief there."""
    S, W = 64, 6.0
    fr = _plane(S, W)
    light = _side_light()
    n = fr.normal.clone()
    n[..., 0] = torch.linspace(-0.5, 0.5, S)[None, None, :]  # a cylinder-like sweep of normals across u
    n = F.normalize(n, dim=-1)
    fr = TexelFrames(n, fr.du, fr.dv, fr.inside, fr.face)
    albedo = torch.tensor([1.05, 0.7, 0.6]).expand(1, S, S, 3).contiguous()
    texture = (albedo * sh_shade(n, light)).clamp(max=1.0)
    assert 0.1 < float((texture[..., 0] >= 1.0).float().mean()) < 0.9
    ones = torch.ones(1, S, S)
    out = {}
    for sat in (1.0, 1.01):
        cfg = DetailConfig(enabled=True, w_low=0.0, w_symmetry=0.0, albedo_blur=512, saturation=sat)
        res = solve_displacement(texture, ones, albedo, light, fr, ones, cfg, iterations=30)
        out[sat] = (res.losses["data_start"], _mad(res.normal, n))
    assert out[1.0][0] < 1e-7, out
    assert out[1.01][0] > 1e-5, out
    assert out[1.0][1] < 0.7 * out[1.01][1], out


def _blurred_pores(data_blur: float) -> tuple[float, float]:
    """(coarse, detail) normal MAD of fine random relief (sigma 1 texel) whose photo is the
    prediction blurred like a pixel footprint (Gaussian, 0.6 texels); the stage run with ``data_blur``."""
    from facesculpt.detail.sfs import _resize  # noqa: F401  (the module's own helpers stay importable)

    g = torch.Generator().manual_seed(3)
    S, W = 64, 6.0
    fr = _plane(S, W)
    noise = torch.randn(1, 1, S, S, generator=g)
    k = torch.exp(-torch.arange(-3, 4, dtype=torch.float32).pow(2) / 2)
    k = k / k.sum()
    d_true = F.conv2d(F.conv2d(F.pad(noise, (3, 3, 3, 3), mode="reflect"), k.view(1, 1, 1, -1)), k.view(1, 1, -1, 1))[:, 0]
    d_true = 0.004 * d_true / d_true.std()
    light = _side_light()
    albedo = torch.full((1, S, S, 3), 0.6)
    n_true = detail_normals(d_true, fr)
    sharp = albedo * sh_shade(n_true, light)
    kb = torch.exp(-torch.arange(-2, 3, dtype=torch.float32).pow(2) / (2 * 0.6**2))
    kb = (kb / kb.sum())
    t = F.pad(sharp.permute(0, 3, 1, 2), (2, 2, 2, 2), mode="replicate")
    t = F.conv2d(F.conv2d(t, kb.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3), kb.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
    texture = t.permute(0, 2, 3, 1)
    albedo0 = texture / sh_shade(fr.normal, light)
    cfg = DetailConfig(enabled=True, w_low=0.0, w_symmetry=0.0, w_edge=0.0, albedo_blur=64, w_laplacian=0.0005,
                       w_albedo_smooth=20.0, data_blur=data_blur)
    res = solve_displacement(texture, torch.ones(1, S, S), albedo0, light, fr, torch.ones(1, S, S), cfg, iterations=150)
    return _mad(fr.normal, n_true), _mad(res.normal, n_true)


def test_data_blur_models_the_pixel_footprint():
    """A photo blurred by its pixels: comparing it with the prediction blurred alike (``data_blur``)
    finds the fine relief better than comparing it with the sharp prediction."""
    coarse, blurred = _blurred_pores(0.6 * 512 / 64)  # data_blur is in texels of a 512 map
    _, sharp = _blurred_pores(0.0)
    assert blurred < sharp, (coarse, blurred, sharp)
    assert blurred < 0.8 * coarse, (coarse, blurred)


def test_chroma_weights_keep_a_grey_crease_in_the_relief():
    """With the albedo smoothness weighted by chromaticity, a crease's grey shading baked into the
    coarse albedo still comes back as relief (the textbook case, as the default weights do)."""
    S, W = 64, 6.0
    fr = _plane(S, W)
    yy, xx = torch.meshgrid(torch.arange(S) + 0.5, torch.arange(S) + 0.5, indexing="ij")
    d_true = (-0.06 * torch.exp(-((xx - 40) ** 2) / (2 * 2.5**2)))[None]
    light = _side_light()
    albedo = torch.tensor([0.7, 0.5, 0.4]).expand(1, S, S, 3).contiguous()
    n_true = detail_normals(d_true, fr)
    texture = albedo * sh_shade(n_true, light)
    albedo0 = texture / sh_shade(fr.normal, light)
    out = {}
    for weights in ("albedo", "chroma"):
        cfg = DetailConfig(enabled=True, w_low=0.0, w_symmetry=0.0, albedo_blur=3, w_laplacian=0.0005,
                           w_albedo_smooth=20.0, albedo_weights=weights, chroma_alpha=30.0)
        res = solve_displacement(texture, torch.ones(1, S, S), albedo0, light, fr, torch.ones(1, S, S), cfg, iterations=100)
        out[weights] = _mad(res.normal, n_true)
    coarse = _mad(fr.normal, n_true)
    assert out["chroma"] < 0.75 * coarse, (coarse, out)
    assert out["chroma"] < out["albedo"], (coarse, out)


def test_unknown_albedo_weights_fail():
    S = 8
    fr = _plane(S)
    with pytest.raises(ConfigError, match="albedo_weights"):
        solve_displacement(torch.full((1, S, S, 3), 0.5), torch.ones(1, S, S), torch.full((1, S, S, 3), 0.5),
                           _side_light(), fr, torch.ones(1, S, S), DetailConfig(albedo_weights="grey"), iterations=1)


@pytest.mark.parametrize("key, value", [("detail.albedo_weights", "grey"), ("detail.data_blur", -0.5),
                                        ("detail.saturation", 3.0)])
def test_bad_detail_overrides_fail(key, value):
    from facesculpt.config import make_config

    with pytest.raises(ConfigError, match=key.split(".")[1]):
        make_config("full", **{key: value})
