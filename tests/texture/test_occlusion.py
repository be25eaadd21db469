"""The occluder mask (``texture.occlusion``) on hand-made de-lit images, and in the pipeline."""
import numpy as np
import pytest
import torch

from facesculpt.texture.occlusion import OcclusionConfig, skin_outliers

SKIN = torch.tensor([0.55, 0.33, 0.25])


def _face(n=128, seed=0):
    g = torch.Generator().manual_seed(seed)
    albedo = SKIN * (1 + 0.06 * torch.randn(1, n, n, 3, generator=g)).clamp(min=0.5)
    face = torch.zeros(1, n, n, dtype=torch.bool)
    face[:, 8:-8, 8:-8] = True
    return albedo, face


def test_dark_bar_flagged_and_clean_skin_not():
    albedo, face = _face()
    cfg = OcclusionConfig()
    assert not skin_outliers(albedo, face, None, cfg).any()  # skin with noise: nothing flagged
    albedo[:, 40:50, 20:108] = torch.tensor([0.01, 0.01, 0.01])
    occ = skin_outliers(albedo, face, None, cfg)
    assert occ[:, 40:50, 20:108].all()
    grow = round(cfg.grow_frac * 128)
    rows = occ[0].any(1).nonzero()[:, 0]
    assert rows.min() >= 40 - grow - 1 and rows.max() <= 49 + grow + 1  # only the bar and its margin
    assert not occ[~face].any()


def test_coloured_patch_flagged():
    albedo, face = _face(seed=1)
    albedo[:, 70:100, 70:100] = torch.tensor([0.05, 0.1, 0.6])  # blue background patch
    occ = skin_outliers(albedo, face, None, OcclusionConfig())
    assert occ[:, 70:100, 70:100].all()
    assert not occ[:, 10:50, 10:50].any()


def test_features_are_no_seeds_but_connected_occluders_cross_them():
    albedo, face = _face(seed=2)
    features = torch.zeros(1, 128, 128, dtype=torch.bool)
    features[:, 20:40, 20:60] = True  # a "brow" region
    albedo[:, 25:32, 25:55] = torch.tensor([0.03, 0.02, 0.02])  # a dark brow, inside the feature region
    occ = skin_outliers(albedo, face, features, OcclusionConfig())
    assert not occ.any()  # the brow stays
    albedo[:, 80:88, 20:110] = 0.01  # a bar outside the features (a seed) ...
    albedo[:, 28:88, 100:108] = 0.01  # ... with an arm up to the brow's rows ...
    albedo[:, 28:32, 55:100] = 0.01  # ... joined to the brow
    occ = skin_outliers(albedo, face, features, OcclusionConfig())
    assert occ[:, 80:88, 20:110].all() and occ[:, 25:32, 30:50].all()  # the connected brow goes too


def test_mostly_flagged_means_a_bad_fit_not_an_occluder():
    albedo, face = _face(seed=3)
    albedo[:, :, :80] = 0.01  # most of the face "dark": the median moves, or the cap trips
    cfg = OcclusionConfig(max_fraction=0.3)
    assert skin_outliers(albedo, face, None, cfg).sum() <= 0.3 * face.sum()


def test_outer_ring_judged_against_the_face_skin_only_when_asked():
    """``judged``: pixels beyond ``face`` (the face part's outer ring) are flagged by the face's skin statistics;
    without it they are never flagged; the skin's statistics do not take the outer ring's pixels in."""
    albedo, face = _face(seed=4)
    ring = torch.zeros_like(face)
    ring[:, :8, :] = True  # the "outer ring": the top rows beyond the face
    albedo[:, :8, :] = torch.tensor([0.02, 0.02, 0.03])  # a black hat over it
    albedo[:, 8:12, 30:90] = torch.tensor([0.02, 0.02, 0.03])  # its brim reaching into the face
    cfg = OcclusionConfig()
    occ_face = skin_outliers(albedo, face, None, cfg)
    occ_ring = skin_outliers(albedo, face, None, cfg, judged=face | ring)
    assert not occ_face[:, :8].any()  # the ring is not judged by default
    assert occ_ring[:, :8, 20:108].all()  # the hat is flagged when it is
    assert occ_ring[:, 8:12, 30:90].all() and occ_face[:, 8:12, 30:90].all()  # the brim either way
    assert torch.equal(occ_ring & face, occ_face)  # inside the face the same either way
    assert not occ_ring[:, 40:, :].any()  # the skin below is not
    # the ring's pixels do not enter the skin statistics: a ring of skin-coloured pixels changes nothing inside
    albedo2 = albedo.clone()
    albedo2[:, :8, :] = SKIN
    assert torch.equal(skin_outliers(albedo2, face, None, cfg, judged=face | ring)[:, 8:],
                       skin_outliers(albedo2, face, None, cfg)[:, 8:])


