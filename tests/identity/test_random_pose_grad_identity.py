"""``identity.random_pose_grad = "shape_no_identity"``: the random-view identity term moves the head's
expression and corrections but not its identity coefficients."""
from __future__ import annotations

import os

import pytest
import torch

import facesculpt
from facesculpt.config import make_config
from facesculpt.io.image import load_image


@pytest.fixture(scope="module")
def photo():
    return load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))


def _identity_change(photo, grad: str) -> float:
    # only the identity term acts on the shape: no photometric or landmark pull, no identity priors
    cfg = make_config("default", **{
        "identity.enabled": True, "identity.random_pose_grad": grad, "photometric.iterations": 3, "photometric.w_photo": 0.0,
        "photometric.w_landmark_head": 0.0, "head_priors.w_identity": 0.0, "head_priors.w_identity_stage1": 0.0,
        "photometric.lr_identity": 0.05, "texture.completion.enabled": False})
    stage1 = make_config("default", **{"photometric.enabled": False, "texture.completion.enabled": False})
    a = facesculpt.reconstruct(photo, config=cfg).head.identity
    b = facesculpt.reconstruct(photo, config=stage1).head.identity
    return float((a - b).abs().max())


def test_identity_coefficients_spared(photo):
    assert _identity_change(photo, "shape_no_identity") < 1e-6  # (the step scaling rounds at 3e-8)
    assert _identity_change(photo, "shape") > 1e-3
