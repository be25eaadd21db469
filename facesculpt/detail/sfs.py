"""Shape from shading in UV space: a displacement map d (cm along the normal) and a refined
albedo A that together explain the unwrapped photo T ~ A * shade(n(d)) under the fitted SH light.

Everything happens per texel of the S x S UV map, so no rasterisation is needed inside the
loop. For the texel at surface point P(u, v) with unit normal n, displacing P' = P + d n
gives (ignoring the d x curvature terms) the tangents P'_u = P_u + d_u n, P'_v = P_v + d_v n
and the normal n' ~ P'_u x P'_v, with P_u x P_v replaced by the interpolated normal times the
same area element (so d = 0 gives the coarse normal exactly). P_u, P_v (cm per UV unit) come
from the UV layout's per-face Jacobians, averaged at the vertices and interpolated over the UV
raster; d_u, d_v are central differences of the map.

Hand-written: no installable library does texel-space photometric displacement
estimation; the optimisation is plain torch autograd + Adam over a Laplacian pyramid of the map.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from facesculpt.core.errors import ConfigError
from facesculpt.detail.config import DetailConfig
from facesculpt.ops.sh import sh_shade
from facesculpt.render.face import to_view_frame
from facesculpt.structures import Pose
from facesculpt.texture.unwrap import uv_interpolate, uv_raster
from facesculpt.core.determinism import backward as _backward

#: the reference map size the per-texel regulariser weights are expressed at
REF_SIZE = 512


@dataclass
class TexelFrames:
    """Per-texel surface frame of a posed mesh in the view frame (all (1, S, S, 3) except inside).

    normal: unit normal n; du, dv: tangents P_u, P_v in cm per UV unit; inside: (1, S, S) bool
    (texel centre on the chart); face: (1, S, S) long dense face id (-1 outside).
    """

    normal: torch.Tensor
    du: torch.Tensor
    dv: torch.Tensor
    inside: torch.Tensor
    face: torch.Tensor


def vertex_uv_jacobians(verts: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vertex tangents (P_u, P_v), each (B, V, 3) in the verts' frame (cm per UV unit).

    verts: (B, V, 3); faces: (F, 3); uvs: (V, 2). Face Jacobians [P_u P_v] = [e1 e2] inv([duv1 duv2])
    are summed at the vertices with the face's UV area as weight.
    """
    p0, p1, p2 = verts[:, faces[:, 0]], verts[:, faces[:, 1]], verts[:, faces[:, 2]]
    t0, t1, t2 = uvs[faces[:, 0]], uvs[faces[:, 1]], uvs[faces[:, 2]]
    e1, e2 = p1 - p0, p2 - p0
    a1, a2 = t1 - t0, t2 - t0
    det = a1[:, 0] * a2[:, 1] - a2[:, 0] * a1[:, 1]  # 2 x signed UV area
    safe = torch.where(det.abs() > 1e-12, det, torch.full_like(det, 1e-12))
    # inverse of [[a1u, a2u], [a1v, a2v]]
    pu = (e1 * a2[:, 1, None] - e2 * a1[:, 1, None]) / safe[:, None]
    pv = (-e1 * a2[:, 0, None] + e2 * a1[:, 0, None]) / safe[:, None]
    w = det.abs()[None, :, None]
    V = verts.shape[1]
    out = []
    for t in (pu * w, pv * w):
        acc = torch.zeros(verts.shape[0], V, 3, dtype=verts.dtype)
        for k in range(3):
            acc.index_add_(1, faces[:, k], t)
        out.append(acc)
    wsum = torch.zeros(V, dtype=verts.dtype).index_add_(0, faces.reshape(-1), det.abs().repeat_interleave(3).to(verts.dtype))
    wsum = wsum.clamp(min=1e-12)[None, :, None]
    return out[0] / wsum, out[1] / wsum