def test_edge_extra_and_edge_far_at_the_face_outline():
    """The band's own no-skin pixels (``edge_extra``: what ``occluder_mask`` passes, the colourless and with
    ``edge_hue`` the off-hue pixels of the photo) are flagged there even as a sliver the opening drops; a dark
    sliver (a shadowed jaw line) only with ``edge_far``."""
    from dataclasses import replace

    from facesculpt.texture.occlusion import _outline_band, hue_outliers

    albedo, face = _face(seed=8)
    albedo[:, 40:70, 8:10] = torch.tensor([0.15, 0.35, 0.12])  # green leaves, two pixels wide
    albedo[:, 90:110, 8:10] = SKIN * 0.15  # skin in deep shade at the outline
    albedo[:, 20:30, 8:10] = torch.tensor([0.5, 0.2, 0.1])  # shadowed skin, more saturated: the same hue
    cfg = replace(OcclusionConfig(), edge_hue=75.0)
    edge = _outline_band(face, cfg.edge_frac)
    green = hue_outliers(albedo, face, cfg)
    assert green[:, 40:70, 8:10].all() and not green[:, 90:110, 8:10].any() and not green[:, 20:30, 8:10].any()
    assert hue_outliers(albedo, face, replace(cfg, edge_hue=0.0)) is None  # off
    grey = albedo.mean(-1, keepdim=True).expand(-1, -1, -1, 3)
    assert hue_outliers(grey, face, cfg) is None  # a greyscale photo has no hue
    assert not skin_outliers(albedo, face, None, cfg)[:, 40:70, 8:10].any()  # the opening drops the sliver
    on = skin_outliers(albedo, face, None, cfg, edge=edge, edge_extra=green)
    assert on[:, 40:70, 8:10].all() and not on[:, 90:110, 8:10].any()
    assert skin_outliers(albedo, face, None, replace(cfg, edge_far=True), edge=edge)[:, 90:110, 8:10].all()


def test_hue_test_leaves_nearly_grey_pixels_alone_whatever_the_grey_test():
    """A nearly grey pixel with a bluish tint (its chromaticity a tenth of the skin's) has no reliable hue: the hue
    test leaves it by its own threshold (``hue_min``), also with the colourless test off (``grey=0``)."""
    from dataclasses import replace

    from facesculpt.texture.occlusion import hue_outliers

    albedo, face = _face(seed=8)
    albedo[:, 40:70, 8:10] = torch.tensor([0.30, 0.31, 0.33])  # a grey wall with a faint blue cast
    cfg = replace(OcclusionConfig(), edge_hue=75.0)
    for grey in (0.35, 0.0):
        assert not hue_outliers(albedo, face, replace(cfg, grey=grey))[:, 40:70, 8:10].any()
    assert hue_outliers(albedo, face, replace(cfg, hue_min=0.0))[:, 40:70, 8:10].all()


