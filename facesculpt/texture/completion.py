"""Completion of the face tile's unseen texels that looks like skin (issue 12, item 4).

The unwrap sees only part of the face: the far side of a turned head, occluders, deep shade.
Before this module those texels took the mirrored texel where it was seen and a push-pull blur
elsewhere, so the far side of a turned photo was a smooth smear. Here, in log albedo (a colour
space where a light or exposure difference is an offset and a blend of two skin tones stays a
skin tone):

1. **Seen texels are kept** (every texel with confidence ``conf`` above ``keep_from`` keeps its photo colour,
   ``keep_photo``); the unseen texels beside them start at their colour and fade into the fill over
   ``rim``, so no edge shows.
2. **Mirror with a colour match.** The mirrored texel (``texture.head.texel_mirror_grid``) is
   taken where the mirror image was seen, after adding a smooth correction field: the low-pass
   difference "this side minus mirrored side" where both were seen (near the midline and the
   border of the seen area), extended over the chart by push-pull. A left/right brightness or
   tint difference (light, residual shading) then shows no seam where the mirror takes over.
3. **A low-frequency field guided by the model's UV layout.** Each texel has a class from the
   model's layout: skin (the narrow face), outer face (ears, hairline, jaw underside), brows and
   lips (mediapipe's brow and outer-lip contours embedded in the model, so they sit where the
   model's UV layout puts them), eye/mouth openings (the fillers). A guide is the per-class mean
   of the seen log albedo (a default offset from the skin mean when a class was not seen at
   all), softened over ``class_soft`` of the map; the low-pass of the seen albedo minus the guide
   is extended by push-pull and added back, so an unseen lip corner is lip-coloured and an unseen
   brow tail brow-coloured, and the field meets the seen texels without a step.
4. **High-frequency skin detail from the visible skin.** The seen high-pass (log albedo minus its
   Gaussian low-pass, ``detail_sigma``) is quilted into the unseen area: the map is covered by
   overlapping ``patch`` x ``patch`` blocks (half-overlap, Hann weights), each copied from a
   random seen texel of the block's class (skin when that class has too few); the blend is
   normalised by the root of the summed squared weights (variance-preserving for independent
   patches), and each class's result is scaled to the seen high-pass standard deviation of that
   class (x ``detail_gain``). Seeded by ``seed`` with a local ``torch.Generator``: the same input
   gives the same map.

Pure tensor functions; hand-written because no installed library does texture synthesis guided by
a mesh's UV classes on a CPU (scipy/scikit-image have no patch synthesis; OpenCV's inpainting is
diffusion or fast-marching, i.e. the blur this replaces).
"""
from __future__ import annotations

import math
import weakref
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_shape
from facesculpt.ops.image import inside_polygon, push_pull_fill

#: texel classes of the face tile (``texel_classes``)
CLASS_OUTSIDE, CLASS_SKIN, CLASS_OUTER, CLASS_BROW, CLASS_LIP, CLASS_OPENING = -1, 0, 1, 2, 3, 4
NUM_CLASSES = 5
#: log-albedo offsets from the skin mean used for a class no texel of which was seen (hand-picked
#: defaults, not measurements: brows a darker brown, lips a little darker and redder)
DEFAULT_OFFSETS = {CLASS_BROW: (-0.9, -1.0, -1.05), CLASS_LIP: (-0.08, -0.45, -0.4)}

#: groups of classes with their own low-pass (plain skin with the outer face and the openings;
#: brows; lips)
_GROUPS = ((CLASS_SKIN, CLASS_OUTER, CLASS_OPENING, CLASS_OUTSIDE), (CLASS_BROW,), (CLASS_LIP,))

#: mediapipe contours (indices into the 478 points) as closed loops: outer lip contour, and each
#: brow (upper contour out, lower contour back), the points the landmark fit places
MP_LIPS_OUTER = (291, 409, 270, 269, 267, 0, 37, 39, 40, 185, 61, 146, 91, 181, 84, 17, 314, 405, 321, 375)
MP_BROWS = ((70, 63, 105, 66, 107, 55, 65, 52, 53, 46), (300, 293, 334, 296, 336, 285, 295, 282, 283, 276))


