"""The person in the photo (issue 12, item 3): mediapipe's bundled selfie segmentation -> background pixels.

The fitted head's outline is not the person's: beside a turned cheek, over an ear or under the chin its
projection covers some background, and the texture takes those pixels as skin (leaves, a flag, a wall). The
colour test (``texture.occlusion``) catches a background far from the skin's colour, not a beige wall.
mediapipe 0.10.21's wheel ships the legacy ``solutions.selfie_segmentation`` models
(``modules/selfie_segmentation``): a person-vs-background probability per pixel, 5-10 ms a photo on this
CPU; nothing is downloaded. Hair and clothes are "person": they are left to the colour test.
Pure functions of arrays: no files, no prints.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import numpy as np

_LOCK = threading.Lock()


@dataclass(frozen=True)
class BackgroundConfig:
    """Background pixels kept out of the albedo (``texture.occlusion.background``)."""

    enabled: bool = False
    """Run the person segmentation; its background pixels in the face part's outer ring
    (``texture.occlusion.outer``) are occluders. Off: on 18 real photos it added 0-0.2 % of the texture crop
    to what the colour test flags (docs/results.md, session 13); for a background of skin colour."""
    threshold: float = 0.3
    """A pixel is background where the person probability is below this."""
    grow_frac: float = 0.01
    """Margin grown round the background inside the outer ring (the segmentation's soft edge and the
    photo's blur), as a fraction of the crop side."""
    max_face_share: float = 0.2
    """If more than this share of the narrow face is background the segmentation failed there (a face
    photographed close, a poster): it is not used."""


@lru_cache(maxsize=1)
def _segmenter():
    import os

    os.environ.setdefault("GLOG_minloglevel", "2")
    from facesculpt.detect._mp import import_mediapipe

    mp = import_mediapipe()

    return mp.solutions.selfie_segmentation.SelfieSegmentation(model_selection=0)


def person_probability(image: np.ndarray) -> Optional[np.ndarray]:
    """(H, W) float32 person probability of ``image`` (H, W, 3) uint8, or None when the graph fails."""
    from facesculpt.core.quiet import quiet_native_stderr

    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"person_probability: expected an (H, W, 3) uint8 image, got {image.shape} {image.dtype}")
    try:
        with _LOCK, quiet_native_stderr():
            res = _segmenter().process(np.ascontiguousarray(image))
    except Exception:  # noqa: BLE001 - a graph failure: no segmentation (the colour test still runs)
        _segmenter.cache_clear()
        return None
    m = res.segmentation_mask
    if m is None or m.shape != image.shape[:2]:
        return None
    return np.asarray(m, dtype=np.float32)


__all__ = ["BackgroundConfig", "person_probability"]
