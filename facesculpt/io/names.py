"""Result folder names of the command line: unique within a run and across runs, stable, never colliding.

The rule (docs/reliability.md):

- the first face of ``DIR/photo.jpg`` goes to ``OUT/photo``, face k >= 2 to ``OUT/photo_face<k>``;
- every result folder holds ``source.json`` (the input's absolute path, the face number and the number
  of faces written), so a folder says where it came from;
- an input's names are taken together: if any of them was already given to another input in this run
  (``a/photo.jpg`` and ``b/photo.jpg``; ``collage.jpg``'s second face and a file ``collage_face2.jpg``),
  or exists on disk with a ``source.json`` naming another input, the base becomes ``photo_2``,
  ``photo_3``, ... until all of them are free. Inputs are taken in the sorted order
  ``find_images`` gives, so the same inputs into the same folder give the same names;
- after an input is written, its own faces beyond this run's count (``photo_face3`` of a
  ``--max-faces 3`` run, followed by a run that found 2) are removed: only folders whose
  ``source.json`` names the same input are touched, never anything else.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from facesculpt.io.atomic import write_json

SOURCE_FILE = "source.json"


def _source_of(folder: Path) -> str | None:
    try:
        return str(json.loads((folder / SOURCE_FILE).read_text(encoding="utf-8"))["input"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _input_id(path: os.PathLike | str) -> str:
    return os.path.abspath(os.fspath(path))


def result_names(path: os.PathLike | str, n: int, used: set, outdir: os.PathLike | str | None = None) -> list[str]:
    """The ``n`` folder names of input ``path`` (rule above); adds them to ``used``.

    With ``outdir``, names held on disk by another input's result (per its source.json) count as used.
    """
    stem = Path(path).stem or "image"
    me = _input_id(path)

    def free(name: str) -> bool:
        if name in used:
            return False
        if outdir is not None:
            src = _source_of(Path(outdir) / name)
            if src is not None and src != me:
                return False
        return True

    base, k = stem, 2
    while True:
        names = [base if i == 0 else f"{base}_face{i + 1}" for i in range(n)]
        if all(free(x) for x in names):
            break
        base = f"{stem}_{k}"
        k += 1
    used.update(names)
    return names


def source_writer(path: os.PathLike | str, face: int, n: int):
    """An ``extra_writers`` entry for ``io.results.write_result`` writing ``source.json``."""
    data = {"input": _input_id(path), "face": face, "faces_written": n}

    def write(tmp, rec) -> None:
        write_json(Path(tmp) / SOURCE_FILE, data)

    return write


def remove_stale_faces(folders: list[Path], path: os.PathLike | str, used: set) -> list[Path]:
    """Remove ``<base>_face<k>`` folders beyond ``folders`` left by an earlier run of the same input.

    folders: this run's result folders of ``path`` (first face first). Returns the removed folders."""
    if not folders:
        return []
    first = Path(folders[0])
    me = _input_id(path)
    pat = re.compile(re.escape(first.name) + r"_face(\d+)$")
    removed = []
    try:
        siblings = list(first.parent.iterdir())
    except OSError:
        return []
    for d in sorted(siblings):
        m = pat.match(d.name)
        if not m or int(m.group(1)) <= len(folders) or d.name in used or not d.is_dir() or d.is_symlink():
            continue
        if _source_of(d) == me:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


__all__ = ["result_names", "source_writer", "remove_stale_faces", "SOURCE_FILE"]