def test_ring_occluder_spills_into_the_face_only_through_no_skin_pixels_within_the_margin():
    """``ring_spill``: a collar flagged in the outer ring takes the one-pixel sliver of it the fitted face's edge
    overlaps (which the face's own opening drops), but not skin, and not a dark spot farther inside."""
    from dataclasses import replace

    albedo, face = _face(seed=7)
    ring = torch.zeros_like(face)
    ring[:, 120:, :] = True  # the ring below the face (the neck)
    albedo[:, 120:, 30:90] = torch.tensor([0.02, 0.02, 0.03])  # a dark collar in it
    albedo[:, 119, 30:90] = torch.tensor([0.02, 0.02, 0.03])  # its sliver on the face's last row
    albedo[:, 100, 60] = torch.tensor([0.02, 0.02, 0.03])  # a dark speck farther inside (a pore, a mole)
    cfg = OcclusionConfig()
    off = skin_outliers(albedo, face, None, replace(cfg, ring_spill=False), judged=face | ring)
    on = skin_outliers(albedo, face, None, replace(cfg, ring_spill=True), judged=face | ring)
    assert off[:, 121:, 31:89].all() and on[:, 121:, 31:89].all()  # the collar either way
    assert not off[:, 119, 30:90].any()  # the sliver is lost to the opening without the spill
    assert on[:, 119, 30:90].all()  # and taken with it
    added = on & face & ~off
    assert (albedo.mean(-1)[added] < 0.1).all()  # only no-skin pixels are added in the face
    assert not on[:, 100, 60]


def test_shape_errors():
    with pytest.raises(ValueError, match="expected albedo"):
        skin_outliers(torch.ones(1, 8, 8), torch.ones(1, 8, 8, dtype=torch.bool), None, OcclusionConfig())


def test_pipeline_masks_a_pasted_bar(grace_hopper):
    """The fast preset on Grace Hopper with a dark bar over the eyes: the mask takes the bar's
    texels out (their albedo is completed, not black), and the switch turns it off."""
    from dataclasses import replace

    from facesculpt.bench.occlusion import albedo_srgb8, covered_texels, occluder
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.pipeline import reconstruct_all

    lmk = detect_faces(grace_hopper, max_faces=1)[0]
    img, mask = occluder(grace_hopper, lmk, "bar")
    cfg = make_config("fast")
    off = replace(cfg, texture=replace(cfg.texture, occlusion=replace(cfg.texture.occlusion, enabled=False)))
    rec_on = reconstruct_all(img, config=cfg, max_faces=1)[0]
    rec_off = reconstruct_all(img, config=off, max_faces=1)[0]
    assert rec_on.losses["occlusion"]["fraction"] > 0.01 and "occlusion" not in rec_off.losses
    region = covered_texels(rec_off, mask)
    assert int(region.sum()) > 1000
    lum_on = float(albedo_srgb8(rec_on)[region].mean())
    lum_off = float(albedo_srgb8(rec_off)[region].mean())
    assert lum_off < 0.25 and lum_on > lum_off + 0.15  # the black bar is in the albedo only without the mask


def test_occluded_mask_resampled_onto_the_metric_crop():
    """``pipeline._occluded_on``: a mask over one square crop, read at another crop's pixel centres."""
    import torch

    from facesculpt.pipeline import _occluded_on

    occ = torch.zeros(4, 4, dtype=torch.bool)
    occ[1, 2] = True  # photo pixels x in [20, 30), y in [10, 20) of the crop (0, 0, side 40)
    out = _occluded_on((0.0, 0.0, 40.0, occ), 10.0, 0.0, 40.0, 8)  # crop shifted right by 10 px, 5 px a pixel
    expect = torch.zeros(8, 8, dtype=torch.bool)
    expect[2:4, 2:4] = True  # x 20-30 -> columns 2, 3; y 10-20 -> rows 2, 3
    assert torch.equal(out, expect)
    # a crop that lies beside the mask's crop sees nothing occluded
    assert not _occluded_on((0.0, 0.0, 40.0, occ), 100.0, 0.0, 40.0, 8).any()


def test_pipeline_takes_the_hat_out_of_the_outer_ring(grace_hopper):
    """Grace Hopper's cap covers the face part's outer ring above the forehead: judged as well
    (``texture.occlusion.outer``) those texels are completed like skin instead of keeping the cap."""
    from facesculpt.config import make_config
    from facesculpt.face_model import REGION_OUTER, fit_view, load_face_model
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.texture.color import to_display
    from facesculpt.texture.unwrap import uv_raster

    view = fit_view(load_face_model())
    dark = {}
    for outer in (False, True):
        rec = reconstruct_all(grace_hopper, config=make_config("fast", **{"texture.occlusion.outer": outer}),
                              max_faces=1)[0]
        S = rec.maps.albedo.shape[1]
        f = uv_raster(view.dense_uvs, view.dense_faces, S).frags.pix_to_face[0]
        ring = (f >= 0) & (view.dense_face_region[f.clamp(min=0)] == REGION_OUTER)
        top = ring & (torch.arange(S)[:, None] < 0.12 * S)  # the ring's band above the forehead (UV rows)
        lum = to_display(rec.maps.albedo[0], True) @ torch.tensor([0.2126, 0.7152, 0.0722])
        dark[outer] = float((lum[top] < 0.15).float().mean())
    assert dark[False] > 0.4  # the cap is in the albedo when only the narrow face is judged
    assert dark[True] < 0.05  # and out of it when the outer ring is judged too


