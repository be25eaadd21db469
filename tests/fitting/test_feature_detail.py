"""The photometric stage's feature detail layer (``PhotometricFitConfig.feature_detail``): the lips' (and, if asked,
the brows', eyes', nose tip's) fine albedo held fixed from the initial unwrap, so the coarse albedo grid does not
leave the lips' edges for the shape to draw (docs/results.md, session 31)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from facesculpt.config import make_config, with_overrides
from facesculpt.core.errors import ConfigError
from facesculpt.face_model import load_face_model
from facesculpt.fitting.photometric_stage import FEATURE_PARTS, feature_detail, feature_uv_mask, render_view
from facesculpt.texture.occlusion import FEATURE_POINTS


def _uv_texel(model, group, size):
    """(k, 2) integer texel (x, y) of the mediapipe points of ``FEATURE_POINTS[group]`` in a size^2 face chart."""
    emb = model.landmarks["mediapipe"]
    idx = list(FEATURE_POINTS[group])
    tri_uv = model.uvs[model.face_uvs[emb.faces[idx]]]
    uv = (tri_uv * emb.bary[idx].to(tri_uv.dtype)[..., None]).sum(1).numpy()
    uv[:, 0] -= np.floor(uv[:, 0])
    return np.clip(np.stack([uv[:, 0] * size, (1 - uv[:, 1]) * size], -1).astype(int), 0, size - 1)


def test_the_mask_covers_the_parts_asked_for_and_not_the_others():
    model = load_face_model()
    S = 128
    lips = feature_uv_mask(model, S, 0.02, ("lips",))[0].numpy()
    every = feature_uv_mask(model, S, 0.02, ("brows", "eyes", "lips", "nose"))[0].numpy()
    for x, y in _uv_texel(model, FEATURE_PARTS["lips"][0], S):
        assert lips[y, x] == 1.0
    for g in FEATURE_PARTS["brows"]:
        pts = _uv_texel(model, g, S)
        assert lips[pts[:, 1], pts[:, 0]].max() == 0.0  # the brows are far from the lips
        assert every[pts[:, 1], pts[:, 0]].min() == 1.0
    assert 0.0 < lips.mean() < every.mean() < 0.25  # a small share of the chart
    assert np.all((lips >= 0) & (lips <= 1))
    # grown: a wider reach covers more, with a fall-off between 0 and 1
    wide = feature_uv_mask(model, S, 0.05, ("lips",))[0].numpy()
    assert wide.sum() > lips.sum() and np.any((wide > 0) & (wide < 1))
    with pytest.raises(ConfigError, match="unknown part"):
        feature_uv_mask(model, S, 0.02, ("ears",))


def test_the_layer_is_the_fine_albedo_on_the_features_and_one_elsewhere():
    model = load_face_model()
    g = torch.Generator().manual_seed(0)
    base = torch.full((1, 256, 256, 3), 0.3)
    fine = base * (1.0 + 0.5 * (torch.rand(1, 256, 256, 3, generator=g) - 0.5))  # texel-scale variation
    d = feature_detail(fine, model, 32, 128, 0.02, 4.0, ("lips",))
    m = feature_uv_mask(model, 128, 0.02, ("lips",))[0]
    assert d.shape == (1, 128, 128, 3)
    assert torch.allclose(d[0][m == 0], torch.ones(1))  # off the features: no detail
    inside = d[0][m == 1]
    assert inside.std() > 0.05  # on them: the fine variation the 32 grid cannot hold
    # a plain albedo has no detail anywhere; the ratio is clamped to the limit
    assert torch.allclose(feature_detail(base, model, 32, 128, 0.02, 4.0, ("lips",)), torch.ones(1), atol=1e-5)
    spiky = base.clone()
    spiky[0, ::8, ::8] = 1.0
    assert float(feature_detail(spiky, model, 32, 128, 0.02, 1.5, ("lips",)).max()) <= 1.5 + 1e-5


def test_the_layer_fades_where_the_initial_unwrap_saw_little():
    model = load_face_model()
    g = torch.Generator().manual_seed(1)
    fine = 0.3 * (1.0 + 0.5 * (torch.rand(1, 64, 64, 3, generator=g) - 0.5))
    full = feature_detail(fine, model, 32, 128, 0.05, 4.0, ("lips",))
    assert torch.allclose(feature_detail(fine, model, 32, 128, 0.05, 4.0, ("lips",), seen=torch.ones(1, 64, 64)), full)
    assert torch.allclose(feature_detail(fine, model, 32, 128, 0.05, 4.0, ("lips",), seen=torch.zeros(1, 64, 64)),
                          torch.ones(1))
    half = feature_detail(fine, model, 32, 128, 0.05, 4.0, ("lips",), seen=torch.full((1, 64, 64), 0.5))
    assert torch.allclose(half - 1.0, 0.5 * (full - 1.0), atol=1e-6)


def test_render_view_multiplies_the_detail_into_the_texture():
    model = load_face_model()
    from facesculpt.face_model import fit_view
    from facesculpt.structures import Camera, Pose

    view = fit_view(model)
    verts = view.render_verts(model.template[None])
    pose = Pose(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 60.0]]))
    cam = Camera(torch.tensor([400.0]), torch.tensor([[64.0, 64.0]]), (128, 128))
    low = torch.full((1, 32, 32, 3), 0.5)
    light = torch.zeros(1, 9, 3)
    light[0, 0] = 3.0
    bg = torch.zeros(1, 128, 128, 3)
    detail = torch.full((1, 128, 128, 3), 0.5)
    _, tex = render_view(verts, view.dense_faces, view.dense_uvs, pose, cam, low, light, 128, bg, True, False)
    _, tex_d = render_view(verts, view.dense_faces, view.dense_uvs, pose, cam, low, light, 128, bg, True, False,
                           detail=detail)
    assert torch.allclose(tex_d, tex * 0.5)


def test_the_parts_are_a_list_of_any_length_in_the_config():
    cfg = with_overrides(make_config("default"), **{"photometric.feature_detail_parts": ["lips", "brows"]})
    assert cfg.photometric.feature_detail_parts == ("lips", "brows")
    with pytest.raises(ConfigError):
        with_overrides(make_config("default"), **{"photometric.feature_detail_parts": [1, 2]})


def test_the_pipeline_records_the_turn_and_uses_the_layer_on_a_frontal_face_only():
    """grace_hopper faces the camera (stage 1's head turns 5-10 degrees): the layer is used under the default
    ``feature_detail_max_turn`` and not under a smaller one; the fit differs only through it."""
    import os

    import facesculpt
    from facesculpt.io.image import load_image

    img = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
    sets = {"photometric.iterations": 4, "detail.enabled": False, "identity_metrics": False}
    on = facesculpt.reconstruct(img, config=make_config("default", **sets))
    rec = on.losses["photometric"]["feature_detail"]
    assert rec["applied"] and 0.0 < rec["turn_deg"] < make_config("default").photometric.feature_detail_max_turn
    held = facesculpt.reconstruct(img, config=make_config(
        "default", **sets, **{"photometric.feature_detail_max_turn": rec["turn_deg"] * 0.5}))
    assert held.losses["photometric"]["feature_detail"] == {"turn_deg": rec["turn_deg"], "applied": False}
    off = facesculpt.reconstruct(img, config=make_config("default", **sets, **{"photometric.feature_detail": False}))
    assert "feature_detail" not in off.losses["photometric"]
    assert torch.equal(held.head.identity, off.head.identity)  # not applied: the fit as without the layer
    assert not torch.equal(on.head.identity, off.head.identity)
