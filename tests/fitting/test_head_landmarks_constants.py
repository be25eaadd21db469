"""The landmark stage's per-model constants (``fitting.head_landmarks._model_constants``): made once per model,
equal to computing them in the fit, and made again for another model."""
import dataclasses

import torch

from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT, load_face_model
from facesculpt.fitting.head_landmarks import _landmark_normals, _model_constants


def _fresh(model):
    dt = torch.float64
    eye_cb = torch.stack([model.identity_basis[:, torch.nonzero(model.vert_part == p)[:, 0]].to(dt).mean(1)
                          for p in (PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)], 1)
    return eye_cb, _landmark_normals(model, model.template.to(dt))


def test_constants_cached_per_model_and_equal_to_fresh():
    model = load_face_model()
    first = _model_constants(model)
    assert _model_constants(model) is first  # the same objects: made once
    for got, want in zip(first, _fresh(model)):
        assert torch.equal(got, want)
    assert first[0].shape == (model.num_identity, 2, 3) and first[1].shape == (len(model.landmarks["mediapipe"]), 3)
    # another model (its template turned upside down): its own constants, not the first model's
    other = dataclasses.replace(model, template=model.template * torch.tensor([1.0, -1.0, 1.0]))
    second = _model_constants(other)
    assert second is not first
    for got, want in zip(second, _fresh(other)):
        assert torch.equal(got, want)
    assert not torch.equal(second[1], first[1])
