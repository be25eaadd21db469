"""The whites of the eyes as a reference for the light's exposure and colour (issue 12).

One photo cannot tell dark skin in a bright light from light skin in a dim one, nor a reddish skin
in a white light from a paler skin in a warm light: the skin prior (``texture.skin_prior``) decides
from the measured spread of skin colours and a guess of the exposure. The sclera is a second
surface in the same light whose reflectance varies far less between people than skin's does (it
is near-white in everyone), so its colour in the photo reads the light's gain per channel:

    sclera seen (linear) = sclera reflectance x light gain x the sclera's shading.

``sclera_colour`` measures it from mediapipe's eye-opening loops and iris rings (no render): the
pixels inside an eye opening, outside the iris, markedly bluer than the skin around the eye (the sclera
is near-white, skin is red), with the darkest part (lashes, lid shadow) and the brightest few (specular
highlights) dropped. It returns nothing when the eyes are closed or too small or when the whites are
clipped in every channel (a clipped channel is a bound, not a value: a channel clipped on many of the
pixels is left out of the reading). ``texture.skin_prior.map_skin_albedo`` takes the light gain it
implies as one more observation, with its own spread (docs/appearance.md, "The whites of the eyes").
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Optional

import numpy as np


@dataclass(frozen=True)
class ScleraConfig:
    """Settings of the sclera's reading of the light (``texture.skin.sclera``)."""

    enabled: bool = True
    """Use the whites of the eyes as an observation of the light's gain (session 29; off: the skin prior
    alone, as before)."""
    reflectance: tuple = (0.522, 0.481, 0.430)
    """Effective linear reflectance of the sclera as read (the ``band`` of its pixels) under the light's
    irradiance at the best-lit normal within ``cone_deg`` of the view direction: the project's sclera colour (sRGB
    (0.85, 0.82, 0.78), linear (0.692, 0.638, 0.570)) times 0.754, its shading by lids, lashes and the socket
    measured on 40 rendered heads under the relight benchmark's white, cool and side lights (``tools/
    calibrate_sclera.py --seeds 20-59 --light L``: 0.752 / 0.752 / 0.758; docs/appearance.md). Sessions 30-40:
    (0.531, 0.490, 0.438), 0.768 at the view direction itself, which read 0.857 under the side light; session 29's
    was 0.666 for the band (0.3, 0.95)."""
    cone_deg: float = 12.0
    """The reading's irradiance is the light's at the best-lit normal (by luminance) within this angle of the view
    direction: the band read is the whites' bright part, whose normals lean towards the light. At the view direction
    itself (0) the side light's whites read 0.110 brighter in log than the white light's; at 12 degrees the three
    lights' factors agree within 0.008 and the spread between the 120 readings is 0.116 against 0.127 (session 41;
    8 / 15 / 20 degrees: side 0.787 / 0.738 / 0.709 against white 0.756 / 0.750 / 0.748)."""
    sigma_brightness: float = 0.25
    """Std of the log of the sclera's brightness between people and photos (its shading by lids and
    lashes, its ageing): the spread of the exposure it reads."""
    sigma_colour: float = 0.05
    """Std of each channel's log around that (a yellower or redder sclera)."""
    exposure_sigma: float = 0.6
    """The skin prior's exposure spread when the sclera is read (it then pins the exposure, and the
    tight spread that keeps dark skin dark without it is not needed)."""
    band: tuple = (0.7, 0.97)
    """Luminance percentiles of each eye's sclera pixels whose median is read: below the first, lashes,
    lid and socket shadow; above the second, specular highlights. The bright part is read because the
    shadowed share varies between eyes: on the calibration heads the reading's spread between heads is
    0.108 in log with (0.7, 0.97) against 0.149 with session 29's (0.3, 0.95) (``tools/calibrate_sclera.py
    --band``). Its median sits at the 83.5th percentile: ``max_clipped_share`` must stay below 0.165."""
    min_pixels: int = 24
    """Fewest sclera pixels (both eyes, before the luminance band) for a reading. 24 since session 39 (36 before):
    the relight benchmark's heads photographed at 160 pixels show 29-32 pixels of white, and refused they relit at
    24.22 dB with rows down to 12.6 (a dim photo's exposure taken for a dark albedo), read 27.90 (`facesculpt benchmark
    relight --n 4 --size 160`); among real photos the astronaut (27 pixels) and two AFLW photos are read, a profile
    with sunglasses (19) is not (docs/results.md, session 39)."""
    max_eye_disagreement: float = 0.7
    """Largest |log| ratio of the two eyes' luminance for a reading of the exposure (beyond it, one eye is
    in shade: a side light, a turned head); the colour is still read."""
    sigma_brightness_disagree: float = 0.25
    """``sigma_brightness`` of a reading whose eyes disagree (a side light; session 29's 2.0 made the level
    not count). Under the relight benchmark's side light 17 of the 40 calibration heads' eyes disagree; with the
    cone's irradiance (``cone_deg``) their shading factor is 0.745, 0.012 in log from the reflectance's 0.754, with a
    spread of 0.097 between heads: an RMS error of 0.098, within the frontal readings' 0.108, so the same spread as
    theirs (session 41; sessions 30-40: 0.3 = 0.25 x 0.134 / 0.108, when at the view direction they read +0.093)."""
    max_colour_log_range: float = 2.0
    """Largest difference of the channels' log gains the reading implies (the light's colour): a light
    more coloured than a factor e^2 (7.4) between two channels is taken for a misread eye (skin, lids, a
    red eye), not for the light."""
    floor_slack: float = 0.22
    """A clipped channel's reading is a lower bound (its pixels were at least that bright): the light's log
    gain is kept at least that bound minus this slack, two spreads of the reading between the calibration
    heads (0.108; a head whose whites are brighter than the mean clips under less light)."""
    max_clipped_share: float = 0.15
    """Largest share of the sclera pixels at 255 in a channel for that channel to be read from the ``band`` (clipped:
    a bound, not a value). Beyond it the whites are read from a lower quantile (``censored_quantiles``), or, where
    that is off or too little is unclipped, the channel is left out of the reading (NaN) and bounds it."""
    censored_quantiles: bool = True
    """Whites clipped beyond ``max_clipped_share`` are read below the clipping: each channel's quantile at the level
    ``1 - q - censored_margin`` (q: the largest channel's clipped share), which the clipped pixels do not reach,
    times the calibrated ratio of the band's reading to that quantile (``censored_ratio``). Session 42: on the 40
    calibration heads photographed under the relight benchmark's bright light (28 % of the whites' pixels clipped in
    the worst channel, on average; 37 of the 40 beyond ``max_clipped_share``) the band reads 0.159 low in log and
    only bounded the light (a floor, ``floor_slack`` below that); the quantile reads 0.033 low with a spread of 0.139
    between heads (``tools/calibrate_sclera.py --light bright --check-censored``). False: the floor, as sessions
    30-41."""
    censored_margin: float = 0.1
    """How far below the unclipped share the quantile is read (resampled pixels next to clipped ones are darkened
    by them): 0 / 0.05 / 0.1 read 0.085 / 0.059 / 0.034 low on the bright calibration photos, spreads 0.116-0.139."""
    censored_min_level: float = 0.2
    """Lowest quantile read (a sclera more than 70 % clipped is not read: below the 20th percentile are lashes,
    lids and the socket's shadow); below it the clipped channels bound the light as before."""
    censored_ratio: tuple = (0.623, 0.554, 0.483, 0.422, 0.377, 0.333, 0.288, 0.243, 0.187, 0.136, 0.091, 0.055,
                             0.022, -0.010)
    """log(band reading / channel quantile) at the quantile levels 0.20, 0.25, ..., 0.85 (interpolated between):
    the mean over the 40 calibration heads (seeds 20-59) under the white, cool and side lights, none of them
    clipped (``tools/calibrate_sclera.py --light white,cool,side --censored-ratio``)."""
    sigma_brightness_censored: float = 0.32
    """``sigma_brightness`` of a reading from a lower quantile: 0.25 x 0.139 / 0.108, the calibrated spreads of the
    quantile and band readings between heads."""
    sigma_colour_censored: float = 0.08
    """``sigma_colour`` of a reading from a lower quantile: the more clipped channels read lower (on the bright
    calibration photos, under a white light, the 40 heads' factors per channel 0.690 / 0.728 / 0.772: red -0.055
    and blue +0.058 in log from their mean; RMS over the censored heads 0.06): 0.05 and 0.06 in quadrature."""
    openness_correction: bool = True
    """Read the whites against their expected shade at the eyes' opening (``openness_offset``, ``openness_spread``;
    session 43). False: as before."""
    openness_offset: tuple = ((0.45, -0.229), (0.6, 0.039), (0.75, 0.039))
    """(openness, log offset) knots: how much brighter (+) or darker (-) than the calibrated mean the whites read
    at an eye opening of this many iris diameters (each eye's opening: its lid loop's area over its width, over the
    iris diameter; the mean over the eyes read), interpolated linearly and held beyond the ends (the calibration's
    range, 0.43-0.74). A narrowly open eye's whites sit in the lids' shade and read darker: on the 40 calibration
    heads under the white, cool and side lights a hinge at 0.6 takes the spread of the 120 readings from 0.116 to
    0.098 (``tools/calibrate_sclera.py --light white,cool,side --openness``). The reading is divided by
    exp(offset), so the light it gives is the whites' expected shading's at that opening; also a reading below the
    clipping (``censored_quantiles``; on the 40 bright calibration photos the same offset takes its spread from 0.139
    to 0.124), whose spread stays ``sigma_brightness_censored``."""
    openness_spread: tuple = ((0.506, 0.139), (0.586, 0.099), (0.666, 0.073))
    """(openness, spread) knots of the corrected reading's log spread between heads by opening (the calibration's
    RMS in openings below 0.55, 0.55-0.62 and above 0.62, at those bins' mean openings; interpolated, held beyond
    the ends; ``tools/calibrate_sclera.py --light white,cool,side --openness``): ``sigma_brightness`` (or ``sigma_brightness_disagree``) is scaled by it over ``openness_spread_ref``."""
    openness_spread_ref: float = 0.108
    """The spread ``sigma_brightness`` 0.25 was set against (the frontal readings' between heads, session 30)."""



