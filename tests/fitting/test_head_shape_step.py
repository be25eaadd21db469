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


def test_default_steps():
    fit = _fit()
    pc = make_config("default").photometric
    s = fit.step_scale(pc)
    assert s.shape == fit.init_params().shape
    # the identity coefficients step lr_identity (0.1 since session 8), the expressions lr_expression
    # (= lr_shape by default), the corrections lr_shape
    torch.testing.assert_close(s[0, :fit.K], torch.full((fit.K,), pc.lr_identity / pc.lr_shape, dtype=s.dtype))
    assert pc.lr_identity == 0.1 and pc.lr_expression == pc.lr_shape
    assert bool((s[0, fit.K:] == 1).all())


def test_expression_entries_take_their_own_step():
    fit = _fit()
    pc = dataclasses.replace(make_config("default").photometric, lr_expression=0.02, lr_shape=5e-3)
    s = fit.step_scale(pc)
    torch.testing.assert_close(s[0, fit.K:fit.K + fit.E], torch.full((fit.E,), 4.0, dtype=s.dtype))
    assert bool((s[0, fit.K + fit.E:] == 1).all())


def test_identity_entries_take_their_own_step():
    fit = _fit()
    pc = dataclasses.replace(make_config("default").photometric, lr_identity=0.05, lr_shape=5e-3)
    s = fit.step_scale(pc)
    torch.testing.assert_close(s[0, :fit.K], torch.full((fit.K,), 10.0, dtype=s.dtype))
    assert bool((s[0, fit.K:] == 1).all())
