"""Identity-loss settings of the photometric fit (GANFIT eqs. 8-10)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityConfig:
    """Face-recognition losses in the photometric fit."""

    enabled: bool = False
    """Add the identity, content and random-pose identity terms to the photometric fit."""
    w_identity: float = 0.1
    """Weight of 1 - cos between the embeddings of the render and the photo (eq. 9)."""
    w_content: float = 0.01
    """Weight of the size-normalised distance of intermediate activations (eq. 10)."""
    w_random_pose: float = 0.05
    """Weight of the identity term on a second render with random pose and light (eq. 8)."""