def texel_frames(verts: torch.Tensor, faces: torch.Tensor, uvs: torch.Tensor, pose: Pose, size: int) -> TexelFrames:
    """Per-texel normal and UV tangents of ``verts`` (1, V, 3) model frame, in the view frame."""
    from facesculpt.ops.mesh import vertex_normals

    uvr = uv_raster(uvs, faces, size)
    n = vertex_normals(verts, faces)
    pu, pv = vertex_uv_jacobians(verts, faces, uvs)
    attrs = to_view_frame(torch.cat([n, pu, pv], dim=1), pose)
    V = verts.shape[1]
    attrs = torch.cat([attrs[:, :V], attrs[:, V:2 * V], attrs[:, 2 * V:]], dim=-1)
    it = uv_interpolate(attrs, uvr)
    normal = F.normalize(it[..., 0:3], dim=-1, eps=1e-8)
    return TexelFrames(normal, it[..., 3:6], it[..., 6:9], uvr.inside[None], uvr.frags.pix_to_face)


@dataclass
class NormalTerms:
    """The parts of ``detail_normals`` that depend on the frames only (computed once per solve; all
    (1, S, S, 3), each already multiplied by the orientation sign): ``base`` = n * area, ``along_u`` =
    n x P_v, ``along_v`` = P_u x n; ``normal`` and ``inside`` as in ``TexelFrames``."""

    base: torch.Tensor
    along_u: torch.Tensor
    along_v: torch.Tensor
    normal: torch.Tensor
    inside: torch.Tensor


def normal_terms(frames: TexelFrames) -> NormalTerms:
    """The displacement-independent terms of ``detail_normals`` for ``frames``."""
    n = frames.normal
    # (P_u + d_u n) x (P_v + d_v n) = P_u x P_v + d_u (n x P_v) + d_v (P_u x n); the first term is
    # replaced by the smooth (interpolated) normal times the same area element, so that d = 0 gives
    # the coarse normal exactly rather than the tangents' own, slightly faceted, cross product
    area = (torch.cross(frames.du, frames.dv, dim=-1) * n).sum(-1, keepdim=True)
    # the sign is +-1, so folding it into the three terms gives the same bytes as applying it to their sum
    sign = torch.where(area < 0, -torch.ones_like(area), torch.ones_like(area))
    return NormalTerms(n * area * sign, torch.cross(n, frames.dv, dim=-1) * sign,
                       torch.cross(frames.du, n, dim=-1) * sign, n, frames.inside[..., None])


