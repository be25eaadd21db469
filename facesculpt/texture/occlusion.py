"""Occluders out of the albedo (issue 12, item 3): a per-pixel face-skin mask.

After the photometric fit the photo's face pixels are de-lit with the fitted head and light
(photo / shading, linear light); a pixel whose de-lit colour lies far from the face's own robust
skin colour (median and MAD of the log albedo per channel over the face) is not skin: a hair
strand, a glasses frame, a dark bar, a patch of background. The face's own non-skin features
(brows, eyes and lids, lips, nostrils: convex hulls of mediapipe's points) are no seeds; a
flagged region there is kept only where it connects to a seed outside them (hysteresis: a bar
across the eyes is taken whole, the brows alone are not). The mask is opened (specks and thin
wrinkle lines out) and grown by a margin, then given to the unwrap as invalid pixels: they give
no texture and are completed like unseen texels (mirror texel, then push-pull).

The photometric fit already rejects outlier pixels from its loss (``fitting.losses.
inlier_weights``), but its free low-resolution albedo absorbs a large occluder, so that residual
cannot find it; the skin-colour test does not depend on the albedo fit. Not caught: occluders of
skin colour (a hand): those mediapipe's hand landmarker finds (``detect.hands``, ``hands`` below) are
masked before the photometric fit by the pipeline. Pure tensor functions: no files, no prints.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from facesculpt.detect.hands import HandsConfig
from facesculpt.detect.person import BackgroundConfig
from facesculpt.ops.image import labels_among
from facesculpt.texture.glasses import GlassesConfig

#: mediapipe face-mesh point groups whose pixels are features, not skin (brows, eye regions,
#: lips, the nose's underside with the nostrils)
FEATURE_POINTS = (
    (276, 282, 283, 285, 293, 295, 296, 300, 334, 336),
    (46, 52, 53, 55, 63, 65, 66, 70, 105, 107),
    (249, 263, 362, 373, 374, 380, 381, 382, 384, 385, 386, 387, 388, 390, 398, 466),
    (7, 33, 133, 144, 145, 153, 154, 155, 157, 158, 159, 160, 161, 163, 173, 246),
    (0, 13, 14, 17, 37, 39, 40, 61, 78, 80, 81, 82, 84, 87, 88, 91, 95, 146, 178, 181, 185, 191, 267, 269, 270,
     291, 308, 310, 311, 312, 314, 317, 318, 321, 324, 375, 402, 405, 409, 415),
    (1, 2, 64, 97, 98, 294, 326, 327),
)


@dataclass(frozen=True)
class OcclusionConfig:
    """The residual occluder mask of the texture (``texture.occlusion``)."""

    enabled: bool = True
    """Keep the pixels the fitted render cannot explain out of the albedo (False: as before issue 12)."""
    k_sigma: float = 4.0
    """A face pixel is not skin when, in some channel, its log de-lit colour lies more than
    ``k_sigma`` robust standard deviations (1.4826 x MAD over the face) from the face's median ..."""
    floor: float = 0.6
    """... and more than this (natural log: 0.6 = a factor 1.8) from it."""
    open_frac: float = 0.012
    """Side of the opening (erode then dilate) that drops specks and thin lines, as a fraction
    of the crop side (0: no opening)."""
    grow_frac: float = 0.02
    """Margin grown around each occluder (half-width), as a fraction of the crop side: the soft
    edges of an occluder are not caught by the threshold."""
    max_fraction: float = 0.6
    """If more than this fraction of the face is flagged the render is not trusted (a bad fit,
    not an occluder): nothing is masked."""
    chroma_k_sigma: float = 4.0
    """A face pixel is also not skin when its log chromaticity (log colour minus its channel mean:
    blind to brightness, so to shading the fitted light misses) lies more than this many robust
    standard deviations from the skin's ... (0: no chromaticity test). The brightness test above
    uses the spread of the whole face, which a hat, glasses and shading errors inflate (a factor
    3 on grace_hopper), so a saturated blue patch passed it; skin's chromaticity is narrow."""
    chroma_floor: float = 0.25
    """... and more than this (natural log) from it. The skin's median and spread come from the face
    pixels after three rounds of 2.5-sigma clipping (the dominant mode: skin)."""
    chroma_dark: float = 1.5
    """Pixels darker than the face's median brightness by more than this (natural log, a factor 4.5)
    are not judged by chromaticity (noise and clipping make it unreliable there)."""
    grey: float = 0.35
    """With ``outer``: a pixel of the outer ring is also no skin when its chromaticity in the photo (log
    colour minus its mean, the vector's length) is below this fraction of the face skin's median (a white
    collar, grey hair, a black cap whose brightness the skin's wide spread lets pass; 0: off). Not on a photo
    whose skin is nearly colourless itself (median below ``grey_min_skin``: a greyscale photo)."""
    edge_frac: float = 0.03
    """Inside the narrow face, no-skin pixels (colourless: ``grey``; with ``edge_far`` also by the colour tests
    above) within this fraction of the crop side of the narrow face's outline are flagged, without the opening that
    drops thin lines, and grown by the margin (0: off): the background, clothing or hair a head's fitted outline, a
    few pixels too wide, takes in at the cheeks and jaw, often a sliver one or two pixels wide (session 14). Only
    the band: a grey region flagged whole once it reached the outline took lit skin and sunglasses deep into the
    face on 3 of 16 AFLW photos (docs/results.md, session 14)."""
    edge_grey: float = 0.35
    """With ``edge_frac``: the band's colourless test, as ``grey`` (a fraction of the face skin's median
    chromaticity)."""
    edge_ring: bool = True
    """With ``edge_frac`` and ``outer``: the outer ring's own outline (the head's silhouette, the scalp line) has
    such a band too, with the ring's tests (``grey``, ``edge_hue``): a sliver of green leaves or wall beside the
    neck (session 14)."""
    edge_hue: float = 75.0
    """With ``edge_frac``: pixels whose hue in the photo turns more than this many degrees from the face skin's
    (the angle between their chromaticity vector, log colour minus its mean, and the skin's median one; only for
    pixels with at least ``hue_min`` x the skin's colour) count at the outline too: green leaves, a blue sky or
    shirt. A hue angle, not a chromaticity distance: shadowed skin is more saturated than lit skin but of the same
    hue (a distance test took grace_hopper's jaw line, +2.4 % of the crop; session 14). In the outer ring (with
    ``outer``) too, with the colourless pixels, whatever ``edge_frac``. 0: off."""
    hue_min: float = 0.35
    """With ``edge_hue``: a pixel's hue is judged only when its chromaticity vector is at least this fraction of the
    face skin's median length (a nearly grey pixel's hue is noise). Its own threshold, so ``grey=0`` (the
    colourless test off) does not open the hue test to nearly grey pixels."""
    edge_far: bool = False
    """With ``edge_frac``: the colour tests' pixels count at the outline too (False: the colourless ones alone).
    Off: on grace_hopper it also took her shadowed jaw line and chin out (identity distance in view 0.27 -> 0.38,
    docs/results.md, session 14)."""
    ring_spill: bool = True
    """With ``outer``: an occluder found in the outer ring also takes the narrow face's no-skin pixels (by the
    colour tests) within the margin (``grow_frac``) of it, without the opening: the dark collar a fitted jaw's edge
    overlaps, the hair tips of a fringe (session 14; False: inside the narrow face the mask is as without the
    ring)."""
    grey_min_skin: float = 0.2
    """The face skin's median chromaticity length (natural log) below which ``grey`` is not used."""
    hair: float = 2.5
    """With ``outer``: hair over the forehead that the tests above let pass (blonde or light-brown hair is close to
    skin in brightness and colour, the more so under a warm light). The hair's colour is learnt from the photo
    itself, from the pixels above the forehead's top in the outer ring and just outside it (``hair_band``); where it
    differs from the skin's (``hair_sep``), pixels of the
    outer ring and the narrow face above the brows whose log chromaticity is nearer the hair's than the skin's and
    more than this many of the skin's robust standard deviations from it are no skin, if they connect to such
    pixels of the hair's sample (a fringe hangs from the hair). 0: off. Not on a nearly colourless photo
    (``grey_min_skin``). Session 26, docs/appearance.md."""
    hair_band: float = 0.06
    """With ``hair``: width, as a fraction of the crop side, of the band outside the face part where the hair's
    colour is learnt, with the outer ring (both above mediapipe's forehead point 10, along the chin-to-forehead
    line)."""
    hair_sep: float = 2.0
    """With ``hair``: the hair's median log chromaticity must lie at least this many of the skin's robust standard
    deviations (the length over the channels) from the skin's, else the hair cannot be told from skin (a bald or
    shaved head, skin-coloured background above it) and the test does nothing."""
    outer: bool = True
    """Also judge the face part's outer ring (``face_model.REGION_OUTER``: the forehead up to the scalp line,
    the temples and ears, the jaw's underside and the neck), with the skin statistics of the narrow face as
    before: a hat, a collar or background there is no skin either (False: the narrow face alone is judged and
    the outer ring's texels take whatever the photo shows there, as before session 13; docs/results.md,
    "Issue 12: the face part's outer ring judged for occluders")."""
    hands: HandsConfig = field(default_factory=HandsConfig)
    """Hands found by mediapipe's hand landmarker (``detect.hands``): kept out of the photometric fit
    and the albedo, whatever their colour (issue 12 session 5)."""
    glasses: GlassesConfig = field(default_factory=GlassesConfig)
    """Glasses frames found by their shape around the eyes (``texture.glasses``): their pixels are occluders,
    whatever their colour (session 16)."""
    background: BackgroundConfig = field(default_factory=BackgroundConfig)
    """Background pixels (mediapipe's person segmentation, ``detect.person``) in the outer ring (``outer``) are
    occluders too, whatever their colour (session 13; off by default)."""