@dataclass(frozen=True)
class CompletionConfig:
    """Completion of unseen face-tile texels from the visible skin (``texture.completion``)."""

    enabled: bool = True
    """Complete with mirror colour match, layout-guided low-frequency field and synthesised skin
    detail (False: the mirrored texel, then a push-pull blur, as before)."""
    seen: float = 0.5
    """Confidence at and above which a texel counts as seen for the statistics (class means,
    high-pass source, mirror match)."""
    detail_sigma: float = 0.008
    """Gaussian sigma, as a fraction of the map side, that splits the low-frequency field from the
    synthesised detail (8 texels at 512: skin blotches and pores are detail, the shape of the skin
    tone over the face is the low-frequency field)."""
    detail: str = "spectrum"
    """How the detail is synthesised: "spectrum" (Gaussian noise with the seen skin high-pass's
    radial power spectrum and colour covariance) or "patches" (quilting of seen high-pass patches
    of the same class; copies wrinkles and missed occluder edges on real photos)."""
    patch: float = 0.09
    """``detail="patches"``: side of the patches, as a fraction of the map side (46 texels at 512)."""
    detail_gain: float = 1.0
    """Standard deviation of the synthesised detail relative to the seen detail of the same class."""
    min_source: int = 200
    """Seen texels a class needs to be its own patch source and mean (else skin's / the default)."""
    class_soft: float = 0.002
    """Gaussian sigma of the class edges in the low-frequency field, as a fraction of the map side
    (1 texel at 512)."""
    feather: float = 0.006
    """Width of the feathered strip inside the seen border, as a fraction of the map side
    (3 texels at 512), without ``keep_photo``: texels there seen below ``seen`` confidence are blended
    with the completion (those at or above it keep their value). With ``keep_photo`` it feathers only the
    mirror's share on the unseen side."""
    keep_photo: bool = True
    """Every texel the photo saw (confidence above ``keep_from``, grazing ones too) keeps its de-lit photo
    colour unchanged; the completion fills only the others (False: texels seen below ``seen``
    and the ``feather`` strip are blended with the mirror and the fill by their confidence, as before
    issue 10's seen-area fix)."""
    keep_from: float = 0.05
    """With ``keep_photo``: confidence above which a texel keeps its photo colour (0.05: a cosine to the
    view ray of about 0.2; the few texels at the very silhouette below it take the ``rim`` colour of
    their seen neighbours fading into the fill: their de-lit colour is a smear of the edge pixels)."""
    rim: float = 0.008
    """With ``keep_photo``: Gaussian reach, as a fraction of the map side (4 texels at 512), over which the
    unseen texels beside the seen area fade from the colour of the seen texels next to them into the
    fill (0: none; the fill then meets the last, grazing, seen texels with a step)."""
    mirror_match: bool = True
    """Match the mirrored side's colour and brightness to this side's (a smooth correction field)."""
    match_reach: float = 0.03
    """Gaussian reach, as a fraction of the map side (15 texels at 512), over which the mirror's colour
    match fades out away from the texels where both sides were seen."""
    seed: int = 0
    """Seed of the synthesised detail."""


# ----------------------------------------------------------------------------- small ops


def _gauss_kernel(sigma: float) -> torch.Tensor:
    r = max(1, int(math.ceil(3 * sigma)))
    x = torch.arange(-r, r + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (x / max(sigma, 1e-6)) ** 2)
    return k / k.sum()


def _blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W) with zero padding."""
    if sigma <= 0:
        return x
    k = _gauss_kernel(sigma).to(x.dtype)
    C, r = x.shape[1], (len(k) - 1) // 2
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(C, 1, 1, -1), padding=(0, r), groups=C)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(C, 1, -1, 1), padding=(r, 0), groups=C)


def _blur_fast(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """``_blur`` for a wide sigma, computed at a lower resolution: box-downsampled by r (a power of
    two with sigma / r >= 2, at most 4), blurred by sigma / r, upsampled bilinearly. A low-pass;
    the approximation error is far below the detail it separates."""
    H, W = x.shape[-2:]
    r = 1
    while r < 4 and sigma / (2 * r) >= 2 and H % (2 * r) == 0 and W % (2 * r) == 0:
        r *= 2
    if r == 1:
        return _blur(x, sigma)
    y = _blur(F.avg_pool2d(x, r), sigma / r)
    return F.interpolate(y, size=(H, W), mode="bilinear", align_corners=False)


def _masked_blur(x: torch.Tensor, m: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Normalised blur of (B, C, H, W) values with weights (B, 1, H, W): (blur(x m) / blur(m), blur(m))."""
    both = _blur_fast(torch.cat([x * m, m], 1), sigma)
    den = both[:, -1:]
    return both[:, :-1] / den.clamp(min=1e-6), den