def _decode(px: np.ndarray) -> np.ndarray:
    """uint8 sRGB pixels (any shape, 3 last) to float64 linear light (``texture.color.srgb_to_linear``)."""
    import torch

    from facesculpt.texture.color import srgb_to_linear

    return srgb_to_linear(torch.from_numpy(px.astype(np.float64) / 255.0)).numpy()


def _eye_openings(pts: np.ndarray) -> list:
    """Per eye whose lid loop is open (area at least 20 px^2): (loop (K, 2), its area, the nearest iris's centre (2,)
    and ring radius), from mediapipe's 478 points (pixels)."""
    from facesculpt.texture.head import _MP_EYE_LOOPS, _MP_IRISES

    out = []
    for loop_ids in _MP_EYE_LOOPS:
        loop = pts[list(loop_ids), :2]
        if not np.all(np.isfinite(loop)):
            continue
        xa, ya = loop[:, 0], loop[:, 1]
        area = 0.5 * abs(float(np.dot(xa, np.roll(ya, -1)) - np.dot(ya, np.roll(xa, -1))))
        if area < 20.0:  # closed or tiny
            continue
        # the iris nearest this opening
        centre_id, ring_ids = min(_MP_IRISES, key=lambda ir: float(np.linalg.norm(pts[ir[0], :2] - loop.mean(0))))
        c = pts[centre_id, :2]
        R = float(np.linalg.norm(pts[list(ring_ids), :2] - c, axis=1).mean())
        out.append((loop, area, c, R))
    return out


