"""Sliding contour points in the landmark fit (``head_landmarks.slide_contours``, session 36).

mediapipe spaces its eyelid and lip points along the curve it sees; the model's points are fixed on the surface.
With sliding on, the error of a contour point along the detected curve counts ``slide_weight`` times as much as
the error across it."""
from __future__ import annotations

import math

import pytest
import torch

from facesculpt.core.errors import ConfigError
from facesculpt.face_model import HeadParams, fit_view, load_face_model
from facesculpt.fitting.head_landmarks import (
    CONTOUR_CORNERS,
    EYE_LEFT_LOOP,
    HeadLandmarkConfig,
    contour_frames,
    fit_head_landmarks,
)
from facesculpt.fitting.initialize import initialize
from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
from facesculpt.structures import Camera, Landmarks, Pose


@pytest.fixture(scope="module")
def model():
    return load_face_model()


@pytest.fixture(scope="module")
def scene(model):
    """A head with a half-closed left eye and a smile, turned 20 degrees; its 478 projected points."""
    g = torch.Generator().manual_seed(11)
    names = list(model.expression_names)
    ident = torch.randn(1, model.num_identity, generator=g) * 0.8
    expr = torch.zeros(1, model.num_expression)
    expr[0, names.index("eyeBlink_L")] = 0.5
    expr[0, names.index("mouthSmile_L")] = 0.4
    truth = HeadParams(ident, expr, torch.zeros(1, 2, 2))
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ euler_yxz_to_matrix(math.radians(20), math.radians(5))
    pose = Pose(matrix_to_rotvec(R[None]).float(), torch.tensor([[0.5, -1.0, 65.0]]))
    cam = Camera(torch.tensor([1400.0]), torch.tensor([[500.0, 500.0]]), (1000, 1000))
    X = pose.apply(model.points(model.vertices(truth), "mediapipe"))
    uv = cam.project(X)[0]
    z = (X[0, :, 2] - X[0, :, 2].mean()) * 1400.0 / 65.0
    return truth, torch.cat([uv, z[:, None]], 1)


def _landmarks(pts):
    return Landmarks(pts, torch.cat([pts[:, :2].min(0).values, pts[:, :2].max(0).values]), (1000, 1000))


def _fit(model, pts, start=None, **kw):
    lm = _landmarks(pts)
    _, pose0, cam0 = initialize(_landmarks(pts if start is None else start), fit_view(model).canonical)
    cfg = HeadLandmarkConfig(view_bias=False, **kw)
    check: list = []
    pose, head, _ = fit_head_landmarks(lm, model, pose0, cam0, cfg, _jacobian_check=check)
    return pose, head, check


def test_contour_frames_rotate_only_the_contour_points(scene):
    """Off gives no transform; each sliding point's rows are the contour's unit normal and slide_weight x its unit
    tangent; corners and every other point keep the identity; an unknown set is refused."""
    _, pts = scene
    assert contour_frames(pts[:, :2].double(), "off", 0.2) is None
    assert contour_frames(pts[:, :2].double(), "", 0.2) is None
    M = contour_frames(pts[:, :2].double(), "lids,lips,brows", 0.3)
    eye = torch.eye(2, dtype=M.dtype)
    for i in CONTOUR_CORNERS + (1, 4, 468, 477, 70, 107, 46, 55, 300, 336):  # corners, brow ends, others
        assert torch.equal(M[i], eye)
    for i in (159, 386, 13, 14, 0, 17, 105, 334):
        assert not torch.equal(M[i], eye)
    assert torch.equal(contour_frames(pts[:, :2].double(), "lids", 0.3)[105], eye)
    i = EYE_LEFT_LOOP[4]  # 374, the lower lid's middle
    assert not torch.equal(M[i], eye)
    assert abs(float(M[i, 0].norm()) - 1.0) < 1e-12 and abs(float(M[i, 1].norm()) - 0.3) < 1e-12
    assert abs(float(M[i, 0] @ M[i, 1])) < 1e-12
    # the tangent is along the detected contour (its neighbours' chord)
    chord = pts[EYE_LEFT_LOOP[5], :2] - pts[EYE_LEFT_LOOP[3], :2]
    assert abs(float(torch.nn.functional.cosine_similarity(M[i, 1].float(), chord, dim=0)).__abs__() - 1.0) < 1e-6
    with pytest.raises(ConfigError):
        contour_frames(pts[:, :2].double(), "lids,eyebrows", 0.2)
    with pytest.raises(ConfigError):
        contour_frames(pts[:, :2].double(), "lids_lips", 0.2)


