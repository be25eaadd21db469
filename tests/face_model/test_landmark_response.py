"""mediapipe's measured response to the head's identity and expression (``head_landmarks.detector_response``,
``track.detector_response``): the packaged asset loads on its embedding, adds to the landmark model's bases
exactly, and says where mediapipe really moves its points on rendered heads better than the embedded surface
points do."""
from __future__ import annotations

import math

import numpy as np
import torch

from facesculpt.face_model import HeadParams, load_face_model


def test_asset_loads_on_the_packaged_embedding():
    model = load_face_model()
    emb = model.landmarks["mediapipe"]
    assert emb.response_identity is not None and emb.response_expression is not None
    assert emb.response_identity.shape == (model.num_identity, 478, 3)
    assert emb.response_expression.shape == (model.num_expression, 478, 3)
    assert bool(torch.isfinite(emb.response_identity).all()) and bool(torch.isfinite(emb.response_expression).all())
    # a measured response, not zeros: jawOpen's moves the points by millimetres per unit weight
    assert float(emb.response_expression[model.expression_names.index("jawOpen")].norm(dim=-1).max()) > 0.1


def test_detector_bases_add_the_response_exactly():
    model = load_face_model()
    emb = model.landmarks["mediapipe"]
    m0, i0, e0 = model.landmark_model("mediapipe")
    m1, i1, e1 = model.landmark_model("mediapipe", response="both")
    m2, i2, e2 = model.landmark_model("mediapipe", response="expression")
    assert torch.equal(m0, m1) and torch.equal(m0, m2) and torch.equal(i0, i2)
    assert torch.allclose(i1 - i0, emb.response_identity, atol=1e-6)
    assert torch.allclose(e1 - e0, emb.response_expression, atol=1e-6) and torch.equal(e1, e2)
    g = torch.Generator().manual_seed(0)
    p = HeadParams(torch.randn(2, model.num_identity, generator=g), torch.rand(2, model.num_expression, generator=g),
                   torch.zeros(2, 2, 2))
    d = model.detector_offsets(p)
    want = torch.einsum("bk,knc->bnc", p.identity, i1 - i0) + torch.einsum("be,enc->bnc", p.expression, e1 - e0)
    assert d.shape == (2, 478, 3) and torch.allclose(d, want, atol=1e-5)
    want_e = torch.einsum("be,enc->bnc", p.expression, e1 - e0)
    assert torch.allclose(model.detector_offsets(p, response="expression"), want_e, atol=1e-5)
    assert float(model.detector_offsets(p, response="off").abs().max()) == 0.0
    assert float(model.detector_offsets(model.zero_params(1)).abs().max()) == 0.0


def test_unknown_response_mode_is_a_config_error():
    import pytest

    from facesculpt.core.errors import ConfigError

    with pytest.raises(ConfigError, match="detector response"):
        load_face_model().landmark_model("mediapipe", response="on")


def _shot(model, ident, expr, seed):
    """Detections (478, 2), projected embedded points, projected points + response (pixels) of a plain-skin
    head at yaw 10 (the measuring tool's kind of render, seeds outside its 40000+)."""
    from facesculpt.detect import detect_faces
    from facesculpt.synthetic import head as sh
    from facesculpt.synthetic.generator import base_skin_albedo, make_light

    hp = HeadParams(ident, torch.tensor(expr, dtype=torch.float32)[None], torch.zeros(1, 2, 2))
    with torch.no_grad():
        hv = model.vertices(hp)
    cfg = sh.head_config(size=512, uv_size=256, detail=False, head_levels=0, freckles=20)
    alb, _ = base_skin_albedo(np.random.default_rng(seed), 256)
    tex = sh.atlas(model, torch.as_tensor(alb)[None], (0.25, 0.18, 0.1))
    light = make_light(np.random.default_rng(seed + 1), cfg.light_strength)
    pose, cam, _ = sh.face_pose(model, hv, 10.0, 3.0, 0.0, np.zeros(2), cfg)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, 512, 512, 3).contiguous()
    verts, faces, uvs, vn, _ = sh.head_mesh(model, hv, None, 0)
    _, img = sh.render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=False)
    lm = detect_faces(np.rint(img[0].numpy() * 255).astype(np.uint8))[0]
    with torch.no_grad():
        P = model.points(hv, "mediapipe")
        bare = cam.project(pose.apply(P))[0].double()
        moved = cam.project(pose.apply(P + model.detector_offsets(hp)))[0].double()
    return lm.points[:, :2].double(), bare, moved