def eye_openness(points) -> Optional[float]:
    """How open the eyes are, in iris diameters: per open eye its lid loop's mean height (area over width) over its
    iris's diameter, averaged over the eyes; None when no eye is open. ``points``: (478, 2 or 3) mediapipe landmarks,
    pixels (``ScleraConfig.openness_offset``)."""
    pts = np.asarray(points.detach().cpu().numpy() if hasattr(points, "detach") else points, dtype=np.float64)
    vals = []
    for loop, area, _, R in _eye_openings(pts):
        width = float(loop[:, 0].max() - loop[:, 0].min())
        if width > 0 and np.isfinite(R) and R > 0:
            vals.append(area / width / (2.0 * R))
    return float(np.mean(vals)) if vals else None


def _knots(table: tuple, x: float) -> float:
    xs, ys = zip(*table)
    return float(np.interp(x, xs, ys))


def sclera_pixels(image: np.ndarray, points: np.ndarray, blue_ratio: float = 1.4) -> list[np.ndarray]:
    """Per eye with a usable opening, the (N, 3) uint8 pixels of its visible sclera (before the
    luminance trimming of ``sclera_colour``). image (H, W, 3) uint8; points (478, 2 or 3) mediapipe
    landmarks in pixels.

    The pixels inside the eye-opening loop, outside the iris (1.1 ring radii), whose blue-to-red
    ratio (linear light) is at least ``blue_ratio`` times the surrounding skin's (the median over the loop's box
    widened by half its width, outside the loop): the sclera is near-white and the skin red, in
    every light alike (a light's colour multiplies both ratios by the same factor), so the lids
    and skin the loop takes in are left out."""
    from facesculpt.ops.image import inside_polygon
    from facesculpt.texture.head import photo_and_points

    img, pts = photo_and_points(image, points)
    H, W = img.shape[:2]
    out = []
    for loop, area, c, R in _eye_openings(pts):
        xa, ya = loop[:, 0], loop[:, 1]
        m = 0.5 * float(xa.max() - xa.min())
        x0, x1 = max(0, int(np.floor(xa.min() - m))), min(W, int(np.ceil(xa.max() + m)) + 1)
        y0, y1 = max(0, int(np.floor(ya.min() - m))), min(H, int(np.ceil(ya.max() + m)) + 1)
        if x1 <= x0 or y1 <= y0:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64) + 0.5
        opening = inside_polygon(loop, (x0, y0, x1, y1))
        iris = np.zeros_like(opening)
        if np.isfinite(R) and np.all(np.isfinite(c)):
            iris = np.hypot(xx - c[0], yy - c[1]) <= 1.1 * R
        px = _decode(img[y0:y1, x0:x1]) + 1e-3
        br = px[..., 2] / px[..., 0]
        skin = ~opening & ~iris
        if skin.sum() < 10 or (opening & ~iris).sum() < 4:
            continue
        keep = opening & ~iris & (br >= blue_ratio * np.median(br[skin]))
        out.append(img[y0:y1, x0:x1][keep])
    return out


