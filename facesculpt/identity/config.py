"""Identity-loss settings of the photometric fit (GANFIT eqs. 8-10)."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IdentityConfig:
    """Face-recognition losses in the photometric fit (see docs/identity.md)."""

    enabled: bool = False
    """Add the identity terms to the photometric fit. The ``default`` and ``full`` presets turn
    it on; with the defaults below only the random-pose term is active (see docs/identity.md:
    the in-view terms did not lower the identity distances and cost photometric accuracy)."""
    w_identity: float = 0.0
    """Weight of 1 - cos between the embeddings of the in-view render and the photo (eq. 9).
    0 by default: the albedo that matters is unwrapped from the photo after the fit, so this
    term mostly bends the fit's throw-away low-res albedo (docs/identity.md, runs 1-2)."""
    w_content: float = 0.0
    """Weight of the size-normalised distance of intermediate activations (eq. 10); 0 by
    default for the same reason as ``w_identity``."""
    w_random_pose: float = 100.0
    """Weight of the identity term (1 - cos) on a second render with random pose (eq. 8). Its
    values are ~0.03 and, with the defaults below, its gradient reaches only the shape, where
    Adam's per-parameter steps make the share of the shape gradient what counts: at 100 it
    drives the shape directions the photometric term leaves free (depth, where the photo's
    texture lands on the mesh) without raising the photometric loss by more than 2 %."""
    content_layers: tuple[str, ...] = ("level3", "level2")
    """Activations the content term compares, by ``FEATURE_NAMES`` (stem, level4 (32x35x35),
    level3 (64x17x17), level2 (128x8x8), level1, level0)."""
    chip_landmarks: str = "photo"
    """Landmarks that align the in-view render's chip: "photo" (the detected 68, the same chip
    frame as the photo's, so render and photo are compared pixel-aligned) or "mesh" (the
    current mesh's projected 68, gradients also flow through the alignment)."""
    every: int = 1
    """Evaluate the in-view identity and content terms every this many steps (1: every step)."""
    random_pose_every: int = 1
    """Render the random-pose view every this many steps (it costs a second render and
    backward pass); its weight is multiplied by this number so its average pull is unchanged."""
    random_views: int = 1
    """Random views rendered (and averaged) at each random-pose step."""
    random_pose_grad: str = "shape"
    """Which fitted parameters the random-pose term's gradient reaches: "all" (shape, pose,
    light, albedo), "shape_light" (the albedo is detached: the texture stage unwraps the final
    albedo from the photo anyway), "shape" (albedo, light and pose detached) or "shape_no_identity"
    (as "shape", and on the morphable head the identity coefficients detached too: the term moves the
    expression and the corrections only; docs/results.md, "Issue 10: the identity term without the
    identity coefficients")."""
    random_pose_texture: str = "photo"
    """Colour of the random view: "fit" (the fit's low-res albedo under the jittered SH light)
    or "photo" (the photo projected onto the current mesh in the fitted view and carried
    round with the head: sharp, like the albedo the texture stage will unwrap; the light
    jitter does not apply)."""
    random_yaw_deg: float = 30.0
    """The random view turns the head about its centre by a yaw uniform in [-this, +this] degrees."""
    random_pitch_deg: float = 10.0
    """... and a pitch uniform in [-this, +this] degrees."""
    light_jitter: float = 0.3
    """Std of the random change of the non-ambient SH coefficients of the random view,
    relative to the ambient coefficient of each channel (``random_pose_texture="fit"`` only)."""
    expression_cm: float = 0.25
    """Largest displacement (cm) of the smooth random mouth-corner / brow offsets standing in
    for an expression change in the random view (no expression basis exists; 0 turns it off)."""
    background: float = 0.5
    """Grey level of the random view's background."""
    random_view_size: int = 160
    """Side (pixels) of the random view's render, a square around its face chip."""
    padding: float = 0.25
    """Chip padding around dlib's mean face (dlib's default is 0.25)."""
