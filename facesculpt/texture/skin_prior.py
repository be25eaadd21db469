"""The skin-reflectance prior: how much of the skin's colour is albedo and how much is light.

From one photo only the product albedo x irradiance is seen. The albedo's scale and colour are
anchored with measured human skin (``assets/skin_albedo.csv``, built by
``tools/build_skin_prior.py`` from NIST's 100-subject spectra, extended towards dark skin with a
melanin model; ``assets/SKIN_ALBEDO.md``): in log space, the seen mean skin colour is the sum
``x = a + l`` of the log skin albedo ``a`` and the log gain ``l`` of the light (exposure and
colour), with Gaussian priors

* ``a ~ N(mu_a, S_a)``: mean and covariance of the table's log albedos, each ITA skin-tone class
  weighted equally (NIST is 81 % light skin; equal class weights keep dark skin as likely a priori
  as light skin, so a dark face is not whitened towards the sample's majority);
* ``l ~ N(log(exposure) 1, s_e^2 11^T + s_c^2 I)``: exposure (one factor on all channels) and
  light colour (per channel) around a nominal white light.

The MAP albedo is ``mu_a + S_a (S_a + S_l)^-1 (x - mu_a - mu_l)`` (Gaussian conditioning), clamped
per channel into the table's range (with ``chroma_from_colour`` its chromaticity is conditioned on the
seen chromaticity alone, so exposure moves the albedo by one factor), and
the light is scaled by ``exp(x - a)`` per channel. Brightness is shared between albedo and
exposure by the two priors' variances, chromaticity mostly goes to the light.

Hand-written: a 3x3 Gaussian conditioning; no library does it with this model.
"""
from __future__ import annotations

import csv
import functools
from dataclasses import dataclass, field
from typing import Optional
from importlib import resources

import numpy as np
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.texture.sclera import ScleraConfig

#: ITA (degrees) class bounds: very light > 55 > light > 41 > intermediate > 28 > tan > 10 > brown > -30 > dark
ITA_BOUNDS = (55.0, 41.0, 28.0, 10.0, -30.0)


@dataclass(frozen=True)
class SkinPriorConfig:
    """Priors of the albedo / light split (``anchor_light``)."""

    exposure: float = 1.0
    """Nominal light gain: the ambient SH level (irradiance of a surface facing all the light)
    expected for a well-exposed photo, in linear units of the photo."""
    exposure_sigma: float = 0.15
    """Std of the log exposure (0.15: a factor 1.16 is one sigma): small, so a face darker than the
    table's mean stays dark instead of being explained by a dim light (docs/appearance.md)."""
    colour_sigma: float = 0.3
    """Std of each channel's log light gain around the exposure (the light's colour; 0.3: a
    factor 1.35 per channel, warm indoor to cool shade)."""
    chroma_from_colour: bool = False
    """The albedo's chromaticity (its log minus the mean log) conditioned on the seen chromaticity alone,
    its brightness as before (False: all of the albedo conditioned on the whole seen colour, as before
    session 7). In the table darker skin is redder, so with the whole colour a darker photo of the same
    face gave a redder albedo and a bluer light; with this an exposure change scales the albedo by one
    factor (docs/results.md, "Issue 12: the light fit's frontal term (session 7)")."""
    chroma_exposure_sigma: Optional[float] = None
    """With ``chroma_from_colour``: None conditions the chromaticity on the seen chromaticity alone; a
    number conditions it on the whole seen colour with this exposure spread instead of
    ``exposure_sigma`` (the brightness still tells a warm light from darker, redder skin, but less)."""
    clipped_exposure: float = 1.4
    """Log exposure the prior expects per unit of the face's clipped share beyond ``clipped_free`` (the share of
    mediapipe's 478 points on a pixel with a channel at 250 or more, ``texture.clipping.clipped_face_share``): a face
    clipped over a large share was photographed in more light than a well-exposed one. 1.4 since session 41: real
    photos over-exposed by 1.3 / 1.6 / 2.0 give shares of 0.16-0.55 (``benchmarks/bench_exposure.py``, grace_hopper and
    the astronaut), about a log exposure of 1.4 x (share - 0.1); on that benchmark 1.0 / 1.4 / 2.0 leave a mean albedo
    change of 14.8 / 11.4 / 15.3 % (33.2 % at 0, the exposure prior ignoring clipping as before). Only when the
    whites of the eyes neither read the light nor bound it (clipped whites give a floor, ``texture.sclera``): they are
    the more direct evidence, and on the relight benchmark's bright photos (clipped whites) the shift with their floor
    made the albedo brighter, not darker."""
    clipped_free: float = 0.1
    """Clipped share a well-exposed face may have (highlights on the forehead, nose and glasses): no shift below it."""
    sclera: ScleraConfig = field(default_factory=ScleraConfig)
    """The whites of the eyes as a second reading of the light's gain (``texture.sclera``)."""


