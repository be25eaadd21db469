"""Initial SH light in linear light (issue 12): one spatial light shape for all channels, fitted
to the seen skin's luminance, kept physically plausible; colour and exposure are then set by the
skin-reflectance prior (``texture.skin_prior.anchor_light``).

Why not one SH fit per channel (``pipeline.initial_light_and_albedo``, made for sRGB values): in
linear light a face's normals cover a cap of the sphere over which 1 and z are nearly collinear,
and a channel with small values (blue on skin) can come out with a negative ambient term and a
huge frontal term that match the cap equally well; normalised to unit ambient that light is
garbage. One shape for all channels, and a band-1 ridge raised until the light is positive over the
front hemisphere with a ratio of band 1 to ambient a real light can have, avoids it.
"""
from __future__ import annotations

from dataclasses import replace as dc_replace
from typing import Optional

import torch

from facesculpt.ops.sh import AMBIENT_BASIS, ambient_coeffs, fit_sh_robust, sh_basis
from facesculpt.structures import Camera, Pose

#: band-1 ridges tried in turn (the first gives the light the shading asks for). 1e-2 was tried second until session
#: 28: over a face's cap of normals the constant and frontal (z) terms are nearly collinear, and its fits sat on that
#: ridge, strongly frontal lights (band 1 0.7-1.7 times band 0, against 0.3-0.7 at 1e-1) taken or refused by the
#: front-shading test on a detail: grace_hopper with a user's box equal to the detector's (its landmarks 1.5 px off,
#: the head's roll 2 deg) took it and gave an albedo 40 % darker than the detector's run. Without it the scan of the
#: relight benchmark relit 18.78 -> 20.96 dB, the synthetic heads unchanged (docs/results.md, session 28)
RIDGES = (1e-4, 1e-1, 1.0)
#: with the light-shape prior (``texture.light_prior``): its strength times these, tried in turn
PRIOR_STEPS = (1.0, 10.0, 100.0, 1e4)
#: a fitted light is accepted when its irradiance over the front hemisphere stays above this
#: fraction of its ambient level
MIN_FRONT_SHADING = 0.1
#: ... and when its band-1 irradiance (the amplitude of its linear term in the normal) is at most this times its ambient
#: irradiance: the most any light can have, a single point light (its irradiance's ambient term is I / 4, its band-1
#: term I / 2 (n . d)); every light is a sum of such, so the ratio of a sum is at most 2. The front-hemisphere test
#: alone let a frontal term grow without bound: an over-exposed photo (AFLW image01322 brightened x 1.6, a third of
#: its pixels clipped) took a light of ratio 3.3 whose frontal shading was 3.4 times the right one, and an albedo
#: 39 % darker than the same photo's unbrightened (docs/results.md, session 39); the other photos measured had 0.1-0.9
MAX_BAND1_RATIO = 2.0


def band1_ratio(coeffs: torch.Tensor) -> float:
    """The ratio of the band-1 irradiance amplitude to the ambient irradiance of SH coefficients (9,) (one channel)."""
    c = coeffs.double()
    b1 = float(sh_basis(torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64))[0, 2])
    return float(b1 * c[1:4].norm() / max(float(AMBIENT_BASIS * c[0]), 1e-12))