def test_sliding_fit_has_the_autodiff_jacobian_and_weight_one_is_off(model, scene):
    """The written-out Jacobian of the sliding residuals equals forward-mode autodiff at every iteration, and a
    slide weight of 1 (a rotation of each error) fits exactly as without sliding."""
    _, pts = scene
    _, h_slide, check = _fit(model, pts, slide_contours="lids,lips,brows", slide_weight=0.2)
    assert len(check) >= 4 and all(d < 1e-8 * max(1.0, m) for d, m in check)
    _, h_off, _ = _fit(model, pts, slide_contours="off")
    _, h_one, _ = _fit(model, pts, slide_contours="lids,lips,brows", slide_weight=1.0)
    assert torch.allclose(h_one.expression, h_off.expression, atol=1e-5)
    assert torch.allclose(h_one.identity, h_off.identity, atol=1e-4)
    assert not torch.allclose(h_slide.expression, h_off.expression, atol=1e-5)


def test_a_lid_point_moved_along_the_contour_barely_moves_a_free_sliding_fit(model, scene):
    """The lower lid's middle point displaced 3 px along the detected lid: with slide_weight 0 the weights move by
    under a fifth of what they move in a fixed-point fit (off). (Not by zero: the neighbours' tangents are taken
    through the moved point.) Both fits start from the clean points' initial pose."""
    _, pts = scene
    moved = pts.clone()
    i = EYE_LEFT_LOOP[4]
    tang = pts[EYE_LEFT_LOOP[5], :2] - pts[EYE_LEFT_LOOP[3], :2]
    moved[i, :2] += 3.0 * tang / tang.norm()
    _, h_clean, _ = _fit(model, pts, slide_contours="lids", slide_weight=0.0)
    _, h_moved, _ = _fit(model, moved, start=pts, slide_contours="lids", slide_weight=0.0)
    _, o_clean, _ = _fit(model, pts, slide_contours="off")
    _, o_moved, _ = _fit(model, moved, start=pts, slide_contours="off")
    slid = float((h_moved.expression - h_clean.expression).abs().max())
    fixed = float((o_moved.expression - o_clean.expression).abs().max())
    print(f"largest weight change: sliding {slid:.5f}, fixed points {fixed:.5f}")
    assert fixed > 1e-3
    assert slid < 0.2 * fixed


def test_the_setting_is_checked_when_the_config_is_made():
    """A bad group name or slide weight is refused by ``make_config`` (the CLI's one-line error), and the names the
    config accepts are the fit's groups."""
    from facesculpt.config import make_config
    from facesculpt.core.config_values import _LIST_CHOICES
    from facesculpt.fitting.head_landmarks import SLIDE_GROUPS

    assert set(_LIST_CHOICES["slide_contours"]) == set(SLIDE_GROUPS)
    cfg = make_config("fast", **{"head_landmarks.slide_contours": "lids,brows"})
    assert cfg.head_landmarks.slide_contours == "lids,brows"
    for bad in ("lids,nose", "lids_lips"):
        with pytest.raises(ConfigError):
            make_config("fast", **{"head_landmarks.slide_contours": bad})
    with pytest.raises(ConfigError):
        make_config("fast", **{"head_landmarks.slide_weight": 1.5})