@dataclass(frozen=True)
class SkinTable:
    """rgb (N, 3) linear-sRGB skin albedos, ita (N,) degrees, source (N,) str."""

    rgb: np.ndarray
    ita: np.ndarray
    source: tuple


@functools.lru_cache(maxsize=1)
def load_skin_table() -> SkinTable:
    """The committed table (``assets/skin_albedo.csv``); read on first call, cached."""
    with resources.files("facesculpt").joinpath("assets/skin_albedo.csv").open("r") as f:
        rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    body = rows[1:]
    rgb = np.array([[float(x) for x in r[1:4]] for r in body])
    ita = np.array([float(r[7]) for r in body])
    return SkinTable(rgb, ita, tuple(r[0] for r in body))


def ita_class(ita: np.ndarray) -> np.ndarray:
    """(N,) int class 0 (very light) .. 5 (dark) of ITA angles (degrees)."""
    return np.sum(np.asarray(ita)[..., None] < np.array(ITA_BOUNDS), axis=-1)


@functools.lru_cache(maxsize=1)
def skin_log_gaussian() -> tuple[np.ndarray, np.ndarray]:
    """(mu (3,), cov (3, 3)) of the table's log albedo, each ITA class weighted equally."""
    t = load_skin_table()
    cls = ita_class(t.ita)
    w = np.zeros(len(cls))
    for c in np.unique(cls):
        w[cls == c] = 1.0 / np.sum(cls == c)
    w /= w.sum()
    x = np.log(t.rgb)
    mu = w @ x
    d = x - mu
    cov = (d * w[:, None]).T @ d
    return mu, cov


