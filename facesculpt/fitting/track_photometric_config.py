"""Settings of the tracker's photometric pass (``fitting.track_photometric``); a module of its own so that
``fitting.head_track.TrackConfig`` can hold it without importing the pass."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TrackPhotometricConfig:
    """Image evidence in the per-frame fit (``track.photometric``): after the landmark fit, each frame's
    expression weights are refined against a low-resolution crop of the frame, comparing it with a render
    of the head in the clip's albedo and light (from the texture frame's reconstruction)."""

    enabled: bool = False
    """Run the pass (``facesculpt reconstruct clip.mp4``: frames are cropped as they are detected)."""
    crop_size: int = 128
    """Side of the square frame crop the render is compared with (pixels)."""
    crop_expand: float = 1.25
    """The crop is this many times the landmark box's larger side (the photometric stage's fit crop)."""
    albedo_size: int = 128
    """The appearance's albedo is resized to this many texels a side (the crop sees no finer detail)."""
    iterations: int = 3
    """Gauss-Newton steps per frame (each rasterises the head once)."""
    w_photo: float = 1.0
    """Weight of the mean squared (Huber) colour residual over the compared pixels (sRGB, 0..1)."""
    huber: float = 0.06
    """Colour residual beyond which a pixel's weight falls as 1/|r| (sRGB units)."""
    w_landmark: float = 1.0
    """Weight of the mean squared landmark residual (face sizes) of the same frame."""
    w_anchor: float = 0.0
    """Pull of the weights towards the landmark fit's (squared difference)."""
    correction_sigma_frames: float = 2.0
    """The pass's corrections (refined minus landmark-fitted weights) are smoothed over time by a Gaussian of
    this many frames (zero lag: the clip is offline) before the clip's smoothing filter; 0: not smoothed. 2:
    without it the pass's frame-to-frame noise raised the still head's jitter on the rendered motion clips
    (docs/results.md, session 7)."""
    w_expression_l2: float = 1e-4
    """L2 prior on the weights."""
    damping: float = 1e-4
    """Levenberg-Marquardt damping, relative to the mean diagonal of the normal matrix."""
    eyeballs: bool = False
    """Render the eyeballs (the reconstruction's eye textures, the frame's gaze) behind the lids instead of
    the eye fillers (an experiment: docs/results.md, session 7)."""
    refine_pose: bool = True
    """Refine the head's rotation and translation along with the expression (the landmark fit's pose is
    off by about 2.5 deg on detected frames, which the colour residual would otherwise blame on the
    expression)."""
