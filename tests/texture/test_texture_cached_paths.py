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