def test_grey_pixels_on_colour_photos_only():
    """``grey_pixels``: colourless pixels of a photo whose skin has colour (a white collar); none on a
    greyscale photo; ``skin_outliers`` uses them beyond the face only."""
    from facesculpt.texture.occlusion import grey_pixels

    albedo, face = _face(seed=5)
    photo = albedo.clone()
    photo[:, 120:, 30:90] = torch.tensor([0.8, 0.8, 0.8])  # a white collar below the face
    grey = grey_pixels(photo, face, OcclusionConfig())
    assert grey[:, 120:, 30:90].all() and not grey[face].any()
    assert grey_pixels(photo.mean(-1, keepdim=True).expand(-1, -1, -1, 3), face, OcclusionConfig()) is None
    assert grey_pixels(photo, face, OcclusionConfig(grey=0.0)) is None
    ring = torch.zeros_like(face)
    ring[:, 120:, :] = True
    photo[:, 30:40, 30:90] = torch.tensor([0.5, 0.5, 0.5])  # a grey patch inside the face: not this rule's
    grey = grey_pixels(photo, face, OcclusionConfig())
    cfg = OcclusionConfig()
    occ = skin_outliers(albedo, face, None, cfg, judged=face | ring, judged_extra=grey)
    assert occ[:, 121:, 31:89].all()  # the collar (skin-like brightness, no colour) is flagged in the ring
    assert torch.equal(occ & face, skin_outliers(albedo, face, None, cfg))  # the face as without it


def test_grey_region_reaching_the_face_outline_is_flagged_inside_the_face():
    """``edge_frac``: colourless pixels near the narrow face's outline (the background a fitted outline a few
    pixels too wide takes in) are no skin, even a sliver the opening would drop; a grey patch inside the face is
    not this rule's, nor the part of a grey region beyond the band; nothing without the ``edge`` band."""
    from facesculpt.texture.occlusion import _outline_band, grey_pixels

    albedo, face = _face(seed=6)
    photo = albedo.clone()
    photo[:, 40:70, 8:12] = torch.tensor([0.7, 0.7, 0.7])  # a sliver of wall inside the face's left outline
    photo[:, 60:66, 60:66] = torch.tensor([0.7, 0.7, 0.7])  # a grey spot in the middle (a highlight)
    photo[:, 90:100, 8:60] = torch.tensor([0.7, 0.7, 0.7])  # a grey region from the outline deep into the face
    cfg = OcclusionConfig()
    grey = grey_pixels(photo, face, cfg)
    edge = _outline_band(face, cfg.edge_frac)
    assert edge[:, 40:70, 8:11].all() and not edge[:, 20:100, 20:100].any()
    occ = skin_outliers(albedo, face, None, cfg, judged_extra=grey, edge=edge)
    assert occ[:, 40:70, 8:12].all() and occ[:, 90:100, 8:12].all()
    assert not occ[:, 60:66, 60:66].any()
    assert not occ[:, 90:100, 20:60].any()  # only the band near the outline (and the margin) is flagged
    assert not skin_outliers(albedo, face, None, cfg, judged_extra=grey).any()
    assert _outline_band(face, 0.0) is None
    holed = face.clone()
    holed[:, 50:60, 50:60] = False  # an opening (an eye) is no outline
    assert torch.equal(_outline_band(holed, cfg.edge_frac), edge & holed)