def map_skin_albedo(seen: torch.Tensor, cfg: SkinPriorConfig = SkinPriorConfig(),
                    sclera_log_gain: Optional[np.ndarray] = None,
                    sclera_sigma_brightness: Optional[float] = None,
                    sclera_log_floor: Optional[np.ndarray] = None, clipped_share: float = 0.0,
                    sclera_sigma_colour: Optional[float] = None) -> torch.Tensor:
    """MAP skin albedo (3,) linear of a seen mean skin colour ``seen`` (3,) linear (= albedo x light gain).

    ``clipped_share``: the photo's clipped face share (``SkinPriorConfig.clipped_exposure``): the light prior's log
    exposure is raised by ``cfg.clipped_exposure`` x its excess over ``cfg.clipped_free``.

    ``sclera_log_gain``: (3,) the light's log gain the whites of the eyes read (``texture.sclera``), or
    None. With it the log light l is the MAP of three Gaussian terms: the skin prior on the albedo
    x - l, the light prior (``cfg.sclera.exposure_sigma`` as its exposure spread) and the sclera's
    reading (spread ``sclera_sigma_brightness``, by default ``cfg.sclera.sigma_brightness``, on all
    channels together, ``sclera_sigma_colour``, by default ``cfg.sclera.sigma_colour``, on each; its NaN channels,
    clipped in the photo, are not read).

    ``sclera_log_floor``: (3,) lower bounds of the light's log gain from clipped whites (NaN: none), or
    None. Where the MAP light falls below a bound less ``cfg.sclera.floor_slack``, the light rises on all
    channels alike (the albedo darkens by one factor, its colour kept) until none does."""
    if seen.shape != (3,):
        raise ShapeError(f"seen: expected shape (3,), got {tuple(seen.shape)}")
    mu_a, S_a = skin_log_gaussian()
    x = np.log(np.clip(seen.detach().double().numpy(), 1e-4, None))
    mu_l = np.full(3, np.log(cfg.exposure) + cfg.clipped_exposure * max(0.0, clipped_share - cfg.clipped_free))
    if sclera_log_gain is not None:
        sc = cfg.sclera
        S_l = sc.exposure_sigma ** 2 * np.ones((3, 3)) + cfg.colour_sigma ** 2 * np.eye(3)
        sb = sc.sigma_brightness if sclera_sigma_brightness is None else sclera_sigma_brightness
        scol = sc.sigma_colour if sclera_sigma_colour is None else sclera_sigma_colour
        S_s = sb ** 2 * np.ones((3, 3)) + scol ** 2 * np.eye(3)
        g = np.asarray(sclera_log_gain, dtype=np.float64)
        ok = np.isfinite(g)  # the channels read (a clipped channel is not)
        H = np.eye(3)[ok]
        Ps = H.T @ np.linalg.inv(H @ S_s @ H.T) @ H
        Pa, Pl = (np.linalg.inv(m) for m in (S_a, S_l))
        a = x - np.linalg.solve(Pa + Pl + Ps, Pa @ (x - mu_a) + Pl @ mu_l + Ps @ np.where(ok, g, 0.0))
    else:
        S_l = cfg.exposure_sigma ** 2 * np.ones((3, 3)) + cfg.colour_sigma ** 2 * np.eye(3)
        a = mu_a + S_a @ np.linalg.solve(S_a + S_l, x - mu_a - mu_l)
    if cfg.chroma_from_colour and sclera_log_gain is None:
        # the albedo's chromaticity from the seen chromaticity alone (observation Q x, Q removes the
        # mean log): an exposure change (x + k 1) then moves the albedo by one factor on all channels
        Q = np.eye(3) - np.ones((3, 3)) / 3
        if cfg.chroma_exposure_sigma is None:
            a_c = mu_a + S_a @ Q @ np.linalg.pinv(Q @ (S_a + S_l) @ Q) @ (Q @ (x - mu_a - mu_l))
        else:  # the whole colour, with a wider exposure spread
            S_lc = cfg.chroma_exposure_sigma ** 2 * np.ones((3, 3)) + cfg.colour_sigma ** 2 * np.eye(3)
            a_c = mu_a + S_a @ np.linalg.solve(S_a + S_lc, x - mu_a - mu_l)
        a = Q @ a_c + (a - Q @ a)
    if sclera_log_floor is not None:
        f = np.asarray(sclera_log_floor, dtype=np.float64) - cfg.sclera.floor_slack
        short = f - (x - a)  # how far each channel's light lies below its bound
        if np.isfinite(short).any():
            a = a - max(0.0, float(np.nanmax(short)))
    # never outside the measured (and extended) skin: per channel within the table's range
    t = load_skin_table().rgb
    a = np.clip(np.exp(a), t.min(0), t.max(0))
    return torch.from_numpy(a).to(seen.dtype)


