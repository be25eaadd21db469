"""The fast paths of the head textures against slow references: the gutter from a cached plan
against the 3 x 3 convolution it replaced, the quantiles by selection against ``torch.quantile``,
and the head shape model's per-model parts built once."""
import torch
import torch.nn.functional as F

from facesculpt.texture.head import _fill_outside, _gutter_plan, _quantiles


def _gutter_reference(img, inside, gutter=4):
    """The gutter by convolutions (the implementation before the cached plan), before push-pull."""
    v = (img * inside[..., None]).permute(0, 3, 1, 2)
    m = inside[:, None].to(img.dtype)
    ones = torch.ones(1, 1, 3, 3, dtype=img.dtype)
    for _ in range(gutter):
        num = F.conv2d(v, ones.expand(v.shape[1], 1, 3, 3), padding=1, groups=v.shape[1])
        den = F.conv2d(m, ones, padding=1)
        grow = (den > 0) & (m == 0)
        v = torch.where(grow, num / den.clamp(min=1e-8), v)
        m = torch.where(grow, torch.ones_like(m), m)
    return v.permute(0, 2, 3, 1), m[:, 0]


def test_gutter_plan_matches_the_convolution():
    g = torch.Generator().manual_seed(3)
    S = 96
    yy, xx = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="ij")
    # two islands, one touching the map's border, plus speckle
    inside = (((yy - 40) ** 2 + (xx - 30) ** 2) < 400) | ((xx > 70) & (yy < 20)) | (torch.rand(S, S, generator=g) > 0.995)
    inside = inside[None]
    img = torch.rand(1, S, S, 3, generator=g)
    ref_v, ref_m = _gutter_reference(img, inside)
    plan = _gutter_plan(inside, 4)
    assert torch.equal(plan.mask.to(ref_m.dtype), ref_m)
    out = _fill_outside(img, inside)
    grown = ref_m[0] > 0
    assert torch.allclose(out[0][grown], ref_v[0][grown], atol=1e-6)
    assert torch.equal(out[0][inside[0]], img[0][inside[0]])
    assert _gutter_plan(inside.clone(), 4) is plan  # cached by the mask's content
    assert _gutter_plan(inside, 3) is not plan


def test_quantiles_by_selection_equal_torch_quantile():
    g = torch.Generator().manual_seed(0)
    for n in (1, 2, 7, 1000, 54321):
        x = torch.rand(n, generator=g)
        assert torch.equal(_quantiles(x, (0.25, 0.9)), torch.quantile(x, x.new_tensor([0.25, 0.9])))


def test_head_shape_parts_are_built_once_per_model_and_view():
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.fitting.head_shape import HeadShapeFit

    model = load_face_model()
    view = fit_view(model)
    h = HeadParams(torch.zeros(1, model.num_identity), torch.zeros(1, model.num_expression), torch.zeros(1, 2, 2))
    a, b = HeadShapeFit(model, view, h), HeadShapeFit(model, view, h)
    assert a.sub_id is b.sub_id and a.lap is b.lap
    p = a.init_params() + 0.1
    full = model.vertices(a.head_params(p))
    assert torch.allclose(a.head_vertices(p)[:, a.sub], full[:, a.sub], atol=1e-5)


def test_uv_interpolate_gives_the_bytes_of_interpolate():
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.render.interpolate import interpolate
    from facesculpt.texture.unwrap import uv_interpolate, uv_raster

    view = fit_view(load_face_model())
    uvr = uv_raster(view.dense_uvs, view.dense_faces, 128)
    attrs = torch.rand(1, view.dense_uvs.shape[0], 5, generator=torch.Generator().manual_seed(1))
    assert torch.equal(uv_interpolate(attrs, uvr), interpolate(attrs, uvr.frags, view.dense_faces))
    assert torch.equal(uv_interpolate(attrs[0], uvr), interpolate(attrs, uvr.frags, view.dense_faces))


def test_dilation_matches_max_pool():
    from facesculpt.texture.occlusion import _dilate, _erode

    def reference(m, r):
        k = 2 * r + 1
        x = F.max_pool2d(m.float()[:, None], (k, 1), stride=1, padding=(r, 0))
        return F.max_pool2d(x, (1, k), stride=1, padding=(0, r))[:, 0] > 0.5

    g = torch.Generator().manual_seed(5)
    for H, W, r in ((40, 57, 3), (30, 30, 20), (128, 96, 9), (5, 6, 1)):
        for p in (0.01, 0.2, 0.7):
            m = torch.rand(2, H, W, generator=g) < p
            assert torch.equal(_dilate(m, r), reference(m, r))
            assert torch.equal(_erode(m, r), ~reference(~m, r))


def _posed_head(size=200, yaw=25.0):
    import numpy as np

    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.synthetic.generator import SyntheticConfig
    from facesculpt.synthetic.head import face_pose

    model = load_face_model()
    view = fit_view(model)
    verts = model.vertices(model.zero_params())
    pose, cam, _ = face_pose(model, verts, yaw, 5.0, 0.0, np.zeros(2), SyntheticConfig(size=size))
    g = torch.Generator().manual_seed(1)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1.1
    light[:, 2] = 0.3  # some light from above
    return view, view.render_verts(verts), pose, cam, light, torch.rand(1, size, size, 3, generator=g)