def test_pipeline_takes_the_white_collar_out_of_the_outer_ring(grace_hopper):
    """Grace Hopper's white collar under her jaw (in the outer ring's band at the chart's bottom) is as bright
    as her skin's spread allows and has no colour: ``texture.occlusion.grey`` takes it out."""
    from facesculpt.config import make_config
    from facesculpt.face_model import REGION_OUTER, fit_view, load_face_model
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.texture.color import to_display
    from facesculpt.texture.unwrap import uv_raster

    view = fit_view(load_face_model())
    white = {}
    for grey in (0.0, 0.35):
        rec = reconstruct_all(grace_hopper, config=make_config("fast", **{"texture.occlusion.grey": grey,
                                                                          "texture.occlusion.edge_hue": 0.0}),
                              max_faces=1)[0]
        S = rec.maps.albedo.shape[1]
        f = uv_raster(view.dense_uvs, view.dense_faces, S).frags.pix_to_face[0]
        ring = (f >= 0) & (view.dense_face_region[f.clamp(min=0)] == REGION_OUTER)
        bottom = ring & (torch.arange(S)[:, None] > 0.85 * S)
        shown = to_display(rec.maps.albedo[0], True)[bottom]
        white[grey] = float((shown.mean(-1) > 0.75).float().mean())
    assert white[0.0] > 0.02  # the collar is in the albedo without the rule
    assert white[0.35] < 0.005  # and out of it with it


def test_pipeline_takes_the_wall_sliver_beside_the_astronauts_cheek(astronaut):
    """The fitted head's outline is a few pixels wider than the astronaut's left cheek (image left): the grey wall
    there (photo x 178-185, y 126-145) fell inside it and into her albedo as a white streak. The outline rule
    (``edge_frac``) takes those pixels out; without it none of them is flagged."""
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.texture.occlusion import occluded_on_grid

    window = astronaut[126:146, 178:186].astype(np.int16)
    grey = torch.from_numpy(window.max(-1) - window.min(-1) < 25)  # the wall: no colour
    assert int(grey.sum()) >= 40
    flagged = {}
    for frac in (0.0, 0.03):
        rec = reconstruct_all(astronaut, config=make_config("fast", **{"texture.occlusion.edge_frac": frac}),
                              max_faces=1)[0]
        flagged[frac] = int((occluded_on_grid(rec.occluded, 178, 126, 1.0, (20, 8)) & grey).sum())
    assert flagged[0.0] == 0
    assert flagged[0.03] >= 10  # 19 of the 60 wall pixels of the window when written


#: a blonde (linear RGB): as bright as SKIN, yellower; its log chromaticity 0.17 from the skin's, inside the colour
#: test's floor (``chroma_floor`` 0.25)
BLONDE = (0.55, 0.38, 0.20)


def _hair_scene(hair_rgb, n=120, seed=0, fringe=True):
    """A photo (1, n, n, 3) linear of skin with a band of ``hair_rgb`` above the face part and (``fringe``) a fringe
    hanging over the forehead from it; the narrow face, the outer ring, mediapipe-like points (forehead top 10 at
    row 22, chin 152 at row 110, brow tops 105 / 334 at row 50) and the fringe's pixels."""
    g = torch.Generator().manual_seed(seed)
    yy, xx = torch.meshgrid(torch.arange(n), torch.arange(n), indexing="ij")
    photo = SKIN * (1 + 0.04 * torch.randn(n, n, 3, generator=g))
    ell = ((xx - 60) / 40.0) ** 2 + ((yy - 68) / 48.0) ** 2
    area = ell <= 1
    face = area & (yy >= 34)
    judged = area & ~face
    hair = torch.tensor(hair_rgb) * (1 + 0.04 * torch.randn(n, n, 3, generator=g))
    above = ~area & (yy < 60)
    photo[above] = hair[above]
    fringe_px = area & (yy < 42) & (xx >= 30) & (xx < 90) if fringe else torch.zeros_like(area)
    photo[fringe_px] = hair[fringe_px]
    pts = np.zeros((478, 2))
    pts[10], pts[152], pts[105], pts[334] = (60, 22), (60, 110), (45, 50), (75, 50)
    return photo[None].clamp(min=1e-3), face[None], judged[None], pts, fringe_px[None]


