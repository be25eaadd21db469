"""The photometric stage on the morphable head keeps a synthetic head that starts at its truth near it.

Session 8 (docs/results.md, "the photometric stage refines the head's identity"): with session 7's identity
prior (1e-4 x sum(alpha^2)) and constant steps the stage walked a head started at its true pose, identity and
expression towards the mean face; with the shipped prior (1e-6) and the cosine step fall it stays near the truth.
"""
from __future__ import annotations

import pytest
import torch

from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.config import make_config
from facesculpt.detect.mediapipe_landmarker import detect_faces
from facesculpt.face_model import load_face_model
from facesculpt.pipeline import reconstruct_head
from facesculpt.synthetic.head import generate, head_config

FAST = {"detail.enabled": False, "photometric.iterations": 30, "photometric.render_size": 128,
        "texture.completion.enabled": False, "identity_metrics": False}
OLD = {"photometric.lr_schedule_head": "constant", "head_priors.w_identity": 1e-4}


@pytest.fixture(scope="module")
def face():
    return generate(2, head_config(size=320, yaw_max=20.0))


def _drift(face, **sets) -> float:
    torch.set_grad_enabled(True)
    model = load_face_model()
    det = detect_faces(face.image, max_faces=1)[0]
    h = face.head
    truth = type(h)(h.identity.float(), h.expression.float(), h.gaze.float(), None)
    rec = reconstruct_head(face.image, det, make_config("default", **FAST, **sets), fixed=(face.pose, truth))
    region = model.narrow_face
    return similarity_error_mm(rec.head_verts[0, region].detach(), face.head_verts[0, region].float())


def test_started_at_the_truth_the_head_stays_near_it(face):
    new = _drift(face)
    old = _drift(face, **OLD)
    print(f"drift from the truth: shipped {new:.3f} mm, session 7's prior {old:.3f} mm")
    assert new < 0.6
    assert old > new + 0.3