def test_unwrap_and_render_with_the_view_geometry_made_once_give_the_same_bytes():
    """The pipeline makes the head's view geometry in the texture crop once (``view_geometry``) for the occluder
    mask's render and the unwrap, and the light fit once for its three uses: the results are the bytes of making
    them in each call."""
    import pytest

    from facesculpt.config import TextureConfig
    from facesculpt.core.errors import ShapeError
    from facesculpt.render.face import render_face
    from facesculpt.texture.unwrap import unwrap, view_geometry

    view, dense, pose, cam, light, image = _posed_head()
    cfg = TextureConfig(size=128)
    args = (image, dense, view.dense_faces, view.dense_uvs, pose, cam, light, cfg)
    geo = view_geometry(dense, view.dense_faces, view.dense_uvs, pose, cam, cfg.size)
    a, b = unwrap(*args), unwrap(*args, geometry=geo)
    for name in ("albedo", "texture", "visibility", "shading"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert float(a.visibility.max()) > 0.5  # the face was seen
    r0 = render_face(dense, view.dense_faces, view.dense_uvs, pose, cam, torch.ones(1, 8, 8, 3), light)
    r1 = render_face(dense, view.dense_faces, view.dense_uvs, pose, cam, torch.ones(1, 8, 8, 3), light, frags=geo.frags)
    assert torch.equal(r0.image, r1.image) and torch.equal(r0.mask, r1.mask) and bool(r0.mask.any())
    with pytest.raises(ShapeError):  # a geometry made for another chart size
        unwrap(image, dense, view.dense_faces, view.dense_uvs, pose, cam, light, TextureConfig(size=64), geometry=geo)


def test_light_fit_skin_texels_with_a_view_geometry_given_give_the_same_bytes():
    """``initial_linear_light`` makes its view geometry once and hands it to the skin texels, the clipped texels and
    the albedo's unwrap: the skin texels with it given are the bytes of the skin texels making their own."""
    from facesculpt.config import TextureConfig
    from facesculpt.texture.light import initial_linear_light, seen_skin_texels
    from facesculpt.texture.unwrap import texel_geometry, view_geometry

    view, dense, pose, cam, _, image = _posed_head(size=160)
    cfg = TextureConfig()
    light, albedo, weight = initial_linear_light(image, dense, view, pose, cam, cfg)
    assert float(weight.sum()) > 50
    # the skin texels without a geometry given make their own: the same normals and weights as with one
    geo = view_geometry(dense, view.dense_faces, view.dense_uvs, pose, cam, 64)
    _, m0, n0, s0, w0, k0 = seen_skin_texels(image, dense, view, pose, cam, cfg, 64)
    _, m1, n1, s1, w1, k1 = seen_skin_texels(image, dense, view, pose, cam, cfg, 64, geometry=geo)
    assert torch.equal(n0, n1) and torch.equal(w0, w1) and torch.equal(k0, k1) and torch.equal(m0.albedo, m1.albedo)
    ref = texel_geometry(dense, view.dense_faces, view.dense_uvs, pose, cam, 64)
    assert torch.equal(ref.normal_view.reshape(-1, 3), n1)


def test_light_fit_with_a_given_shape_takes_it_and_the_albedo_it_implies():
    """``initial_linear_light(shape=...)`` (a clip's views sharing the texture frame's light): the fitted shape given
    back returns the same light, albedo and weights; another shape is taken as given, and the albedo it implies
    differs where the shading does (brighter where that light is dimmer)."""
    from facesculpt.config import TextureConfig
    from facesculpt.texture.light import initial_linear_light

    view, dense, pose, cam, _, image = _posed_head(size=160)
    cfg = TextureConfig()
    light, albedo, weight = initial_linear_light(image, dense, view, pose, cam, cfg)
    again = initial_linear_light(image, dense, view, pose, cam, cfg, shape=light)
    assert torch.equal(again[0], light) and torch.allclose(again[1], albedo, atol=1e-6) and torch.equal(again[2], weight)
    flat = torch.zeros_like(light)
    flat[:, 0] = light[:, 0]  # the same ambient, no directional terms
    l2, a2, _ = initial_linear_light(image, dense, view, pose, cam, cfg, shape=flat)
    assert torch.equal(l2, flat)
    seen = weight[0] > 0
    assert float((a2[0][seen] - albedo[0][seen]).abs().max()) > 0.01


def test_glasses_line_responses_share_their_first_passes():
    """``texture.glasses._line_responses`` shares the axis-0 Gaussian passes of its five responses: the bytes of
    ``scipy.ndimage.gaussian_filter`` with each response's orders."""
    import numpy as np
    from scipy import ndimage

    from facesculpt.texture.glasses import _line_responses

    rng = np.random.default_rng(0)
    lum = rng.random((40, 64))
    seen = np.ones((40, 64), bool)
    L = np.log(np.clip(lum, 0.0, 1.0) + 0.03)
    for s, got in zip((1.0, 2.5), _line_responses(lum, seen, (1.0, 2.5))):
        ref = [ndimage.gaussian_filter(L, s, order=o) * (s * s if sum(o) == 2 else s)
               for o in ((0, 2), (1, 1), (2, 0), (0, 1), (1, 0))]
        assert all(np.array_equal(a, b) for a, b in zip(ref, got))