def test_blonde_fringe_over_the_forehead_is_found_by_the_hairs_own_colour():
    """``hair_pixels``: a blonde fringe (yellower than the skin, as bright) that hangs from the hair above the head is
    flagged in the outer ring and the narrow face above the brows; the skin below is not."""
    from facesculpt.texture.occlusion import hair_pixels

    cfg = OcclusionConfig()
    photo, face, judged, pts, fringe = _hair_scene(BLONDE)
    found = hair_pixels(photo, face, judged, pts, None, cfg)
    assert found is not None
    assert float((found & fringe).sum()) >= 0.85 * float(fringe.sum())
    skin = (face | judged) & ~fringe
    assert int((found & skin).sum()) <= 0.02 * int(skin.sum())
    # the same fringe pixels are skin to the colour tests of skin_outliers (that is why the rule exists)
    assert not bool((skin_outliers(photo, face, None, cfg, judged=judged) & fringe).any())
    # off, or a skin-coloured band above the head (a bald head): nothing
    assert hair_pixels(photo, face, judged, pts, None, OcclusionConfig(hair=0.0)) is None
    photo_b, face_b, judged_b, pts_b, _ = _hair_scene(tuple(SKIN.tolist()), fringe=False)
    assert hair_pixels(photo_b, face_b, judged_b, pts_b, None, cfg) is None


def test_hair_coloured_skin_below_the_brows_or_apart_from_the_hair_is_not_flagged():
    """A lock of hair-coloured pixels from the hair down to the cheek is flagged by ``hair_pixels`` only above the
    brows' tops, and a patch on the forehead that does not touch the hair above the head not at all; a greyscale
    photo is not judged."""
    from facesculpt.texture.occlusion import hair_pixels

    cfg = OcclusionConfig()
    hair_rgb = torch.tensor(BLONDE)
    photo, face, judged, pts, fringe = _hair_scene(tuple(hair_rgb.tolist()), fringe=False)
    photo[0, 20:80, 32:37] = hair_rgb  # a lock from the hair down the side of the face to the cheek
    photo[0, 40:46, 55:65] = hair_rgb  # a forehead patch, skin all round it
    found = hair_pixels(photo, face, judged, pts, None, cfg)
    assert found is not None  # the test ran (the band's hair differs from the skin)
    assert bool(found[0, 38:49, 32:37].all())  # the lock above the brows' tops (row 50)
    assert not bool(found[0, 51:80, 32:37].any())  # and not below them
    assert not bool(found[0, 40:46, 55:65].any())
    grey = photo.mean(-1, keepdim=True).expand_as(photo).contiguous()
    assert hair_pixels(grey, face, judged, pts, None, cfg) is None


def test_pipeline_takes_the_astronauts_fringe_out_and_nothing_below_it(astronaut):
    """The astronaut's blonde fringe over the forehead (photo x 195-255, y 52-80) passes the colour tests in part; the
    hair rule (``texture.occlusion.hair``) flags most of it, and below the fringe and its margin (y >= 96, the brows and
    down) the mask is the same with and without the rule (the last pixel it adds was at y 92 when written)."""
    from facesculpt.config import make_config
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.texture.occlusion import occluded_on_grid

    masks, reports = {}, {}
    for hair in (0.0, 2.5):
        rec = reconstruct_all(astronaut, config=make_config("fast", **{"texture.occlusion.hair": hair}),
                              max_faces=1)[0]
        masks[hair] = occluded_on_grid(rec.occluded, 150, 40, 1.0, (200, 160))
        reports[hair] = rec.losses["occlusion"].get("hair")
    assert reports[0.0] is None  # the test did not run
    assert reports[2.5]["found"] and 0.1 <= reports[2.5]["face_share"] <= 0.4  # 0.21 when written
    assert 0.03 <= reports[2.5]["added_share"] < reports[2.5]["face_share"]  # beyond the colour tests: 0.1
    fringe = (slice(12, 40), slice(45, 105))
    share = {h: float(m[fringe].float().mean()) for h, m in masks.items()}
    assert share[2.5] >= 0.8  # 1.0 when written
    assert share[0.0] <= 0.5  # 0.24 when written
    assert torch.equal(masks[0.0][56:], masks[2.5][56:])
