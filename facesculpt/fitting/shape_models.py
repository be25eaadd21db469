"""Shape models behind one interface.

A shape model maps its parameters to the 468 coarse vertices (model frame, cm) and
says how to regularise them. The default, ``LandmarkMeshModel``, is this photo's
mediapipe mesh (frontalised, metric) plus smooth per-vertex corrections; a PCA
morphable model (mean, bases, standard deviations) implements the same interface.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.determinism import sparse_mm


class ShapeModel(Protocol):
    """vertices(params (B, ...)) -> (B, 468, 3); regularizer(params) -> scalar."""

    def init_params(self, batch: int = 1) -> torch.Tensor: ...

    def vertices(self, params: torch.Tensor) -> torch.Tensor: ...

    def regularizer(self, params: torch.Tensor, w_smooth: float, w_size: float) -> torch.Tensor: ...


@dataclass
class LandmarkMeshModel:
    """base (468, 3) + offsets (B, 468, 3), with a Laplacian-smoothness prior on the offsets.

    base:      (V, 3) float — the photo's frontalised landmark mesh (cm).
    laplacian: (V, V) sparse float — uniform graph Laplacian of the coarse mesh.
    """

    base: torch.Tensor
    laplacian: torch.Tensor

    def init_params(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, *self.base.shape, dtype=self.base.dtype)

    def vertices(self, params: torch.Tensor) -> torch.Tensor:
        check_shape("offsets", params, ("B", self.base.shape[0], 3))
        return self.base[None] + params

    def regularizer(self, params: torch.Tensor, w_smooth: float, w_size: float) -> torch.Tensor:
        lap = torch.stack([sparse_mm(self.laplacian, p) for p in params])
        return w_smooth * lap.pow(2).sum(-1).mean() + w_size * params.pow(2).sum(-1).mean()


@dataclass
class PCAShapeModel:
    """mean (V, 3) + sum_k coeff_k * std_k * basis_k, with a unit-Gaussian prior on coeffs.

    mean:  (V, 3) float; bases: (K, V, 3) float, orthonormal directions; stds: (K,) float.
    """

    mean: torch.Tensor
    bases: torch.Tensor
    stds: torch.Tensor

    def init_params(self, batch: int = 1) -> torch.Tensor:
        return torch.zeros(batch, self.bases.shape[0], dtype=self.mean.dtype)

    def vertices(self, params: torch.Tensor) -> torch.Tensor:
        check_shape("coeffs", params, ("B", self.bases.shape[0]))
        return self.mean[None] + torch.einsum("bk,kvc->bvc", params * self.stds, self.bases)

    def regularizer(self, params: torch.Tensor, w_smooth: float, w_size: float) -> torch.Tensor:
        return w_size * params.pow(2).sum(-1).mean()
