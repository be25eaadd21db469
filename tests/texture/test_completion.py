"""Completion of unseen face-tile texels like skin (texture.completion, issue 12 item 4)."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from facesculpt.config import make_config
from facesculpt.face_model import fit_view, load_face_model
from facesculpt.texture.completion import (
    CLASS_BROW,
    CLASS_LIP,
    CLASS_OPENING,
    CLASS_OUTSIDE,
    CLASS_SKIN,
    CompletionConfig,
    _blur,
    complete_face_albedo,
    texel_classes,
)
from facesculpt.texture.head import texel_mirror_grid
from facesculpt.texture.unwrap import _sample_mirror, complete_albedo, mirror_side

S = 256


@pytest.fixture(scope="module")
def view():
    return fit_view(load_face_model())


@pytest.fixture(scope="module")
def scene(view):
    """A skin-like albedo with known detail (multiplicative lognormal noise of std 0.08 at two scales),
    brows and lips painted on the model's classes; the right half of the chart (u > 0.5) and a blob
    on the left cheek unseen. Half of the face seen: the mirror covers the right half except the
    blob's mirror image, which has neither."""
    cls = texel_classes(view, S)
    g = torch.Generator().manual_seed(1)
    base = torch.tensor([0.55, 0.38, 0.3])
    fine = torch.randn(1, 1, S, S, generator=g)
    mid = torch.nn.functional.interpolate(torch.randn(1, 1, S // 4, S // 4, generator=g), size=(S, S), mode="bilinear",
                                          align_corners=False)
    noise = (fine / fine.std() + mid / mid.std())[0, 0] * (0.08 / 2 ** 0.5)
    log_a = base.log()[None, None] + noise[..., None] * torch.tensor([1.0, 0.9, 0.8])
    log_a = torch.where((cls == CLASS_BROW)[..., None], log_a - 1.0, log_a)
    log_a = torch.where((cls == CLASS_LIP)[..., None], log_a + torch.tensor([-0.05, -0.5, -0.4]), log_a)
    albedo = log_a.exp().clamp(0, 1)[None]
    jj, ii = torch.meshgrid(torch.arange(S), torch.arange(S), indexing="xy")
    u = (jj + 0.5) / S
    v = 1 - (ii + 0.5) / S
    conf = (u < 0.5).float()
    blob = ((u - 0.3) ** 2 + (v - 0.45) ** 2) < 0.08 ** 2
    conf = torch.where(blob, torch.zeros_like(conf), conf)[None]
    return albedo, conf, cls, blob


def _hp(x: torch.Tensor) -> torch.Tensor:
    lum = (x[0] @ torch.tensor([0.299, 0.587, 0.114])).clamp(min=1e-3).log()[None, None]
    return (lum - _blur(lum, 3.0) / _blur(torch.ones_like(lum), 3.0))[0, 0]


def test_texel_classes_layout(view):
    cls = texel_classes(view, S)
    assert cls.shape == (S, S)
    for c in (CLASS_OUTSIDE, CLASS_SKIN, CLASS_BROW, CLASS_LIP, CLASS_OPENING):
        assert int((cls == c).sum()) > 20, c
    # brows above the lips (row 0 is v = 1), lips near the middle, both sides of the midline
    rows = lambda c: torch.nonzero(cls == c)[:, 0].float()
    cols = lambda c: torch.nonzero(cls == c)[:, 1].float()
    assert rows(CLASS_BROW).mean() < rows(CLASS_LIP).mean() - 0.1 * S
    assert abs(float(cols(CLASS_LIP).mean()) / S - 0.5) < 0.05
    assert float(cols(CLASS_BROW).min()) < 0.45 * S < 0.55 * S < float(cols(CLASS_BROW).max())
    assert texel_classes(view, S) is cls  # cached


def test_seen_texels_unchanged_and_everything_filled(view, scene):
    albedo, conf, cls, _ = scene
    out = complete_face_albedo(albedo, conf, cls, CompletionConfig())
    assert out.shape == albedo.shape and bool(torch.isfinite(out).all())
    assert float(out.min()) >= 0 and float(out.max()) <= 1
    # seen texels further than the feather strip (3 texels at 512: 1.5 at 256) from any unseen one
    unseen = (conf[0] < 1).float()[None, None]
    near = torch.nn.functional.max_pool2d(unseen, 11, 1, 5)[0, 0] > 0
    deep = (conf[0] >= 1) & ~near
    assert int(deep.sum()) > 1000
    assert torch.equal(out[0][deep], albedo[0][deep])
    # the unseen chart texels got skin, not zeros or a flat background
    hole = (conf[0] < 1) & (cls == CLASS_SKIN)
    assert float(out[0][hole].min()) > 0.02


def test_filled_texels_have_the_seen_skin_detail(view, scene):
    albedo, conf, cls, _ = scene
    # no mirror: the whole unseen half is synthesised (the hardest case)
    new = complete_face_albedo(albedo, conf, cls, CompletionConfig())
    old = complete_albedo(albedo, conf, mirror=False)
    interior = torch.nn.functional.avg_pool2d(((cls == CLASS_SKIN) & (conf[0] == 0)).float()[None, None], 15, 1, 7)
    fill = interior[0, 0] >= 1
    seen_skin = torch.nn.functional.avg_pool2d(((cls == CLASS_SKIN) & (conf[0] == 1)).float()[None, None], 15, 1, 7)
    seen = seen_skin[0, 0] >= 1
    ratio_new = float(_hp(new)[fill].std() / _hp(albedo)[seen].std())
    ratio_old = float(_hp(old)[fill].std() / _hp(albedo)[seen].std())
    assert ratio_old < 0.2  # the push-pull blur: no detail (what this replaces)
    assert 0.6 < ratio_new < 1.5, ratio_new
    # and the filled skin keeps the seen skin's colour (log mean within 0.1 per channel)
    d = new[0][fill].log().mean(0) - albedo[0][seen].log().mean(0)
    assert float(d.abs().max()) < 0.1, d


def test_unseen_lips_and_brows_keep_their_colour(view, scene):
    albedo, conf, cls, _ = scene
    out = complete_face_albedo(albedo, conf, cls, CompletionConfig())
    for c in (CLASS_BROW, CLASS_LIP):
        core = torch.nn.functional.avg_pool2d((cls == c).float()[None, None], 3, 1, 1)[0, 0] >= 1
        seen, hidden = core & (conf[0] == 1), core & (conf[0] == 0)
        assert int(hidden.sum()) > 5 and int(seen.sum()) > 5, c
        d = out[0][hidden].log().mean(0) - albedo[0][seen].log().mean(0)
        assert float(d.abs().max()) < 0.2, (c, d)


def test_mirror_colour_match_leaves_no_seam(view, scene):
    """The mirrored side 20 % darker (a light difference): with the match, the texels where the
    mirror takes over continue the seen side's brightness; without it they step down."""
    albedo, conf, cls, _ = scene
    grid = texel_mirror_grid(view.fill, S)
    jj = torch.arange(S)[None, :].expand(S, S)
    dark = torch.where((jj >= S // 2)[None, ..., None], albedo * 0.8, albedo)
    # seen: the left half, plus the right half's inner part (so both sides are seen near the midline)
    conf2 = ((jj < int(0.62 * S)).float())[None]
    am, wm = _sample_mirror(dark, conf2, grid)
    # the texels just inside and just beyond the seen edge (the match fades out further on)
    band_seen = (jj >= int(0.585 * S)) & (jj < int(0.61 * S)) & (cls == CLASS_SKIN)
    band_mirr = (jj >= int(0.625 * S)) & (jj < int(0.65 * S)) & (cls == CLASS_SKIN)
    steps = {}
    for match in (True, False):
        out = complete_face_albedo(dark, conf2, cls, CompletionConfig(mirror_match=match),
                                   mirror=(am, wm, mirror_side(grid, S)))
        steps[match] = float(out[0][band_mirr].log().mean() - out[0][band_seen].log().mean())
    assert abs(steps[True]) < 0.05, steps
    assert steps[False] > 0.15, steps  # the mirror source (left half) is 1/0.8 brighter


def test_mirror_side_splits_the_face_at_the_midline(view):
    grid = texel_mirror_grid(view.fill, S)
    side = mirror_side(grid, S)[0]
    cls = texel_classes(view, S)
    cols = torch.arange(S)[None, :].expand(S, S)
    skin = cls == CLASS_SKIN
    # the model's chart is laid out left/right about the middle: one half each
    assert float(side[skin & (cols < 0.45 * S)].float().mean()) > 0.95
    assert float(side[skin & (cols > 0.55 * S)].float().mean()) < 0.05


def test_deterministic_and_seeded(view, scene):
    albedo, conf, cls, _ = scene
    a = complete_face_albedo(albedo, conf, cls, CompletionConfig())
    b = complete_face_albedo(albedo, conf, cls, CompletionConfig())
    c = complete_face_albedo(albedo, conf, cls, CompletionConfig(seed=1))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(a[0][conf[0] >= 1][:10], c[0][conf[0] >= 1][:10])


def test_patch_detail_and_bad_method(view, scene):
    albedo, conf, cls, _ = scene
    out = complete_face_albedo(albedo, conf, cls, CompletionConfig(detail="patches"))
    fill = torch.nn.functional.avg_pool2d(((cls == CLASS_SKIN) & (conf[0] == 0)).float()[None, None], 15, 1, 7)[0, 0] >= 1
    assert float(_hp(out)[fill].std()) > 0.5 * float(_hp(albedo)[conf[0] == 1].std())
    with pytest.raises(ValueError, match="spectrum"):
        complete_face_albedo(albedo, conf, cls, CompletionConfig(detail="gan"))


def test_unwrap_path_uses_it_only_with_classes(view, scene):
    albedo, conf, cls, _ = scene
    cfg = CompletionConfig()
    plain = complete_albedo(albedo, conf, mirror=False, completion=cfg)  # no classes: as before
    assert torch.equal(plain, complete_albedo(albedo, conf, mirror=False))
    off = complete_albedo(albedo, conf, mirror=False, completion=dataclasses.replace(cfg, enabled=False), classes=cls)
    assert torch.equal(off, plain)
    on = complete_albedo(albedo, conf, mirror=False, completion=cfg, classes=cls)
    assert not torch.equal(on, plain)


def test_config_presets_and_override():
    assert make_config("default").texture.completion.enabled
    assert make_config("full").texture.completion.enabled
    assert not make_config("fast").texture.completion.enabled  # over its ~20 ms budget
    cfg = make_config("default", **{"texture.completion.detail_gain": 0.5})
    assert cfg.texture.completion.detail_gain == 0.5
    with pytest.raises(Exception):
        make_config("default", **{"texture.completion.detial_gain": 0.5})


def test_shape_mismatch_fails(view, scene):
    from facesculpt.core.errors import ShapeError

    albedo, conf, cls, _ = scene
    with pytest.raises(ShapeError, match="classes"):
        complete_face_albedo(albedo, conf, cls[:-1], CompletionConfig())
    with pytest.raises(ShapeError, match="conf"):
        complete_face_albedo(albedo, conf[..., :-1], cls, CompletionConfig())
