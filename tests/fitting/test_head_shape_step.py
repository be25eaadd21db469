"""The photometric stage's per-entry step on the head: identity coefficients step ``lr_identity``."""
from __future__ import annotations

import dataclasses

import torch

from facesculpt.config import make_config
from facesculpt.face_model import fit_view, load_face_model
from facesculpt.fitting.head_shape import HeadShapeFit


def _fit():
    model = load_face_model()
    return HeadShapeFit(model, fit_view(model), model.zero_params())


def test_default_steps_are_lr_shape_everywhere():
    fit = _fit()
    s = fit.step_scale(make_config("default").photometric)
    assert s.shape == fit.init_params().shape
    assert bool((s == 1).all())  # the default config optimises exactly as before the option existed


def test_identity_entries_take_their_own_step():
    fit = _fit()
    pc = dataclasses.replace(make_config("default").photometric, lr_identity=0.05, lr_shape=5e-3)
    s = fit.step_scale(pc)
    torch.testing.assert_close(s[0, :fit.K], torch.full((fit.K,), 10.0, dtype=s.dtype))
    assert bool((s[0, fit.K:] == 1).all())
