"""The unwrap's seen area (issue 10, session 5): no holes of zero confidence inside the seen face, and the
completion leaves every seen texel's colour alone."""
from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from facesculpt.config import TextureConfig
from facesculpt.face_model import fit_view, load_face_model
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import face_pose
from facesculpt.texture.completion import CLASS_OUTSIDE, texel_classes
from facesculpt.texture.head import texel_mirror_grid
from facesculpt.texture.unwrap import unwrap

S = 256


@pytest.fixture(scope="module")
def head():
    model = load_face_model()
    view = fit_view(model)
    verts = model.vertices(model.zero_params())
    return model, view, verts


def _scene(head, yaw: float, size: int = 320):
    model, view, verts = head
    pose, cam, _ = face_pose(model, verts, yaw, 0.0, 0.0, np.zeros(2), SyntheticConfig(size=size))
    dense = view.render_verts(verts)
    light = torch.zeros(1, 9, 3)
    light[:, 0] = 1.0 / 0.886227  # ambient light of level 1 (AMBIENT_BASIS x coefficient)
    image = torch.full((1, size, size, 3), 0.5)
    return view, dense, pose, cam, light, image


def _unwrap(scene, cfg: TextureConfig, valid=None, classes=None):
    view, dense, pose, cam, light, image = scene
    return unwrap(image, dense, view.dense_faces, view.dense_uvs, pose, cam, light, cfg, valid,
                  mirror_grid=texel_mirror_grid(view.fill, cfg.size), classes=classes)


def _holes(conf: torch.Tensor, inside: torch.Tensor) -> int:
    """Zero-confidence chart texels whose 8 neighbours all have confidence >= 0.5."""
    seen = (conf >= 0.5).float()[None, None]
    nb = torch.nn.functional.avg_pool2d(seen, 3, 1, 1)[0, 0] * 9
    return int(((conf == 0) & inside & (nb >= 8 - 1e-4)).sum())


@pytest.mark.parametrize("yaw", [0.0, 30.0])
def test_no_zero_confidence_texel_inside_the_seen_face(head, yaw):
    """A face seen through an all-valid mask (the pipeline always passes one: the openings, the occluders):
    the bilinear sample of four valid pixels sums to 1 only up to rounding, and an exact test made ~1.4 % of
    the seen texels zero-confidence holes (salt noise); none may remain."""
    scene = _scene(head, yaw)
    view = scene[0]
    cfg = TextureConfig(size=S)
    H, W = scene[3].image_size
    valid = torch.ones(1, H, W, dtype=torch.bool)
    conf = _unwrap(scene, cfg, valid).visibility[0]
    inside = texel_classes(view, S) != CLASS_OUTSIDE
    assert int((conf >= 0.5).sum()) > 0.2 * int(inside.sum())
    assert _holes(conf, inside) == 0
    # the same with no mask at all: the mask changes nothing where it is all valid
    assert torch.equal(conf, _unwrap(scene, cfg, None).visibility[0])


def test_completion_leaves_every_seen_texel_alone(head):
    """A turned face with a photo of texture (noise): every chart texel with confidence above ``keep_from``
    (0.05), grazing ones included, keeps its de-lit photo colour through the completion (before: texels
    below the ``seen`` confidence were blended with the mirror and the fill); the unseen ones are filled."""
    view, dense, pose, cam, light, _ = scene = _scene(head, 30.0)
    g = torch.Generator().manual_seed(3)
    image = (0.45 + 0.1 * torch.rand(1, *cam.image_size, 3, generator=g)).clamp(0, 1)
    scene = (view, dense, pose, cam, light, image)
    cls = texel_classes(view, S)
    inside = cls != CLASS_OUTSIDE
    cfg = TextureConfig(size=S)
    done = _unwrap(scene, cfg, classes=cls)
    # the de-lit photo as the unwrap samples it (inside the chart ``texture`` is the photo's colour; the
    # light is ambient of level 1, so the shading floor is ``shading_floor``)
    raw = (done.texture / done.shading.clamp(min=cfg.shading_floor)).clamp(0, 1)
    conf = done.visibility[0]
    own = (conf > cfg.completion.keep_from) & inside
    assert int(((conf > cfg.completion.keep_from) & (conf < 0.5) & inside).sum()) > 500  # grazing texels
    assert torch.allclose(done.albedo[0][own], raw[0][own], atol=1e-6)
    unseen = (conf == 0) & inside
    assert int(unseen.sum()) > 1000 and float(done.albedo[0][unseen].min()) > 0.02
    # the earlier blend changed the grazing texels
    old = _unwrap(scene, dataclasses.replace(cfg, completion=dataclasses.replace(cfg.completion, keep_photo=False)),
                  classes=cls)
    grazing = (conf > cfg.completion.keep_from) & (conf < 0.5) & inside
    assert float((old.albedo[0][grazing] - raw[0][grazing]).abs().max()) > 1e-3


def test_the_fill_meets_the_seen_border_without_a_step(head):
    """The last seen texels (grazing) keep their own colour, which the fill's low-pass of the well-seen
    texels does not know: with ``rim`` the unseen texels next to them start at their colour."""
    from facesculpt.texture.completion import CompletionConfig, complete_face_albedo

    view = head[1]
    cls = texel_classes(view, S)
    inside = cls != CLASS_OUTSIDE
    jj = torch.arange(S)[None, :].expand(S, S)
    # seen: the left 40 % of the chart, its last 12 columns grazing (low confidence) and 30 % brighter
    conf = torch.where(jj < int(0.4 * S), torch.ones(S, S), torch.zeros(S, S))
    rim = (jj >= int(0.4 * S) - 12) & (jj < int(0.4 * S))
    conf = torch.where(rim, torch.full_like(conf, 0.2), conf)[None]
    albedo = torch.full((1, S, S, 3), 0.4)
    albedo = torch.where(rim[None, ..., None], albedo * 1.3, albedo)
    beside = (jj >= int(0.4 * S)) & (jj < int(0.4 * S) + 2) & (cls == 0)
    last = (jj >= int(0.4 * S) - 2) & (jj < int(0.4 * S)) & (cls == 0)
    steps = {}
    for r in (0.0, CompletionConfig().rim):
        out = complete_face_albedo(albedo, conf, cls, CompletionConfig(rim=r, detail_gain=0.0))
        kept = (conf[0] > CompletionConfig().keep_from) & inside
        assert torch.equal(out[0][kept], albedo[0][kept])
        steps[r] = float(out[0][beside].log().mean() - out[0][last].log().mean())
    assert abs(steps[CompletionConfig().rim]) < 0.5 * abs(steps[0.0]), steps
    assert abs(steps[0.0]) > 0.1, steps
