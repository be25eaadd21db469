"""Image loading and validation: any photo on disk (or in memory) -> (H, W, 3) uint8 RGB.

Everything here is Pillow; this module only decides what to do with the many pixel
formats and broken files users have, and turns every failure into one
``InvalidImageError`` line that names the file, says what is wrong and what to do.

Choices (see also docs/conventions.md):

- EXIF orientation is applied (``ImageOps.exif_transpose``); the returned array is the
  photo as a viewer shows it. A corrupt EXIF block is ignored (no rotation) rather than
  failing an otherwise readable photo.
- Transparency (RGBA, LA, PA, premultiplied modes, palette or RGB/L images with a
  ``transparency`` key) is composited over **white**, so cut-out portraits get a clean,
  uniform background instead of whatever colour the transparent pixels happen to hold.
- 16-bit grayscale (``I;16*``, and 32-bit ``I`` clipped to 0..65535) is scaled exactly,
  ``round(v * 255 / 65535)``. 16-bit colour PNGs are reduced to 8 bits by Pillow's decoder,
  which keeps the high byte (within 1 of exact scaling). Float ``F`` images are read as
  [0, 1] when their maximum is <= 1, otherwise clipped to [0, 255].
- An embedded ICC profile (Display P3 phone photos, CMYK JPEGs from print workflows) is
  converted to sRGB with Pillow's LittleCMS binding; if that fails the pixels are used as
  they are. CMYK without a profile uses Pillow's plain conversion.
- Images above ``MAX_PIXELS`` (100 megapixels) are refused before decoding.
"""
from __future__ import annotations

import io
import math
import os
import warnings
from pathlib import Path
from typing import Any, Union

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facesculpt.core.errors import InvalidImageError

#: largest image accepted, in pixels (width * height); larger ones are refused before
#: decoding (a decompression bomb, or a panorama far beyond what the fit can use).
MAX_PIXELS = 100_000_000

#: file extensions treated as images when searching folders (lower case).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp")

_EXPECTED = "expected JPEG, PNG, BMP, TIFF or WebP"
_RAW_EXTENSIONS = {".cr2", ".cr3", ".nef", ".nrw", ".arw", ".dng", ".orf", ".rw2", ".raf", ".pef", ".srw"}
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_ALPHA_MODES = {"RGBA", "LA", "PA", "RGBa", "La"}
_WHITE = 255

PathLike = Union[str, bytes, "os.PathLike[str]"]


def display_name(path: Any) -> str:
    """The path as shown in a one-line message (control characters escaped)."""
    s = os.fspath(path) if isinstance(path, (str, os.PathLike)) else str(path)
    return s.replace("\r", "\\r").replace("\n", "\\n")


def _error(name: str, reason: str, hint: str) -> InvalidImageError:
    return InvalidImageError(f"cannot read {name}: {reason} ({hint})")


def load_image(path: PathLike, *, max_side: int | None = None) -> np.ndarray:
    """Read a photo as it is displayed: ``(H, W, 3) uint8`` RGB.

    path:     file to read (any format Pillow decodes; JPEG, PNG, BMP, TIFF, WebP expected).
    max_side: if given, the image is shrunk (never enlarged) so that its longer side is at
              most ``max_side``; JPEGs are then decoded directly at 1/2, 1/4 or 1/8 size
              (``Image.draft``), which keeps time and peak memory low for 12+ MP photos.

    Raises ``InvalidImageError`` (one line naming the file) when the path is missing, a
    folder, empty, unreadable, not an image, truncated or corrupt, an unsupported format
    (HEIC, camera RAW), or larger than ``MAX_PIXELS``.
    """
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    name = display_name(path)
    p = Path(path)
    if max_side is not None and (not isinstance(max_side, int) or max_side < 1):
        raise ValueError(f"load_image: max_side must be a positive int or None, got {max_side!r}")
    if p.suffix.lower() in _RAW_EXTENSIONS:
        raise _error(name, f"camera RAW files ({p.suffix}) are not supported", "export a JPEG or PNG from your photo app first")
    try:
        st = p.stat()
    except FileNotFoundError:
        raise _error(name, "no such file", "check the path") from None
    except PermissionError:
        raise _error(name, "permission denied", "check the file's permissions") from None
    except OSError as e:
        raise _error(name, f"cannot access the file ({e.strerror or e})", "check the path") from None
    if p.is_dir():
        raise _error(name, "is a folder, not an image file", "give the path of a photo, or pass the folder to the batch command")
    if not p.is_file():
        raise _error(name, "not a regular file", "give the path of a photo file")
    if st.st_size == 0:
        raise _error(name, "the file is empty: 0 bytes", "re-copy or re-export the photo")
    try:
        f = open(p, "rb")
    except PermissionError:
        raise _error(name, "permission denied", "check the file's permissions") from None
    except OSError as e:
        raise _error(name, f"cannot open the file ({e.strerror or e})", "check the path") from None
    with f:
        head = f.read(16)
        f.seek(0)
        box = [_decode(f, name, head, max_side)]
    return _finish(box, name, max_side, owned=True)


