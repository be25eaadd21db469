"""Identity-loss settings of the photometric fit (GANFIT eqs. 8-10)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityConfig:
    """Face-recognition losses in the photometric fit (see docs/identity.md)."""

    enabled: bool = False
    """Add the identity, content and random-pose identity terms to the photometric fit (off by
    default: on the bundled photos they do not lower the identity distances and cost time,
    see docs/identity.md)."""
    w_identity: float = 0.05
    """Weight of 1 - cos between the embeddings of the render and the photo (eq. 9)."""
    w_content: float = 0.002
    """Weight of the size-normalised distance of intermediate activations (eq. 10)."""
    w_random_pose: float = 0.02
    """Weight of the identity term on a second render with random pose and light (eq. 8)."""
    content_layers: tuple[str, ...] = ("level3", "level2")
    """Activations the content term compares, by ``FEATURE_NAMES`` (stem, level4 (32x35x35),
    level3 (64x17x17), level2 (128x8x8), level1, level0)."""
    chip_landmarks: str = "photo"
    """Landmarks that align the in-view render's chip: "photo" (the detected 68, the same chip
    frame as the photo's, so render and photo are compared pixel-aligned) or "mesh" (the
    current mesh's projected 68, gradients also flow through the alignment)."""
    every: int = 1
    """Evaluate the in-view identity and content terms every this many steps (1: every step)."""
    random_pose_every: int = 4
    """Render the random-pose view every this many steps (it costs a second render and
    backward pass); its weight is multiplied by this number so its average pull is unchanged."""
    random_yaw_deg: float = 30.0
    """The random view turns the head about its centre by a yaw uniform in [-this, +this] degrees."""
    random_pitch_deg: float = 10.0
    """... and a pitch uniform in [-this, +this] degrees."""
    light_jitter: float = 0.3
    """Std of the random change of the non-ambient SH coefficients of the random view,
    relative to the ambient coefficient of each channel."""
    expression_cm: float = 0.25
    """Largest displacement (cm) of the smooth random mouth-corner / brow offsets standing in
    for an expression change in the random view (no expression basis exists; 0 turns it off)."""
    background: float = 0.5
    """Grey level of the random view's background."""
    random_view_size: int = 160
    """Side (pixels) of the random view's render, a square around its face chip."""
    padding: float = 0.25
    """Chip padding around dlib's mean face (dlib's default is 0.25)."""
