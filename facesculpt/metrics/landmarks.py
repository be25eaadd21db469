"""Landmark reprojection error normalised by the inter-ocular distance (iBUG-68 outer eye corners)."""
from __future__ import annotations

import torch


def normalised_landmark_error(pred68: torch.Tensor, target68: torch.Tensor) -> float:
    """Mean 2D distance between (68, 2) point sets / distance of target points 36 and 45."""
    iod = (target68[36] - target68[45]).norm()
    return float((pred68 - target68).norm(dim=-1).mean() / iod.clamp(min=1e-6))
