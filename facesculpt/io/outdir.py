"""The command line's output folder: checked before the first fit, removed again if a run leaves it empty.

``prepare_output_dir`` refuses, with one line, an ``-o`` that is a file, lies under a file, or cannot be
written (checked by creating and removing a probe folder, so it also holds for root and for read-only
mounts), and creates the missing folders. ``remove_created_if_empty`` undoes that creation when the run
wrote nothing (every input failed, a video without faces, Ctrl-C), so no empty folder is left behind.
"""
from __future__ import annotations

import os
import uuid
from pathlib import Path

from facesculpt.core.errors import FaceSculptError


def _fail(path: Path, what: str) -> FaceSculptError:
    return FaceSculptError(f"cannot write results to {path}: {what} (choose another output folder with -o)")


def prepare_output_dir(path: os.PathLike | str) -> list[Path]:
    """Check that results can be written to folder ``path`` and create it (with parents).

    Returns the folders created, outermost first. Raises FaceSculptError (one line) otherwise.
    """
    path = Path(path)
    missing: list[Path] = []
    p = path
    while not (p.exists() or p.is_symlink()):
        missing.append(p)
        if p.parent == p:
            break
        p = p.parent
    if p.is_symlink() and not p.exists():
        raise _fail(path, f"{p} is a broken link")
    if not p.is_dir():
        raise _fail(path, "it is a file" if p == path else f"{p} is a file, not a folder")
    created: list[Path] = []
    try:
        for q in reversed(missing):
            os.mkdir(q)
            created.append(q)
        probe = path / f".facesculpt-probe-{uuid.uuid4().hex[:8]}"
        os.mkdir(probe)
        os.rmdir(probe)
    except PermissionError:
        remove_created_if_empty(created)
        raise _fail(path, "permission denied") from None
    except OSError as e:
        remove_created_if_empty(created)
        raise _fail(path, e.strerror or str(e)) from None
    return created


def remove_created_if_empty(created: list[Path]) -> None:
    """Remove the folders ``prepare_output_dir`` created, innermost first, where they are empty."""
    for q in reversed(created):
        try:
            os.rmdir(q)
        except OSError:
            return


__all__ = ["prepare_output_dir", "remove_created_if_empty"]
