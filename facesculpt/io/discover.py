"""Turn command-line paths (files and folders) into the list of images a batch processes.

A batch goes on past a bad path: ``find_images`` never raises for a missing or unreadable
path; it returns an entry whose ``error`` is the one-line message to report, and the batch
moves on to the next entry.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, NamedTuple, Optional

from facesculpt.io.image import IMAGE_EXTENSIONS, display_name
from facesculpt.io.video import VIDEO_EXTENSIONS, is_video_name


class FoundImage(NamedTuple):
    """One input of a batch.

    path:  the file to process (as given, or found inside a given folder).
    error: None, or a one-line message saying why this path cannot be processed.
    """

    path: Path
    error: Optional[str] = None


def is_image_name(path: os.PathLike | str) -> bool:
    """True if the file name has an image extension (case-insensitive)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS


def find_images(paths: Iterable[os.PathLike | str], *, exclude: Iterable[os.PathLike | str] = (),
                videos: bool = False) -> list[FoundImage]:
    """Expand files and folders into a sorted, de-duplicated list of ``FoundImage``.

    paths:   files are taken as given, whatever their extension (a non-image then fails
             in ``load_image`` with a clear message); folders are searched recursively for
             files with an image extension (``IMAGE_EXTENSIONS``, any case), skipping hidden
             files and folders (names starting with "."; e.g. macOS ``._IMG.jpg`` forks and
             unfinished ``.name.tmp-*`` result folders).
    exclude: folders not to search (e.g. the output folder when it lies inside an input
             folder, so results are not read back as inputs).
    videos:  also take files with a video extension (``io.video.VIDEO_EXTENSIONS``) from
             folders (the reconstruct command does; the hold-out benchmark does not).

    Returns entries sorted by path, each file once (compared by resolved path). A path
    that does not exist, a folder that cannot be listed or holds no images gives an entry
    with ``error`` set instead of raising.
    """
    excluded = {os.path.realpath(p) for p in exclude}
    found: dict[str, FoundImage] = {}

    def add(path: Path, error: Optional[str] = None) -> None:
        key = os.path.realpath(path) if error is None else f"\0{path}"
        if key not in found:
            found[key] = FoundImage(path, error)

    for raw in paths:
        p = Path(raw)
        name = display_name(raw)
        if p.is_dir():
            if os.path.realpath(p) in excluded:
                continue
            n_images = 0
            listing_errors: list[OSError] = []
            for root, dirs, files in os.walk(p, onerror=listing_errors.append):
                dirs[:] = [d for d in dirs if not d.startswith(".") and os.path.realpath(os.path.join(root, d)) not in excluded]
                for fn in files:
                    if not fn.startswith(".") and (is_image_name(fn) or (videos and is_video_name(fn))):
                        add(Path(root) / fn)
                        n_images += 1
            for e in listing_errors:
                add(Path(e.filename or p), f"cannot read folder {display_name(e.filename or p)}: {e.strerror or e} (check its permissions)")
            if n_images == 0 and not listing_errors:
                exts = ", ".join(IMAGE_EXTENSIONS + (VIDEO_EXTENSIONS if videos else ()))
                what = "images or videos" if videos else "images"
                add(p, f"no {what} found in folder {name} (looked for {exts})")
        elif p.exists():
            add(p)
        elif p.is_symlink():
            add(p, f"cannot read {name}: broken symbolic link (check the path)")
        else:
            add(p, f"cannot read {name}: no such file or folder (check the path)")
    return sorted(found.values(), key=lambda e: (str(e.path), e.error or ""))
