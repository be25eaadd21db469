"""Visibility of a mesh from itself: ambient occlusion and cast shadows under SH light.

Shading with visibility (precomputed radiance transfer, Sloan et al. 2002, in its simplest form):
the SH light ``c`` (9 coefficients per channel, the radiance ``L(w) = sum_k c_k Y_k(w)`` whose
clamped-cosine convolution ``ops.sh.sh_shade`` evaluates exactly) lights a point with normal n as

    E(n) = int V(w) max(0, n.w) L(w) dw = sh_shade(n, c) - O . c,
    O_k  = int (1 - V(w)) max(0, n.w) Y_k(w) dw,

where V(w) is 1 when the ray from the point in direction w leaves the mesh. ``O`` (the
*occluded transfer*, 9 numbers per point) is what this module computes; it is 0 for an
unoccluded point, so the shading without visibility is recovered exactly, and the shading stays
linear in the light (the photometric fit and the de-lighting keep their closed forms). O is
estimated by quadrature over a fixed Fibonacci set of directions (uniform on the sphere).

V is found by shadow mapping, the rasterised form of ray casting: for each direction the mesh is
rasterised orthographically along it into a depth grid; a point is occluded in that direction
when the grid holds a surface in front of it (towards the light) by more than a slope-scaled
bias. The kernel is hand-written in numba because no installable CPU library does this on our
tensors (trimesh's ray casting without embree is pure Python and ~100x slower at this size).

Frames: everything is in the frame of the given points and directions; use ``view_dirs`` with the
pose's rotation so that ``O`` is in the view frame of the SH light (``occluded_transfer_view``).
"""
from __future__ import annotations

import math
from typing import Optional

import numba
import numpy as np
import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.render.visibility_config import VisibilityConfig


def fibonacci_directions(n: int) -> torch.Tensor:
    """(n, 3) float64 unit directions spread evenly over the sphere (a Fibonacci lattice)."""
    if n < 1:
        raise ValueError(f"directions: expected at least 1, got {n}")
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    r = np.sqrt(np.clip(1 - z * z, 0, 1))
    phi = math.pi * (3 - math.sqrt(5)) * i
    return torch.from_numpy(np.stack([r * np.cos(phi), r * np.sin(phi), z], 1))


def _sh_values(d: torch.Tensor) -> torch.Tensor:
    """Plain real SH Y_k (no cosine-lobe factors) of unit directions (..., 3) -> (..., 9)."""
    from facesculpt.ops.sh import _A, sh_basis

    scale = torch.tensor([_A[0]] + [_A[1]] * 3 + [_A[2]] * 5, dtype=d.dtype)
    return sh_basis(d) / scale


@numba.njit(cache=True)
def _shadow_test(occ_xy, occ_z, faces, rec_xy, rec_z, rec_bias, G, out):  # pragma: no cover - compiled
    """One direction. occ_xy (V, 2) in grid pixels, occ_z (V,) height towards the light; receivers
    rec_xy (N, 2), rec_z (N,), rec_bias (N,). out (N,) bool set True where occluded."""
    depth = np.full((G, G), -1e30)
    for f in range(faces.shape[0]):
        a, b, c = faces[f, 0], faces[f, 1], faces[f, 2]
        x0, y0, z0 = occ_xy[a, 0], occ_xy[a, 1], occ_z[a]
        x1, y1, z1 = occ_xy[b, 0], occ_xy[b, 1], occ_z[b]
        x2, y2, z2 = occ_xy[c, 0], occ_xy[c, 1], occ_z[c]
        area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
        if abs(area) < 1e-12:
            continue
        i0 = max(int(math.floor(min(y0, y1, y2) - 0.5)), 0)
        i1 = min(int(math.ceil(max(y0, y1, y2) - 0.5)), G - 1)
        j0 = max(int(math.floor(min(x0, x1, x2) - 0.5)), 0)
        j1 = min(int(math.ceil(max(x0, x1, x2) - 0.5)), G - 1)
        for i in range(i0, i1 + 1):
            py = i + 0.5
            for j in range(j0, j1 + 1):
                px = j + 0.5
                w0 = ((x1 - px) * (y2 - py) - (y1 - py) * (x2 - px)) / area
                w1 = ((x2 - px) * (y0 - py) - (y2 - py) * (x0 - px)) / area
                w2 = 1.0 - w0 - w1
                if w0 < -1e-9 or w1 < -1e-9 or w2 < -1e-9:
                    continue
                z = w0 * z0 + w1 * z1 + w2 * z2
                if z > depth[i, j]:
                    depth[i, j] = z
    for n in range(rec_xy.shape[0]):
        # the nearest 2 x 2 pixels' maximum: conservative against the receiver's own surface
        # being missed between pixel centres, strict enough for the bias below
        fx, fy = rec_xy[n, 0] - 0.5, rec_xy[n, 1] - 0.5
        j = int(math.floor(fx))
        i = int(math.floor(fy))
        best = -1e30
        cnt = 0
        for di in range(2):
            for dj in range(2):
                ii, jj = i + di, j + dj
                if 0 <= ii < G and 0 <= jj < G and depth[ii, jj] > -1e29:
                    cnt += 1
                    if depth[ii, jj] > best:
                        best = depth[ii, jj]
        if cnt == 4 and best > rec_z[n] + rec_bias[n]:
            # all four neighbours hold a surface in front: occluded (a silhouette edge, where
            # some are empty, counts as open)
            out[n] = True


