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

#: band-1 ridges tried in turn (the first gives the light the shading asks for)
RIDGES = (1e-4, 1e-2, 1e-1, 1.0)
#: a fitted light is accepted when its irradiance over the front hemisphere stays above this
#: fraction of its ambient level
MIN_FRONT_SHADING = 0.1


def _front_normals(n: int = 2000) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(n, 3, generator=g, dtype=torch.float64), dim=-1)
    return v * torch.sign(v[:, 2:3])


def seen_skin_texels(image: torch.Tensor, dense: torch.Tensor, surface, pose: Pose, camera: Camera, tex_cfg,
                     size: int, valid: Optional[torch.Tensor] = None):
    """The texels a light fit uses: ``image`` unwrapped at ``size`` under a unit ambient light (mirror
    completion on), with per texel (flattened) the view-frame normal (N, 3), the skin flag (N,), the
    visibility weight (N,) and ``keep`` (N,): seen (weight > 0.3) skin texels, or every seen texel when
    fewer than 50 skin texels were seen. ``surface``: the Topology or FitView (dense faces, UVs, face
    regions). Returns (low-res TextureConfig, UVMaps, normals, skin, weight, keep)."""
    from facesculpt.texture.unwrap import texel_geometry, unwrap, uv_raster
    from facesculpt.topology import REGION_SKIN

    cfg_lo = dc_replace(tex_cfg, size=size, mirror=True)
    if getattr(cfg_lo, "local_light", None) is not None:  # the light is fitted from the global light alone
        cfg_lo = dc_replace(cfg_lo, local_light=dc_replace(cfg_lo.local_light, enabled=False))
    maps = unwrap(image, dense, surface.dense_faces, surface.dense_uvs, pose, camera, ambient_coeffs(1), cfg_lo,
                  valid)
    geo = texel_geometry(dense, surface.dense_faces, surface.dense_uvs, pose, camera, size)
    face = uv_raster(surface.dense_uvs, surface.dense_faces, size).frags.pix_to_face[0].clamp(min=0)
    skin = (surface.dense_face_region[face] == REGION_SKIN).reshape(-1)
    w = maps.visibility.reshape(-1)
    keep = (w > 0.3) & skin
    if int(keep.sum()) < 50:  # hardly any skin seen: fall back to every seen texel
        keep = w > 0.3
    return cfg_lo, maps, geo.normal_view.reshape(-1, 3), skin, w, keep


def initial_linear_light(image: torch.Tensor, dense: torch.Tensor, view, pose: Pose, camera: Camera, tex_cfg,
                         size: int = 64, valid: Optional[torch.Tensor] = None):
    """Unit-ambient, white SH light (1, 9, 3) fitted to the seen skin of ``image`` (1, R, R, 3),
    linear light, and the albedo (1, size, size, 3) it implies, with the skin weights (1, size, size)."""
    from facesculpt.texture.unwrap import unwrap

    cfg_lo, maps, n, skin, w, keep = seen_skin_texels(image, dense, view, pose, camera, tex_cfg, size, valid)
    n = n.double()
    lum = maps.texture.reshape(-1, 3).double().mean(-1, keepdim=True).expand(-1, 3)
    light = ambient_coeffs(1, dtype=torch.float64)
    if int(keep.sum()) >= 20:
        Yf = sh_basis(_front_normals())
        for ridge in RIDGES:
            c = fit_sh_robust(n[keep], lum[keep], w[keep].double(), ridge_band1=ridge)[:, 0]
            dc = float(c[0] * AMBIENT_BASIS)
            if dc > 1e-6 and float((Yf @ c).min()) > MIN_FRONT_SHADING * dc:
                light = (c / dc)[None, :, None].expand(1, 9, 3)
                break
    light = light.float().contiguous()
    maps = unwrap(image, dense, view.dense_faces, view.dense_uvs, pose, camera, light, cfg_lo, valid)
    weight = (maps.visibility > 0.3) & skin.reshape(1, size, size)
    return light, maps.albedo, weight.float()


__all__ = ["initial_linear_light", "seen_skin_texels", "RIDGES", "MIN_FRONT_SHADING"]
