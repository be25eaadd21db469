"""Hands out of the albedo (issue 12 item 3, session 5): the pipeline with the hand landmarker on."""
import numpy as np
import pytest


def _cfg(hands: bool, enabled: bool = True):
    from facesculpt.config import make_config

    return make_config("fast", **{"texture.occlusion.hands.enabled": hands, "texture.occlusion.enabled": enabled})


def _crop_share(rec, mask: np.ndarray) -> float:
    """Share of the photo pixels of ``mask`` (H, W) bool inside ``rec``'s texture crop that ``rec.occluded``
    flags (nearest crop pixel)."""
    x0, y0, side, occ = rec.occluded
    occ = occ.numpy()
    R = occ.shape[0]
    ys, xs = np.nonzero(mask)
    cx = np.floor((xs + 0.5 - x0) * R / side).astype(int)
    cy = np.floor((ys + 0.5 - y0) * R / side).astype(int)
    inside = (cx >= 0) & (cx < R) & (cy >= 0) & (cy < R)
    return float(occ[cy[inside], cx[inside]].mean())


def test_pasted_skin_hand_masked_and_kept_out_of_the_albedo(astronaut):
    """The benchmark's skin-coloured hand on the astronaut: >= 90 % of it is masked, and its texels'
    albedo loses the hand's structure (SSIM to the clean photo's albedo >= 0.1 higher than without the
    mask; 0.67 vs 0.51 when written) at no cost in PSNR. (PSNR cannot gain the issue's 2 dB here: a
    perfect mask reaches about the unmasked PSNR with ``fast``'s completion, docs/results.md.)"""
    from facesculpt.bench.occlusion import albedo_srgb8, compare, covered_texels, occluder
    from facesculpt.detect import detect_faces
    from facesculpt.pipeline import reconstruct_all

    lmk = detect_faces(astronaut, max_faces=1)[0]
    img, pasted = occluder(astronaut, lmk, "skin_hand")
    clean = reconstruct_all(astronaut, config=_cfg(False, enabled=False), max_faces=1)[0]
    on = reconstruct_all(img, config=_cfg(True), max_faces=1)[0]
    off = reconstruct_all(img, config=_cfg(False, enabled=False), max_faces=1)[0]
    assert on.losses["hands"]["count"] >= 1 and on.losses["hands"]["used"]
    assert _crop_share(on, pasted) >= 0.9
    region = covered_texels(clean, pasted)
    assert int(region.sum()) > 500
    ref = albedo_srgb8(clean)
    m_on, m_off = compare(albedo_srgb8(on), ref, region), compare(albedo_srgb8(off), ref, region)
    assert m_on["ssim"] >= m_off["ssim"] + 0.1
    assert m_on["psnr"] >= m_off["psnr"]


@pytest.mark.parametrize("photo,limit", [("astronaut", 0.11), ("grace_hopper", 0.10)])
def test_clean_photo_flags_little(photo, limit, request):
    """No hand on a clean photo, and the colour test flags < ``limit`` of the crop inside the narrow face (the
    outer ring's hair, cap and collar are flagged as well since session 13: the whole mask is more; Grace Hopper's
    glasses frames since session 16, so the glasses search is off here). The astronaut's share is her fringe over
    the forehead (hair, rightly flagged): how much of it lies inside the narrow face depends on how high the fitted
    forehead reaches under it (0.046 with the regressor weights before session 17, 0.070 with those of session 17,
    0.054 with today's, and 0.088 with session 26's hair rule, which takes the whole fringe rather than its darker
    strands; a mask that took her skin too would flag several times that)."""
    from dataclasses import replace

    from facesculpt.pipeline import reconstruct_all

    cfg = _cfg(True)
    occ_cfg = cfg.texture.occlusion
    cfg = replace(cfg, texture=replace(cfg.texture, occlusion=replace(occ_cfg, glasses=replace(occ_cfg.glasses,
                                                                                                enabled=False))))
    rec = reconstruct_all(request.getfixturevalue(photo), config=cfg, max_faces=1)[0]
    assert rec.losses["hands"]["count"] == 0
    occ = rec.losses["occlusion"]
    assert occ["face_fraction"] < limit


def test_hand_mask_over_most_of_the_face_is_not_trusted(grace_hopper, monkeypatch):
    """``pipeline._hands``: a "hand" covering more than ``max_fraction`` of the face box (the face taken for
    a hand) is reported but not used; a small one over the cheek is used."""
    import facesculpt.detect.hands as hands_mod
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.pipeline import _hands

    lmk = detect_faces(grace_hopper, max_faces=1)[0]
    x0, y0, x1, y1 = lmk.bbox.tolist()
    cx, cy, w = (x0 + x1) / 2, (y0 + y1) / 2, x1 - x0

    def fake(scale):
        pts = np.stack([np.linspace(-0.5, 0.5, 21), np.linspace(-0.5, 0.5, 21)[::-1]], -1) * scale * w
        pts[5], pts[17] = (-0.5 * scale * w, -0.2 * scale * w), (0.5 * scale * w, -0.2 * scale * w)  # palm width
        return [pts + np.array([cx, cy])]

    cfg = make_config("default")
    monkeypatch.setattr(hands_mod, "detect_hands", lambda img, box, c: fake(2.0))
    mask, info = _hands(grace_hopper, lmk, cfg, {})
    assert mask is None and info["count"] == 1 and not info["used"] and info["fraction"] > 0.6
    monkeypatch.setattr(hands_mod, "detect_hands", lambda img, box, c: fake(0.4))
    timings = {}
    mask, info = _hands(grace_hopper, lmk, cfg, timings)
    assert info["used"] and 0.02 < info["fraction"] < 0.6 and mask.shape == grace_hopper.shape[:2]
    assert "hands" in timings
    assert _hands(grace_hopper, lmk, make_config("fast"), {}) == (None, None)  # off in fast