def visibility(points: torch.Tensor, normals: torch.Tensor, occ_verts: torch.Tensor, occ_faces: torch.Tensor,
               dirs: torch.Tensor, resolution: int = 192, bias_px: float = 1.5) -> torch.Tensor:
    """Whether each point sees out of the occluder mesh along each direction.

    points, normals: (N, 3) receivers (normals unit, used for the bias and to skip directions
    below the surface); occ_verts: (V, 3); occ_faces: (F, 3) long; dirs: (D, 3) unit, all in one
    frame. Returns (N, D) bool: True = open (the ray leaves the mesh), False = blocked. Directions
    with ``n . d <= 0`` are reported open (the clamped cosine is 0 there anyway).
    """
    check_shape("points", points, ("N", 3))
    check_shape("normals", normals, points.shape)
    check_shape("occ_verts", occ_verts, ("V", 3))
    check_shape("occ_faces", occ_faces, ("F", 3))
    check_shape("dirs", dirs, ("D", 3))
    P = points.detach().double().numpy()
    Nn = normals.detach().double().numpy()
    V = occ_verts.detach().double().numpy()
    Fc = np.ascontiguousarray(occ_faces.detach().numpy().astype(np.int64))
    Dd = dirs.detach().double().numpy()
    centre = 0.5 * (V.min(0) + V.max(0))
    radius = float(np.linalg.norm(V - centre, axis=1).max()) * 1.02 + 1e-9
    G = int(resolution)
    px = 2 * radius / G
    out = np.zeros((P.shape[0], Dd.shape[0]), dtype=bool)
    blocked = np.zeros(P.shape[0], dtype=bool)
    for k in range(Dd.shape[0]):
        d = Dd[k]
        # an orthonormal frame (u, v, d)
        a = np.array([1.0, 0.0, 0.0]) if abs(d[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        u = np.cross(d, a)
        u /= np.linalg.norm(u)
        v = np.cross(d, u)

        def grid(X):
            Y = X - centre
            return np.stack([(Y @ u + radius) / px, (Y @ v + radius) / px], 1), Y @ d

        oxy, oz = grid(V)
        rxy, rz = grid(P)
        cos = Nn @ d
        facing = cos > 1e-3
        tan = np.sqrt(np.clip(1 - cos * cos, 0, 1)) / np.maximum(cos, 0.05)
        bias = px * bias_px * (1.0 + np.minimum(tan, 10.0))
        blocked[:] = False
        _shadow_test(np.ascontiguousarray(oxy), np.ascontiguousarray(oz), Fc, np.ascontiguousarray(rxy),
                     np.ascontiguousarray(rz), np.ascontiguousarray(bias), G, blocked)
        out[:, k] = ~(blocked & facing)
    return torch.from_numpy(out)


def occluded_transfer(points: torch.Tensor, normals: torch.Tensor, occ_verts: torch.Tensor,
                      occ_faces: torch.Tensor, dirs: torch.Tensor, sh_dirs: Optional[torch.Tensor] = None,
                      sh_normals: Optional[torch.Tensor] = None, resolution: int = 192,
                      bias_px: float = 1.5) -> torch.Tensor:
    """(N, 9) float32 occluded transfer ``O`` (module docstring) of the points.

    Rays are cast along ``dirs`` (D, 3) in the mesh's frame; ``sh_dirs`` (D, 3) / ``sh_normals``
    (N, 3) are the same directions / normals in the light's frame (default: the same frame).
    """
    vis = visibility(points, normals, occ_verts, occ_faces, dirs, resolution, bias_px)
    sd = (dirs if sh_dirs is None else sh_dirs).double()
    sn = (normals if sh_normals is None else sh_normals).double()
    cos = (sn @ sd.T).clamp(min=0)  # (N, D)
    w = (~vis).double() * cos * (4 * math.pi / sd.shape[0])
    return (w @ _sh_values(sd)).float()


def occluded_transfer_view(verts_model: torch.Tensor, faces: torch.Tensor, normals_model: torch.Tensor,
                           pose, cfg: VisibilityConfig, occ_verts: Optional[torch.Tensor] = None,
                           occ_faces: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(1, V, 9) occluded transfer of a posed mesh's vertices in the *view* frame of the SH light.

    verts_model: (1, V, 3) model frame; faces: (F, 3); normals_model: (1, V, 3) unit; pose: the
    ``Pose`` whose view frame the light is in (batch 1). ``occ_verts``/``occ_faces``: the occluder
    mesh (model frame, default the mesh itself).
    """
    check_shape("verts_model", verts_model, (1, "V", 3))
    check_shape("normals_model", normals_model, verts_model.shape)
    # view frame = MODEL_TO_CV-flipped camera axes; model -> view rotation M (see render.face.to_view_frame)
    M = (MODEL_TO_CV.double() @ pose.matrix().double())[0]
    dirs_view = fibonacci_directions(cfg.directions)
    dirs_model = dirs_view @ M  # rows: M^T d
    n_view = normals_model[0].double() @ M.T
    ov = verts_model[0] if occ_verts is None else occ_verts.reshape(-1, 3)
    of = faces if occ_faces is None else occ_faces
    O = occluded_transfer(verts_model[0], normals_model[0], ov, of, dirs_model, sh_dirs=dirs_view,
                          sh_normals=n_view, resolution=cfg.resolution, bias_px=cfg.bias_px)
    return O[None]


def head_occluded_transfer(dense: torch.Tensor, faces: torch.Tensor, pose, cfg: VisibilityConfig) -> torch.Tensor:
    """(1, V, 9) occluded transfer of a fitted mesh ``dense`` (1, V, 3) model frame, faces (F, 3),
    in the view frame of ``pose`` (its smooth vertex normals; the mesh occludes itself)."""
    from facesculpt.ops.mesh import vertex_normals

    with torch.no_grad():
        d = dense.detach().float()
        n = vertex_normals(d, faces)
    return occluded_transfer_view(d, faces, n, pose, cfg)


def turn_transfer(occluded: torch.Tensor, rotation_view: torch.Tensor) -> torch.Tensor:
    """The occluded transfer (B, ..., 9) of a mesh turned rigidly by ``rotation_view`` (3, 3) in the
    frame of the transfer (the SH light's view frame), under the same light: the mesh's own
    shadowing turns with it, so ``O'(p') = D O(p)`` with D the SH rotation (``ops.sh.sh_rotation``).
    Exact for the quadrature's integral; a re-rasterised transfer differs by its direction sampling."""
    from facesculpt.ops.sh import sh_rotation

    D = sh_rotation(rotation_view.to(torch.float64)).to(occluded.dtype)
    return occluded @ D.T


def shade_with_visibility(shading: torch.Tensor, occluded: torch.Tensor, coeffs: torch.Tensor) -> torch.Tensor:
    """Shading (B, ..., 3) without visibility minus the light the occluders block, floored at 0.

    occluded: (B, ..., 9) interpolated occluded transfer; coeffs: (B, 9, 3) SH light."""
    B = coeffs.shape[0]
    blocked = (occluded.reshape(B, -1, 9).to(coeffs.dtype) @ coeffs).reshape(shading.shape)
    return (shading - blocked).clamp(min=0)


__all__ = ["VisibilityConfig", "fibonacci_directions", "visibility", "occluded_transfer", "occluded_transfer_view",
           "head_occluded_transfer", "turn_transfer",
           "shade_with_visibility"]