def robust_skin_mean(albedo: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """(3,) robust skin colour of ``albedo`` (1, S, S, 3) over texels with ``weight`` (1, S, S) > 0.5:
    per-channel median of those between the 25th and 90th luminance percentiles (brows, lashes,
    nostrils and highlights left out)."""
    px = albedo[0][weight[0] > 0.5]
    if px.shape[0] < 20:
        px = albedo[0].reshape(-1, 3)
    lum = px @ px.new_tensor([0.2126, 0.7152, 0.0722])
    lo, hi = torch.quantile(lum, lum.new_tensor([0.25, 0.9]))
    band = px[(lum >= lo) & (lum <= hi)]
    return (band if band.shape[0] else px).median(0).values


def anchor_light(light: torch.Tensor, albedo: torch.Tensor, weight: torch.Tensor,
                 cfg: SkinPriorConfig = SkinPriorConfig(), sclera_log_gain: Optional[np.ndarray] = None,
                 sclera_sigma_brightness: Optional[float] = None,
                 sclera_log_floor: Optional[np.ndarray] = None,
                 clipped_share: float = 0.0,
                 sclera_sigma_colour: Optional[float] = None) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """Move exposure and light colour out of the albedo.

    light: (1, 9, 3) linear SH light; albedo: (1, S, S, 3) linear albedo it implies; weight:
    (1, S, S) the seen skin texels; ``clipped_share``: the photo's clipped face share (``map_skin_albedo``).
    Returns (light (1, 9, 3) scaled per channel, albedo scaled by the inverse, info {"seen_skin", "skin_albedo",
    "light_gain"} as lists)."""
    seen = robust_skin_mean(albedo, weight).clamp(min=1e-4)
    target = map_skin_albedo(seen, cfg, sclera_log_gain, sclera_sigma_brightness, sclera_log_floor, clipped_share,
                             sclera_sigma_colour)
    gain = seen / target
    info = {"seen_skin": seen.tolist(), "skin_albedo": target.tolist(), "light_gain": gain.tolist(),
            "sclera": sclera_log_gain is not None}
    return light * gain.view(1, 1, 3), (albedo / gain.view(1, 1, 1, 3)).clamp(0, 1), info


def anchor_light_photo(light: torch.Tensor, albedo: torch.Tensor, weight: torch.Tensor, cfg: SkinPriorConfig,
                       image: np.ndarray, points) -> tuple[torch.Tensor, torch.Tensor, dict]:
    """``anchor_light`` on one photo: with ``cfg.sclera.enabled`` the whites of the eyes of ``image`` (H, W, 3)
    uint8 at the mediapipe ``points`` (478, 2+) read the light's gain first (``texture.sclera``);
    ``info["sclera"]`` then records the reading (or why there was none)."""
    gain, sclera_info = None, None
    if cfg.sclera.enabled:
        from facesculpt.texture.sclera import sclera_light_gain

        gain, sclera_info = sclera_light_gain(image, points, light, cfg.sclera)
    floor = None if sclera_info is None or "log_floor" not in sclera_info else \
        np.array([np.nan if f is None else f for f in sclera_info["log_floor"]])
    share = 0.0
    cue = bool(cfg.clipped_exposure) and gain is None and floor is None
    if cue:
        # a face clipped over a large share: more light expected (``clipped_exposure``); not when the whites read the
        # light or bound it (clipped whites: a floor), the more direct evidence
        from facesculpt.texture.clipping import ClippingConfig, clipped_face_share

        pts = points.detach().cpu().numpy() if hasattr(points, "detach") else np.asarray(points)
        share = clipped_face_share(image, pts[:, :2], ClippingConfig())
    light, albedo, info = anchor_light(light, albedo, weight, cfg, gain,
                                       None if sclera_info is None else sclera_info.get("sigma_brightness"), floor,
                                       share, None if sclera_info is None else sclera_info.get("sigma_colour"))
    if cue:
        info["clipped_share"] = share
    if sclera_info is not None:
        info["sclera"] = sclera_info
    return light, albedo, info


__all__ = ["SkinPriorConfig", "anchor_light_photo", "SkinTable", "load_skin_table", "skin_log_gaussian", "map_skin_albedo",
           "robust_skin_mean", "anchor_light", "ita_class", "ITA_BOUNDS"]