def _smoothstep(x: torch.Tensor, a: float, b: float) -> torch.Tensor:
    t = ((x - a) / max(b - a, 1e-9)).clamp(0, 1)
    return t * t * (3 - 2 * t)


def _polygon_mask(poly: np.ndarray, S: int) -> np.ndarray:
    """(S, S) bool: texel centres (row 0 at v = 1) inside the polygon (K, 2) of tile-local UVs
    (even-odd rule)."""
    px = np.stack([poly[:, 0] * S, (1 - poly[:, 1]) * S], -1)
    x0, y0 = np.floor(px.min(0)).astype(int).clip(0, S)
    x1, y1 = (np.ceil(px.max(0)).astype(int) + 1).clip(0, S)
    out = np.zeros((S, S), bool)
    if x1 <= x0 or y1 <= y0:
        return out
    out[y0:y1, x0:x1] = inside_polygon(px, (x0, y0, x1, y1))
    return out


# ----------------------------------------------------------------------------- texel classes

_CLASS_CACHE: "weakref.WeakKeyDictionary[object, dict]" = weakref.WeakKeyDictionary()


def texel_classes(view, size: int) -> torch.Tensor:
    """(S, S) long class of every texel of the face tile of ``view`` (a ``face_model.FitView``):
    ``CLASS_OUTSIDE`` off the chart, ``CLASS_OPENING`` on the eye and mouth fillers, ``CLASS_LIP``
    inside mediapipe's outer lip contour and ``CLASS_BROW`` inside its brow contours (the model's
    embedded points, in the chart's UVs), ``CLASS_SKIN`` on the rest of the narrow face,
    ``CLASS_OUTER`` on the rest of the face part (ears, hairline, under the jaw). Cached per
    (view, size); never modify the result."""
    from facesculpt.texture.unwrap import uv_raster

    S = int(size)
    per_view = _CLASS_CACHE.setdefault(view.fill, {})
    hit = per_view.get(S)
    if hit is not None:
        return hit
    model = view.model
    uvr = uv_raster(view.fill.uvs.float(), view.fill.faces.long(), S)
    f = uvr.frags.pix_to_face[0]
    region = view.region.long()[f.clamp(min=0)]
    cls = torch.full((S, S), CLASS_OUTSIDE, dtype=torch.long)
    cls[f >= 0] = CLASS_OUTER
    cls[(f >= 0) & (region == 0)] = CLASS_SKIN
    # embedded mediapipe points -> tile-local UVs of the face chart
    emb = model.landmarks["mediapipe"]
    corner = model.uvs[model.face_uvs[emb.faces]].double()  # (N, 3, 2)
    uv = (corner * emb.bary.double()[..., None]).sum(1)
    uv[:, 0] -= torch.floor(corner[:, 0, 0])
    uv = uv.numpy()
    on_chart = f >= 0
    for loop in MP_BROWS:
        cls[torch.from_numpy(_polygon_mask(uv[list(loop)], S)) & on_chart] = CLASS_BROW
    cls[torch.from_numpy(_polygon_mask(uv[list(MP_LIPS_OUTER)], S)) & on_chart] = CLASS_LIP
    cls[(f >= 0) & ((region == 1) | (region == 2))] = CLASS_OPENING
    per_view[S] = cls
    return cls


# ----------------------------------------------------------------------------- completion

_SOFT_CACHE: dict = {}


def _soft_classes(cls: torch.Tensor, sigma: float) -> torch.Tensor:
    """(1, K, S, S) class masks blurred by ``sigma`` texels and normalised to sum 1 (skin where no
    class is near). Cached per classes tensor (``texel_classes`` returns a cached one) and sigma."""
    key = (id(cls), float(sigma))
    hit = _SOFT_CACHE.get(key)
    if hit is not None and hit[0] is cls:  # the same tensor object (ids are reused after a free)
        return hit[1]
    onehot = torch.stack([(cls == c) for c in range(NUM_CLASSES)], 0).float()[None]
    soft = _blur(onehot, sigma)
    total = soft.sum(1, keepdim=True)
    skin = F.one_hot(torch.tensor(CLASS_SKIN), NUM_CLASSES).float().view(1, -1, 1, 1)
    out = torch.where(total > 1e-6, soft / total.clamp(min=1e-6), skin.expand_as(soft))
    if len(_SOFT_CACHE) > 4:
        _SOFT_CACHE.clear()
    _SOFT_CACHE[key] = (cls, out)
    return out