def sclera_colour(image: np.ndarray, points: np.ndarray, cfg: ScleraConfig = ScleraConfig()
                  ) -> tuple[Optional[np.ndarray], dict]:
    """The whites of the eyes' colour, linear light: ((3,) float64 or None, info).

    Per eye: its sclera pixels (``sclera_pixels``) decoded from sRGB, those between the ``cfg.band``
    luminance percentiles kept (70th-97th: the darker part is lashes, lid and socket shadow, whose share
    varies from eye to eye; the top 3 % specular highlights), their per-channel median. The reading is
    the mean of the eyes' medians weighted by their pixel counts. When a channel is at 255 on more than
    ``cfg.max_clipped_share`` of the pixels, the reading comes from a lower quantile instead (``censored_reading``,
    ``cfg.censored_quantiles``; ``info["censored_level"]``), or, where that is off or more than
    ``1 - cfg.censored_min_level - cfg.censored_margin`` of the pixels clipped, that channel is NaN
    (``info["clipped_channels"]``; its band median, which clipped pixels can only pull down, is kept as a lower
    bound in ``info["floor"]``). None (with the reason in ``info["refused"]``) when the eyes show fewer than
    ``cfg.min_pixels`` sclera pixels or when every channel is clipped and unread. ``info["sigma_brightness"]`` is the
    reading's brightness spread: ``cfg.sigma_brightness`` (``cfg.sigma_brightness_censored`` read below the clipping,
    which also sets ``info["sigma_colour"]``), or ``cfg.sigma_brightness_disagree`` (at least) when the two eyes'
    luminances differ by more than ``cfg.max_eye_disagreement`` in log (one eye in shade)."""
    eyes = sclera_pixels(image, points)
    meds, counts, lums, clipped, total = [], [], [], np.zeros(3), 0
    for px in eyes:
        if len(px) < 4:
            continue
        clipped += (px >= 255).sum(axis=0)
        total += len(px)
        lin = _decode(px)
        lum = lin @ np.array([0.2126, 0.7152, 0.0722])
        lo, hi = np.quantile(lum, list(cfg.band))
        keep = (lum >= lo) & (lum <= hi)
        if keep.sum() < 2:
            continue
        meds.append(np.median(lin[keep], axis=0))
        counts.append(int(keep.sum()))
        lums.append(float(np.median(lum[keep])))
    info = {"pixels": int(total), "band_pixels": int(sum(counts)), "eyes": len(meds)}
    if total < cfg.min_pixels:
        info["refused"] = "too few sclera pixels"
        return None, info
    unread = clipped / max(total, 1) > cfg.max_clipped_share
    w = np.asarray(counts, dtype=np.float64)
    colour = (np.asarray(meds) * w[:, None]).sum(0) / w.sum()
    level = 1.0 - float((clipped / max(total, 1)).max()) - cfg.censored_margin
    censored = bool(unread.any()) and cfg.censored_quantiles and level >= cfg.censored_min_level
    off, spread_scale = 0.0, 1.0
    if cfg.openness_correction:
        # a narrowly open eye's whites sit in the lids' shade: read against the expected shading at its opening
        o = eye_openness(points)
        if o is not None:
            off = _knots(cfg.openness_offset, o)
            if not censored:  # the spread below the clipping keeps its own calibration
                spread_scale = _knots(cfg.openness_spread, o) / cfg.openness_spread_ref
            info.update(openness=o, openness_offset=off)
    colour = colour / np.exp(off)
    if censored:
        # read below the clipping: the quantile the clipped pixels do not reach, times the calibrated ratio of the
        # band's reading to it (so ``reflectance`` holds for both); every channel is then read
        colour = censored_reading(eyes, level, cfg) / np.exp(off)
        unread = np.zeros(3, dtype=bool)
        info["censored_level"] = level
        info["sigma_colour"] = cfg.sigma_colour_censored
    elif unread.any():
        # clipped pixels read darker than they are: the reading is a lower bound of those channels
        info["clipped_channels"] = [int(i) for i in np.flatnonzero(unread)]
        info["floor"] = [float(c) if u else None for c, u in zip(colour, unread)]
    if unread.all():
        info["refused"] = "clipped"
        return None, info
    info["sigma_brightness"] = cfg.sigma_brightness_censored if censored else cfg.sigma_brightness * spread_scale
    if len(lums) == 2 and abs(np.log(max(lums[0], 1e-6) / max(lums[1], 1e-6))) > cfg.max_eye_disagreement:
        # one eye lit, one in shade (a side light, a turned head): the level is looser than the colour
        info["eyes_disagree"] = lums
        info["sigma_brightness"] = cfg.sigma_brightness_disagree * spread_scale if not censored else \
            max(cfg.sigma_brightness_censored, cfg.sigma_brightness_disagree)
    colour[unread] = np.nan
    info["colour"] = [None if not np.isfinite(c) else float(c) for c in colour]
    return colour, info


