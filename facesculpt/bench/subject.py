"""Synthetic photos of one person for the multi-photo benchmarks and tests (issue 16).

``subject_scene(seed, yaws)``: one head from the model (random identity, per photo its own expression
when asked), its painted albedo (``synthetic.head.make_head_albedo``) with blotches drawn
independently on every texel (smooth noise, standard deviation ``blotch_sd``) so its two halves differ,
rendered at each yaw (pitch 5 deg) under one random SH light (scaled per photo by ``light_scales``)
into ``size`` px photos. Returns a ``SubjectScene`` with the truth. Nothing is read from disk.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F


@dataclass
class SubjectScene:
    """images: per photo (H, W, 3) uint8; identity (1, K); expressions (n, E); albedo (1, S, S, 3) the
    face tile's truth (the renderer's values, sRGB as displayed); poses / cameras per photo (truth);
    light (1, 9, 3) before the per-photo scale."""

    images: list
    identity: torch.Tensor
    expressions: torch.Tensor
    albedo: torch.Tensor
    poses: list
    cameras: list
    light: torch.Tensor


def subject_scene(seed: int, yaws: Sequence[float] = (-45.0, 0.0, 45.0), blotch_sd: float = 0.15,
                  expression: bool = False, light_scales: Optional[Sequence[float]] = None, size: int = 512,
                  uv_size: Optional[int] = None) -> SubjectScene:
    """The scene of the module docstring (deterministic in ``seed``)."""
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.render.antialias import antialias
    from facesculpt.render.face import render_face
    from facesculpt.synthetic.head import (IRIS_COLOURS, atlas, face_pose, head_config, head_mesh,
                                           make_head_albedo, make_light, sample_expression)

    over = {"size": size}
    if uv_size is not None:
        over["uv_size"] = uv_size
    cfg = head_config(**over)
    model = load_face_model()
    rng = np.random.default_rng(seed)
    E = model.num_expression
    ident = torch.tensor(rng.standard_normal(model.num_identity), dtype=torch.float32)[None]
    with torch.no_grad():
        neutral = model.vertices(HeadParams(ident, torch.zeros(1, E), torch.zeros(1, 2, 2)))
    albedo = torch.as_tensor(make_head_albedo(rng, model, cfg.uv_size, cfg.freckles))[None].float()
    S0 = albedo.shape[1]
    noise = np.random.default_rng(seed + 1000).standard_normal((1, 1, S0, S0))
    k = max(3, int(round(15 * S0 / 512)) | 1)
    blot = F.avg_pool2d(torch.tensor(noise, dtype=torch.float32), k, 1, k // 2, count_include_pad=False)
    blot = blot / blot.std()
    albedo = (albedo * (1 + blotch_sd * blot[0, 0, :, :, None])).clamp(0, 1)
    tex = atlas(model, albedo, IRIS_COLOURS[0])
    light = make_light(rng, cfg.light_strength)
    bg = torch.tensor(cfg.background, dtype=torch.float32).expand(1, cfg.size, cfg.size, 3).contiguous()
    scales = list(light_scales) if light_scales is not None else [1.0] * len(yaws)
    ex_rng = np.random.default_rng(seed + 2000)
    images, poses, cams, exprs = [], [], [], []
    for yaw, sc in zip(yaws, scales):
        ex = sample_expression(ex_rng, model.expression_names)[0] if expression else np.zeros(E)
        ex_t = torch.tensor(ex, dtype=torch.float32)[None]
        with torch.no_grad():
            hv = model.vertices(HeadParams(ident, ex_t, torch.zeros(1, 2, 2)))
            verts, faces, uvs, vn, _ = head_mesh(model, hv, None, cfg.head_levels)
        pose, cam, _ = face_pose(model, neutral, float(yaw), 5.0, 0.0, np.zeros(2), cfg)
        with torch.no_grad():
            rend = render_face(verts, faces, uvs, pose, cam, tex, light * sc, background=bg, normals_model=vn)
            img = antialias(rend.image, rend.frags, rend.screen, faces).clamp(0, 1)
        images.append(np.rint(img[0].numpy() * 255).astype(np.uint8))
        poses.append(pose)
        cams.append(cam)
        exprs.append(ex_t[0])
    return SubjectScene(images, ident, torch.stack(exprs), albedo, poses, cams, light)


def detail(albedo: torch.Tensor, S: int) -> torch.Tensor:
    """(S, S) luminance detail (5-texel minus 31-texel box blur at 512 texels, scaled) of a (1, s, s, 3) map
    resampled to S."""
    a = albedo.permute(0, 3, 1, 2).float()
    a = F.interpolate(a, size=(S, S), mode="area") if a.shape[-1] != S else a
    lum = (a * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, keepdim=True)
    k0, k1 = (max(1, int(round(k * S / 512)) | 1) for k in (5, 31))
    fine = F.avg_pool2d(lum, k0, 1, k0 // 2, count_include_pad=False)
    return (fine - F.avg_pool2d(lum, k1, 1, k1 // 2, count_include_pad=False))[0, 0]


def masked_corr(x: torch.Tensor, y: torch.Tensor, m: torch.Tensor) -> float:
    """Pearson correlation of ``x`` and ``y`` over the mask ``m`` (same shapes)."""
    x, y = x[m] - x[m].mean(), y[m] - y[m].mean()
    return float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-12))


__all__ = ["SubjectScene", "subject_scene", "detail", "masked_corr"]