def load_image_any(image: Any, *, max_side: int | None = None) -> np.ndarray:
    """``load_image`` for a path, or the same conversion for an image already in memory.

    image: a path (str / PathLike); a ``PIL.Image.Image``; or an array (numpy, or torch
           tensor on any device) shaped (H, W), (H, W, 1), (H, W, 3) or (H, W, 4), channels
           last, dtype uint8, uint16 (0..65535), bool, other integers in 0..255, or float
           in [0, 1]. Alpha is composited over white.
    Returns ``(H, W, 3) uint8``; a uint8 (H, W, 3) numpy input without ``max_side`` is
    returned as is (no copy).
    """
    if isinstance(image, (str, bytes, os.PathLike)):
        return load_image(image, max_side=max_side)
    if isinstance(image, Image.Image):
        name = "<PIL image>"
        try:
            image.load()
        except Exception as e:  # noqa: BLE001 - Pillow decoders raise many types on bad data
            raise _error(name, f"the image data is truncated or corrupt ({_short(e)})", "re-create the image") from None
        return _finish([image], name, max_side, owned=False)
    if hasattr(image, "detach") and hasattr(image, "cpu"):  # torch.Tensor, without importing torch
        image = image.detach().cpu().numpy()
    if isinstance(image, np.ndarray):
        rgb = array_to_rgb(image, "<array>")
        if max_side is not None:
            rgb, _ = downscale_for_detection(rgb, max_side)
        return rgb
    raise InvalidImageError(
        f"cannot read {type(image).__name__} object: not an image (pass a file path, a PIL image or an (H, W, 3) array)"
    )


def downscale_for_detection(img: np.ndarray, max_side: int) -> tuple[np.ndarray, float]:
    """Shrink ``img`` so its longer side is at most ``max_side``.

    img: (H, W, 3) uint8. Returns ``(small, scale)`` with ``small`` (h, w, 3) uint8 and
    ``scale = max_side / max(H, W)`` (1.0 and ``img`` itself, not a copy, when it is
    already small enough). A pixel coordinate in ``small`` maps back to the full image as
    ``xy / scale`` (exact up to the rounding of the small size, < 0.5 small pixel).
    """
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8:
        shape = getattr(img, "shape", None)
        raise ValueError(f"downscale_for_detection: expected an (H, W, 3) uint8 array, got {type(img).__name__} {shape}")
    if not isinstance(max_side, int) or max_side < 1:
        raise ValueError(f"downscale_for_detection: max_side must be a positive int, got {max_side!r}")
    h, w = img.shape[:2]
    if max(h, w) <= max_side:
        return img, 1.0
    small = _resize(Image.fromarray(img), max_side)
    return _pil_rgb_to_array(small), max_side / max(h, w)


