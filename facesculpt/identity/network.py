"""dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1``) as an nn.Module.

Reproduces dlib's forward pass (see ``dlib_format`` for the architecture):

* input: RGB chip, 150x150, ``x = (pixel - mean_rgb) / 256`` with pixel in 0..255;
* conv: cross-correlation, padding ``k//2`` when stride is 1 and 0 when stride is 2;
* affine (a frozen batch-norm, ``x*gamma + beta``) is folded into the preceding conv's
  weights and bias at load time (exact up to float rounding; the pass stays differentiable
  with respect to the input);
* max_pool 3x3/2 and avg_pool 2x2/2 without padding (floor output size);
* ``add_prev`` adds two tensors of different shapes by zero-padding both to the larger
  channel count and the larger height/width (top-left aligned), as dlib's ``tt::add`` does:
  in the down-sampling blocks the skip path has fewer channels, and at 8x8 -> the conv path
  is 3x3 while the pooled skip path is 4x4 (and 1x1 vs 2x2 at the last level);
* avg_pool_everything (global mean), then fc without bias to 128.

The 128-D output is returned as is: dlib's ``loss_metric`` does not normalise it. Two faces
are the same person when the Euclidean distance is below 0.6.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from facesculpt.core.checks import check_float, check_shape
from facesculpt.identity.dlib_format import DlibResNetFile

CHIP_SIZE = 150
EMBEDDING_DIM = 128
# Stage names returned by forward_features, in order.
FEATURE_NAMES = ("stem", "level4", "level3", "level2", "level1", "level0")


def _pad_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """dlib's add_prev: zero-pad both to the larger (C, H, W), aligned at the top-left."""
    if a.shape == b.shape:
        return a + b
    c = max(a.shape[1], b.shape[1])
    h = max(a.shape[2], b.shape[2])
    w = max(a.shape[3], b.shape[3])

    def grow(t: torch.Tensor) -> torch.Tensor:
        return F.pad(t, (0, w - t.shape[3], 0, h - t.shape[2], 0, c - t.shape[1]))

    return grow(a) + grow(b)


class _Block(nn.Module):
    """relu(skip + affine(conv(relu(affine(conv(x)))))) with affine folded into the convs."""

    def __init__(self, c_in: int, c_out: int, down: bool):
        super().__init__()
        self.down = down
        s = 2 if down else 1
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=s, padding=0 if down else 1)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, stride=1, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv2(F.relu(self.conv1(x)))
        skip = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(_pad_add(skip, y))


# (channels, number of blocks, first block down-samples), innermost level first.
_LEVELS = ((32, 3, False), (64, 4, True), (128, 3, True), (256, 3, True), (256, 1, True))


class DlibResNet(nn.Module):
    """dlib's 29-conv face-recognition ResNet. Build it with ``from_dlib_file``.

    ``forward(x)``: x (N, 3, 150, 150) float, already normalised as dlib's input layer does
    (``(pixel - mean_rgb)/256``) -> (N, 128). Use ``embed`` for images in [0, 1].
    """

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 32, 7, stride=2, padding=0)
        levels = []
        c_in = 32
        for c, n, down in _LEVELS:
            blocks = [_Block(c_in if i == 0 else c, c, down and i == 0) for i in range(n)]
            levels.append(nn.Sequential(*blocks))
            c_in = c
        self.levels = nn.ModuleList(levels)
        self.fc = nn.Linear(256, EMBEDDING_DIM, bias=False)
        self.register_buffer("input_mean", torch.tensor([122.782, 117.001, 104.298]))
        self.distance_threshold = 0.6

    # ----------------------------------------------------------------------------------

    @classmethod
    def from_dlib_file(cls, f: DlibResNetFile) -> "DlibResNet":
        """Build the module from a parsed .dat, folding each affine into its conv."""
        net = cls()
        convs = [net.stem]
        for level in net.levels:
            for b in level:
                convs += [b.conv1, b.conv2]
        with torch.no_grad():
            for conv, rec, aff in zip(convs, f.convs, f.affines, strict=True):
                w = torch.from_numpy(rec.weight).double()
                b = torch.from_numpy(rec.bias).double()
                g = torch.from_numpy(aff.gamma).double()
                beta = torch.from_numpy(aff.beta).double()
                conv.weight.copy_((w * g[:, None, None, None]).float())
                conv.bias.copy_((b * g + beta).float())
            net.fc.weight.copy_(torch.from_numpy(f.fc_weight.T.copy()))
            net.input_mean.copy_(torch.tensor(f.input_mean, dtype=torch.float32))
        net.distance_threshold = float(f.loss_distance_threshold)
        net.requires_grad_(False)
        return net.eval()

    # ----------------------------------------------------------------------------------

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) RGB in [0, 1] -> dlib's input tensor ``(255*x - mean)/256``."""
        return (images * 255.0 - self.input_mean.to(images.dtype)[None, :, None, None]) / 256.0

    def forward_features(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """x: (N, 3, 150, 150) normalised input -> (embedding (N, 128), activations).

        The activations are the outputs of the stem (after max-pool, (N,32,35,35)) and of
        each residual level: (N,32,35,35), (N,64,17,17), (N,128,8,8), (N,256,4,4),
        (N,256,2,2), in the order of ``FEATURE_NAMES``.
        """
        check_shape("x", x, ("N", 3, CHIP_SIZE, CHIP_SIZE))
        check_float("x", x)
        h = F.max_pool2d(F.relu(self.stem(x)), 3, 2)
        feats = [h]
        for level in self.levels:
            h = level(h)
            feats.append(h)
        emb = self.fc(h.mean(dim=(2, 3)))
        return emb, feats

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, 3, 150, 150) normalised input -> (N, 128) embedding (not normalised)."""
        return self.forward_features(x)[0]

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """images: (N, 3, 150, 150) RGB float in [0, 1] (differentiable) -> (N, 128)."""
        check_shape("images", images, ("N", 3, CHIP_SIZE, CHIP_SIZE))
        check_float("images", images)
        return self.forward(self.normalise(images))
