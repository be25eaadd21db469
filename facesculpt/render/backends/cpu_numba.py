"""CPU rasteriser kernel, compiled with numba on first call (``cache=True``).

Why hand-written: no installable library rasterises triangle ids on a CPU under
PyTorch tensors with our pixel conventions (nvdiffrast needs CUDA or OpenGL,
PyTorch3D has no CPU wheel for this torch); the kernel is small.

Rule set (shared bit-for-bit with ``torch_ref``, see ``facesculpt.render.rasterize``):

- triangle dropped if any coordinate is not finite, any vertex has z <= near, its
  signed area ``(x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` is 0, or (with ``cull``) area > 0;
- pixel (i, j) is tested at (j + 0.5, i + 0.5) with edge functions evaluated in float64
  from the edge's lexicographically smaller endpoint (so two triangles sharing an edge
  see exactly opposite values) and a top-left style tie rule;
- the z-test keeps the largest ``1/z`` (nearest), first face index on exact ties.

Work split: the image is cut into bands of rows; ``numba.prange`` runs over
(batch, band) pairs, and each band loops over all triangles clipped to the band, so no
two threads write the same pixel.
"""
from __future__ import annotations

import numba
import numpy as np
import torch

#: rows per band of the parallel loop.
BAND_ROWS = 16
# per-face record layout in ``fdata``: 5 floats per edge (cx, cy, ex, ey, sign) for the
# 3 edges, then owned[3], inverse depth iz[3], |area|.
_NF = 22


@numba.njit(cache=True, parallel=True)
def _setup(verts, faces, H, W, near, cull, fdata, fbox):  # pragma: no cover - compiled
    B = verts.shape[0]
    F = faces.shape[0]
    for t in numba.prange(B * F):
        b = t // F
        f = t % F
        fbox[b, f, 0] = 1
        fbox[b, f, 1] = 0
        fbox[b, f, 2] = 1
        fbox[b, f, 3] = 0
        ia = faces[f, 0]
        ib = faces[f, 1]
        ic = faces[f, 2]
        x0 = verts[b, ia, 0]
        y0 = verts[b, ia, 1]
        z0 = verts[b, ia, 2]
        x1 = verts[b, ib, 0]
        y1 = verts[b, ib, 1]
        z1 = verts[b, ib, 2]
        x2 = verts[b, ic, 0]
        y2 = verts[b, ic, 1]
        z2 = verts[b, ic, 2]
        if not (np.isfinite(x0) and np.isfinite(y0) and np.isfinite(z0) and np.isfinite(x1)
                and np.isfinite(y1) and np.isfinite(z1) and np.isfinite(x2) and np.isfinite(y2)
                and np.isfinite(z2)):
            continue
        if z0 <= near or z1 <= near or z2 <= near:
            continue
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if area == 0.0:
            continue
        if cull and area > 0.0:
            continue
        s = 1.0 if area > 0.0 else -1.0
        xlo = max(min(x0, x1, x2) - 0.5, -1.0)
        xhi = min(max(x0, x1, x2) - 0.5, W + 1.0)
        ylo = max(min(y0, y1, y2) - 0.5, -1.0)
        yhi = min(max(y0, y1, y2) - 0.5, H + 1.0)
        c0 = max(int(np.ceil(xlo)), 0)
        c1 = min(int(np.floor(xhi)), W - 1)
        r0 = max(int(np.ceil(ylo)), 0)
        r1 = min(int(np.floor(yhi)), H - 1)
        if c0 > c1 or r0 > r1:
            continue
        for k in range(3):
            if k == 0:
                ax, ay, bx, by = x1, y1, x2, y2
            elif k == 1:
                ax, ay, bx, by = x2, y2, x0, y0
            else:
                ax, ay, bx, by = x0, y0, x1, y1
            dxo = s * (bx - ax)
            dyo = s * (by - ay)
            owned = dyo < 0.0 or (dyo == 0.0 and dxo > 0.0)  # top or left edge
            sg = s
            if ax > bx or (ax == bx and ay > by):
                ax, ay, bx, by = bx, by, ax, ay
                sg = -s
            fdata[b, f, 5 * k + 0] = ax
            fdata[b, f, 5 * k + 1] = ay
            fdata[b, f, 5 * k + 2] = bx - ax
            fdata[b, f, 5 * k + 3] = by - ay
            fdata[b, f, 5 * k + 4] = sg
            fdata[b, f, 15 + k] = 1.0 if owned else 0.0
        fdata[b, f, 18] = 1.0 / z0
        fdata[b, f, 19] = 1.0 / z1
        fdata[b, f, 20] = 1.0 / z2
        fdata[b, f, 21] = s * area
        fbox[b, f, 0] = c0
        fbox[b, f, 1] = c1
        fbox[b, f, 2] = r0
        fbox[b, f, 3] = r1


