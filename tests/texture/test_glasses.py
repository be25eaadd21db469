"""Glasses frames found by their shape around the eyes (``texture.glasses``): the path search, the search
on drawn charts, and the pipeline on real photos (Grace Hopper's glasses; the astronaut without glasses,
and with a pair drawn on)."""
import numpy as np
import pytest
import torch

from facesculpt.texture.glasses import GlassesConfig, chart_lookup, find_glasses, ring_path

S = 256
EYES = np.array([[165.5, 72.4], [90.5, 72.4]])  # the face chart's eye centres at 256 texels


def _skin(seed=0):
    rng = np.random.default_rng(seed)
    base = np.array([0.62, 0.45, 0.38])
    return np.clip(base * (1 + 0.03 * rng.standard_normal((S, S, 1))), 0, 1)


def _draw_rims(img, colour=(0.12, 0.09, 0.08), width=2.5):
    yy, xx = np.mgrid[0:S, 0:S] + 0.5
    for cx, cy in EYES:
        u, v = (xx - cx) / 30.0, (yy - cy - 6.0) / 22.0
        q = (np.abs(u) ** 4 + np.abs(v) ** 4) ** 0.25
        rim = np.abs(q - 1) * 22.0 < width / 2
        img[rim] = colour
    return img


def test_ring_path_follows_a_ring_of_high_scores():
    K, M = 48, 20
    P = np.zeros((K, M))
    truth = (8 + 3 * np.sin(np.linspace(0, 2 * np.pi, K, endpoint=False))).round().astype(int)
    P[np.arange(K), truth] = 1.0
    P[5, 18] = 3.0  # one strong isolated answer far off the ring does not pull the path away for long
    path = ring_path(P, smooth=0.3)
    assert (path == truth).mean() > 0.85
    assert abs(int(path[0]) - int(path[-1])) <= 2  # closed


def test_drawn_rims_found_and_bare_skin_not():
    seen = np.ones((S, S), bool)
    cfg = GlassesConfig()
    bare = find_glasses(_skin(), seen, EYES, cfg)
    assert not bare.found and not bare.mask.any()
    assert max(bare.scores) < cfg.threshold
    img = _draw_rims(_skin())
    g = find_glasses(img, seen, EYES, cfg)
    assert g.found and min(g.scores) > cfg.threshold
    rim = (img == np.array([0.12, 0.09, 0.08])).all(-1)
    assert g.mask[rim].mean() > 0.8  # the rims are masked ...
    yy, xx = np.mgrid[0:S, 0:S] + 0.5
    far = ((xx - 128) ** 2 + (yy - 200) ** 2) < 30 ** 2  # ... the mouth region is not
    assert not g.mask[far].any()


def test_one_hidden_eye_is_not_judged():
    img = _draw_rims(_skin())
    seen = np.ones((S, S), bool)
    seen[:, :128] = False  # the image-left half of the chart unseen (a turned head)
    g = find_glasses(img, seen, EYES, GlassesConfig())
    assert not g.found and min(g.seen) < 0.8


def test_chart_lookup_and_shape_errors():
    mask = np.zeros((4, 4), bool)
    mask[0, 3] = True  # row 0 is v near 1, column 3 is u near 1
    uv = torch.tensor([[[[0.9, 0.9], [0.1, 0.1]]]])
    got = chart_lookup(mask, uv, torch.ones(1, 1, 2, dtype=torch.bool))
    assert got.tolist() == [[[True, False]]]
    with pytest.raises(ValueError):
        find_glasses(np.zeros((8, 8)), np.ones((8, 8), bool), EYES, GlassesConfig())


def _glasses_info(image, **overrides):
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all

    rec = reconstruct_all(image, config=make_config("fast", **overrides), max_faces=1)[0]
    return rec, rec.losses["occlusion"].get("glasses")


def test_pipeline_finds_grace_hoppers_glasses(grace_hopper):
    """Her glasses' dark upper rims are in the albedo without the search, out with it."""
    from facesculpt.bench.occlusion import albedo_srgb8

    rec_on, info = _glasses_info(grace_hopper)
    assert info["found"] and info["mask_fraction"] > 0.01
    rec_off, info_off = _glasses_info(grace_hopper, **{"texture.occlusion.glasses.enabled": False})
    assert info_off is None
    a_on, a_off = albedo_srgb8(rec_on), albedo_srgb8(rec_off)
    S_ = a_on.shape[-2]
    # the upper rims' band in the chart: above the eyes, between the eye centres' x +- 0.4 D
    band = (slice(int(0.22 * S_), int(0.265 * S_)), slice(int(0.25 * S_), int(0.75 * S_)))
    dark_on = float((a_on[0, band[0], band[1]].mean(-1) < 0.25).float().mean())
    dark_off = float((a_off[0, band[0], band[1]].mean(-1) < 0.25).float().mean())
    assert dark_off > 0.02 and dark_on < 0.5 * dark_off


