"""facesculpt: one photo to a textured, relightable 3D face, on a CPU.

    import facesculpt
    rec = facesculpt.reconstruct("photo.jpg", preset="default")
    rec.mesh.verts, rec.maps.albedo, rec.params.light.coeffs, rec.metrics

    for frame in facesculpt.iter_video_frames("clip.mp4", every=5):   # videos: frame by frame
        rec = facesculpt.reconstruct(frame.image, preset="fast")
"""
from __future__ import annotations

__version__ = "0.1.0"


def reconstruct(image, preset: str = "default", config=None, progress=None):
    """Reconstruct the largest face of an image (path or (H, W, 3) uint8 array); see pipeline.reconstruct."""
    from facesculpt.pipeline import reconstruct as _reconstruct

    return _reconstruct(image, preset=preset, config=config, progress=progress)


def reconstruct_all(image, preset: str = "default", config=None, max_faces=None, progress=None, valid_mask=None):
    """Reconstruct up to ``max_faces`` faces, largest first; see pipeline.reconstruct_all."""
    from facesculpt.pipeline import reconstruct_all as _all

    return _all(image, preset=preset, config=config, max_faces=max_faces, progress=progress, valid_mask=valid_mask)


def iter_video_frames(path, every: int = 1, max_frames=None):
    """Frames of a video file as ``VideoFrame(index, time_s, image)``, image (H, W, 3) uint8 RGB; see io.video."""
    from facesculpt.io.video import iter_video_frames as _frames

    return _frames(path, every=every, max_frames=max_frames)


__all__ = ["reconstruct", "reconstruct_all", "iter_video_frames", "__version__"]
