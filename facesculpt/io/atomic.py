"""Atomic result writing: a failed image leaves no half-written output folder.

``atomic_output_dir`` builds a result in a hidden sibling folder and renames it into
place at the end; ``write_json``, ``write_png`` and ``write_png16`` write each file through a
temporary sibling file and ``os.replace``, so a reader never sees a partial file either.
"""
from __future__ import annotations

import contextlib
import dataclasses
import enum
import errno
import hashlib
import io
import json
import math
import os
import re
import shutil
import socket
import stat
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterator

import numpy as np
from PIL import Image

from facesculpt.core.errors import FaceSculptError, ShapeError


def _owner() -> str:
    """``<pid>-<host>``: the process that owns a temporary folder, and its machine (8 hex digits of a hash of the
    host name), so a later run can tell a folder left by a killed process from one a live writer is filling."""
    return f"{os.getpid()}-{_HOST}"


_HOST = hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]
#: ``.<name>.tmp-<8 hex>-<pid>-<host>`` / ``.<name>.old-...``: an atomic folder's temporary and set-aside names
_STALE_RE = re.compile(r"^\.(?P<name>.+)\.(?P<kind>tmp|old)-[0-9a-f]{8}-(?P<pid>\d+)-(?P<host>[0-9a-f]{8})$")


def _sibling(final: Path, tag: str) -> Path:
    return final.parent / f".{final.name}.{tag}-{uuid.uuid4().hex[:8]}-{_owner()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError, OverflowError):  # another user's process, or not checkable: keep its folder
        return True
    return True