CENSORED_LEVELS = tuple(round(0.2 + 0.05 * i, 2) for i in range(14))
"""The quantile levels of ``ScleraConfig.censored_ratio``."""


def whites_quantile(eyes: list, level: float) -> np.ndarray:
    """(3,) float64 linear: each channel's ``level`` quantile of the eyes' sclera pixels (``sclera_pixels``; eyes
    with fewer than 4 left out), the mean over the eyes weighted by their pixel counts."""
    qs, counts = [], []
    for px in eyes:
        if len(px) < 4:
            continue
        qs.append(np.quantile(_decode(px), level, axis=0))
        counts.append(len(px))
    w = np.asarray(counts, dtype=np.float64)
    return (np.asarray(qs) * w[:, None]).sum(0) / w.sum()


def censored_reading(eyes: list, level: float, cfg: ScleraConfig) -> np.ndarray:
    """(3,) float64 linear: the whites' reading from their ``level`` quantile (``whites_quantile``) times exp of
    ``cfg.censored_ratio`` at that level (``CENSORED_LEVELS``, interpolated): what the ``band`` would read were the
    pixels not clipped."""
    return whites_quantile(eyes, level) * float(np.exp(np.interp(level, CENSORED_LEVELS, cfg.censored_ratio)))


@functools.lru_cache(maxsize=8)
def _cap_normals(cone_deg: float, n: int = 400) -> np.ndarray:
    """(n, 3) unit normals spread evenly over the cap within ``cone_deg`` of +Z (a golden-angle spiral; +Z alone at 0)."""
    if cone_deg <= 0:
        return np.array([[0.0, 0.0, 1.0]])
    k = np.arange(n) + 0.5
    cos_t = 1.0 - (1.0 - np.cos(np.radians(cone_deg))) * k / n
    phi = k * np.pi * (3.0 - np.sqrt(5.0))
    s = np.sqrt(1.0 - cos_t ** 2)
    return np.stack([s * np.cos(phi), s * np.sin(phi), cos_t], -1)