def test_pipeline_astronaut_without_glasses_and_with_a_drawn_pair(astronaut):
    from facesculpt.bench.occlusion import occluder
    from facesculpt.detect import detect_faces

    _, info = _glasses_info(astronaut)
    assert not info["found"]
    img, _ = occluder(astronaut, detect_faces(astronaut, max_faces=1)[0], "glasses")
    _, info = _glasses_info(img)
    assert info["found"]


def test_before_fit_option_keeps_the_frames_out_of_the_fit_and_in_the_record(grace_hopper):
    """``before_fit``: the frames found on the landmark stage's head are invalid for the photometric fit, and the
    occluder record (what the metrics leave out) has them too."""
    from facesculpt.texture.occlusion import occluded_on_grid

    over = {"photometric.enabled": True, "photometric.iterations": 3, "texture.occlusion.glasses.before_fit": True}
    rec, info = _glasses_info(grace_hopper, **over)
    early = rec.losses["glasses_fit"]
    assert early["found"] and info["found"]
    rec_off, _ = _glasses_info(grace_hopper, **{**over, "texture.occlusion.glasses.before_fit": False})
    assert "glasses_fit" not in rec_off.losses
    H, W = grace_hopper.shape[:2]
    on = occluded_on_grid(rec.occluded, 0, 0, 1.0, (H, W))
    off = occluded_on_grid(rec_off.occluded, 0, 0, 1.0, (H, W))
    assert int(on.sum()) >= int(off.sum()) > 0
    # the metrics leave the frames out either way (without them in the record the render without glasses was
    # scored against the photo's frames: 20.7 dB against 29.2 dB in view)
    assert rec.metrics["inview_psnr"] > rec_off.metrics["inview_psnr"] - 1.5


def test_nothing_seen_or_eyes_on_top_of_each_other_is_not_found():
    cfg = GlassesConfig()
    img = _draw_rims(_skin())
    g = find_glasses(img, np.zeros((S, S), bool), EYES, cfg)
    assert not g.found and g.scores == (0.0, 0.0) and not g.mask.any()
    g = find_glasses(img, np.ones((S, S), bool), np.array([[128.0, 72.0], [129.0, 72.0]]), cfg)
    assert not g.found and not g.mask.any()


def _best_path_numpy(Q, smooth, step):
    """The dynamic programme as written in numpy before it was compiled (the reference)."""
    K, M = Q.shape
    Q = Q.astype(np.float64)
    ds = np.arange(-step, step + 1)
    src = np.arange(M)[None, :] - ds[:, None]
    valid = (src >= 0) & (src < M)
    src = src.clip(0, M - 1)
    pen = np.where(valid, -smooth * np.abs(ds)[:, None], -np.inf)
    score = Q[0].copy()
    back = np.zeros((K, M), np.int64)
    cols = np.arange(M)
    for k in range(1, K):
        cand = score[src] + pen
        arg = cand.argmax(0)
        score = cand[arg, cols] + Q[k]
        back[k] = src[arg, cols]
    path = np.zeros(K, np.int64)
    path[-1] = int(np.argmax(score))
    for k in range(K - 1, 0, -1):
        path[k - 1] = back[k, path[k]]
    return path


def test_compiled_best_path_equals_the_numpy_programme():
    """The compiled dynamic programme picks the numpy one's path, ties included (scores on a coarse grid tie
    often), for both step sizes the search uses."""
    from facesculpt.texture.glasses import _best_path

    rng = np.random.default_rng(3)
    for k in range(60):
        K, M = int(rng.integers(2, 120)), int(rng.integers(1, 50))
        Q = rng.random((K, M)) if k % 2 else np.round(rng.random((K, M)) * 4) / 4
        if k % 5 == 0:
            Q = Q.astype(np.float32)
        for step in (1, 2):
            smooth = float(rng.choice([0.0, 0.02, 0.25]))
            assert np.array_equal(_best_path(Q, smooth, step), _best_path_numpy(Q, smooth, step)), (k, step, smooth)
