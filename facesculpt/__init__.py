"""facesculpt: one photo to a textured, relightable 3D face, on a CPU.

    import facesculpt
    rec = facesculpt.reconstruct("photo.jpg", preset="default")
    rec.mesh.verts, rec.maps.albedo, rec.params.light.coeffs, rec.metrics

    for frame in facesculpt.iter_video_frames("clip.mp4", every=5):   # videos: frame by frame
        try:
            rec = facesculpt.reconstruct(frame.image, preset="fast")
        except (facesculpt.FaceNotFoundError, facesculpt.FaceTooSmallError):  # no (big enough) face
            continue
    clip = facesculpt.reconstruct_video("clip.mp4")                    # tracked: one identity, curves
    sub = facesculpt.reconstruct_subject(["a.jpg", "b.jpg"])          # one person, several photos
"""
from __future__ import annotations

__version__ = "0.1.0"

from facesculpt.core.errors import (  # noqa: E402 - the errors a caller catches (one-line messages)
    FaceNotFoundError,
    FaceSculptError,
    FaceTooSmallError,
    FitFailedError,
    InvalidImageError,
)


def reconstruct(image, preset: str = "default", config=None, progress=None, box=None):
    """Reconstruct the largest face of an image (path, PIL image or array); ``box`` (x0, y0, x1, y1)
    pixels: the face's box instead of detection. See pipeline.reconstruct."""
    from facesculpt.pipeline import reconstruct as _reconstruct

    return _reconstruct(image, preset=preset, config=config, progress=progress, box=box)


def reconstruct_all(image, preset: str = "default", config=None, max_faces=None, progress=None, valid_mask=None,
                    box=None):
    """Reconstruct up to ``max_faces`` faces, largest first (one with ``box``); see pipeline.reconstruct_all."""
    from facesculpt.pipeline import reconstruct_all as _all

    return _all(image, preset=preset, config=config, max_faces=max_faces, progress=progress, valid_mask=valid_mask,
                box=box)


def iter_video_frames(path, every: int = 1, max_frames=None):
    """Frames of a video file as ``VideoFrame(index, time_s, image)``, image (H, W, 3) uint8 RGB; see io.video."""
    from facesculpt.io.video import iter_video_frames as _frames

    return _frames(path, every=every, max_frames=max_frames)


def reconstruct_video(path, preset: str = "fast", config=None, every: int = 1, max_frames=None, progress=None):
    """Track the face through a video: one identity, per-frame pose/expression/gaze, texture from the best
    frame (``track.ClipReconstruction``; write it with ``io.clip_results.write_clip_result``)."""
    from facesculpt.config import make_config
    from facesculpt.io.video import iter_video_frames as _frames
    from facesculpt.io.video import video_info
    from facesculpt.track import reconstruct_clip

    fps = video_info(path).fps
    cfg = config if config is not None else make_config(preset)
    return reconstruct_clip(_frames(path, every=every, max_frames=max_frames), fps / every if fps else 0.0, cfg,
                            progress=progress, name=str(path))


def reconstruct_subject(images, preset: str = "default", config=None, force: bool = False, progress=None):
    """One person from several photos (paths or (H, W, 3) uint8 arrays); see subject.reconstruct_subject."""
    from facesculpt.config import make_config
    from facesculpt.io.image import load_image
    from facesculpt.subject import reconstruct_subject as _subject

    names = [str(im) if not hasattr(im, "shape") else f"photo {i + 1}" for i, im in enumerate(images)]
    arrays = [load_image(im) if not hasattr(im, "shape") else im for im in images]
    cfg = config if config is not None else make_config(preset)
    return _subject(arrays, cfg, names=names, force=force, progress=progress)


__all__ = ["reconstruct", "reconstruct_all", "iter_video_frames", "reconstruct_video", "reconstruct_subject",
           "FaceSculptError", "FaceNotFoundError", "FaceTooSmallError", "FitFailedError", "InvalidImageError",
           "__version__"]