def array_to_rgb(arr: np.ndarray, name: str = "<array>") -> np.ndarray:
    """Convert an in-memory image array to ``(H, W, 3) uint8`` (see ``load_image_any``)."""
    shape = tuple(arr.shape)
    bad_shape = _error(name, f"expected an (H, W, 3) image array, got shape {shape}", "pass channels-last RGB, RGBA or grayscale")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    elif arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise bad_shape
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise _error(name, f"the image is empty, shape {shape}", "pass a non-empty image")
    if arr.dtype == np.uint8 and arr.shape[2] == 3:
        return arr
    if arr.dtype == np.bool_:
        a8 = arr.astype(np.uint8) * 255
    elif arr.dtype == np.uint8:
        a8 = arr
    elif arr.dtype == np.uint16:
        a8 = _scale16(arr)
    elif np.issubdtype(arr.dtype, np.integer):
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or hi > 255:
            raise _error(name, f"{arr.dtype} values {lo}..{hi} are outside 0..255", "pass uint8, uint16 or float in [0, 1]")
        a8 = arr.astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise _error(name, "the image contains NaN or infinite values", "pass finite values in [0, 1]")
        hi = float(arr.max())
        if hi > 1.0 + 1.0 / 255.0:
            raise _error(name, f"float values must be in [0, 1], got max {hi:g}", "divide by 255, or pass uint8")
        a8 = np.rint(np.clip(arr, 0.0, 1.0) * 255.0).astype(np.uint8)
    else:
        raise _error(name, f"unsupported dtype {arr.dtype}", "pass uint8, uint16 or float in [0, 1]")
    c = a8.shape[2]
    if c in (2, 4):  # gray+alpha or RGBA: composite over white
        alpha = a8[:, :, -1:].astype(np.uint16)
        color = a8[:, :, :-1].astype(np.uint16)
        a8 = ((color * alpha + _WHITE * (255 - alpha) + 127) // 255).astype(np.uint8)
    if a8.shape[2] == 1:
        a8 = np.repeat(a8, 3, axis=2)
    return np.ascontiguousarray(a8)


# ----------------------------------------------------------------------------- internals


def _short(e: BaseException) -> str:
    msg = " ".join(str(e).split()) or type(e).__name__
    return msg[:120]


def _decode(f, name: str, head: bytes, max_side: int | None) -> Image.Image:
    """Open and fully decode ``f`` (so truncated files fail here)."""
    with warnings.catch_warnings():
        # our own MAX_PIXELS check replaces Pillow's warning between 89 and 179 MP
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(f)
        except UnidentifiedImageError:
            if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
                raise _error(name, "HEIC/HEIF photos are not supported", "convert it to JPEG or PNG first") from None
            raise _error(name, "not an image file", _EXPECTED) from None
        except Image.DecompressionBombError:
            raise _too_large(name, None) from None
        except MemoryError:
            raise _error(name, "not enough memory to open the image", "downscale it first") from None
        except Exception as e:  # noqa: BLE001 - Pillow raises many types on corrupt headers
            raise _error(name, f"the file is corrupt ({_short(e)})", "re-copy or re-export the photo") from None
        fmt = im.format or "image"
        w, h = im.size
        if w * h > MAX_PIXELS:
            raise _too_large(name, (w, h))
        if w == 0 or h == 0:
            raise _error(name, f"the image has no pixels ({w}x{h})", "re-export the photo")
        if max_side is not None and fmt == "JPEG" and max(w, h) > max_side:
            s = max_side / max(w, h)
            im.draft(None, (math.ceil(w * s), math.ceil(h * s)))
        try:
            im.load()
        except MemoryError:
            raise _error(name, "not enough memory to decode the image", "downscale it first") from None
        except Exception as e:  # noqa: BLE001 - Pillow decoders raise OSError, SyntaxError, ValueError, zlib.error, ...
            text = str(e).lower()
            if "truncated" in text or isinstance(e, EOFError) or "premature end" in text:
                reason = f"the {fmt} data is truncated: the file ends early"
            else:
                reason = f"the {fmt} data is corrupt ({_short(e)})"
            raise _error(name, reason, "re-copy or re-export the photo") from None
    return im


def _too_large(name: str, size: tuple[int, int] | None) -> InvalidImageError:
    limit = MAX_PIXELS / 1e6
    if size is None:
        what = f"the image is larger than the {limit:g}-megapixel limit"
    else:
        what = f"the image is too large ({size[0]}x{size[1]} = {size[0] * size[1] / 1e6:.0f} megapixels, limit {limit:g})"
    return _error(name, what, "downscale it first")


def _finish(box: list, name: str, max_side: int | None, owned: bool) -> np.ndarray:
    """Orientation, colour conversion and optional resize of a decoded image.

    ``box`` is a one-element list holding the image; when ``owned`` it is the only
    reference, so a conversion step can free the previous image (with the strip-wise copy
    below, a 12 MP JPEG peaks at about 2.5 times its RGB size instead of 4.5 times).
    """
    im = box.pop()
    try:
        if owned:
            ImageOps.exif_transpose(im, in_place=True)
        else:
            im = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a corrupt EXIF block: keep the stored orientation
        pass
    im = _to_rgb(im, name)
    if isinstance(im, np.ndarray):  # 16-bit / float paths convert in numpy
        if max_side is not None:
            im, _ = downscale_for_detection(im, max_side)
        return im
    if max_side is not None and max(im.size) > max_side:
        im = _resize(im, max_side)
    return _pil_rgb_to_array(im)


def _pil_rgb_to_array(im: Image.Image) -> np.ndarray:
    """(H, W, 3) uint8 writable copy of an RGB image, copied in strips of about 4 MB.

    ``np.array(im)`` would go through ``im.tobytes()``, which holds two full-size byte
    copies at once on top of Pillow's own 4-bytes-per-pixel storage.
    """
    w, h = im.size
    arr = np.empty((h, w, 3), dtype=np.uint8)
    rows = max(1, (4 << 20) // (3 * w))
    for y0 in range(0, h, rows):
        y1 = min(h, y0 + rows)
        arr[y0:y1] = np.asarray(im.crop((0, y0, w, y1)))
    return arr


def _resize(im: Image.Image, max_side: int) -> Image.Image:
    w, h = im.size
    scale = max_side / max(w, h)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return im.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def _scale16(a: np.ndarray) -> np.ndarray:
    """uint16 (or int 0..65535) -> uint8 with round(v * 255 / 65535)."""
    a32 = a.astype(np.uint32)
    return ((a32 * 255 + 32767) // 65535).astype(np.uint8)


def _gray3(a8: np.ndarray) -> np.ndarray:
    return np.repeat(a8[:, :, None], 3, axis=2)


def _to_rgb(im: Image.Image, name: str) -> Image.Image | np.ndarray:
    """An RGB PIL image, or an (H, W, 3) uint8 array for the modes converted in numpy."""
    mode = im.mode
    if mode.startswith("I;16"):
        return _gray3(_scale16(np.asarray(im)))
    if mode == "I":
        return _gray3(_scale16(np.clip(np.asarray(im), 0, 65535)))
    if mode == "F":
        a = np.nan_to_num(np.asarray(im, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
        if a.size and float(a.max()) <= 1.0:
            a = a * 255.0
        return _gray3(np.rint(np.clip(a, 0.0, 255.0)).astype(np.uint8))
    icc = im.info.get("icc_profile")
    try:
        if mode in _ALPHA_MODES or (mode in ("P", "L", "RGB") and "transparency" in im.info):
            rgba = im.convert("RGBA")
            white = Image.new("RGBA", rgba.size, (_WHITE, _WHITE, _WHITE, 255))
            im = Image.alpha_composite(white, rgba).convert("RGB")
        elif mode == "CMYK" and icc:
            converted = _icc_to_srgb(im, icc)
            im = converted if converted is not None else im.convert("RGB")
            icc = None
        elif mode != "RGB":
            im = im.convert("RGB")
    except (ValueError, OSError) as e:
        raise _error(name, f"unsupported pixel format {mode!r} ({_short(e)})", "re-export it as 8-bit RGB JPEG or PNG") from None
    if icc:  # an RGB profile (RGB, RGBA or palette source); gray profiles are skipped
        converted = _icc_to_srgb(im, icc)
        if converted is not None:
            im = converted
    return im


def _icc_to_srgb(im: Image.Image, icc: bytes) -> Image.Image | None:
    """Convert ``im`` (RGB or CMYK) from its embedded profile to sRGB; None if not possible."""
    try:
        from PIL import ImageCms

        src = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        space = {"RGB": "RGB", "CMYK": "CMYK"}.get(im.mode)
        if space is None or src.profile.xcolor_space.strip() != space:
            return None
        if im.mode == "RGB" and ImageCms.getProfileDescription(src).strip().lower().startswith("srgb"):
            return None  # already sRGB: skip a near-identity transform
        return ImageCms.profileToProfile(im, src, ImageCms.createProfile("sRGB"), outputMode="RGB")
    except Exception:  # noqa: BLE001 - no LittleCMS, or an unusable profile: keep the pixels
        return None