def test_response_predicts_how_mediapipe_moves_its_points():
    """Three heads rendered neutral and with jawOpen 0.5, a half smile and raised inner brows, both run
    through mediapipe: the detections' move is predicted better by the embedded points plus the response
    than by the embedded points alone (mean miss over the 478 points, pixels; measured 3.49 -> 3.11)."""
    model = load_face_model()
    names = model.expression_names
    e = np.zeros(model.num_expression)
    for n, w in (("jawOpen", 0.5), ("mouthSmile_L", 0.7), ("browInnerUp_L", 0.7), ("browInnerUp_R", 0.7)):
        e[names.index(n)] = w
    bare_miss, moved_miss = [], []
    for seed in (7, 8, 9):
        ident = torch.tensor(np.random.default_rng(seed).standard_normal(model.num_identity), dtype=torch.float32)[None]
        d0, b0, m0 = _shot(model, ident, np.zeros(model.num_expression), seed)
        d1, b1, m1 = _shot(model, ident, e, seed)
        moved = d1 - d0
        bare_miss.append(float((moved - (b1 - b0)).norm(dim=1).mean()))
        moved_miss.append(float((moved - (m1 - m0)).norm(dim=1).mean()))
    assert np.mean(moved_miss) < 0.95 * np.mean(bare_miss), (bare_miss, moved_miss)


def test_debiased_landmarks_take_out_the_projected_response():
    """With a camera, the photometric stage's landmark target also loses the response at the head: x, y move by
    the view bias plus proj(X + R d) - proj(X)."""
    from facesculpt.fitting.landmark_bias import landmark_bias
    from facesculpt.fitting.regress_init import debiased_landmarks
    from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
    from facesculpt.structures import Camera, Landmarks, Pose

    model = load_face_model()
    emb = model.landmarks["mediapipe"]
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ euler_yxz_to_matrix(math.radians(20.0), math.radians(5.0))
    pose = Pose(matrix_to_rotvec(R[None]).float(), torch.tensor([[0.0, 0.0, 60.0]]))
    cam = Camera(torch.tensor([900.0]), torch.tensor([[256.0, 256.0]]), (512, 512))
    e = torch.zeros(1, model.num_expression)
    e[0, model.expression_names.index("jawOpen")] = 0.6
    head = HeadParams(torch.full((1, model.num_identity), 0.3), e, torch.zeros(1, 2, 2))
    pts = torch.rand(478, 3, generator=torch.Generator().manual_seed(0)) * 300
    lm = Landmarks(pts, torch.tensor([0.0, 0.0, 250.0, 300.0]), (512, 512))
    plain = debiased_landmarks(lm, model, pose, head, cam)  # response "off": the view bias alone
    out = debiased_landmarks(lm, model, pose, head, cam, "both")
    with torch.no_grad():
        P = model.points(model.vertices(head), "mediapipe")
        X = pose.apply(P)[0].double()
        shift = (cam.project(pose.apply(P + model.detector_offsets(head))) - cam.project(pose.apply(P)))[0].double()
    off = landmark_bias(emb.bias, emb.bias_limits, pose.matrix()[0].double(), X.mean(0)) * 300.0
    assert torch.allclose(out.points[:, :2].double(), pts[:, :2].double() - off - shift, atol=1e-3)
    assert torch.allclose(plain.points[:, :2].double(), pts[:, :2].double() - off, atol=1e-3)
    assert float(shift.norm(dim=-1).mean()) > 0.5  # the response moves the points by pixels here


def test_landmark_stage_fits_with_the_response():
    """Points placed where the measured response says mediapipe puts them for a known expression: the landmark
    stage with ``detector_response="expression"`` finds the weights; "off" reads the under-moved points as a
    weaker, different expression (the wiring of the setting through ``fit_head_landmarks``; summed weight error
    measured 0.97 against 2.92)."""
    from dataclasses import replace

    from facesculpt.face_model import fit_view
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
    from facesculpt.fitting.initialize import initialize
    from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
    from facesculpt.structures import Camera, Landmarks, Pose

    model = load_face_model()
    names = model.expression_names
    e = torch.zeros(1, model.num_expression)
    for n, w in (("jawOpen", 0.5), ("mouthSmile_L", 0.6), ("mouthSmile_R", 0.6), ("browInnerUp_L", 0.7)):
        e[0, names.index(n)] = w
    head = HeadParams(torch.zeros(1, model.num_identity), e, torch.zeros(1, 2, 2))
    R = torch.diag(torch.tensor([1.0, -1.0, -1.0])) @ euler_yxz_to_matrix(math.radians(10.0), math.radians(3.0))
    pose = Pose(matrix_to_rotvec(R[None]).float(), torch.tensor([[0.0, 0.0, 55.0]]))
    cam = Camera(torch.tensor([900.0]), torch.tensor([[256.0, 256.0]]), (512, 512))
    with torch.no_grad():
        P = model.points(model.vertices(head), "mediapipe") + model.detector_offsets(head, response="expression")
        X = pose.apply(P)[0]
    uv = cam.project(X[None])[0]
    z = X[:, 2] * 900.0 / 55.0
    lm = Landmarks(torch.cat([uv, (z - z.mean())[:, None]], 1), torch.cat([uv.min(0).values, uv.max(0).values]),
                   (512, 512))
    _, pose0, cam0 = initialize(lm, fit_view(model).canonical)
    cfg = HeadLandmarkConfig(view_bias=False, fit_identity=False, iterations=30)
    errs = {}
    for mode in ("expression", "off"):
        _, fitted, _ = fit_head_landmarks(lm, model, pose0, cam0, replace(cfg, detector_response=mode))
        errs[mode] = float((fitted.expression - e).abs().sum())
    assert errs["expression"] < 0.5 * errs["off"], errs