def remove_stale_temps(folder: os.PathLike | str) -> int:
    """Delete the hidden temporary folders (``atomic_output_dir``'s ``.<name>.tmp-*`` and ``.<name>.old-*``) in
    ``folder`` that a process of this machine left behind when it was killed (SIGKILL, out of memory, a power
    cut: no clean-up ran). Only folders whose owner, recorded in the name, is a process id of this machine that
    no longer runs; a live writer's folder, another machine's and names of another form are left alone. A
    set-aside previous result (``.old-``) whose ``<name>`` is missing (killed between the two renames of a commit)
    is put back as ``<name>`` instead. Returns how many were removed or put back; a folder that cannot be listed
    gives 0."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    removed = 0
    for e in entries:
        m = _STALE_RE.match(e.name)
        if m is None or m["host"] != _HOST or _alive(int(m["pid"])):
            continue
        try:
            final = os.path.join(os.fspath(folder), m["name"])
            if m["kind"] == "old" and not os.path.lexists(final):
                os.rename(e.path, final)  # the previous result, whose replacement never arrived
            elif e.is_dir(follow_symlinks=False):
                shutil.rmtree(e.path)
            else:
                os.unlink(e.path)
            removed += 1
        except OSError:
            continue
    return removed


def _not_a_folder(final: Path) -> FaceSculptError:
    return FaceSculptError(
        f"cannot write results to {final}: a file with that name exists (remove it or choose another output folder)"
    )


def _is_file(path: Path) -> bool:
    """True if ``path`` exists and is not a folder, from one ``stat`` (``exists()`` then ``is_dir()``
    raced with another writer renaming the folder aside between the two calls)."""
    try:
        return not stat.S_ISDIR(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


@contextlib.contextmanager
def atomic_output_dir(final: os.PathLike | str) -> Iterator[Path]:
    """Yield a temporary folder that becomes ``final`` when the block succeeds.

    The temporary folder is ``<parent>/.<name>.tmp-XXXXXXXX-<pid>-<host>`` (same file system, so the
    final step is a rename; parents are created). On success an existing ``final`` folder
    is renamed aside (``.<name>.old-XXXXXXXX-<pid>-<host>``), the new one renamed in, and the old one
    deleted; if the rename in fails the old result is put back. On any exception
    (KeyboardInterrupt included) the temporary folder is deleted and the exception
    re-raised, so nothing is left behind. ``final`` being an existing *file* is an error
    (raised before the block runs).
    """
    final = Path(final)
    if _is_file(final):
        raise _not_a_folder(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    while True:  # os.mkdir (not tempfile.mkdtemp) so the folder gets normal, umask-based permissions
        tmp = _sibling(final, "tmp")
        try:
            os.mkdir(tmp)
            break
        except FileExistsError:
            continue
    try:
        yield tmp
        _commit(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _commit(tmp: Path, final: Path) -> None:
    """Rename ``tmp`` to ``final``, moving an existing ``final`` aside first.

    Several writers may commit the same ``final`` at once: each rename is atomic, and a writer whose
    rename in fails because another one put its folder there in between (``ENOTEMPTY``/``EEXIST``), or
    whose rename aside finds the folder already moved (``FileNotFoundError``), tries again; the last
    writer's folder wins and the others' folders are deleted, so the final folder is always one
    complete result."""
    olds: list[Path] = []
    try:
        for _ in range(1000):
            try:
                os.rename(tmp, final)
                break
            except OSError as e:
                if e.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOTDIR, errno.EISDIR):
                    raise
            if _is_file(final):
                raise _not_a_folder(final)
            if not (final.is_symlink() or final.exists()):
                continue
            old = _sibling(final, "old")
            try:
                os.rename(final, old)
            except FileNotFoundError:  # another writer moved it aside first: try again
                continue
            olds.append(old)
        else:
            raise FaceSculptError(f"cannot write results to {final}: other processes keep replacing it")
    except BaseException:
        if olds and not (final.is_symlink() or final.exists()):
            with contextlib.suppress(OSError):
                os.rename(olds.pop(), final)
        for old in olds:
            shutil.rmtree(old, ignore_errors=True)
        raise
    for old in olds:
        if old.is_symlink():
            old.unlink()
        else:
            shutil.rmtree(old, ignore_errors=True)


def _write_bytes_atomic(path: os.PathLike | str, data: bytes) -> None:
    path = Path(path)
    tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    try:
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


# ----------------------------------------------------------------------------- JSON


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types from numpy/torch scalars and arrays, paths, enums and dataclasses.

    Arrays and tensors become (nested) lists; non-finite floats become ``None`` (JSON has
    no NaN/Infinity); dict keys become strings; sets become sorted lists.
    """
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, int):
        return int(obj)
    if isinstance(obj, float):
        return float(obj) if math.isfinite(obj) else None
    if hasattr(obj, "detach") and hasattr(obj, "cpu"):  # torch.Tensor, without importing torch
        obj = obj.detach().cpu().numpy()
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, dict):
        return {(k if isinstance(k, str) else str(to_jsonable(k))): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, (set, frozenset)):
        return sorted((to_jsonable(v) for v in obj), key=repr)
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, enum.Enum):
        return to_jsonable(obj.value)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    raise TypeError(f"write_json: cannot convert {type(obj).__name__} to JSON")


def write_json(path: os.PathLike | str, obj: Any) -> None:
    """Write ``obj`` as UTF-8 JSON: sorted keys, indent 2, trailing newline (see ``to_jsonable``)."""
    text = json.dumps(to_jsonable(obj), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)
    _write_bytes_atomic(path, (text + "\n").encode("utf-8"))


# ----------------------------------------------------------------------------- PNG


def _as_numpy(arr: Any) -> np.ndarray:
    if hasattr(arr, "detach") and hasattr(arr, "cpu"):
        arr = arr.detach().cpu().numpy()
    return np.asarray(arr)


