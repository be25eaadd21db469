"""Differentiable face-chip alignment that reproduces dlib's ``get_face_chip``.

dlib (``get_face_chip_details`` + ``extract_image_chips`` in
``image_transforms/interpolation.h``) cuts a chip as follows; we re-derive each step:

1. Template: a mean face for landmarks 17..67 in [0,1] units; the eyebrows (17-26) and the
   lower lip (55-59, 65-67) are ignored, leaving 33 points. With ``padding`` p each template
   point becomes ``size * (p + t) / (1 + 2p)`` in chip pixels.
2. A least-squares similarity transform ``image = a*chip + t`` (rotation, uniform scale,
   translation; Umeyama's method, which for a proper rotation equals the complex-number
   least-squares solution used here) from template points to the 68 landmarks.
3. dlib then represents it as a rectangle centred on ``tform(size/2, size/2)`` of width
   ``size*|a|`` and an angle, and maps chip pixel corners (0, 0), (size-1, 0), (0, size-1)
   onto the rotated rectangle corners. As a dlib ``drectangle`` of width w spans w-1 pixel
   units, the effective map is ``image = c + (size*|a| - 1)/(size - 1) * R(angle) * (chip -
   (size-1)/2)`` with ``c = tform(size/2, size/2)``. Pixel centres are at integer
   coordinates on both sides (dlib's convention), so we sample with
   ``grid_sample(align_corners=True)``; a sample whose bilinear footprint leaves the image is
   black, as in dlib's ``interpolate_bilinear``.
4. When the chip is much smaller than the face region, dlib first builds a
   ``pyramid_down<2>`` pyramid (separable [1 4 6 4 1]/16 filter, keep every other pixel,
   output pixel d centred on input pixel 2d+2) of a sub-image around the face and samples
   from the coarsest level whose rectangle area still exceeds size*size, mapping points with
   dlib's ``point_down(p) = p/2 - (1.25, 0.75)``. We do the same (level choice and the
   sub-image origin are discrete, the filtering and sampling are differentiable).

dlib truncates to uint8 after each pyramid level and after sampling; we keep floats, so our
chips are on average about half a grey level brighter than dlib's.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ShapeError

# dlib's mean face shape for 68-point landmarks 17..67 (facts from dlib's
# get_face_chip_details, in units of the face box).
_MEAN_X = (
    0.000213256, 0.0752622, 0.18113, 0.29077, 0.393397, 0.586856, 0.689483, 0.799124,
    0.904991, 0.98004, 0.490127, 0.490127, 0.490127, 0.490127, 0.36688, 0.426036,
    0.490127, 0.554217, 0.613373, 0.121737, 0.187122, 0.265825, 0.334606, 0.260918,
    0.182743, 0.645647, 0.714428, 0.793132, 0.858516, 0.79751, 0.719335, 0.254149,
    0.340985, 0.428858, 0.490127, 0.551395, 0.639268, 0.726104, 0.642159, 0.556721,
    0.490127, 0.423532, 0.338094, 0.290379, 0.428096, 0.490127, 0.552157, 0.689874,
    0.553364, 0.490127, 0.42689,
)
_MEAN_Y = (
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891,
    0.0187482, 0.038915, 0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326,
    0.609345, 0.628106, 0.609345, 0.587326, 0.216423, 0.178758, 0.179852, 0.231733,
    0.245099, 0.244077, 0.231733, 0.179852, 0.178758, 0.216423, 0.244077, 0.245099,
    0.780233, 0.745405, 0.727388, 0.742578, 0.727388, 0.745405, 0.780233, 0.864805,
    0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746, 0.785343, 0.778746,
    0.784792, 0.824182, 0.831803, 0.824182,
)
# Landmarks used: 27..54 and 60..64 (nose, eyes, outer lip, upper inner lip).
USED_LANDMARKS = tuple(i for i in range(27, 68) if not (55 <= i <= 59 or 65 <= i <= 67))


def _template(size: int, padding: float, dtype, device) -> torch.Tensor:
    t = torch.tensor([[_MEAN_X[i - 17], _MEAN_Y[i - 17]] for i in USED_LANDMARKS],
                     dtype=torch.float64)
    return ((padding + t) / (2 * padding + 1) * size).to(dtype=dtype, device=device)


def _check_landmarks(landmarks68: torch.Tensor) -> None:
    check_shape("landmarks68", landmarks68, ("B", 68, 2))
    check_float("landmarks68", landmarks68)


def chip_transform(landmarks68: torch.Tensor, size: int = 150, padding: float = 0.25) -> torch.Tensor:
    """The affine map from chip pixels to image pixels that dlib's get_face_chip uses.

    landmarks68: (B, 68, 2) float, image pixels (x right, y down, pixel centres at
    integers as dlib reports them) -> (B, 2, 3): ``[x_img, y_img] = M @ [x_chip, y_chip, 1]``.
    Differentiable with respect to the landmarks.
    """
    _check_landmarks(landmarks68)
    if size < 2:
        raise ShapeError(f"size: expected >= 2, got {size}")
    q = landmarks68[:, USED_LANDMARKS, :]                             # (B, K, 2) image
    p = _template(size, padding, q.dtype, q.device)[None]             # (1, K, 2) chip
    pm, qm = p.mean(dim=1, keepdim=True), q.mean(dim=1, keepdim=True)
    pc, qc = p - pm, q - qm
    # Complex least squares a = sum(conj(z) w) / sum |z|^2 with z = chip, w = image.
    den = (pc ** 2).sum(dim=(1, 2))
    a_re = (pc[..., 0] * qc[..., 0] + pc[..., 1] * qc[..., 1]).sum(dim=1) / den
    a_im = (pc[..., 0] * qc[..., 1] - pc[..., 1] * qc[..., 0]).sum(dim=1) / den
    scale = torch.sqrt(a_re ** 2 + a_im ** 2)
    cos, sin = a_re / scale, a_im / scale
    # Centre of the chip rectangle: tform(size/2, size/2).
    h = size / 2.0
    cx = a_re * (h - pm[:, 0, 0]) - a_im * (h - pm[:, 0, 1]) + qm[:, 0, 0]
    cy = a_im * (h - pm[:, 0, 0]) + a_re * (h - pm[:, 0, 1]) + qm[:, 0, 1]
    k = (size * scale - 1.0) / (size - 1)
    m00, m01 = k * cos, -k * sin
    m10, m11 = k * sin, k * cos
    o = (size - 1) / 2.0
    tx = cx - (m00 + m01) * o
    ty = cy - (m10 + m11) * o
    return torch.stack([torch.stack([m00, m01, tx], dim=1), torch.stack([m10, m11, ty], dim=1)], dim=1)


def _pyramid_down(img: torch.Tensor) -> torch.Tensor:
    """dlib's pyramid_down<2>: (1, C, H, W) -> (1, C, (H-3)//2, (W-3)//2)."""
    w1 = torch.tensor([1.0, 4.0, 6.0, 4.0, 1.0], dtype=img.dtype, device=img.device) / 16.0
    c = img.shape[1]
    x = F.conv2d(img, w1.view(1, 1, 1, 5).expand(c, 1, 1, 5), stride=(1, 2), groups=c)
    return F.conv2d(x, w1.view(1, 1, 5, 1).expand(c, 1, 5, 1), stride=(2, 1), groups=c)