def _mirror_matched(L: torch.Tensor, w: torch.Tensor, Lm: torch.Tensor, wm: torch.Tensor,
                    cfg: CompletionConfig, S: int, side: torch.Tensor | None) -> torch.Tensor:
    """Mirrored log albedo (B, S, S, 3) plus a smooth field that matches it to this side where
    both were seen. ``side`` (1 or B, S, S) bool: which half of the face each texel is on; the
    field of a texel is extended from texels of its own half only (on the other half the same
    difference has the opposite sign). None: one field for the whole chart."""
    both = ((w >= cfg.seen) & (wm >= cfg.seen)).to(L.dtype)[:, None]
    if float(both.sum()) < 1:
        return Lm
    # the difference is low-frequency: work at a quarter of the resolution
    r = 4 if S % 4 == 0 and S >= 64 else 1
    halves = [None] if side is None else [side, ~side]
    corr = torch.zeros_like(L)
    for half in halves:
        m = both if half is None else both * half.to(L.dtype)[:, None]
        wq = F.avg_pool2d(m, r)
        d = F.avg_pool2d((L - Lm).permute(0, 3, 1, 2) * m, r) / wq.clamp(min=1e-6)
        d, den = _masked_blur(d, wq, cfg.detail_sigma * S / r)
        c = push_pull_fill(d.permute(0, 2, 3, 1), (den[:, 0] > 1e-3).to(L.dtype) * wq[:, 0].clamp(0, 1).ceil())
        # the match is for the seam: it fades out over ``match_reach`` away from where both were seen
        # (deep in the mirrored area the mirror image itself is the better guess)
        near = _blur_fast(wq, cfg.match_reach * S / r) / _blur_fast(torch.ones_like(wq), cfg.match_reach * S / r)
        c = c * _smoothstep(near, 0.0, 0.25)[:, 0, ..., None]
        if r > 1:
            c = F.interpolate(c.permute(0, 3, 1, 2), scale_factor=r, mode="bilinear",
                              align_corners=False).permute(0, 2, 3, 1)
        corr = c if half is None else torch.where(half[..., None], c, corr)
    return Lm + corr


