"""The video tracker's mirrored second detection (``TrackConfig.mirrored_detection``, ``track.reconstruct_clip``)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from facesculpt.config import make_config
from facesculpt.detect import detect_faces
from facesculpt.io.video import VideoFrame


def test_mirrored_detection_combines_each_frame(grace_hopper):
    """Two frames of the bundled photo tracked with the option (the default since session 37): each frame's stored
    detection combines the frame's and the mirrored frame's (a weight in (0, 1)) and differs from the first
    detection alone; with the option off the stored detection is the first one."""
    from facesculpt.track import reconstruct_clip

    face = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    video = [VideoFrame(i, i / 30.0, np.roll(face, 4 * i, axis=1)) for i in range(2)]
    assert make_config("fast").track.mirrored_detection
    quick = {"track.identity_frames": 2, "identity_metrics": False, "track.still_identity": False,
             "track.identity_features_prior": 0.0}
    cfg = make_config("fast", **quick)
    found: dict = {}
    clip = reconstruct_clip(video, 30.0, cfg, detections=found)
    assert clip.track.raw_expression.shape[0] == 2
    for k, fr in enumerate(video):
        first = detect_faces(fr.image, max_faces=1)[0]
        w = found[k].mirror_weight
        assert w is not None and 0.0 < w < 1.0
        assert float((found[k].points - first.points).abs().max()) > 0.5
    off = make_config("fast", **quick, **{"track.mirrored_detection": False})
    found_off: dict = {}
    reconstruct_clip(video[:1], 30.0, off, detections=found_off)
    assert found_off[0].mirror_weight is None