def _level_and_box(m: torch.Tensor, size: int, height: int, width: int):
    """dlib's pyramid level (-1 = none) and integer sub-image box (l, t, r, b) for one chip."""
    m = m.detach().double().cpu()
    k = math.hypot(float(m[0, 0]), float(m[1, 0]))        # (size*scale - 1)/(size - 1)
    span = k * (size - 1)                                    # drect right - left
    level, d = -1, span
    while (d / 2.0 + 1.0) ** 2 > size * size:
        level += 1
        d /= 2.0
    if level < 0:
        return level, None
    grow = 2.0
    for _ in range(level + 1):
        grow = grow * 2 + 2
    corners = torch.tensor([[0.0, 0.0, 1.0], [size - 1.0, 0.0, 1.0], [0.0, size - 1.0, 1.0],
                            [size - 1.0, size - 1.0, 1.0]], dtype=torch.float64)
    pts = corners @ m.T
    left = max(float(pts[:, 0].min()) - grow, 0.0)
    top = max(float(pts[:, 1].min()) - grow, 0.0)
    right = min(float(pts[:, 0].max()) + grow, width - 1.0)
    bottom = min(float(pts[:, 1].max()) + grow, height - 1.0)
    box = tuple(int(math.floor(v + 0.5)) for v in (left, top, right, bottom))
    return level, box


def cut_chips(images: torch.Tensor, landmarks68: torch.Tensor, size: int = 150,
              padding: float = 0.25) -> torch.Tensor:
    """Cut aligned face chips like ``dlib.get_face_chip(img, shape, size, padding)``.

    images: (B, 3, H, W) float (any range, e.g. RGB in [0, 1]); landmarks68: (B, 68, 2)
    image pixels -> (B, 3, size, size) chips, bilinear. Differentiable with respect to the
    images and the landmarks (the pyramid level and sub-image box are discrete choices).
    """
    check_shape("images", images, ("B", "C", "H", "W"))
    check_float("images", images)
    _check_landmarks(landmarks68)
    if images.shape[0] != landmarks68.shape[0]:
        raise ShapeError(f"images and landmarks68: batch sizes differ, {images.shape[0]} vs {landmarks68.shape[0]}")
    _, _, height, width = images.shape
    m = chip_transform(landmarks68.to(images.dtype), size, padding)
    r = torch.arange(size, dtype=images.dtype, device=images.device)
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    grid = torch.stack([xx, yy, torch.ones_like(xx)], dim=-1)           # (S, S, 3)
    pts = torch.einsum("bij,hwj->bhwi", m, grid)                         # (B, S, S, 2) image
    out = []
    for b in range(images.shape[0]):
        level, box = _level_and_box(m[b], size, height, width)
        src = images[b:b + 1]
        q = pts[b]
        if level >= 0:
            left, top, right, bottom = box
            if bottom - top + 1 < 9 or right - left + 1 < 9:
                raise ShapeError("cut_chips: the face region lies outside the image (check the landmarks)")
            src = src[:, :, top:bottom + 1, left:right + 1]
            q = q - q.new_tensor([left, top])
            for _ in range(level + 1):
                src = _pyramid_down(src)
                q = q / 2.0 - q.new_tensor([1.25, 0.75])
        h, w = src.shape[2], src.shape[3]
        # dlib's interpolate_bilinear gives black when floor(p)+1 leaves the image.
        inside = ((q[..., 0] >= 0) & (q[..., 0] < w - 1) & (q[..., 1] >= 0) & (q[..., 1] < h - 1))
        g = torch.stack([q[..., 0] / (w - 1) * 2 - 1, q[..., 1] / (h - 1) * 2 - 1], dim=-1)
        chip = F.grid_sample(src, g[None], mode="bilinear", padding_mode="zeros", align_corners=True)
        out.append(chip[0] * inside.to(chip.dtype))
    return torch.stack(out)