def _synthesise(H: torch.Tensor, src: torch.Tensor, cls: torch.Tensor, P: int, gen: torch.Generator,
                min_source: int) -> torch.Tensor:
    """(B, S, S, 3) detail quilted from the seen high-pass ``H`` (B, S, S, 3) at source texels
    ``src`` (B, S, S) bool, each block drawing from the class of its centre (``cls`` (S, S))."""
    B, S = H.shape[0], H.shape[1]
    step = max(1, P // 2)
    n = (S + P) // step  # blocks along a side, covering [-P/2, S + P/2)
    off = -(P // 2)
    starts = off + step * torch.arange(n)
    win1 = torch.hann_window(P + 2, periodic=False, dtype=H.dtype)[1:-1]
    win = win1[:, None] * win1[None, :]  # (P, P)
    centres = (starts + P // 2).clamp(0, S - 1)
    block_cls = cls[centres[:, None], centres[None, :]]  # (n, n)
    out = torch.zeros_like(H)
    ar = torch.arange(P)
    den = None
    # a source patch lies wholly on seen texels of one class: no class edge (a lip line, a brow
    # border) is copied into plain skin. Candidate centres on a grid of q texels (cheaper; the
    # patches still start anywhere on it)
    q = 4 if S % 4 == 0 and P >= 16 else 1
    onehot = torch.stack([src & (cls == c)[None] for c in range(NUM_CLASSES)], 1).to(H.dtype)  # (B, K, S, S)
    onehot = F.avg_pool2d(onehot, q) if q > 1 else onehot
    k = max(1, P // q)
    k = k if k % 2 == 1 else k + 1
    box = F.avg_pool2d(F.avg_pool2d(onehot, (k, 1), 1, (k // 2, 0)), (1, k), 1, (0, k // 2))  # separable box
    pure = box >= 0.98
    for b in range(B):
        skin_src = torch.nonzero(pure[b, CLASS_SKIN])
        any_src = torch.nonzero(pure[b].any(0))
        fallback = skin_src if len(skin_src) * q * q >= min_source else any_src
        if len(fallback) == 0:
            continue
        sy = torch.empty(n, n, dtype=torch.long)
        sx = torch.empty(n, n, dtype=torch.long)
        for c in range(NUM_CLASSES):
            sel = block_cls == c
            if c == CLASS_OUTSIDE or not bool(sel.any()):
                continue
            pool = torch.nonzero(pure[b, c])
            if len(pool) * q * q < min_source:
                pool = fallback
            i = torch.randint(len(pool), (int(sel.sum()),), generator=gen)
            sy[sel], sx[sel] = pool[i, 0] * q + q // 2, pool[i, 1] * q + q // 2
        rest = block_cls == CLASS_OUTSIDE
        if bool(rest.any()):
            i = torch.randint(len(fallback), (int(rest.sum()),), generator=gen)
            sy[rest], sx[rest] = fallback[i, 0] * q + q // 2, fallback[i, 1] * q + q // 2
        # source patches (centred on the drawn texel), clamped to the map
        rows = (sy.reshape(-1, 1) - P // 2 + ar).clamp(0, S - 1)  # (n*n, P)
        cols = (sx.reshape(-1, 1) - P // 2 + ar).clamp(0, S - 1)
        patches = H[b][rows[:, :, None], cols[:, None, :]]  # (n*n, P, P, 3)
        # accumulate with the window, normalised by sqrt(sum w^2)
        cols_in = (patches * win[None, :, :, None]).permute(0, 3, 1, 2).reshape(n * n, 3 * P * P)
        size = (step * (n - 1) + P,) * 2
        acc = F.fold(cols_in.t()[None], size, P, stride=step)  # (1, 3, big, big)
        lo = -off
        acc = acc[..., lo:lo + S, lo:lo + S]
        if den is None:
            wsq = (win ** 2).reshape(1, P * P, 1).expand(1, -1, n * n).contiguous()
            den = F.fold(wsq, size, P, stride=step)[..., lo:lo + S, lo:lo + S]
        out[b] = (acc / den.clamp(min=1e-8).sqrt())[0].permute(1, 2, 0)
    return out


def _robust_sigma(x: torch.Tensor) -> torch.Tensor:
    """(C,) 1.4826 x the median absolute deviation of (N, C) values, per column (from at most
    ~8,000 evenly strided rows: a statistic, not worth a full sort of a whole map)."""
    step = max(1, x.shape[0] // 8000)
    x = x[::step]
    return 1.4826 * (x - x.median(0).values).abs().median(0).values


def _spectral(H: torch.Tensor, src: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """(B, S, S, 3) Gaussian noise with the radial power spectrum of the luminance of the seen
    high-pass ``H`` (B, S, S, 3) over the source texels ``src`` (B, S, S) bool, and its 3 x 3 colour
    covariance. Structures of the seen skin (a wrinkle, a frame edge the mask missed) are not copied,
    only their contribution to the spectrum."""
    B, S = H.shape[0], H.shape[1]
    P = max(8, min(64, S // 8))  # Welch segments: P x P, Hann-windowed, wholly on source texels
    fy = torch.fft.fftfreq(S)
    radius = (fy[:, None] ** 2 + fy[None, :] ** 2).sqrt()  # cycles per texel, (S, S)
    fp = torch.fft.fftfreq(P)
    ring_p = ((fp[:, None] ** 2 + fp[None, :] ** 2).sqrt() * P).round().long().clamp(max=P // 2)
    win1 = torch.hann_window(P, periodic=False, dtype=H.dtype)
    win = win1[:, None] * win1[None, :]
    ar = torch.arange(P)
    out = torch.zeros_like(H)
    for b in range(B):
        if int(src[b].sum()) < 2:
            continue
        # segment corners whose P x P square is all source texels (on a grid of 4 texels)
        full = F.avg_pool2d(F.avg_pool2d(src[b].to(H.dtype)[None, None], (P, 1), (4, 1)), (1, P), (1, 4))[0, 0] >= 0.999
        corners = torch.nonzero(full) * 4
        lum = H[b].mean(-1)
        if len(corners) == 0:  # too little seen skin for one segment: the masked map, one segment
            segs = (lum * src[b])[None]
            ring, n_bins = (radius * S).round().long().clamp(max=S // 2), S // 2 + 1
            power = torch.fft.fft2(segs).abs().pow(2).mean(0)
        else:
            pick = corners[torch.randperm(len(corners), generator=gen)[:32]]
            segs = lum[(pick[:, 0:1] + ar)[:, :, None], (pick[:, 1:2] + ar)[:, None, :]]  # (n, P, P)
            segs = (segs - segs.mean((1, 2), keepdim=True)) * win
            ring, n_bins = ring_p, P // 2 + 1
            # median over the segments (robust Welch): a segment with a wrinkle or a frame edge
            # does not set the spectrum; median / ln 2 is the mean of an exponential power
            power = torch.fft.fft2(segs).abs().pow(2).median(0).values / math.log(2)
        prof = torch.zeros(n_bins, dtype=H.dtype).index_add_(0, ring.reshape(-1), power.reshape(-1))
        cnt = torch.zeros(n_bins, dtype=H.dtype).index_add_(0, ring.reshape(-1), torch.ones(ring.numel(), dtype=H.dtype))
        amp = (prof / cnt.clamp(min=1)).sqrt()
        amp[0] = 0  # zero mean
        # the radial profile at every frequency of the S x S map (linear in the bin position)
        pos = (radius * (n_bins - 1) * 2).clamp(max=n_bins - 1)
        i0 = pos.floor().long().clamp(max=n_bins - 2)
        t = pos - i0
        filt = amp[i0] * (1 - t) + amp[i0 + 1] * t
        noise = torch.randn(3, S, S, generator=gen, dtype=H.dtype)
        shaped = torch.fft.ifft2(torch.fft.fft2(noise) * filt).real
        shaped = shaped / shaped.std(dim=(1, 2), keepdim=True).clamp(min=1e-12)
        # colour: the seen high-pass's covariance (Cholesky factor mixes three unit fields)
        x = H[b][src[b]].double()
        x = x[(x.abs() <= 2.5 * _robust_sigma(x)).all(1)]  # robust: the bulk of the skin's detail
        cov = (torch.cov(x.T) if len(x) > 3 else torch.zeros(3, 3, dtype=torch.float64)) \
            + 1e-10 * torch.eye(3, dtype=torch.float64)
        chol = torch.linalg.cholesky(cov).to(H.dtype)
        out[b] = torch.einsum("ij,jhw->hwi", chol, shaped)
    return out


def complete_face_albedo(albedo: torch.Tensor, conf: torch.Tensor, classes: torch.Tensor,
                         cfg: CompletionConfig, *, mirror: tuple | None = None) -> torch.Tensor:
    """Complete the unseen texels of a face-tile albedo (see the module docstring).

    albedo:  (B, S, S, 3) float in [0, 1] (linear or sRGB: the method works in its log).
    conf:    (B, S, S) float in [0, 1], how well each texel was seen (0: not at all).
    classes: (S, S) long, ``texel_classes`` of the chart at S.
    mirror:  None (no mirror step) or (am (B, S, S, 3), wm (B, S, S)[, side (1 or B, S, S) bool]): the
             albedo and confidence at each texel's mirror image (``unwrap._sample_mirror``), and
             optionally which half of the face each texel is on (``unwrap.mirror_side``).

    Returns (B, S, S, 3) float in [0, 1], every texel of the square with a value. With ``cfg.keep_photo``:
    texels with conf > ``cfg.keep_from`` are the input's. Without it: texels with conf 1 further than the feather strip
    from any texel below 1 are the input's, other texels seen at ``cfg.seen`` or better (with the
    mirror's share) are not blended with the fill.
    """
    check_shape("albedo", albedo, ("B", "S", "S", 3))
    check_shape("conf", conf, (albedo.shape[0], albedo.shape[1], albedo.shape[2]))
    check_shape("classes", classes, (albedo.shape[1], albedo.shape[2]))
    B, S = albedo.shape[0], albedo.shape[1]
    dt = albedo.dtype
    eps = 1e-3
    L = albedo.clamp(min=eps).log()
    w = conf.to(dt).clamp(0, 1)
    cls = classes.to(albedo.device)
    inside = cls != CLASS_OUTSIDE
    if mirror is not None:
        am, wm = mirror[0], mirror[1]
        Lm = am.clamp(min=eps).log()
        if cfg.mirror_match:
            Lm = _mirror_matched(L, w, Lm, wm, cfg, S, mirror[2] if len(mirror) > 2 else None)
        gain = (1 - w) * wm
        total = w + gain
        L = torch.where(total[..., None] > 1e-6,
                        (w[..., None] * L + gain[..., None] * Lm) / total.clamp(min=1e-6)[..., None], L)
        w = total.clamp(0, 1)
    seen = (w >= cfg.seen) & inside[None]
    m = seen.to(dt)[:, None]

    # low-pass / high-pass split of the seen albedo
    # per group of classes (plain skin / brows / lips), so a brow or lip edge is neither blurred
    # into the skin's low-pass nor taken for skin detail
    sig = cfg.detail_sigma * S
    LP = torch.zeros_like(L)
    den = torch.zeros(B, 1, S, S, dtype=dt)
    group_of = torch.zeros(S, S, dtype=torch.long)
    for gi, group in enumerate(_GROUPS):
        gm = torch.zeros(S, S, dtype=torch.bool)
        for c in group:
            gm |= cls == c
        group_of[gm] = gi
        lp_g, den_g = _masked_blur(L.permute(0, 3, 1, 2), m * gm.to(dt)[None, None], sig)
        LP = torch.where(gm[None, ..., None], lp_g.permute(0, 2, 3, 1), LP)
        den = torch.where(gm[None, None], den_g, den)
    core = seen & (den[:, 0] >= 0.95)  # seen texels whose low-pass is all seen: detail sources
    Hp = torch.where(core[..., None], L - LP, torch.zeros_like(L))
    # robust clip (3 robust sigmas per channel): a stray edge or speck is not copied as detail
    for b in range(B):
        if bool(core[b].any()):
            lim = 3 * _robust_sigma(Hp[b][core[b]])
            Hp[b] = torch.maximum(torch.minimum(Hp[b], lim), -lim)

    # guide: per-class means of the seen log albedo, softened
    skin_sel = seen & (cls == CLASS_SKIN)[None]
    means = torch.zeros(B, NUM_CLASSES, 3, dtype=dt)
    hp_std = torch.zeros(B, NUM_CLASSES, dtype=dt)
    skin_tau = torch.full((B, 3), 0.15, dtype=dt)
    for b in range(B):
        sk = skin_sel[b] if int(skin_sel[b].sum()) >= cfg.min_source else seen[b]
        skin_mean = L[b][sk].mean(0) if bool(sk.any()) else L[b].reshape(-1, 3).mean(0)
        if int(sk.sum()) > 1:  # 3 robust sigmas of the seen skin's low-pass, at least 0.15
            skin_tau[b] = (3 * _robust_sigma(LP[b][sk])).clamp(min=0.15)
        skin_core = core[b] & (cls == CLASS_SKIN)
        if int(skin_core.sum()) < cfg.min_source:
            skin_core = core[b]
        skin_hp = _robust_sigma(Hp[b][skin_core]).mean() if int(skin_core.sum()) > 1 else Hp.new_zeros(())
        for c in range(NUM_CLASSES):
            sel = seen[b] & (cls == c)
            if int(sel.sum()) >= cfg.min_source:
                means[b, c] = L[b][sel].mean(0)
            else:
                means[b, c] = skin_mean + torch.tensor(DEFAULT_OFFSETS.get(c, (0.0, 0.0, 0.0)), dtype=dt)
            csel = core[b] & (cls == c)
            hp_std[b, c] = _robust_sigma(Hp[b][csel]).mean() if int(csel.sum()) >= cfg.min_source else skin_hp
        # the outer face (ears, hairline, under the jaw) is skin in the model, but its seen texels
        # often hold hair, a collar or background: it takes the skin's mean and detail
        means[b, CLASS_OUTER] = skin_mean
        hp_std[b, CLASS_OUTER] = skin_hp
    # low-frequency field: per group, the seen low-pass minus its class mean, extended by push-pull
    # over the group's texels, plus the class mean; the classes blended over ``class_soft``
    hard = torch.einsum("hwk,bkc->bhwc", F.one_hot(cls.clamp(min=0), NUM_CLASSES).to(dt), means)
    wlp = w * (den[:, 0] > 1e-3).to(dt) * inside[None].to(dt)
    # the outer face's seen texels weigh by how skin-like they are: hair, a hat or a collar seen
    # there does not spread over the unseen skin
    outer = (cls == CLASS_OUTER)[None]
    gate = torch.exp(-0.5 * (((LP - means[:, CLASS_SKIN][:, None, None]) / skin_tau[:, None, None]) ** 2).amax(-1))
    wlp = torch.where(outer, wlp * gate, wlp)
    # (the off-chart texels are in the skin group: bilinear lookups at the chart border read them);
    # the groups go through one push-pull as a batch
    G = len(_GROUPS)
    gms = torch.stack([group_of == gi for gi in range(G)])  # (G, S, S)
    r = push_pull_fill((LP - hard).repeat_interleave(G, 0), (wlp[:, None] * gms.to(dt)[None]).reshape(B * G, S, S))
    resid = (r.reshape(B, G, S, S, 3) * gms.to(dt)[None, ..., None]).sum(1)
    soft = _soft_classes(cls, cfg.class_soft * S).to(dt)
    low = torch.einsum("bkhw,bkc->bhwc", soft.expand(B, -1, -1, -1), means) + resid

    # high-frequency detail synthesised from the seen high-pass, scaled per class
    gen = torch.Generator().manual_seed(int(cfg.seed))
    if cfg.detail == "spectrum":
        skin_core = core & (cls == CLASS_SKIN)[None]
        detail = _spectral(Hp, skin_core if int(skin_core.sum()) >= cfg.min_source else core, gen)
    elif cfg.detail == "patches":
        detail = _synthesise(Hp, core, cls, max(4, int(round(cfg.patch * S))), gen, cfg.min_source)
    else:
        raise ValueError(f"texture.completion.detail: expected 'spectrum' or 'patches', got {cfg.detail!r}")
    fill_region = inside[None] & ~seen
    for b in range(B):
        for c in range(NUM_CLASSES):
            sel = fill_region[b] & (cls == c)
            if int(sel.sum()) < 2 or c == CLASS_OPENING:
                continue
            cur = _robust_sigma(detail[b][sel]).mean()
            if float(cur) > 1e-8:
                d = detail[b][sel] * (cfg.detail_gain * hp_std[b, c] / cur)
                lim = 2.5 * cfg.detail_gain * hp_std[b, c]  # no Gaussian-tail specks
                detail[b][sel] = d.clamp(-float(lim), float(lim))
    detail = torch.where((inside & (cls != CLASS_OPENING))[None, ..., None], detail, torch.zeros_like(detail))
    Lfill = low + detail

    # feathered blend: seen texels deep inside the seen area kept, a soft strip at its border
    # (off the chart counts as seen here: the chart's own border is no seen/unseen border)
    if cfg.feather > 0:
        m_ext = torch.maximum(m, (~inside).to(dt)[None, None])
        ones = torch.ones_like(m_ext[:1])
        cover = _blur(m_ext, cfg.feather * S) / _blur(ones, cfg.feather * S)  # no dip at the map border
        wb = torch.minimum(w, _smoothstep(cover[:, 0], 0.5, 0.99))
    else:
        wb = w
    # texels seen at ``seen`` confidence or better keep their value: the feather strip (and the strips round
    # the unwrap's isolated zero-confidence texels) cost 0.6-1.2 dB of in-view PSNR on grace_hopper and astronaut
    wb = torch.where(w >= cfg.seen, torch.ones_like(wb), wb)
    if not cfg.keep_photo:
        out = (wb[..., None] * L + (1 - wb[..., None]) * Lfill).exp().clamp(0, 1)
        return torch.where(((wb >= 1) & (conf >= 1))[..., None], albedo, out)
    # every texel the photo saw (conf > keep_from) keeps its own de-lit colour, not mixed with the mirror or the
    # fill: the blends below ``seen`` cost 0.7-1.5 dB of in-view PSNR, and a feathered strip inside the
    # seen border another ~1 dB (docs/results.md, "Issue 10: the seen area of the texture"); the fill
    # already meets the seen texels without a step (its low-frequency field is their low-pass, extended)
    own = conf > cfg.keep_from
    Lout = wb[..., None] * L + (1 - wb[..., None]) * Lfill
    if cfg.rim > 0:
        # the unseen side of the seen border starts at the colour of the seen texels beside it and fades
        # into the fill over ``rim`` (the grazing texels the photo saw last are kept, so their colour,
        # not the fill's low-pass of the well-seen texels, is what the fill must meet)
        L0 = albedo.clamp(min=eps).log()
        ext, near = _masked_blur(L0.permute(0, 3, 1, 2), own.to(dt)[:, None], cfg.rim * S)
        norm = _blur_fast(torch.ones_like(near), cfg.rim * S)
        t = _smoothstep(2 * near[:, 0] / norm[:, 0].clamp(min=1e-6), 0.0, 1.0)[..., None]
        Lout = t * ext.permute(0, 2, 3, 1) + (1 - t) * Lout
    out = Lout.exp().clamp(0, 1)
    return torch.where(own[..., None], albedo, out)


__all__ = ["CompletionConfig", "texel_classes", "complete_face_albedo", "CLASS_OUTSIDE", "CLASS_SKIN",
           "CLASS_OUTER", "CLASS_BROW", "CLASS_LIP", "CLASS_OPENING"]
