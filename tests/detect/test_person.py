"""The photo's background from mediapipe's bundled person segmentation (``detect.person``), and its use in the
occluder mask (``texture.occlusion.background_pixels``)."""
import numpy as np
import pytest
import torch

from facesculpt.detect.person import BackgroundConfig, person_probability
from facesculpt.texture.occlusion import background_pixels


def test_person_probability_on_a_portrait(grace_hopper):
    p = person_probability(grace_hopper)
    assert p.shape == grace_hopper.shape[:2] and p.dtype == np.float32
    assert 0.0 <= float(p.min()) and float(p.max()) <= 1.0
    H, W = p.shape
    assert float(p[int(0.3 * H):int(0.4 * H), int(0.4 * W):int(0.6 * W)].mean()) > 0.9  # her face
    assert float(p[:int(0.1 * H), :int(0.1 * W)].mean()) < 0.1  # the flag behind her (top-left corner)


def test_person_probability_refuses_a_bad_array():
    with pytest.raises(ValueError, match="uint8"):
        person_probability(np.zeros((8, 8), np.uint8))


def _masks(n=64):
    face = torch.zeros(1, n, n, dtype=torch.bool)
    face[:, 16:48, 16:48] = True
    ring = torch.zeros_like(face)
    ring[:, 8:56, 8:56] = True
    ring &= ~face
    return face, ring


def test_background_pixels_in_the_outer_ring_only_and_grown_there():
    face, ring = _masks()
    bg = torch.zeros_like(face)
    bg[:, :, :12] = True  # background down the left: through the ring (columns 8-11), not the face
    cfg = BackgroundConfig(grow_frac=2 / 64)
    out = background_pixels(bg, face, face | ring, cfg)
    assert out[:, 8:56, 8:12].all()  # the ring's background
    assert out[:, 8:16, 12:14].all() and out[:, 48:56, 12:14].all()  # grown by 2 px inside the ring ...
    assert not out[:, :, 14:].any() and not (out & face).any()  # ... not further, and never into the face
    assert not out[:, :8].any() and not out[:, :, :8].any()  # never outside the judged area
    assert not background_pixels(bg, face, None, cfg).any()  # without the ring nothing is judged
    bg[:, 20:30, 14:20] = True  # background inside the narrow face: left to the colour test
    assert not (background_pixels(bg, face, face | ring, cfg) & face).any()


def test_background_over_much_of_the_face_is_not_trusted():
    face, ring = _masks()
    bg = torch.zeros_like(face)
    bg[:, :, :30] = True  # covers 14 of the face's 32 columns: 44 % of the face
    assert not background_pixels(bg, face, face | ring, BackgroundConfig(max_face_share=0.2)).any()
    assert background_pixels(bg, face, face | ring, BackgroundConfig(max_face_share=0.5)).any()


def test_pipeline_adds_the_background_around_the_head_to_the_mask(grace_hopper):
    """``fast`` on Grace Hopper with the background step on and off: it flags more of the crop, and what it
    adds is where the segmentation sees background (the flag beside her temple)."""
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all

    recs = {on: reconstruct_all(grace_hopper, config=make_config("fast", **{"texture.occlusion.background.enabled": on}),
                                max_faces=1)[0] for on in (False, True)}
    x0, y0, side, occ_on = recs[True].occluded
    occ_off = recs[False].occluded[3]
    added = occ_on & ~occ_off
    assert int(added.sum()) > 5 and not (occ_off & ~occ_on).any()  # it only adds (little: the colour test has most)
    assert "background" in recs[True].losses["occlusion"] and "background" not in recs[False].losses["occlusion"]
    # every added crop pixel is background by the segmentation, or within the grown margin of it
    from facesculpt.pipeline import _crop_mask
    from facesculpt.texture.occlusion import _dilate

    S = added.shape[-1]
    cfg = BackgroundConfig()
    bg = _crop_mask(person_probability(grace_hopper) < cfg.threshold, x0, y0, side, S)
    near = _dilate(bg, int(round(cfg.grow_frac * S)) + 1)[0]
    assert bool(near[added].all())