def detail_normals(d: torch.Tensor, frames: TexelFrames | NormalTerms) -> torch.Tensor:
    """Unit normals (1, S, S, 3) of the surface displaced by ``d`` (1, S, S) cm (``frames``: the texel
    frames, or their ``normal_terms`` when called once per step of a solve)."""
    terms = frames if isinstance(frames, NormalTerms) else normal_terms(frames)
    S = d.shape[-1]
    dp = F.pad(d[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    # u grows with the column, v grows upwards (towards row 0); central differences per UV unit
    d_u = (dp[:, 1:-1, 2:] - dp[:, 1:-1, :-2]) * (S / 2.0)
    d_v = (dp[:, :-2, 1:-1] - dp[:, 2:, 1:-1]) * (S / 2.0)
    c = terms.base + d_u[..., None] * terms.along_u + d_v[..., None] * terms.along_v
    out = F.normalize(c, dim=-1, eps=1e-8)
    return torch.where(terms.inside, out, terms.normal)


def _laplacian(x: torch.Tensor) -> torch.Tensor:
    """5-point Laplacian of (1, S, S) with replicated borders."""
    p = F.pad(x[:, None], (1, 1, 1, 1), mode="replicate")[:, 0]
    return p[:, :-2, 1:-1] + p[:, 2:, 1:-1] + p[:, 1:-1, :-2] + p[:, 1:-1, 2:] - 4 * x


def yang_weights(albedo: torch.Tensor, alpha: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Yang et al. (eqs. 8-9) edge weights w = exp(-alpha |A0_i - A0_j|) between horizontal and vertical
    neighbours of the coarse albedo (1, S, S, 3): ((1, S, S-1), (1, S-1, S))."""
    dx = (albedo[:, :, 1:] - albedo[:, :, :-1]).norm(dim=-1)
    dy = (albedo[:, 1:] - albedo[:, :-1]).norm(dim=-1)
    return torch.exp(-alpha * dx), torch.exp(-alpha * dy)


def _resize(x: torch.Tensor, size: int, mode: str = "bilinear") -> torch.Tensor:
    """(1, S, S[, C]) map -> (1, size, size[, C])."""
    chan = x.dim() == 4
    t = x.permute(0, 3, 1, 2) if chan else x[:, None]
    if t.shape[-1] != size:
        if mode == "area" and size < t.shape[-1]:
            t = F.interpolate(t, size=(size, size), mode="area")
        else:
            t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=False)
    return t.permute(0, 2, 3, 1) if chan else t[:, 0]


@dataclass
class SfSResult:
    """displacement: (1, S, S) cm; albedo: (1, S, S, 3); normal: (1, S, S, 3) view frame; losses: dict."""

    displacement: torch.Tensor
    albedo: torch.Tensor
    normal: torch.Tensor
    losses: dict


def solve_displacement(texture: torch.Tensor, visibility: torch.Tensor, albedo0: torch.Tensor, light: torch.Tensor,
                       frames: TexelFrames, skin: torch.Tensor, cfg: DetailConfig, init: torch.Tensor | None = None,
                       iterations: int | None = None, progress=None) -> SfSResult:
    """Fit a displacement (cm) and a log-albedo to ``texture`` at the frames' size.

    texture, albedo0: (1, S, S, 3); visibility, skin: (1, S, S) (skin: 1 on skin texels, 0 eyes/mouth/outside);
    light: (1, 9, 3); init: optional (1, S, S) starting displacement. The correction of the displacement is
    parametrised by a Laplacian pyramid of ``cfg.pyramid_levels`` levels (the finest ``cfg.pyramid_skip``
    left out). ``losses`` holds the final terms and ``data_start`` / ``total_start`` (the first step's),
    so a caller can check that the fit improved.
    """
    if cfg.pyramid_levels < 1 or not 0 <= cfg.pyramid_skip < cfg.pyramid_levels:
        raise ConfigError(f"detail.pyramid_levels must be >= 1 and 0 <= detail.pyramid_skip < pyramid_levels "
                          f"(got {cfg.pyramid_levels}, {cfg.pyramid_skip})")
    if cfg.albedo_weights not in ("albedo", "chroma"):
        raise ConfigError(f"detail.albedo_weights must be albedo or chroma (got {cfg.albedo_weights!r})")
    S = texture.shape[1]
    r = S / REF_SIZE
    conf = (visibility * skin).detach()
    wsum = conf.sum().clamp(min=1.0)
    both = conf * conf.flip(-1)
    skin_on = (skin > 0).float()
    base = init.detach().clone() if init is not None else torch.zeros(1, S, S)
    # the displacement is the starting map plus a Laplacian pyramid of corrections (sides S, S/2, ...):
    # plain per-texel gradient steps barely move the smooth, mid-scale part of d; the coarse levels of
    # the pyramid move it in a few steps
    sides = [S]
    while len(sides) < int(cfg.pyramid_levels) and sides[-1] // 2 >= 8:
        sides.append(sides[-1] // 2)
    sides = sides[min(int(cfg.pyramid_skip), len(sides) - 1):]
    levels = [torch.zeros(1, 1, s, s, requires_grad=True) for s in sides]

    def displacement():
        # clamped in the forward pass (a texel pushed past the clamp stops receiving data gradients)
        acc = base[:, None]
        for g in levels:
            acc = acc + (g if g.shape[-1] == S else F.interpolate(g, size=(S, S), mode="bilinear", align_corners=False))
        return acc[:, 0].clamp(-cfg.max_displacement, cfg.max_displacement) * skin_on

    # start the albedo from a local mean of the coarse albedo, so the detail shading baked into A0 is
    # first offered to the displacement; sharp albedo marks come back through the data term where the
    # Yang weights let them
    k = max(3, int(round(cfg.albedo_blur * r)) | 1)
    a_init = F.avg_pool2d(F.pad(albedo0.permute(0, 3, 1, 2), (k // 2,) * 4, mode="replicate"), k, stride=1)
    log_a = torch.log(a_init.permute(0, 2, 3, 1).clamp(min=1e-3)).contiguous().requires_grad_(True)
    # albedo edges by chromaticity (1 - Yang weight of the chromaticity at edge_alpha, the largest of a
    # texel's four): under the white-balanced light, shading (creases baked into A0 included) is grey and
    # leaves the chromaticity alone, while lip outlines, brows and moles change it. Grown over the box
    # filter's reach: the blurred albedo start spreads an edge that far, and the relief must not follow it
    chroma = albedo0 / albedo0.sum(-1, keepdim=True).clamp(min=1e-3)
    ex, ey = yang_weights(chroma, cfg.edge_alpha)
    if cfg.edge_log_step > 0:
        # steps of log albedo far larger than creases and pores shade (brows, moles, lip outlines): a
        # soft threshold, 1 - exp(-(step / edge_log_step)^4), folded into the same "keep" weights
        la0 = torch.log(albedo0.clamp(min=1e-3))
        step = cfg.edge_log_step / r  # per texel of the 512 map: a coarser map's steps span more surface
        lx = (la0[:, :, 1:] - la0[:, :, :-1]).norm(dim=-1) / step
        ly = (la0[:, 1:] - la0[:, :-1]).norm(dim=-1) / step
        ex, ey = torch.minimum(ex, torch.exp(-lx.pow(4))), torch.minimum(ey, torch.exp(-ly.pow(4)))
    if cfg.albedo_weights == "chroma":
        # the albedo smoothness's weights from the chromaticity (grey detail shading leaves it alone)
        # and the large log steps: where only the shading changes, the albedo is held smooth and the
        # change must come from the relief
        wx, wy = yang_weights(chroma, cfg.chroma_alpha)
        if cfg.edge_log_step > 0:
            wx, wy = torch.minimum(wx, torch.exp(-lx.pow(4))), torch.minimum(wy, torch.exp(-ly.pow(4)))
    else:  # "albedo" (checked above)
        wx, wy = yang_weights(albedo0, cfg.alpha)
    edge = torch.zeros(1, S, S)
    edge[:, :, 1:] = torch.maximum(edge[:, :, 1:], 1 - ex)
    edge[:, :, :-1] = torch.maximum(edge[:, :, :-1], 1 - ex)
    edge[:, 1:] = torch.maximum(edge[:, 1:], 1 - ey)
    edge[:, :-1] = torch.maximum(edge[:, :-1], 1 - ey)
    edge = F.max_pool2d(edge[:, None], k, stride=1, padding=k // 2)[:, 0]
    opt = torch.optim.Adam([{"params": levels, "lr": cfg.lr_displacement},
                            {"params": [log_a], "lr": cfg.lr_albedo}])
    steps = cfg.iterations if iterations is None else iterations
    cells = max(2, int(round(cfg.low_cells * r)))
    sym_k = int(round(cfg.symmetry_scale * r)) | 1 if cfg.symmetry_scale > 1 else 1
    losses: dict = {}
    terms = normal_terms(frames)
    blur = None
    if cfg.data_blur > 0:
        sig = cfg.data_blur * r
        rad = max(1, int(math.ceil(3 * sig)))
        xs = torch.arange(-rad, rad + 1, dtype=torch.float32)
        blur = torch.exp(-xs.pow(2) / (2 * sig * sig))
        blur = blur / blur.sum()
    clipped = texture >= cfg.saturation - 1e-6 if cfg.saturation <= 1.0 else None
    if clipped is not None and not bool(clipped.any()):
        clipped = None
    for it in range(steps):
        opt.zero_grad(set_to_none=True)
        d = displacement()
        n = detail_normals(d, terms)
        a = log_a.exp()
        pred = a * sh_shade(n, light)
        if blur is not None:
            pc = F.pad(pred.permute(0, 3, 1, 2), (blur.shape[-1] // 2,) * 4, mode="replicate")
            pc = F.conv2d(F.conv2d(pc, blur.view(1, 1, 1, -1).expand(3, 1, 1, -1), groups=3),
                          blur.view(1, 1, -1, 1).expand(3, 1, -1, 1), groups=3)
            pred = pc.permute(0, 2, 3, 1).contiguous()
        res = pred - texture
        if clipped is not None:  # a clipped channel only bounds the prediction from below
            res = torch.where(clipped, res.clamp(max=0.0), res)
        data = (conf[..., None] * res.pow(2)).sum() / wsum
        lap = _laplacian(d) / (r * r)
        e_lap = (skin * lap.pow(2)).mean()
        e_low = F.avg_pool2d((d * skin)[:, None], cells, ceil_mode=True).pow(2).mean() if cfg.w_low > 0 else d.sum() * 0
        ax = (a[:, :, 1:] - a[:, :, :-1]).pow(2).sum(-1) / (r * r)
        ay = (a[:, 1:] - a[:, :-1]).pow(2).sum(-1) / (r * r)
        e_alb = ((wx * ax).mean() + (wy * ay).mean())
        if cfg.w_edge > 0:
            dx = (d[:, :, 1:] - d[:, :, :-1]).pow(2) / (r * r)
            dy = (d[:, 1:] - d[:, :-1]).pow(2) / (r * r)
            e_edge = (edge[:, :, 1:] * dx).mean() + (edge[:, 1:] * dy).mean()
        else:
            e_edge = d.sum() * 0
        ds = d
        if sym_k > 1:  # symmetry of the map's smooth part only: pores and fine marks are not mirrored
            ds = F.pad(d[:, None], (sym_k // 2,) * 4, mode="replicate")
            ds = F.avg_pool2d(F.avg_pool2d(ds, (sym_k, 1), stride=1), (1, sym_k), stride=1)[:, 0]  # separable box
        e_sym = (both * (ds - ds.flip(-1)).pow(2)).mean()
        e_uns = ((1 - conf) * d.pow(2)).mean()
        loss = (data + cfg.w_laplacian * e_lap + cfg.w_low * e_low + cfg.w_albedo_smooth * e_alb
                + cfg.w_edge * e_edge + cfg.w_symmetry * e_sym + cfg.w_unseen * e_uns)
        if it == 0:
            start = {"data_start": float(data.detach()), "total_start": float(loss.detach())}
        # every op above sums in an order fixed by the map's size (no scatter, no MKL reduction), so the
        # backward keeps every thread and still repeats (core/determinism.py, tests/detail/test_detail_threads.py)
        _backward(loss, order_fixed=True)
        opt.step()
        if progress is not None:
            progress("detail", it + 1, steps)
        if it == steps - 1:
            losses = {"data": float(data.detach()), "laplacian": float(e_lap.detach()), "low": float(e_low.detach()),
                      "albedo_smooth": float(e_alb.detach()), "symmetry": float(e_sym.detach()), "edge": float(e_edge.detach()),
                      "unseen": float(e_uns.detach()), "total": float(loss.detach()), **start}
    with torch.no_grad():
        d = displacement().detach()
        n = detail_normals(d, terms)
    return SfSResult(d, log_a.detach().exp().clamp(0, 1), n, losses)