@numba.njit(cache=True, parallel=True)
def _raster(fdata, fbox, H, W, band, out):  # pragma: no cover - compiled
    B = fbox.shape[0]
    F = fbox.shape[1]
    nb = (H + band - 1) // band
    for t in numba.prange(B * nb):
        b = t // nb
        lo = (t % nb) * band
        hi = min(H, lo + band) - 1
        depth = np.full((hi - lo + 1, W), -1.0)
        for f in range(F):
            c0 = fbox[b, f, 0]
            c1 = fbox[b, f, 1]
            r0 = max(fbox[b, f, 2], lo)
            r1 = min(fbox[b, f, 3], hi)
            if c0 > c1 or r0 > r1:
                continue
            cx0 = fdata[b, f, 0]
            cy0 = fdata[b, f, 1]
            ex0 = fdata[b, f, 2]
            ey0 = fdata[b, f, 3]
            sg0 = fdata[b, f, 4]
            cx1 = fdata[b, f, 5]
            cy1 = fdata[b, f, 6]
            ex1 = fdata[b, f, 7]
            ey1 = fdata[b, f, 8]
            sg1 = fdata[b, f, 9]
            cx2 = fdata[b, f, 10]
            cy2 = fdata[b, f, 11]
            ex2 = fdata[b, f, 12]
            ey2 = fdata[b, f, 13]
            sg2 = fdata[b, f, 14]
            own0 = fdata[b, f, 15] > 0.5
            own1 = fdata[b, f, 16] > 0.5
            own2 = fdata[b, f, 17] > 0.5
            iz0 = fdata[b, f, 18]
            iz1 = fdata[b, f, 19]
            iz2 = fdata[b, f, 20]
            aa = fdata[b, f, 21]
            for i in range(r0, r1 + 1):
                py = i + 0.5
                for j in range(c0, c1 + 1):
                    px = j + 0.5
                    w0 = sg0 * (ex0 * (py - cy0) - ey0 * (px - cx0))
                    if w0 < 0.0 or (w0 == 0.0 and not own0):
                        continue
                    w1 = sg1 * (ex1 * (py - cy1) - ey1 * (px - cx1))
                    if w1 < 0.0 or (w1 == 0.0 and not own1):
                        continue
                    w2 = sg2 * (ex2 * (py - cy2) - ey2 * (px - cx2))
                    if w2 < 0.0 or (w2 == 0.0 and not own2):
                        continue
                    invz = (w0 * iz0 + w1 * iz1 + w2 * iz2) / aa
                    if invz > depth[i - lo, j]:
                        depth[i - lo, j] = invz
                        out[b, i, j] = f


def rasterize_ids(verts: torch.Tensor, faces: torch.Tensor, H: int, W: int, cull: bool,
                  near: float) -> torch.Tensor:
    """Face id per pixel (B, H, W) long, -1 for background.

    verts: (B, V, 3) float64 CPU (x_pix, y_pix, z); faces: (F, 3) long CPU.
    """
    v = np.ascontiguousarray(verts.detach().cpu().numpy(), dtype=np.float64)
    fc = np.ascontiguousarray(faces.detach().cpu().numpy(), dtype=np.int64)
    B, F = v.shape[0], fc.shape[0]
    fdata = np.empty((B, F, _NF), dtype=np.float64)
    fbox = np.empty((B, F, 4), dtype=np.int64)
    out = np.full((B, H, W), -1, dtype=np.int64)
    if F > 0 and H > 0 and W > 0:
        # one knob for both: numba uses as many threads as torch. numba's OpenMP threading
        # layer resets the process-wide OpenMP thread count when it starts, which would
        # silently change torch.get_num_threads(); restore it.
        nt = torch.get_num_threads()
        numba.set_num_threads(max(1, min(nt, numba.config.NUMBA_NUM_THREADS)))
        try:
            _setup(v, fc, H, W, float(near), bool(cull), fdata, fbox)
            _raster(fdata, fbox, H, W, BAND_ROWS, out)
        finally:
            if torch.get_num_threads() != nt:
                torch.set_num_threads(nt)
    return torch.from_numpy(out)
