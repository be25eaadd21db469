"""OPTIONAL CUDA backend via nvdiffrast. UNTESTED in CI (no GPU there): keep it small.

Used only when ``nvdiffrast`` is importable and the vertices are on a CUDA device.
nvdiffrast rasterises clip-space triangles; we only take its triangle ids and let
``facesculpt.render.rasterize`` recompute the barycentrics in torch, exactly as for
the CPU backends. Differences to the CPU rule set: nvdiffrast's own tie rule on shared
edges and its depth precision (a [near, far] range derived from the data).
"""
from __future__ import annotations

import torch

_CTX: dict = {}


def available() -> bool:
    try:
        import nvdiffrast.torch  # noqa: F401
    except Exception:  # ImportError, or a broken CUDA install
        return False
    return True


def rasterize_ids(verts: torch.Tensor, faces: torch.Tensor, H: int, W: int, cull: bool,
                  near: float) -> torch.Tensor:
    """Face id per pixel (B, H, W) long, -1 for background; verts (B, V, 3) on CUDA."""
    import nvdiffrast.torch as dr

    dev = verts.device
    ctx = _CTX.get(dev)
    if ctx is None:
        ctx = _CTX[dev] = dr.RasterizeCudaContext(device=dev)
    v = verts.detach().float()
    x, y, z = v.unbind(-1)
    # keep only faces every batch item can draw; ids are mapped back afterwards.
    fz = z[:, faces]  # (B, F, 3)
    fx, fy = x[:, faces], y[:, faces]
    area = (fx[..., 1] - fx[..., 0]) * (fy[..., 2] - fy[..., 0]) - (fy[..., 1] - fy[..., 0]) * (fx[..., 2] - fx[..., 0])
    ok = (fz > near).all(-1) & (area != 0) & torch.isfinite(area)
    if cull:
        ok &= area < 0
    zc = z.clamp(min=near)
    zn = float(zc.min()) * 0.5
    zf = float(zc.max()) * 2.0
    # pixel -> NDC without a flip: nvdiffrast's row 0 is NDC y = -1, our row 0 is y = 0.
    clip = torch.stack([(2.0 * x / W - 1.0) * zc, (2.0 * y / H - 1.0) * zc,
                        (zf + zn) / (zf - zn) * zc - 2.0 * zf * zn / (zf - zn), zc], dim=-1)
    out = torch.full((verts.shape[0], H, W), -1, dtype=torch.long, device=dev)
    for b in range(verts.shape[0]):  # per item: the kept face set may differ
        keep = ok[b].nonzero().squeeze(1)
        if keep.numel() == 0:
            continue
        rast, _ = dr.rasterize(ctx, clip[b:b + 1].contiguous(), faces[keep].int().contiguous(), (H, W))
        tid = rast[0, ..., 3].long() - 1  # 0 = background in nvdiffrast
        out[b] = torch.where(tid >= 0, keep[tid.clamp(min=0)], tid)
    return out
