"""Rasterisation: screen-space triangles -> per-pixel face id, barycentrics and depth.

Conventions (see ``facesculpt.core.conventions``):

- ``verts_screen[..., 0:2]`` are pixel coordinates, x right, y down; pixel (i, j) is
  sampled at its centre (x, y) = (j + 0.5, i + 0.5). ``verts_screen[..., 2]`` is the
  positive camera-space depth z (OpenCV camera, +z forward).
- Triangles with any vertex at z <= ``NEAR_Z`` are dropped whole (no clipping), as are
  zero-area triangles and triangles with non-finite coordinates.
- Coverage: a pixel centre strictly inside is covered; a centre exactly on an edge is
  covered by exactly one of the two triangles sharing that edge (a top-left style rule,
  evaluated in float64 so the decision is exact), so a closed tiling of the image has
  neither gaps nor double coverage.
- Depth test: nearest surface wins (largest perspective-correct 1/z at the pixel
  centre); on an exact tie the lower face index wins.
- Winding: the signed area ``A = (x1-x0)(y2-y0) - (y1-y0)(x2-x0)`` in pixel coordinates
  (y down). A < 0 is a FRONT face: counter-clockwise as the triangle appears on screen
  (y down). A mesh that is counter-clockwise seen from outside in the model frame
  (+Y up, +Z to the viewer) keeps its visible faces at A < 0 after ``MODEL_TO_CV``
  (which flips y and z) and a pinhole projection. ``cull_backfaces=True`` drops A > 0.

The backend kernel only picks the face id per pixel (no gradients); barycentrics and
depth are then recomputed in torch from the chosen face's three projected vertices at
the pixel centre (screen-space edge functions, then perspective correction with 1/z),
so they are differentiable w.r.t. ``verts_screen`` — the approach of nvdiffrast.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ShapeError

#: triangles with a vertex at camera depth z <= NEAR_Z (same units as verts_screen z)
#: are not drawn.
NEAR_Z = 1e-6

BACKENDS = ("auto", "cpu", "torch", "cuda")


@dataclass(frozen=True)
class Fragments:
    """What the rasteriser hands to the shaders.

    pix_to_face: (B, H, W) long — index into ``faces`` of the visible triangle, -1 = background.
    bary:        (B, H, W, 3) float — perspective-correct barycentrics of the pixel centre
                 w.r.t. the face's vertices (faces[f, 0], faces[f, 1], faces[f, 2]);
                 differentiable w.r.t. ``verts_screen``; 0 on background pixels.
    zbuf:        (B, H, W) float — camera depth z of the visible surface at the pixel
                 centre (differentiable); 0 on background pixels (not inf, so that masked
                 arithmetic stays finite — use ``pix_to_face >= 0`` as the mask).
    """

    pix_to_face: torch.Tensor
    bary: torch.Tensor
    zbuf: torch.Tensor

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool — pixels covered by a triangle."""
        return self.pix_to_face >= 0


def _check_faces(faces: torch.Tensor, num_verts: int) -> None:
    check_shape("faces", faces, ("F", 3))
    if faces.dtype not in (torch.int64, torch.int32):
        raise ShapeError(f"faces: expected an integer (long) tensor, got {faces.dtype}")
    if faces.numel() and (int(faces.min()) < 0 or int(faces.max()) >= num_verts):
        raise ShapeError(
            f"faces: expected vertex indices in [0, {num_verts}), got range "
            f"[{int(faces.min())}, {int(faces.max())}]"
        )


def _check_image_size(image_size) -> tuple[int, int]:
    try:
        H, W = (int(s) for s in image_size)
    except (TypeError, ValueError):
        raise ShapeError(f"image_size: expected (H, W), got {image_size!r}") from None
    if H <= 0 or W <= 0:
        raise ShapeError(f"image_size: expected positive (H, W), got {image_size!r}")
    return H, W


def _pick_backend(backend: str, device: torch.device) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"rasterize: unknown backend {backend!r}; expected one of {BACKENDS}")
    if backend == "auto":
        if device.type == "cuda":
            from facesculpt.render.backends import cuda_nvdiffrast

            return "cuda" if cuda_nvdiffrast.available() else "cpu"
        return "cpu"
    return backend


def _face_ids(verts: torch.Tensor, faces: torch.Tensor, H: int, W: int, backend: str,
              cull: bool) -> torch.Tensor:
    v64 = verts.detach().to(torch.float64)
    if backend == "cpu":
        from facesculpt.render.backends import cpu_numba

        return cpu_numba.rasterize_ids(v64.cpu(), faces.cpu(), H, W, cull, NEAR_Z).to(verts.device)
    if backend == "torch":
        from facesculpt.render.backends import torch_ref

        return torch_ref.rasterize_ids(v64, faces.to(v64.device).long(), H, W, cull, NEAR_Z)
    from facesculpt.render.backends import cuda_nvdiffrast

    if verts.device.type != "cuda" or not cuda_nvdiffrast.available():
        raise RuntimeError("rasterize: backend 'cuda' needs nvdiffrast installed and CUDA tensors "
                           "(use backend='cpu')")
    return cuda_nvdiffrast.rasterize_ids(verts.detach(), faces.long(), H, W, cull, NEAR_Z)