def sclera_irradiance(light, cone_deg: float) -> np.ndarray:
    """(3,) float64: the irradiance of ``light`` (1, 9, 3) linear SH, view frame, at its best-lit normal (by luminance)
    within ``cone_deg`` of the view direction (+Z; ``ScleraConfig.cone_deg``)."""
    import torch

    from facesculpt.ops.sh import sh_basis

    N = torch.from_numpy(_cap_normals(float(cone_deg))).to(light.dtype)
    E = (sh_basis(N)[:, :, None] * light[0].detach().cpu()[None]).sum(1).double().numpy()  # (n, 3)
    return E[int(np.argmax(E @ np.array([0.2126, 0.7152, 0.0722])))]


def sclera_light_gain(image: np.ndarray, points, light, cfg: ScleraConfig) -> tuple[Optional[np.ndarray], dict]:
    """The light's log gain per channel (3,; NaN where the whites are clipped) that the whites of the eyes
    read, relative to ``light`` (1, 9, 3) linear SH, view frame: log(sclera colour / (``cfg.reflectance`` x
    the light's irradiance at the view direction, ``sclera_irradiance``: its best-lit normal within
    ``cfg.cone_deg``)), or None (``sclera_colour`` refused, or an implausible
    light colour). ``info["log_floor"]`` (3, None where unbounded), when channels are clipped: the lower
    bounds of those channels' log gains (``sclera_colour``'s ``floor``), also when every channel is.

    The view direction, not the head's forward axis: the visible part of the eyeball faces the camera
    whichever way the head turns (its normals spread around the line of sight), and on rendered heads
    turned up to 30 degrees under a side light the reading's spread between heads is 0.125 in log at the
    view direction against 0.245 at the head's forward axis (0.108 / 0.120 under a frontal light;
    ``tools/calibrate_sclera.py --light L --direction D``; docs/appearance.md)."""
    pts = points.detach().cpu().numpy() if hasattr(points, "detach") else np.asarray(points)
    colour, info = sclera_colour(np.asarray(image), pts, cfg)
    if colour is None and "floor" not in info:
        return None, info
    E = sclera_irradiance(light, cfg.cone_deg)
    if not np.all(E > 1e-4):
        info["refused"] = "no light on the eyes"
        return None, info
    norm = np.log(np.asarray(cfg.reflectance)) + np.log(E)
    info["E"] = E.tolist()
    if "floor" in info:  # the clipped channels' lower bounds, as log gains (None: no bound)
        info["log_floor"] = [None if f is None else float(np.log(max(f, 1e-5)) - n) for f, n in zip(info["floor"], norm)]
    if colour is None:  # every channel clipped: the bound alone
        return None, info
    log_gain = np.log(np.clip(colour, 1e-5, None)) - norm
    info["log_gain"] = [None if not np.isfinite(g) else float(g) for g in log_gain]
    finite = log_gain[np.isfinite(log_gain)]
    if float(finite.max() - finite.min()) > cfg.max_colour_log_range:
        info["refused"] = "implausible light colour"
        info.pop("log_floor", None)
        return None, info
    return log_gain, info


__all__ = ["ScleraConfig", "CENSORED_LEVELS", "eye_openness", "whites_quantile", "censored_reading", "sclera_pixels", "sclera_colour", "sclera_irradiance",
           "sclera_light_gain"]