def _dilate(m: torch.Tensor, r: int) -> torch.Tensor:
    """(B, H, W) bool dilated by a (2r+1) square."""
    if r <= 0:
        return m
    import cv2

    # OpenCV's dilation by a rectangle (outside the image never sets a pixel, as max_pool2d's padding
    # did): the same masks as two max_pool2d passes, ~100x faster at a 1024 crop with r = 25
    kernel = np.ones((2 * r + 1, 2 * r + 1), np.uint8)
    out = np.stack([cv2.dilate(np.ascontiguousarray(x.numpy(), dtype=np.uint8), kernel) for x in m.bool()])
    return torch.from_numpy(out > 0)


def _erode(m: torch.Tensor, r: int) -> torch.Tensor:
    """(B, H, W) bool eroded by a (2r+1) square (outside the image counts as set)."""
    if r <= 0:
        return m
    return ~_dilate(~m, r)


def _hulls(points_xy: np.ndarray, size: tuple[int, int], groups=FEATURE_POINTS) -> torch.Tensor:
    """(1, H, W) bool union of the convex hulls of ``groups`` (of mediapipe point indices; ``FEATURE_POINTS``) of
    ``points_xy`` (N, 2) pixels."""
    import cv2

    H, W = size
    im = np.zeros((H, W), np.uint8)
    for group in groups:
        idx = [i for i in group if i < len(points_xy)]
        if len(idx) >= 3:
            hull = cv2.convexHull(np.round(points_xy[idx]).astype(np.int32))
            cv2.fillConvexPoly(im, hull, 1)
    return torch.from_numpy(im > 0)[None]


