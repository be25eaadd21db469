"""Clipped (saturated) photo channels as censored data (issue 12, session 6).

A channel of an 8-bit photo at 255 does not say the colour there is 1.0, only that it is at least
that bright (the sensor or the encoder clipped it); a channel at 0 only that it is at most that
dark. Taken as real measurements they pull the albedo down where a bright photo clipped (the
de-lit value is 1 / shading, a lower bound) and pull a least-squares light fit towards a flatter,
dimmer light. Here such channels are treated as censored:

* **unwrap** (``censor_albedo``): in a texel's clipped channels the measured value is replaced by
  an estimate filled in smoothly from the texels that did not clip, brought to the texel's level by
  its unclipped channels (the estimate's chromaticity scaled to them), and held to the bound the photo
  gives (``albedo >= photo / shading`` where it clipped high, ``<=`` where low). The channels that did
  not clip keep their values. The texel's confidence in ``UVMaps.visibility`` drops to
  ``clipped_confidence`` (its colour is partly an estimate; ``UVMaps.censored`` holds the loss).
  (A first version gave the clipped texels zero confidence and let the skin completion fill them: on
  grace_hopper brightened x1.3, with three quarters of the seen skin clipped, the completion then
  filled the forehead from the glasses, brows and hair around it; docs/clipping.md.)
* **light fit** (``texture.light.initial_linear_light``): a texel whose luminance is censored
  enters the least-squares fit one-sided (it only penalises a predicted shading below its value;
  an active-set iteration, ``texture.light._fit_light_shape``), or is dropped
  (``light_fit="drop"``) or taken as measured (``"measured"``).
* **photometric loss** (``fitting.photometric_stage.censored_target``): a clipped channel's target is
  moved to the prediction where the prediction lies beyond its bound, so the L1 loss is one-sided.
  Exactly at 255 and 0 the fit was one-sided already: it encodes its linear render to sRGB with
  ``texture.color.linear_to_srgb``, which clamps to [0, 1], so on a pixel at 1.0 the L1 loss is
  ``1 - render`` below 1 and 0 above (``tests/texture/test_clipping.py`` checks it stays so); the
  explicit rule extends it to the levels ``high_level`` counts as clipped and to resampled crop
  pixels. (The detail stage's ``detail.sfs`` has its own one-sided term on texels at its
  ``saturation``, in the same form: the residual clamped to one sign.)

Crops of the photo are resampled (area filter or bicubic), so a crop pixel or a texel is censored
when at least ``min_share`` of its footprint clipped: the mask is cropped like the photo
(``crop_clipped``) and sampled like it. Pure functions: no files, no prints.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from facesculpt.core.errors import ShapeError


@dataclass(frozen=True)
class ClippingConfig:
    """Clipped photo channels as censored data (``texture.clipping``)."""

    enabled: bool = False
    """Treat clipped channels as bounds, not values (False, the default: as measured, as before session
    6). Off by default: on the `default` preset it costs grace_hopper's identity distance in view 0.221 ->
    0.253 (astronaut 0.284 -> 0.289; ±30 deg 0.295 -> 0.304 and 0.351 -> 0.329) for a small gain on the
    relight benchmark (two-light difference 14.1 -> 13.6 %) and in-view PSNR on astronaut (+1.2 dB), and
    0.03-0.04 s on `fast` (docs/results.md, session 6)."""
    high_level: int = 250
    """8-bit channel values at or above this are taken as clipped high (the true value is at least this).
    Below 255: where a region clipped, its pixels that sensor noise (or a camera's highlight roll-off)
    left a few levels under 255 are biased dark too (``benchmarks/clipping_delight.py``: 250 beats 255
    and 245; docs/results.md, "Issue 12: clipped pixels (session 6)")."""
    low_level: int = 0
    """8-bit channel values at or below this are clipped low (the true value is at most this)."""
    low_side: bool = False
    """Treat channels at or below ``low_level`` as clipped too (False: only the high side). Off by
    default: no face pixel of the relight benchmark's photos is at 0 (nothing measured to gain), and in
    real photos 0 is mostly crushed blacks in nostrils, lid lines and hair, not skin."""
    min_share: float = 0.25
    """A resampled crop pixel or texel counts as clipped in a channel when at least this share of
    its footprint clipped there."""
    clipped_confidence: float = 0.0
    """Confidence (times its own) that a texel with a clipped channel keeps in ``UVMaps.visibility``, the
    weight of a measured texel (light fit, skin colour, multi-photo fusion); masks of seen texels (detail
    stage, gates) use ``seen_confidence``, which adds it back."""
    max_face_share: float = 1.0
    """If more than this share of the face's landmark points (mediapipe's 478, at their photo pixels)
    have a clipped channel, the photo is taken as measured (the rule is not applied): with almost all
    the skin clipped there is too little unclipped skin to complete from. 1.0: always applied."""
    min_face_share: float = 0.0
    """The rule is applied only when at least this share of the face's landmark points (as
    ``max_face_share``) have a clipped channel: below it the clipped pixels are a few highlights (a
    forehead's or nose's sheen, a glint on glasses), not an over-exposed face. 0.0: always applied."""
    photometric: bool = False
    """The photometric fit's loss is one-sided on clipped channels (``fitting.photometric_stage.
    censored_target``); False: the fit's target as measured (one-sided only exactly at 0 and 255, by the
    render's clamp). Off by default: on the relight benchmark's clipped photos it lowered the relit PSNR
    after one scale by 0.1-0.4 dB, and it moved grace_hopper's fitted landmarks (error 0.0206 -> 0.0247
    IOD; docs/results.md, "Issue 12: clipped pixels (session 6)")."""
    light_fit: str = "one_sided"
    """Light fit: texels with a clipped channel enter one-sided ("one_sided"), are left out ("drop"),
    or count as measured ("measured", the light as before; the unwrap still applies the rule)."""


@dataclass(frozen=True)
class Clipped:
    """Per-channel shares of clipped pixels of one resampled crop.

    high: (1, H, W, 3) float in [0, 1] — share of the pixel's footprint clipped high, per channel.
    low:  (1, H, W, 3) float in [0, 1] — share clipped low.
    min_share: the share at and above which a pixel or texel counts as clipped.
    """

    high: torch.Tensor
    low: torch.Tensor
    min_share: float = 0.25

    def __post_init__(self):
        for name in ("high", "low"):
            t = getattr(self, name)
            if t.dim() != 4 or t.shape[0] != 1 or t.shape[-1] != 3:
                raise ShapeError(f"Clipped.{name}: expected shape (1, H, W, 3), got {tuple(t.shape)}")
        if self.high.shape != self.low.shape:
            raise ShapeError(f"Clipped: high {tuple(self.high.shape)} and low {tuple(self.low.shape)} differ")


def crop_clipped(image: np.ndarray, x0: float, y0: float, side: float, size: int,
                 cfg: ClippingConfig) -> Optional[Clipped]:
    """The clipped channels of the (H, W, 3) uint8 ``image`` inside the square crop (x0, y0, side),
    resampled to ``size`` x ``size`` the way the photo's crop is (``ops.image.crop_resize``); None
    when ``cfg.enabled`` is off or no pixel of the crop's window clipped (callers then run exactly
    as without clipping)."""
    from facesculpt.ops.image import crop_resize

    if not cfg.enabled:
        return None
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ShapeError(f"image: expected an (H, W, 3) uint8 array, got {image.shape} {image.dtype}")
    xs, ys = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    sub = image[ys:max(ys, int(np.ceil(y0 + side))), xs:max(xs, int(np.ceil(x0 + side)))]
    if sub.size == 0:
        return None
    hi = sub >= cfg.high_level
    lo = sub <= cfg.low_level if cfg.low_side else np.zeros_like(hi)
    if not (hi.any() or lo.any()):
        return None

    def share(m: np.ndarray) -> torch.Tensor:
        if not m.any():
            return torch.zeros(1, size, size, 3)
        c = crop_resize(np.ascontiguousarray(m.astype(np.uint8) * 255), x0 - xs, y0 - ys, side, size)
        return torch.from_numpy(c.astype(np.float32) / 255.0)[None]

    return Clipped(share(hi), share(lo), cfg.min_share)


def clipped_face_share(image: np.ndarray, points_xy: np.ndarray, cfg: ClippingConfig) -> float:
    """Share of the points ``points_xy`` (N, 2) photo pixels (x, y) of the (H, W, 3) uint8 ``image``
    whose pixel has a channel at or above ``cfg.high_level`` (or at or below ``low_level`` with
    ``low_side``)."""
    image = np.asarray(image)
    H, W = image.shape[:2]
    p = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    if p.shape[0] == 0:
        return 0.0
    x = np.clip(np.floor(p[:, 0]).astype(int), 0, W - 1)
    y = np.clip(np.floor(p[:, 1]).astype(int), 0, H - 1)
    px = image[y, x]
    hit = (px >= cfg.high_level).any(-1)
    if cfg.low_side:
        hit = hit | (px <= cfg.low_level).any(-1)
    return float(hit.mean())


def sample_clipped(clipped: Clipped, xy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low): (1, S, S, 3) bool channels of the texels at pixel positions ``xy`` (1, S, S, 2)
    (bilinear samples of the shares, at least ``min_share``)."""
    from facesculpt.ops.image import sample_pixels

    both = sample_pixels(torch.cat([clipped.high, clipped.low], -1), xy)
    return both[..., :3] >= clipped.min_share, both[..., 3:] >= clipped.min_share


