"""Fitting losses: pure functions over tensors."""
from __future__ import annotations

import torch


def landmark_loss(pred: torch.Tensor, target: torch.Tensor, scale: float | torch.Tensor,
                  weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean squared 2D distance / scale^2. pred, target: (B, N, 2); weights: (N,) or None."""
    d = ((pred - target) / scale).pow(2).sum(-1)
    if weights is not None:
        return (d * weights).sum(-1).mean() / weights.sum()
    return d.mean()


def robust_photo_loss(render: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """Weighted L1 over pixels: sum(w * |r - t|_1 / C) / sum(w). render/target (B,H,W,C), weights (B,H,W)."""
    diff = (render - target).abs().mean(-1)
    return (diff * weights).sum() / weights.sum().clamp(min=1.0)


def inlier_weights(render: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, sigma_k: float,
                   floor: float = 0.04) -> torch.Tensor:
    """Occluder rejection: 1 where the residual is within ``sigma_k`` robust std devs, else 0.

    The robust std is 1.4826 x the median absolute residual inside ``mask`` (B,H,W) bool;
    residuals under ``floor`` (0-1 scale) are always kept.
    """
    with torch.no_grad():
        r = (render - target).abs().mean(-1)
        vals = r[mask]
        if vals.numel() == 0:
            return mask.float()
        sigma = 1.4826 * vals.median()
        thr = torch.clamp(sigma_k * sigma, min=floor)
        return (mask & (r <= thr)).float()


def grid_smoothness(tex: torch.Tensor) -> torch.Tensor:
    """Mean squared finite differences of a (B, S, S, C) map."""
    dx = tex[:, :, 1:] - tex[:, :, :-1]
    dy = tex[:, 1:] - tex[:, :-1]
    return dx.pow(2).mean() + dy.pow(2).mean()


def uv_symmetry(tex: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of a (B, S, S, C) UV map and its mirror u -> 1 - u."""
    return (tex - tex.flip(2)).pow(2).mean()
