"""Read video files frame by frame (OpenCV, which mediapipe already installs).

A video is reconstructed as a sequence of photos: ``iter_video_frames`` yields the frames a
batch processes (every ``every``-th frame, at most ``max_frames``) as ``(H, W, 3) uint8`` RGB,
the same array ``io.image.load_image`` returns for a photo. The container's rotation flag is
honoured (OpenCV applies it when decoding).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator, NamedTuple, Optional, Union

import numpy as np

from facesculpt.core.errors import InvalidImageError
from facesculpt.core.quiet import quiet_native_stderr
from facesculpt.io.image import display_name

#: file extensions treated as videos (lower case); folders are searched for these too
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")


class InvalidVideoError(InvalidImageError):
    """The input is a video file that cannot be opened or decoded."""


class VideoFrame(NamedTuple):
    """One decoded frame: ``index`` in the video (0-based), ``time_s`` from its start, ``image`` (H, W, 3) uint8 RGB."""

    index: int
    time_s: float
    image: np.ndarray


class VideoInfo(NamedTuple):
    """What the container says: frames per second (0 if unknown), frame count (0 if unknown), size (H, W)."""

    fps: float
    frames: int
    size_hw: tuple[int, int]


def is_video_name(path: Union[str, os.PathLike]) -> bool:
    """True if the file name has a video extension (case-insensitive)."""
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def _error(name: str, reason: str, hint: str) -> InvalidVideoError:
    return InvalidVideoError(f"cannot read {name}: {reason} ({hint})")


def _open(path: Union[str, os.PathLike]):
    import cv2

    name = display_name(path)
    p = Path(path)
    if not p.exists():
        raise _error(name, "no such file", "check the path")
    if not p.is_file():
        raise _error(name, "not a regular file", "give the path of a video file")
    if p.stat().st_size == 0:
        raise _error(name, "the file is empty: 0 bytes", "re-copy or re-export the video")
    with quiet_native_stderr():  # FFmpeg's own lines ("moov atom not found"): the error below says it in one
        cap = cv2.VideoCapture(os.fspath(p))
    if not cap.isOpened():
        cap.release()
        raise _error(name, "not a video OpenCV can decode", "convert it to H.264 MP4, e.g. with ffmpeg")
    return cap


def video_info(path: Union[str, os.PathLike]) -> VideoInfo:
    """Frames per second, frame count and frame size from the container (``InvalidVideoError`` if it cannot be opened)."""
    import cv2

    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        hw = (int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0), int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0))
    finally:
        cap.release()
    return VideoInfo(fps if np.isfinite(fps) and fps > 0 else 0.0, max(n, 0), hw)


def iter_video_frames(path: Union[str, os.PathLike], *, every: int = 1,
                      max_frames: Optional[int] = None) -> Iterator[VideoFrame]:
    """Yield every ``every``-th frame of the video at ``path`` (frames 0, every, 2 every, ...),
    at most ``max_frames`` of them, as ``VideoFrame`` (RGB uint8).

    Raises ``InvalidVideoError`` (one line naming the file) if the file cannot be opened or
    not even its first frame decodes; ``ValueError`` for ``every < 1`` or ``max_frames < 1``.
    A video that stops decoding part-way ends the iteration there (the frames before it
    were good).
    """
    import cv2

    if not isinstance(every, int) or every < 1:
        raise ValueError(f"every must be an int >= 1, got {every!r}")
    if max_frames is not None and (not isinstance(max_frames, int) or max_frames < 1):
        raise ValueError(f"max_frames must be an int >= 1 or None, got {max_frames!r}")
    cap = _open(path)
    try:
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        fps = fps if np.isfinite(fps) and fps > 0 else 0.0
        index, given = 0, 0
        while max_frames is None or given < max_frames:
            # grab() skips decoding the frames that are not wanted; a damaged stream's decoder
            # lines ("error while decoding MB") stay off the terminal: the video ends at the last good frame
            with quiet_native_stderr():
                grabbed = cap.grab()
            if not grabbed:
                break
            if index % every == 0:
                with quiet_native_stderr():
                    ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    break
                if bgr.ndim == 2:
                    bgr = np.repeat(bgr[..., None], 3, axis=-1)
                rgb = np.ascontiguousarray(bgr[..., 2::-1])
                yield VideoFrame(index, index / fps if fps else float("nan"), rgb)
                given += 1
            index += 1
        if index == 0:
            raise _error(display_name(path), "no frame could be decoded", "the file may be truncated or use a codec OpenCV lacks")
    finally:
        cap.release()