def _median_spread(vals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-column median and robust standard deviation (1.4826 x MAD) of ``vals`` (M, C)."""
    med = vals.median(0).values
    return med, 1.4826 * (vals - med).abs().median(0).values


def _clipped_median_spread(vals: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``_median_spread`` of ``vals`` (M, C) after three rounds of 2.5-sigma clipping (its dominant mode; a round
    that would keep fewer than 16 rows stops the clipping)."""
    med, sigma = _median_spread(vals)
    for _ in range(3):
        keep = ((vals - med).abs() <= 2.5 * sigma.clamp(min=1e-6)).all(-1)
        if int(keep.sum()) < 16:
            break
        med, sigma = _median_spread(vals[keep])
    return med, sigma


def _even_sample(px: torch.Tensor, n: int = 4096) -> torch.Tensor:
    """Every k-th of the indices (or rows) ``px`` (k = ceil(len / n)): a face crop's 10-100 thousand pixels cost tens of
    ms of medians a photo, their even sample of at most ``n`` a few. The skin statistics of ``skin_outliers`` read
    4096 of the face's pixels, its chromaticity test 16384 (four rounds of clipped medians, and the test a drawn pair
    of glasses moved: at 4096 the occlusion benchmark's astronaut with glasses lost 0.56 dB, at 16384 it scores as with
    every pixel, 21.70 dB on its own run; docs/results.md, session 39)."""
    return px[::max(1, -(-len(px) // n))]


def _chroma_outliers(la: torch.Tensor, face: torch.Tensor, cfg: OcclusionConfig) -> torch.Tensor:
    """(B, H, W) bool pixels (anywhere) whose log chromaticity is far from the ``face``'s skin's (``chroma_*``
    of ``cfg``); la (B, H, W, 3) log colour (de-lit, or the photo's)."""
    c = la - la.mean(-1, keepdim=True)
    lum = la.mean(-1)
    bright = lum > lum[face].median() - cfg.chroma_dark
    vals = c[face & bright]
    if vals.shape[0] < 16:
        return torch.zeros_like(face)
    # the dominant mode (skin): glasses, hair and lips do not widen it; from an even sample of the face's pixels
    med, sigma = _clipped_median_spread(_even_sample(vals, 16384))
    thr = torch.clamp(cfg.chroma_k_sigma * sigma, min=cfg.chroma_floor)
    return bright & ((c - med).abs() > thr).any(-1)


def skin_outliers(albedo: torch.Tensor, face: torch.Tensor, features: torch.Tensor | None,
                  cfg: OcclusionConfig, judged: torch.Tensor | None = None,
                  judged_extra: torch.Tensor | None = None, edge: torch.Tensor | None = None,
                  edge_extra: torch.Tensor | None = None, ring_edge: torch.Tensor | None = None) -> torch.Tensor:
    """(B, H, W) bool occluder pixels inside ``face`` (and inside ``judged``).

    albedo: (B, H, W, 3) float de-lit photo (linear light, > 0); face: (B, H, W) bool pixels the
    head covers and that may be used: the skin's statistics come from them; features: (B, H, W) bool
    or None, the face's own non-skin features (no seeds there, see the module doc); judged: (B, H, W)
    bool or None, more pixels that may be flagged (the face part's outer ring, ``OcclusionConfig.outer``),
    by the same statistics. Inside ``face`` the result is the same with or without ``judged`` (an
    occluder found beyond the face grows only there) unless ``ring_spill``; ``max_fraction`` counts the flagged
    share of ``face``.
    judged_extra: (B, H, W) bool or None, more pixels that are no skin, used beyond ``face`` only (the
    photo's colourless pixels, ``grey_pixels``); edge: (B, H, W) bool or None, the pixels of ``face`` near its
    outline (``OcclusionConfig.edge_frac``): ``edge_extra`` pixels (``judged_extra`` when None; with
    ``edge_far`` also the colour tests' pixels) there, outside the ``features``, are no skin either, without the
    opening (grown by the margin);
    ring_edge: (B, H, W) bool or None, the pixels of ``judged`` beyond ``face`` near the judged area's own outline
    (the head's silhouette, the scalp line): ``judged_extra`` pixels there are flagged without the opening."""
    if albedo.dim() != 4 or albedo.shape[-1] != 3 or face.shape != albedo.shape[:3]:
        raise ValueError(f"skin_outliers: expected albedo (B,H,W,3) and face (B,H,W), got "
                         f"{tuple(albedo.shape)}, {tuple(face.shape)}")
    with torch.no_grad():
        la = albedo.clamp(min=1e-3).log()
        vals = la[face]
        if vals.shape[0] < 16:
            return torch.zeros_like(face)
        med, sigma = _median_spread(_even_sample(vals))
        thr = torch.clamp(cfg.k_sigma * sigma, min=cfg.floor)
        far = ((la - med).abs() > thr).any(-1)
        if cfg.chroma_k_sigma > 0:
            far = far | _chroma_outliers(la, face, cfg)
        occ = _flag(far, face, features, cfg)
        if edge is not None:
            weak = edge_extra if edge_extra is not None else judged_extra
            weak = weak if weak is not None else torch.zeros_like(face)
            if cfg.edge_far:
                weak = weak | far
            band = edge if features is None else edge & ~_dilate(features, _open_radius(cfg, face))
            occ = occ | _grown(weak & band, face, cfg)
        if float(occ.sum()) > cfg.max_fraction * float(face.sum()):
            return torch.zeros_like(face)
        if judged is not None:
            far_ring = far if judged_extra is None else far | judged_extra
            ring = _flag(far_ring, judged | face, features, cfg) & ~face
            if ring_edge is not None and judged_extra is not None:  # slivers at the judged area's own outline
                band = ring_edge if features is None else ring_edge & ~features
                ring = ring | (_grown(judged_extra & band, judged | face, cfg) & ~face)
            occ = occ | ring
            if cfg.ring_spill and bool(ring.any()):
                # the ring's occluders continue into the narrow face through no-skin pixels, as far as the margin
                occ = occ | (_dilate(ring, int(round(cfg.grow_frac * ring.shape[1]))) & face & far)
    return occ


def _open_radius(cfg: OcclusionConfig, m: torch.Tensor) -> int:
    """Half-side in pixels of the opening (``open_frac``) on masks like ``m`` (B, H, W)."""
    return int(round(cfg.open_frac * m.shape[1] / 2))


def _grown(m: torch.Tensor, area: torch.Tensor, cfg: OcclusionConfig) -> torch.Tensor:
    """(B, H, W) bool: the pixels of ``m`` in ``area`` grown by the margin (``grow_frac``) inside ``area``."""
    return _dilate(m & area, int(round(cfg.grow_frac * m.shape[1]))) & area


def _flag(far: torch.Tensor, area: torch.Tensor, features: torch.Tensor | None,
          cfg: OcclusionConfig) -> torch.Tensor:
    """(B, H, W) bool: the pixels of ``area`` far from the skin (``far``: by brightness or chromaticity against
    the face's skin), opened, kept where a region has a seed outside the ``features``, grown by the margin."""
    from scipy import ndimage

    ro = _open_radius(cfg, far)
    weak = _dilate(_erode(area & far, ro), ro) & area
    strong = weak if features is None else weak & ~_dilate(features, ro)
    occ = torch.zeros_like(area)
    for b in range(area.shape[0]):
        lab, n = ndimage.label(weak[b].numpy())
        occ[b] = torch.from_numpy(labels_among(lab, n, lab[strong[b].numpy()]))
    return _grown(occ, area, cfg)


def occluder_mask(photo_srgb: torch.Tensor, dense: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, pose,
                  camera, light: torch.Tensor, cfg: OcclusionConfig, *, points_xy: np.ndarray | None = None,
                  face_weight: torch.Tensor | None = None, valid: torch.Tensor | None = None,
                  linear: bool = True, judge_weight: torch.Tensor | None = None, return_face: bool = False,
                  background: torch.Tensor | None = None, eyes_uv: torch.Tensor | None = None,
                  report: dict | None = None, frags=None):
    """(1, H, W) bool occluder pixels of ``photo_srgb`` (1, H, W, 3) seen by ``camera``; with ``return_face``
    also the (1, H, W) bool face pixels they were judged against (``face_weight``'s, valid).

    dense (1, V, 3) fitted render vertices, faces (F, 3), uvs (V, 2); light (1, 9, 3) the fitted
    SH light (linear light if ``linear``, else for the sRGB values); points_xy (N, 2) the photo's
    mediapipe points in this image's pixels (the features, ``FEATURE_POINTS``; None: none);
    face_weight (F,) float (0: a face not judged, e.g. eye and mouth interiors); valid (1, H, W)
    bool pixels that may be used (others are never flagged); judge_weight (F,) float or None: the faces
    whose pixels may be flagged when they are more than ``face_weight``'s (the skin's statistics still
    come from ``face_weight``'s pixels; ``OcclusionConfig.outer``); background: (1, H, W) bool or None, the
    photo's background pixels (``detect.person``): in the outer ring (``judge_weight`` beyond ``face_weight``) they
    are occluders too (``background_pixels``); eyes_uv: (2, 2) float or None, the eye centres in the UV chart (u, v
    in [0, 1]): with ``cfg.glasses`` the glasses frames found around them (``texture.glasses``) are occluders too;
    report: a dict or None, given ``"glasses"`` (``GlassesFound.info``) when the glasses search ran and ``"hair"``
    ({"found", "face_share": the share of the narrow face's pixels the hair test took, "added_share": of those the
    colour tests had not taken}) when it ran; frags: the head's
    rasterisation at ``camera`` (``render.rasterize.Fragments``) if made already."""
    from facesculpt.ops.sh import AMBIENT_BASIS
    from facesculpt.render.face import render_face
    from facesculpt.texture.color import srgb_to_linear

    with torch.no_grad():
        white = torch.ones(1, 8, 8, 3)
        rend = render_face(dense, faces, uvs, pose, camera, white, light, frags=frags)
        level = (light[:, 0] * AMBIENT_BASIS).mean(-1).clamp(min=1e-4).view(-1, 1, 1, 1)
        shading = torch.maximum(rend.image, 0.15 * level)
        photo = srgb_to_linear(photo_srgb) if linear else photo_srgb
        face = rend.mask
        pix_face = rend.frags.pix_to_face.clamp(min=0)
        judged = None
        if judge_weight is not None:
            judged = face & (judge_weight[pix_face] > 0)
        if face_weight is not None:
            face = face & (face_weight[pix_face] > 0)
        if valid is not None:
            face = face & valid.bool()
            judged = None if judged is None else judged & valid.bool()
        features = None if points_xy is None else _hulls(np.asarray(points_xy, np.float64), photo.shape[1:3])
        edge = _outline_band(face, cfg.edge_frac)
        chroma = _chroma(photo) if (judged is not None or edge is not None) else None
        off_hue = hue_outliers(photo, face, cfg, chroma=chroma)  # None unless edge_hue

        def _with_hue(m):
            return m if off_hue is None else (off_hue if m is None else m | off_hue)

        grey = grey_pixels(photo, face, cfg, chroma=chroma) if judged is not None else None
        edge_grey = None
        if edge is not None:
            edge_grey = grey if (judged is not None and cfg.edge_grey == cfg.grey) else \
                grey_pixels(photo, face, replace(cfg, grey=cfg.edge_grey), chroma=chroma)
            edge_grey = _with_hue(edge_grey)
        grey = _with_hue(grey) if judged is not None else None
        ring_edge = None
        if edge is not None and judged is not None and cfg.edge_ring:
            ring_edge = _outline_band(judged | face, cfg.edge_frac) & ~face
        occ = skin_outliers(photo / shading, face, features, cfg, judged=judged, judged_extra=grey, edge=edge,
                            edge_extra=edge_grey, ring_edge=ring_edge)
        if cfg.hair > 0 and judged is not None and points_xy is not None:
            hair = hair_pixels(photo, face, judged, np.asarray(points_xy, np.float64), features, cfg,
                               valid=valid, chroma=chroma)
            share, added = 0.0, 0.0
            if hair is not None:
                hair = _grown(hair, judged | face, cfg)
                n_face = max(float(face.sum()), 1.0)
                share = float((hair & face).sum()) / n_face
                added = float((hair & face & ~occ).sum()) / n_face
                occ = occ | hair
            if report is not None:
                report["hair"] = {"found": share > 0, "face_share": share, "added_share": added}
        if background is not None:
            occ = occ | background_pixels(background, face, judged, cfg.background)
        if cfg.glasses.enabled and eyes_uv is not None:
            occ = occ | glasses_pixels(photo_srgb, dense, faces, uvs, pose, camera, eyes_uv, cfg.glasses, valid=valid,
                                       report=report, rend=rend)
    return (occ, face) if return_face else occ


def glasses_pixels(photo_srgb: torch.Tensor, dense: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, pose, camera,
                   eyes_uv: torch.Tensor, gcfg, valid: torch.Tensor | None = None, report: dict | None = None,
                   rend=None) -> torch.Tensor:
    """(1, H, W) bool pixels of ``photo_srgb`` (1, H, W, 3) seen by ``camera`` that belong to the glasses frames found
    around the fitted head's eyes (``texture.glasses``; all False when none are found); valid: (1, H, W) bool or
    None, pixels that may be used; report: a dict or None, given ``"glasses"`` (``GlassesFound.info``); rend: the
    head's render at this camera (``render_face``) if made already."""
    from facesculpt.render.face import render_face
    from facesculpt.render.interpolate import interpolate
    from facesculpt.texture.glasses import chart_lookup, find_glasses, uv_photo

    S = gcfg.size
    ph, seen = uv_photo(photo_srgb, dense, faces, uvs, pose, camera, S)
    e = np.asarray(eyes_uv, np.float64)
    g = find_glasses(ph, seen, np.stack([e[:, 0] * S, (1 - e[:, 1]) * S], -1), gcfg)
    if report is not None:
        report["glasses"] = g.info()
    if rend is None:
        with torch.no_grad():
            rend = render_face(dense, faces, uvs, pose, camera, torch.ones(1, 8, 8, 3), torch.zeros(1, 9, 3))
    covered = rend.mask if valid is None else rend.mask & valid.bool()
    if not g.found:
        return torch.zeros_like(covered)
    pixel_uv = interpolate(uvs.to(torch.float32), rend.frags, faces)
    return chart_lookup(g.mask, pixel_uv, covered)


def _outline_band(face: torch.Tensor, frac: float) -> torch.Tensor | None:
    """(B, H, W) bool pixels of ``face`` within ``frac`` of the side of its outer outline (its holes, the eye and
    mouth openings or a hand, filled first: no band round them); None when ``frac`` is 0."""
    if frac <= 0:
        return None
    from scipy import ndimage

    outside = []
    for f in face.bool().numpy():  # the background: the non-face components that touch the image's border
        lab, n = ndimage.label(~f)
        outside.append(labels_among(lab, n, np.concatenate([lab[0], lab[-1], lab[:, 0], lab[:, -1]])))
    return _dilate(torch.from_numpy(np.stack(outside)), max(1, int(round(frac * face.shape[-1])))) & face


def occluded_on_grid(occluded: tuple, x0: float, y0: float, step: float, shape: tuple[int, int]) -> torch.Tensor:
    """(h, w) bool: ``Reconstruction.occluded`` (x0, y0, side, mask (S, S): a mask over a square photo crop)
    sampled at the photo points ``(x0 + (j + 0.5) step, y0 + (i + 0.5) step)`` of an (h, w) grid (nearest mask
    pixel; outside its crop: not occluded)."""
    ox, oy, oside, occ = occluded
    occ = torch.as_tensor(occ).bool()
    S = occ.shape[-1]
    h, w = shape
    cols = torch.floor((x0 + (torch.arange(w, dtype=torch.float64) + 0.5) * step - ox) * (S / oside)).long()
    rows = torch.floor((y0 + (torch.arange(h, dtype=torch.float64) + 0.5) * step - oy) * (S / oside)).long()
    inside = ((rows >= 0) & (rows < S))[:, None] & ((cols >= 0) & (cols < S))[None, :]
    return occ.reshape(S, S)[rows.clamp(0, S - 1)][:, cols.clamp(0, S - 1)] & inside


def _chroma(photo: torch.Tensor) -> torch.Tensor:
    """(B, H, W, 3) the photo's chromaticity vectors: log colour minus its mean over the channels."""
    lp = photo.clamp(min=1e-3).log()
    return lp - lp.mean(-1, keepdim=True)


def grey_pixels(photo: torch.Tensor, face: torch.Tensor, cfg: OcclusionConfig,
                chroma: torch.Tensor | None = None) -> torch.Tensor | None:
    """(B, H, W) bool pixels of ``photo`` (B, H, W, 3, linear) whose chromaticity length (of the log colour minus
    its mean) is below ``cfg.grey`` x the ``face`` skin's median; None when ``cfg.grey`` is 0 or the skin is
    nearly colourless (median below ``cfg.grey_min_skin``: a greyscale photo). ``chroma``: ``_chroma(photo)``
    if already computed."""
    if cfg.grey <= 0 or not bool(face.any()):
        return None
    n = (_chroma(photo) if chroma is None else chroma).norm(dim=-1)
    skin = float(n[face].median())
    if skin < cfg.grey_min_skin:
        return None
    return n < cfg.grey * skin


def hue_outliers(photo: torch.Tensor, face: torch.Tensor, cfg: OcclusionConfig,
                 chroma: torch.Tensor | None = None) -> torch.Tensor | None:
    """(B, H, W) bool pixels of ``photo`` (B, H, W, 3, linear) whose chromaticity vector (log colour minus its
    mean) turns more than ``cfg.edge_hue`` degrees from the ``face`` skin's median one and is at least
    ``cfg.hue_min`` x that median's length; None when the test is off or the skin is nearly colourless (``grey_min_skin``).
    ``chroma``: ``_chroma(photo)`` if already computed."""
    if cfg.edge_hue <= 0 or not bool(face.any()):
        return None
    c = _chroma(photo) if chroma is None else chroma
    m = c[face].median(0).values
    mn = float(m.norm())
    if mn < cfg.grey_min_skin:
        return None
    n = c.norm(dim=-1)
    cos = (c * m).sum(-1) / (n * mn).clamp(min=1e-9)
    return (cos < math.cos(math.radians(cfg.edge_hue))) & (n >= cfg.hue_min * mn)


def hair_pixels(photo: torch.Tensor, face: torch.Tensor, judged: torch.Tensor, points_xy: np.ndarray,
                features: torch.Tensor | None, cfg: OcclusionConfig, valid: torch.Tensor | None = None,
                chroma: torch.Tensor | None = None) -> torch.Tensor | None:
    """(1, H, W) bool pixels of the face part (``face`` | ``judged``) above the brows that look like the photo's hair
    (``OcclusionConfig.hair``), or None when the test cannot run (off, too few pixels, a nearly colourless photo, hair
    the colour of skin).

    photo: (1, H, W, 3) linear; face, judged: (1, H, W) bool (the narrow face, the outer ring); points_xy: (478, 2)
    mediapipe's points in this image's pixels (10: the forehead's top, 152: the chin, 105 / 334: the brows' tops);
    features: (1, H, W) bool or None, the face's own features (brows, eyes), never flagged; valid: (1, H, W) bool or
    None, pixels that may be used; chroma: ``_chroma(photo)`` if already computed.

    The hair's colour: the dominant mode of the pixels above the forehead's top point (along the chin-to-forehead
    line) in the outer ring and in a band ``hair_band`` wide outside the face part: where the fitted face part
    reaches onto the hair (a low hairline) its own top is hair, elsewhere the band beyond it; a bald or shaved head
    gives skin there (or background beyond it), and the test then does nothing (``hair_sep``) or finds no
    background-coloured pixels on the forehead.
    A pixel is hair-like when, in the 2-D log chromaticity, its squared distance to the hair's median (in the hair's
    robust spreads) is below that to the skin's (in the skin's) and the latter exceeds ``hair``^2. Hair-like pixels
    of the face part above the brows' tops count when connected, through hair-like pixels (of the face part above
    the brows or of the band outside it), to hair-like pixels of the sample: a fringe hangs from the hair, a lock
    reaches the temple beside the face. Below the brows' tops nothing is flagged: shadowed skin turns hair-like
    in chromaticity there (a first version took the astronaut's shadowed cheek and neck)."""
    if cfg.hair <= 0 or len(points_xy) < 335 or not bool(face.any()):
        return None
    from scipy import ndimage

    area = face | judged
    B, H, W = face.shape
    if B != 1 or int(face.sum()) < 32:
        return None
    c = _chroma(photo) if chroma is None else chroma
    flat = c.reshape(-1, 3)
    skin_px = _even_sample(face.reshape(-1).nonzero()[:, 0])
    if float(flat[skin_px].median(0).values.norm()) < cfg.grey_min_skin:
        return None
    p = points_xy
    up = p[10] - p[152]
    length = float(np.hypot(*up))
    if length < 1e-6:
        return None
    u = torch.tensor(up / length, dtype=torch.float32)
    ys = (torch.arange(H, dtype=torch.float32) + 0.5 - float(p[10, 1])) * u[1] / length
    xs = (torch.arange(W, dtype=torch.float32) + 0.5 - float(p[10, 0])) * u[0] / length
    s = (ys[:, None] + xs[None, :])[None]  # along the chin-to-forehead line, 0 at the forehead's top, in face lengths
    near = _dilate(area, max(1, int(round(cfg.hair_band * W)))) & ~area  # a band outside the face part
    if valid is not None:
        near = near & valid.bool()
    c2 = flat[:, :2]  # the three log chromaticities sum to 0: two carry them all
    m_skin, s_skin = _clipped_median_spread(c2[skin_px])
    s_skin = s_skin.clamp(min=0.03)
    # the hair's sample, above the forehead's top point: the outer ring's top if it is not skin (the fitted face
    # part reaches onto the hair), else the band outside the face part
    band = None
    for part in (judged & ~face, near):
        part = part & (s > 0)
        if valid is not None:
            part = part & valid.bool()
        part_px = part.reshape(-1).nonzero()[:, 0]
        if len(part_px) < 32:
            continue
        m_hair, s_hair = _clipped_median_spread(c2[_even_sample(part_px)])
        if float(((m_hair - m_skin) / s_skin).norm()) >= cfg.hair_sep:
            band, s_hair = part, s_hair.clamp(min=0.03)
            break
    if band is None:
        return None
    brow = float(min((p[[105, 334]] - p[10]) @ (up / length))) / length
    # judged only where it can matter: the face part above the brows, the sample, and the band outside the face
    # part (a lock of hair reaches the temple from the hair above through it)
    roi = ((area & (s > brow)) | band | near).reshape(-1)
    if features is not None:
        roi = roi & ~features.reshape(-1)
    px = roi.nonzero()[:, 0]
    v = c2[px]
    d_skin = (((v - m_skin) / s_skin) ** 2).sum(-1)
    d_hair = (((v - m_hair) / s_hair) ** 2).sum(-1)
    like = torch.zeros(H * W, dtype=torch.bool)
    like[px] = (d_hair < d_skin) & (d_skin > cfg.hair ** 2)
    like = like.reshape(1, H, W)
    lab, n = ndimage.label(like[0].numpy())
    seeds = lab[(like & band)[0].numpy()]
    if not (seeds > 0).any():
        return None
    return torch.from_numpy(labels_among(lab, n, seeds))[None] & area


def background_pixels(background: torch.Tensor, face: torch.Tensor, judged: torch.Tensor | None,
                      cfg: BackgroundConfig) -> torch.Tensor:
    """(B, H, W) bool: the ``background`` pixels (B, H, W) bool in the judged area beyond the narrow face
    (``judged`` minus ``face``: the outer ring), grown by ``cfg.grow_frac`` of the side inside it; none without
    ``judged``, and none when the background covers more than ``cfg.max_face_share`` of ``face`` (the
    segmentation failed). The narrow face is left to the colour test: on tight, upscaled face crops (lfw) the
    segmentation took part of a forehead for background."""
    if judged is None:
        return torch.zeros_like(face)
    ring = judged & ~face
    bg = background.bool()
    if float((bg & face).sum()) > cfg.max_face_share * max(float(face.sum()), 1.0):
        return torch.zeros_like(face)
    return _dilate(bg & ring, int(round(cfg.grow_frac * background.shape[-1]))) & ring


__all__ = ["OcclusionConfig", "FEATURE_POINTS", "skin_outliers", "occluder_mask", "background_pixels", "grey_pixels",
           "hue_outliers", "hair_pixels", "occluded_on_grid"]
