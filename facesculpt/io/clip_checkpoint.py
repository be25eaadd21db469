"""A resumable clip: the per-frame face detections of ``facesculpt reconstruct clip.mp4`` kept in a hidden
checkpoint next to the result folder, so a rerun of an interrupted command does not detect again.

Detection (mediapipe on every frame) is the expensive part of tracking a real video; the tracking
itself runs on the landmarks in a fraction of that time. The checkpoint
``<parent>/.<result folder name>.track-checkpoint.pt`` holds, per frame index read so far, the
detected ``Landmarks`` (points, box, image size, detector) or the one-line reason the frame has no
face. It is keyed by the video (resolved path, size in bytes, modification time in ns) and by a
hash of the settings (the whole ``Config`` and ``--every``): a rerun with another file or other
settings ignores (and on its first save replaces) it. It is rewritten through a temporary sibling
file and ``os.replace`` (never half-written), every ``save_every`` new frames and by ``save()``
(the command calls it when the run stops, Ctrl-C included), and deleted once the result folder is
committed (or the run fails with a one-line error, e.g. no face in any frame: ``discard``).

The stage (``track.reconstruct_clip``) sees only a mapping: frame index -> ``Landmarks`` or reason.
"""
from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import io
import json
import os
from pathlib import Path
from typing import Iterator, Optional, Union

import torch

from facesculpt.io.atomic import _write_bytes_atomic
from facesculpt.structures import Landmarks

#: bump when the stored layout changes (an older checkpoint is then ignored)
CHECKPOINT_VERSION = 1

Detection = Union[Landmarks, str]


def checkpoint_path(folder: os.PathLike | str) -> Path:
    """The checkpoint file of the result folder ``folder``: a hidden sibling."""
    folder = Path(folder)
    return folder.parent / f".{folder.name}.track-checkpoint.pt"


def checkpoint_key(video: os.PathLike | str, cfg, every: int = 1) -> dict:
    """What a checkpoint must match to be reused: the video file (resolved path, size, mtime in ns) and
    a SHA-256 of the settings (``cfg`` as a dataclass, plus ``every``)."""
    p = Path(video).resolve()
    st = p.stat()
    settings = json.dumps({"config": dataclasses.asdict(cfg) if dataclasses.is_dataclass(cfg) else repr(cfg),
                           "every": int(every)}, sort_keys=True, default=repr)
    return {"version": CHECKPOINT_VERSION, "path": str(p), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns),
            "settings_sha256": hashlib.sha256(settings.encode()).hexdigest()}


def _pack(d: Detection):
    if isinstance(d, str):
        return {"reason": d}
    return {"points": d.points.detach().cpu().clone(), "bbox": d.bbox.detach().cpu().clone(),
            "image_size": [int(d.image_size[0]), int(d.image_size[1])], "detector": str(d.detector)}


def _unpack(v) -> Detection:
    if "reason" in v:
        return str(v["reason"])
    return Landmarks(v["points"], v["bbox"], (int(v["image_size"][0]), int(v["image_size"][1])), v["detector"])


class ClipCheckpoint:
    """The detections of one clip run (a mutable mapping frame index -> ``Landmarks`` | reason str).

    ``ClipCheckpoint.open(folder, key)`` loads the checkpoint of ``folder`` when its key equals ``key``
    (else starts empty); ``ckpt[i] = det`` records a frame (saved every ``save_every`` new frames);
    ``save()`` writes what is recorded; ``delete()`` removes the file (after the result is committed).
    ``resumed``: how many frames the loaded checkpoint held."""

    def __init__(self, path: Path, key: dict, frames: Optional[dict] = None, save_every: int = 16):
        self.path = Path(path)
        self.key = dict(key)
        self._frames: dict[int, Detection] = dict(frames or {})
        self.resumed = len(self._frames)
        self.save_every = max(1, int(save_every))
        self._unsaved = 0

    @classmethod
    def open(cls, folder: os.PathLike | str, key: dict, save_every: int = 16) -> "ClipCheckpoint":
        path = checkpoint_path(folder)
        frames = {}
        if path.is_file():
            try:
                data = torch.load(path, map_location="cpu", weights_only=True)
                if data.get("key") == key:
                    frames = {int(i): _unpack(v) for i, v in data["frames"].items()}
            except Exception:  # unreadable or another layout: start again (it is only a cache)
                frames = {}
        return cls(path, key, frames, save_every)

    def __getitem__(self, index: int) -> Detection:
        return self._frames[int(index)]

    def get(self, index: int, default=None):
        return self._frames.get(int(index), default)

    def __contains__(self, index) -> bool:
        return int(index) in self._frames

    def __len__(self) -> int:
        return len(self._frames)

    def __iter__(self) -> Iterator[int]:
        return iter(self._frames)

    def __setitem__(self, index: int, det: Detection) -> None:
        self._frames[int(index)] = det
        self._unsaved += 1
        if self._unsaved >= self.save_every:
            self.save()

    def save(self) -> None:
        """Write every recorded frame (atomically); nothing when nothing is new."""
        if self._unsaved == 0:
            return
        buf = io.BytesIO()
        torch.save({"key": self.key, "frames": {i: _pack(d) for i, d in self._frames.items()}}, buf)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _write_bytes_atomic(self.path, buf.getvalue())
        self._unsaved = 0

    def delete(self) -> None:
        """Remove the file (after the result is committed)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def discard(self) -> None:
        """Remove the file and save nothing more (the run failed for good, e.g. no face in any frame)."""
        self._unsaved = 0
        self.save_every = 1 << 62
        self.delete()


__all__ = ["ClipCheckpoint", "checkpoint_path", "checkpoint_key", "CHECKPOINT_VERSION"]