def to_uint8_image(arr: Any, name: str = "image") -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) uint8, bool or float in [0, 1] -> uint8.

    Floats are clipped to [0, 1] and rounded (``round(x * 255)``); (H, W, 1) becomes (H, W).
    Raises ``ShapeError`` for other shapes/dtypes and ``ValueError`` for NaN/inf.
    """
    a = _as_numpy(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if not (a.ndim == 2 or (a.ndim == 3 and a.shape[2] in (3, 4))) or a.shape[0] == 0 or a.shape[1] == 0:
        raise ShapeError(f"{name}: expected shape (H, W), (H, W, 3) or (H, W, 4), got {tuple(a.shape)}")
    if a.dtype == np.uint8:
        return np.ascontiguousarray(a)
    if a.dtype == np.bool_:
        return a.astype(np.uint8) * 255
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        return np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    raise ShapeError(f"{name}: expected uint8, bool or float in [0, 1], got {a.dtype}")


#: zlib level of the PNGs written (PIL's default is 6): on one photo's outputs (grace_hopper, `fast`: albedo, texture,
#: overlay, occluders, render, eyes, visibility) level 3 encodes in 0.16 s against 0.47 s for files 6.5 % larger
#: (1.89 against 1.78 MB; level 1: 0.12 s, 12 % larger). The pixels are the same at every level.
PNG_COMPRESS_LEVEL = 3


class RecentMemo(OrderedDict):
    """The values of the last ``size`` keys kept (the least recently used dropped first), safe across threads: the
    outputs a result writes from the same arrays (``encode_png``; the OBJs' constant lines, ``io.export_head``)."""

    def __init__(self, size: int):
        super().__init__()
        self.size = int(size)
        self._lock = threading.Lock()

    def recall(self, key):
        """The value kept for ``key``, or None."""
        with self._lock:
            hit = self.get(key)
            if hit is not None:
                self.move_to_end(key)
            return hit

    def keep(self, key, value):
        """Keep ``value`` for ``key``; returns it."""
        with self._lock:
            self[key] = value
            while len(self) > self.size:
                self.popitem(last=False)
        return value


def array_digest(a: np.ndarray) -> bytes:
    """A digest of the C-contiguous array ``a``'s bytes (BLAKE2b, 20 bytes): with its shape and dtype, a memo key."""
    return hashlib.blake2b(a.data, digest_size=20).digest()


#: PNGs recently encoded, by their pixels' digest: one photo's outputs encode the same texture up to four times (the GLB,
#: mesh.obj, mesh_neutral.obj and the PNG beside them; 18 encodes of 9 images, 0.12 of 0.27 s on grace_hopper)
_PNG_MEMO_SIZE = 12  # a result's images (nine or ten) are encoded up front, then written (``io.results``)
_PNG_MEMO = RecentMemo(_PNG_MEMO_SIZE)


def encode_png(arr: Any, name: str = "image") -> bytes:
    """PNG bytes of an 8-bit image (see ``to_uint8_image`` for accepted inputs). The same pixels give the same bytes,
    taken from a small memo of the last few images when encoded again."""
    a = np.ascontiguousarray(to_uint8_image(arr, name))
    key = (a.shape, array_digest(a))
    hit = _PNG_MEMO.recall(key)
    if hit is not None:
        return hit
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    return _PNG_MEMO.keep(key, buf.getvalue())


def write_png(path: os.PathLike | str, arr: Any) -> None:
    """Write an 8-bit PNG (gray, RGB or RGBA).

    arr: (H, W), (H, W, 1), (H, W, 3) or (H, W, 4); uint8, bool, or float in [0, 1]
         (clipped, rounded); numpy or torch. Row 0 is the top of the image.
    """
    _write_bytes_atomic(path, encode_png(arr, f"write_png({Path(path).name})"))


def write_png16(path: os.PathLike | str, arr: Any) -> None:
    """Write a 16-bit grayscale PNG (depth, displacement, masks with fine steps).

    arr: (H, W) uint16, or float in [0, 1] (stored as ``round(x * 65535)``).
    """
    name = f"write_png16({Path(path).name})"
    a = _as_numpy(arr)
    if a.ndim != 2 or a.shape[0] == 0 or a.shape[1] == 0:
        raise ShapeError(f"{name}: expected shape (H, W), got {tuple(a.shape)}")
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        a = np.rint(np.clip(a, 0.0, 1.0) * 65535.0).astype(np.uint16)
    elif a.dtype != np.uint16:
        raise ShapeError(f"{name}: expected uint16 or float in [0, 1], got {a.dtype}")
    im = Image.fromarray(np.ascontiguousarray(a, dtype=np.uint16))  # mode "I;16"
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
    _write_bytes_atomic(path, buf.getvalue())