def _front_normals(n: int = 2000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    return v * torch.sign(v[:, 2:3])


def seen_skin_texels(image: torch.Tensor, dense: torch.Tensor, surface, pose: Pose, camera: Camera, tex_cfg,
                     size: int, valid: Optional[torch.Tensor] = None, clipped=None, outer: bool = False,
                     geometry=None):
    """The texels a light fit uses: ``image`` unwrapped at ``size`` under a unit ambient light (mirror
    completion on), with per texel (flattened) the view-frame normal (N, 3), the skin flag (N,), the
    visibility weight (N,) and ``keep`` (N,): seen (weight > 0.3) skin texels, or every seen texel when
    fewer than 50 skin texels were seen. ``surface``: the Topology or FitView (dense faces, UVs, face
    regions). ``clipped``: the photo's ``texture.clipping.Clipped`` or None (then texels with a clipped
    channel have lost their confidence: ``UVMaps.censored`` holds it). ``outer``: the face part's outer
    ring (``face_model.REGION_OUTER``) counts as skin too. ``geometry``: the ``texture.unwrap.view_geometry`` of
    ``dense`` at ``size`` if made already. Returns (low-res TextureConfig, UVMaps, normals, skin, weight, keep)."""
    from facesculpt.face_model import REGION_OUTER
    from facesculpt.texture.unwrap import unwrap, uv_raster, view_geometry
    from facesculpt.topology import REGION_SKIN

    cfg_lo = dc_replace(tex_cfg, size=size, mirror=True)
    if getattr(cfg_lo, "local_light", None) is not None:  # the light is fitted from the global light alone
        cfg_lo = dc_replace(cfg_lo, local_light=dc_replace(cfg_lo.local_light, enabled=False))
    if geometry is None:
        geometry = view_geometry(dense, surface.dense_faces, surface.dense_uvs, pose, camera, size)
    maps = unwrap(image, dense, surface.dense_faces, surface.dense_uvs, pose, camera, ambient_coeffs(1), cfg_lo,
                  valid, clipped=clipped, geometry=geometry)
    geo = geometry.texels
    face = uv_raster(surface.dense_uvs, surface.dense_faces, size).frags.pix_to_face[0].clamp(min=0)
    region = surface.dense_face_region[face]
    skin = region == REGION_SKIN
    if outer:  # the face part's outer ring too (towards the ears, scalp line and neck: more of the sphere)
        skin = skin | (region == REGION_OUTER)
    skin = skin.reshape(-1)
    w = maps.visibility.reshape(-1)
    return cfg_lo, maps, geo.normal_view.reshape(-1, 3), skin, w, _seen_skin(w, skin)


def _seen_skin(w: torch.Tensor, skin: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the seen (weight ``w`` > 0.3) skin texels, or every seen texel when fewer than 50 skin
    texels were seen."""
    keep = (w > 0.3) & skin
    return keep if int(keep.sum()) >= 50 else w > 0.3


def _censored_luminance(clipped, geo) -> tuple[torch.Tensor, torch.Tensor]:
    """(high (N,), low (N,)) bool: the texels of the map of texel geometry ``geo`` (``texture.unwrap.TexelGeometry``)
    whose luminance is a lower bound (a channel clipped high) or an upper bound (a channel clipped low, none high)."""
    from facesculpt.texture.clipping import sample_clipped

    hi, lo = sample_clipped(clipped, geo.xy)
    hi = hi.any(-1).reshape(-1)
    return hi, lo.any(-1).reshape(-1) & ~hi


#: rounds of the one-sided light fit's active-set iteration (``_fit_light_shape``)
ONE_SIDED_ROUNDS = 6


def _fit_light_shape(n: torch.Tensor, lum: torch.Tensor, w: torch.Tensor, keep: torch.Tensor, ridge: float,
                     high: Optional[torch.Tensor] = None, low: Optional[torch.Tensor] = None,
                     prior=None) -> torch.Tensor:
    """(9,) SH coefficients of the luminance ``lum`` (N, 3) over the ``keep`` texels (``fit_sh_robust``);
    with ``high``/``low`` (N,) bool the censored texels count one-sided (the squared hinge): an active-set
    iteration fits with the censored texels whose prediction violates their bound (below a lower bound,
    above an upper one) as ordinary data and the others left out (there the one-sided loss is 0), until
    the set stops changing. (A majorise-minimise step, target ``max(prediction, value)``, converges to the
    same fit but slowly: 0.50 / 0.54 / 0.55 of a true 0.5625 after 4 / 10 / 30 rounds in the test.)
    ``prior``: a ``texture.light_prior.LightPriorConfig`` (enabled): the light-shape prior of that
    strength times ``ridge`` replaces the band-1 ridge (``fit_sh_shape_prior``)."""
    def fit(sel):
        if prior is not None:
            from facesculpt.texture.light_prior import fit_sh_shape_prior

            return fit_sh_shape_prior(n[sel], lum[sel, 0], w[sel], prior, strength=prior.strength * ridge)
        return fit_sh_robust(n[sel], lum[sel], w[sel], ridge_band1=ridge)[:, 0]

    c = fit(keep)
    if high is None or not bool(((high | low) & keep).any()):
        return c
    Y = sh_basis(n)
    obs = lum[:, 0]
    active = None
    for _ in range(ONE_SIDED_ROUNDS):
        pred = Y @ c
        act = keep & ~((high & (pred >= obs)) | (low & (pred <= obs)))
        if active is not None and torch.equal(act, active):
            break
        active = act
        c = fit(active)
    return c


def initial_linear_light(image: torch.Tensor, dense: torch.Tensor, view, pose: Pose, camera: Camera, tex_cfg,
                         size: int = 64, valid: Optional[torch.Tensor] = None, clipped=None,
                         shape: Optional[torch.Tensor] = None, record: Optional[dict] = None):
    """Unit-ambient, white SH light (1, 9, 3) fitted to the seen skin of ``image`` (1, R, R, 3),
    linear light, and the albedo (1, size, size, 3) it implies, with the skin weights (1, size, size).

    ``clipped``: the ``texture.clipping.Clipped`` of ``image`` or None. With it (and
    ``tex_cfg.clipping.enabled``) texels with a clipped channel enter the fit one-sided, not at all or as
    measured (``ClippingConfig.light_fit``), and the albedo's clipped texels are completed
    (``texture.clipping``); they are in the skin weights with that albedo. With
    ``tex_cfg.light_prior.enabled`` the light's shape is fitted under the light-shape prior
    (``texture.light_prior``) instead of the band-1 ridge. ``shape``: a (1, 9, 3) unit-ambient white light to
    take instead of fitting one (the same scene's light from another photo: a clip's texture frame); the albedo
    and weights are then those it implies. ``record``: a dict or None; given, ``record["visibility"]`` gets the
    unwrap's confidence (1, size, size) of every texel (how squarely the photo saw it; 0 unseen)."""
    from facesculpt.texture.unwrap import unwrap, view_geometry

    clip_cfg = getattr(tex_cfg, "clipping", None)
    prior_cfg = getattr(tex_cfg, "light_prior", None)
    if clip_cfg is None or not clip_cfg.enabled:
        clipped = None
    clip_seen = None if clip_cfg is None or clip_cfg.light_fit == "measured" else clipped
    # the head's view at this camera, made once for the three uses below
    geometry = view_geometry(dense, view.dense_faces, view.dense_uvs, pose, camera, size)
    cfg_lo, maps, n, skin, w, keep = seen_skin_texels(image, dense, view, pose, camera, tex_cfg, size, valid,
                                                      clipped=clip_seen,
                                                      outer=prior_cfg is not None and prior_cfg.outer,
                                                      geometry=geometry)
    high = low = None
    if clipped is not None and maps.censored is not None and clip_cfg.light_fit == "one_sided":
        # the censored texels (dropped from ``keep`` by their lost confidence) come back, one-sided
        w = w + maps.censored.reshape(-1)
        keep = _seen_skin(w, skin)
        high, low = _censored_luminance(clipped, geometry.texels)
    n = n.double()
    cw = torch.tensor((1.0, 1.0, 1.0) if prior_cfg is None else prior_cfg.channels, dtype=torch.float64)
    # the shading's shape from a weighted mean of the channels (texture.light_prior: red alone varies least)
    lum = (maps.texture.reshape(-1, 3).double() @ (cw / cw.sum()))[:, None].expand(-1, 3)
    light = ambient_coeffs(1, dtype=torch.float64)
    prior = prior_cfg if prior_cfg is not None and prior_cfg.enabled else None
    if shape is not None:
        light = shape.detach().to(torch.float64)
    elif int(keep.sum()) >= 20:
        Yf = sh_basis(_front_normals())
        for ridge in (PRIOR_STEPS if prior is not None else RIDGES):
            c = _fit_light_shape(n, lum, w.double(), keep, ridge, high, low, prior)
            dc = float(c[0] * AMBIENT_BASIS)
            if dc > 1e-6 and float((Yf @ c).min()) > MIN_FRONT_SHADING * dc and band1_ratio(c) <= MAX_BAND1_RATIO:
                light = (c / dc)[None, :, None].expand(1, 9, 3)
                break
    light = light.float().contiguous()
    maps = unwrap(image, dense, view.dense_faces, view.dense_uvs, pose, camera, light, cfg_lo, valid,
                  clipped=clipped, geometry=geometry)
    from facesculpt.texture.clipping import seen_confidence

    seen = seen_confidence(maps)
    # the clipped texels count with their completed, bounded albedo (``texture.clipping.censor_albedo``):
    # left out, the skin colour would come from the unclipped, darker texels only
    weight = (seen > 0.3) & skin.reshape(1, size, size)
    if record is not None:
        record["visibility"] = maps.visibility
    return light, maps.albedo, weight.float()


__all__ = ["initial_linear_light", "seen_skin_texels", "band1_ratio", "RIDGES", "MIN_FRONT_SHADING", "MAX_BAND1_RATIO"]
