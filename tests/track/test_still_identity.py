"""``track.still_identity``: the texture frame's photometric stage refines the clip's identity."""
from __future__ import annotations

import dataclasses

import pytest

from facesculpt.bench.clip import clip_still_identity, make_clip
from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.config import make_config
from facesculpt.face_model import load_face_model
from facesculpt.fitting.head_track import TrackConfig, track_landmarks


@pytest.fixture(scope="module")
def tracked():
    clip = make_clip(1, "motion", frames=24, rendered=True)
    cfg = make_config("fast")
    track = track_landmarks(clip.landmarks, load_face_model(), clip.fps, cfg.head_landmarks, TrackConfig())
    return clip, track


def _identity_error(model, identity, truth) -> float:
    zero = model.zero_params()
    a = model.vertices(dataclasses.replace(zero, identity=identity.float()))[0, model.narrow_face]
    b = model.vertices(dataclasses.replace(zero, identity=truth.float()))[0, model.narrow_face]
    return similarity_error_mm(a.detach(), b.detach())


def test_still_identity_moves_only_the_identity_and_lowers_its_error(tracked):
    clip, track = tracked
    model = load_face_model()
    refined = clip_still_identity(clip, 1, track)
    assert (refined.expression == track.expression).all() and (refined.rotvec == track.rotvec).all()
    before = _identity_error(model, track.identity, clip.identity)
    after = _identity_error(model, refined.identity, clip.identity)
    print(f"clip identity error {before:.3f} -> {after:.3f} mm")
    assert after < before - 0.1