def covered_pixels(pix_to_face: torch.Tensor):
    """Flat indices of covered pixels and their (batch, row, col, face).

    pix_to_face: (B, H, W) long. Returns ``idx`` (K,) into the flattened (B*H*W) image and
    ``b, i, j, f`` (K,) long.
    """
    B, H, W = pix_to_face.shape
    flat = pix_to_face.reshape(-1)
    idx = (flat >= 0).nonzero().squeeze(1)
    f = flat[idx]
    b = idx // (H * W)
    rem = idx - b * (H * W)
    i = rem // W
    j = rem - i * W
    return idx, b, i, j, f


def barycentrics(verts_screen: torch.Tensor, faces: torch.Tensor, pix_to_face: torch.Tensor):
    """Differentiable perspective-correct barycentrics and depth for given face ids.

    verts_screen: (B, V, 3) float; faces: (F, 3) long; pix_to_face: (B, H, W) long.
    Returns ``bary`` (B, H, W, 3) and ``zbuf`` (B, H, W), both 0 on background.
    """
    B, H, W = pix_to_face.shape
    idx, b, i, j, f = covered_pixels(pix_to_face)
    dt = verts_screen.dtype
    V = verts_screen.shape[1]
    vid = (b[:, None] * V + faces[f]).reshape(-1)  # index_select: cheaper than 2-D indexing, fwd and bwd
    v = verts_screen.reshape(-1, 3).index_select(0, vid).reshape(-1, 3, 3)  # (K, 3 corners, 3)
    x, y, z = v.unbind(-1)  # (K, 3) each
    x = x - (j.to(dt) + 0.5)[:, None]  # corners relative to the pixel centre
    y = y - (i.to(dt) + 0.5)[:, None]
    x0, x1, x2 = x.unbind(-1)
    y0, y1, y2 = y.unbind(-1)
    # edge function of the edge opposite corner k, e.g. w0 = cross(v1 - p, v2 - p); the
    # screen-space barycentrics are w / area with area = w0 + w1 + w2, and the area cancels
    # in the perspective correction: bary = (w / z) / sum(w / z), z = area / sum(w / z).
    w = torch.stack([x1 * y2 - y1 * x2, x2 * y0 - y2 * x0, x0 * y1 - y0 * x1], -1)  # (K, 3)
    q = w / z
    qs = q.sum(-1, keepdim=True)
    # the kernel decided in float64; in a lower precision a sliver can round to 0 area.
    qs = torch.where(qs == 0, torch.full_like(qs, torch.finfo(dt).tiny), qs)
    bary_k = q / qs
    z_k = w.sum(-1) / qs.squeeze(-1)
    bary = torch.zeros(B * H * W, 3, dtype=dt, device=verts_screen.device).index_copy(0, idx, bary_k)
    zbuf = torch.zeros(B * H * W, dtype=dt, device=verts_screen.device).index_copy(0, idx, z_k)
    return bary.reshape(B, H, W, 3), zbuf.reshape(B, H, W)


def rasterize(verts_screen: torch.Tensor, faces: torch.Tensor, image_size: tuple[int, int], *,
              backend: str = "auto", cull_backfaces: bool = False) -> Fragments:
    """Rasterise triangles given in screen space.

    verts_screen: (B, V, 3) float — (x_pix, y_pix, z_cam), see the module docstring.
    faces:        (F, 3) long — vertex indices, either winding (see ``cull_backfaces``).
    image_size:   (H, W).
    backend:      "auto" (cuda for CUDA tensors when nvdiffrast is installed, else cpu),
                  "cpu" (numba kernel), "torch" (slow reference), "cuda" (nvdiffrast).
    cull_backfaces: drop triangles with signed pixel area A > 0 (clockwise on screen);
                  front faces (A < 0) are counter-clockwise on screen, y down.

    Returns ``Fragments``; ``bary`` and ``zbuf`` are differentiable w.r.t. ``verts_screen``.
    """
    check_shape("verts_screen", verts_screen, ("B", "V", 3))
    check_float("verts_screen", verts_screen)
    _check_faces(faces, verts_screen.shape[1])
    H, W = _check_image_size(image_size)
    faces = faces.long().to(verts_screen.device)
    name = _pick_backend(backend, verts_screen.device)
    p2f = _face_ids(verts_screen, faces, H, W, name, bool(cull_backfaces))
    bary, zbuf = barycentrics(verts_screen, faces, p2f)
    return Fragments(p2f, bary, zbuf)
