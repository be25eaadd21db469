"""Slow pure-torch reference rasteriser (tests, tiny images).

Same rule set and the same float64 arithmetic, operation by operation, as
``cpu_numba`` (see that module), so the two agree bit-for-bit on ``pix_to_face``.
Memory is O(H*W*chunk): faces are processed in chunks.
"""
from __future__ import annotations

import torch


def _face_setup(v: torch.Tensor, faces: torch.Tensor, H: int, W: int, cull: bool, near: float):
    """Per-face records for one batch item; v (V, 3) float64."""
    x = v[faces, 0]  # (F, 3)
    y = v[faces, 1]
    z = v[faces, 2]
    x0, x1, x2 = x.unbind(1)
    y0, y1, y2 = y.unbind(1)
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    valid = torch.isfinite(v[faces]).all(dim=(1, 2)) & (z > near).all(dim=1) & (area != 0)
    if cull:
        valid &= ~(area > 0)
    s = torch.where(area > 0, 1.0, -1.0).to(v.dtype)
    xlo = (x.min(1).values - 0.5).clamp(min=-1.0)
    xhi = (x.max(1).values - 0.5).clamp(max=W + 1.0)
    ylo = (y.min(1).values - 0.5).clamp(min=-1.0)
    yhi = (y.max(1).values - 0.5).clamp(max=H + 1.0)
    c0 = torch.ceil(torch.nan_to_num(xlo)).clamp(min=0)
    c1 = torch.floor(torch.nan_to_num(xhi)).clamp(max=W - 1)
    r0 = torch.ceil(torch.nan_to_num(ylo)).clamp(min=0)
    r1 = torch.floor(torch.nan_to_num(yhi)).clamp(max=H - 1)
    edges = []
    for a, b in ((1, 2), (2, 0), (0, 1)):
        ax, ay, bx, by = x[:, a], y[:, a], x[:, b], y[:, b]
        dxo = s * (bx - ax)
        dyo = s * (by - ay)
        owned = (dyo < 0) | ((dyo == 0) & (dxo > 0))  # top or left edge
        swap = (ax > bx) | ((ax == bx) & (ay > by))
        cx = torch.where(swap, bx, ax)
        cy = torch.where(swap, by, ay)
        dx = torch.where(swap, ax, bx)
        dy = torch.where(swap, ay, by)
        sg = torch.where(swap, -s, s)
        edges.append((cx, cy, dx - cx, dy - cy, sg, owned))
    iz = 1.0 / z
    return valid, (c0, c1, r0, r1), edges, iz, s * area


def rasterize_ids(verts: torch.Tensor, faces: torch.Tensor, H: int, W: int, cull: bool,
                  near: float, chunk: int = 256) -> torch.Tensor:
    """Face id per pixel (B, H, W) long, -1 for background; verts (B, V, 3) float64."""
    verts = verts.detach().to(torch.float64)
    B, F = verts.shape[0], faces.shape[0]
    dev = verts.device
    out = torch.full((B, H, W), -1, dtype=torch.long, device=dev)
    if F == 0:
        return out
    rows = torch.arange(H, dtype=torch.float64, device=dev)
    cols = torch.arange(W, dtype=torch.float64, device=dev)
    py = (rows + 0.5)[:, None].expand(H, W).reshape(-1, 1)  # (P, 1)
    px = (cols + 0.5)[None, :].expand(H, W).reshape(-1, 1)
    ri = rows[:, None].expand(H, W).reshape(-1, 1)
    ci = cols[None, :].expand(H, W).reshape(-1, 1)
    for b in range(B):
        valid, (c0, c1, r0, r1), edges, iz, aa = _face_setup(verts[b], faces, H, W, cull, near)
        best = torch.full((H * W,), -1.0, dtype=torch.float64, device=dev)
        best_id = torch.full((H * W,), -1, dtype=torch.long, device=dev)
        for s0 in range(0, F, chunk):
            sl = slice(s0, min(F, s0 + chunk))
            cov = valid[sl][None] & (ci >= c0[sl]) & (ci <= c1[sl]) & (ri >= r0[sl]) & (ri <= r1[sl])
            ws = []
            for cx, cy, ex, ey, sg, owned in edges:
                w = sg[sl] * (ex[sl] * (py - cy[sl]) - ey[sl] * (px - cx[sl]))
                cov &= (w > 0) | ((w == 0) & owned[sl])
                ws.append(w)
            izc = iz[sl]
            invz = (ws[0] * izc[:, 0] + ws[1] * izc[:, 1] + ws[2] * izc[:, 2]) / aa[sl]
            invz = torch.where(cov, invz, torch.full_like(invz, -1.0))
            m, arg = invz.max(dim=1)
            upd = m > best  # strictly nearer than earlier chunks: lowest index wins ties
            best = torch.where(upd, m, best)
            best_id = torch.where(upd, arg + s0, best_id)
        out[b] = best_id.reshape(H, W)
    return out