def seen_confidence(maps) -> torch.Tensor:
    """(B, S, S) the confidence that a texel was seen, clipped or not: ``maps.visibility`` plus what the
    clipping rule took off (``UVMaps.censored``). For masks of "seen texels" (the detail stage, whose data
    term is one-sided on clipped texels itself; the gates; the relight benchmark's two-light set)."""
    return maps.visibility if getattr(maps, "censored", None) is None else maps.visibility + maps.censored


def clipped_pixels(clipped: Clipped) -> tuple[torch.Tensor, torch.Tensor]:
    """(high, low): (1, H, W, 3) bool channels of the crop's pixels that count as clipped."""
    return clipped.high >= clipped.min_share, clipped.low >= clipped.min_share


def censor_albedo(measured: torch.Tensor, completed: torch.Tensor, high: torch.Tensor, low: torch.Tensor,
                  conf: torch.Tensor) -> torch.Tensor:
    """The albedo of texels with clipped channels, from the photo's bounds and the unclipped skin.

    measured: (1, S, S, 3) photo / shading (a lower bound in high-clipped channels, an upper bound
    in low-clipped ones); completed: (1, S, S, 3) the unwrap's albedo as it would be without the rule;
    high, low: (1, S, S, 3) bool clipped channels; conf: (1, S, S) the texels' confidence.

    An estimate of each clipped texel's colour is filled in smoothly (push-pull) from the texels that
    did not clip, and scaled per texel so that its unclipped channels match the measured ones (its own
    level where every channel clipped); in the clipped channels it replaces the measured value, held to
    the photo's bound (never below a high-clipped value, never above a low-clipped one), blended with
    ``completed`` by ``conf``. Unclipped channels and other texels: ``completed``."""
    from facesculpt.ops.image import push_pull_fill

    cen = high | low
    anyc = cen.any(-1)
    if not bool(anyc.any()):
        return completed
    dt = measured.dtype
    est = push_pull_fill(measured, conf.to(dt) * (~anyc).to(dt))
    ok = (~cen).to(dt)
    num = (measured * ok).sum(-1, keepdim=True)
    den = (est * ok).sum(-1, keepdim=True)
    k = torch.where((ok.sum(-1, keepdim=True) > 0) & (den > 1e-6), num / den.clamp(min=1e-6), torch.ones_like(den))
    fill = est * k
    fill = torch.where(high, torch.maximum(fill, measured), fill)
    fill = torch.where(low, torch.minimum(fill, measured), fill)
    w = conf[..., None].to(dt)
    out = torch.where(cen, completed + w * (fill - completed), completed)
    return out.clamp(0, 1)


__all__ = ["ClippingConfig", "Clipped", "crop_clipped", "clipped_face_share", "sample_clipped", "seen_confidence", "clipped_pixels", "censor_albedo"]
