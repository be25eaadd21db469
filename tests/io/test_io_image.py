"""load_image / load_image_any / downscale_for_detection: every format path and every error path."""
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from facesculpt.core.errors import InvalidImageError
from facesculpt.io import image as image_mod
from facesculpt.io.image import array_to_rgb, downscale_for_detection, load_image, load_image_any


def _png_bytes(w, h, bit_depth, color_type, rows: bytes) -> bytes:
    """A minimal PNG (filter 0 rows), to make 16-bit colour and oversized headers."""

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, bit_depth, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _photo(h=48, w=64, seed=0):
    """A smooth colourful test image (JPEG-friendly)."""
    y, x = np.mgrid[0:h, 0:w]
    img = np.stack([x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)], axis=2)
    return img.astype(np.uint8)


def _assert_one_line_naming(err: pytest.ExceptionInfo, path) -> str:
    msg = str(err.value)
    assert "\n" not in msg and "\r" not in msg
    assert str(path) in msg
    assert msg.startswith("cannot read ")
    return msg


# ----------------------------------------------------------------------------- formats


def test_rgb_png_roundtrip_exact(tmp_path):
    img = _photo()
    p = tmp_path / "rgb.png"
    Image.fromarray(img).save(p)
    out = load_image(p)
    assert out.dtype == np.uint8 and out.shape == (48, 64, 3)
    np.testing.assert_array_equal(out, img)
    out[0, 0] = 0  # writable


def test_grayscale_jpeg_becomes_rgb(tmp_path):
    gray = _photo()[:, :, 0]
    p = tmp_path / "gray.jpg"
    Image.fromarray(gray, "L").save(p, quality=95)
    assert Image.open(p).mode == "L"
    out = load_image(p)
    assert out.shape == (48, 64, 3)
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 1])
    np.testing.assert_array_equal(out[:, :, 0], out[:, :, 2])
    assert np.abs(out[:, :, 0].astype(int) - gray).mean() < 3


def test_rgba_png_composited_over_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = [255, 0, 0, 255]  # opaque red
    rgba[0, 1] = [0, 0, 0, 0]  # fully transparent black -> white
    rgba[0, 2] = [0, 0, 255, 128]  # half blue over white
    p = tmp_path / "cutout.png"
    Image.fromarray(rgba, "RGBA").save(p)
    out = load_image(p)
    assert out.shape == (4, 4, 3)
    np.testing.assert_array_equal(out[0, 0], [255, 0, 0])
    np.testing.assert_array_equal(out[0, 1], [255, 255, 255])
    np.testing.assert_allclose(out[0, 2], [127, 127, 255], atol=1)


def test_la_and_palette_with_transparency(tmp_path):
    la = np.zeros((2, 2, 2), np.uint8)
    la[..., 0] = 40
    la[0, 0, 1] = 255
    p = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(p)
    out = load_image(p)
    np.testing.assert_array_equal(out[0, 0], [40, 40, 40])
    np.testing.assert_array_equal(out[1, 1], [255, 255, 255])

    pal = Image.new("P", (2, 1))
    pal.putpalette([10, 20, 30, 200, 100, 50] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.putpixel((1, 0), 1)
    p2 = tmp_path / "pal.png"
    pal.save(p2, transparency=0)
    out = load_image(p2)
    np.testing.assert_array_equal(out[0, 0], [255, 255, 255])
    np.testing.assert_array_equal(out[0, 1], [200, 100, 50])


def test_palette_gif_without_transparency(tmp_path):
    img = np.zeros((3, 5, 3), np.uint8)
    img[:, 2:] = [0, 255, 0]
    p = tmp_path / "pal.gif"
    Image.fromarray(img).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(p)
    np.testing.assert_array_equal(load_image(p), img)


def test_16bit_gray_png_scaled_not_clipped(tmp_path):
    vals = np.array([[0, 257, 1000, 32768, 65535]], np.uint16)
    p = tmp_path / "depth16.png"
    Image.fromarray(vals).save(p)
    assert Image.open(p).mode.startswith("I")
    out = load_image(p)
    expected = np.round(vals.astype(np.float64) * 255 / 65535).astype(np.uint8)  # [0, 1, 4, 128, 255]
    np.testing.assert_array_equal(out[:, :, 0], expected)
    np.testing.assert_array_equal(out[:, :, 2], expected)


def test_16bit_rgb_png_within_one_of_exact(tmp_path):
    vals = np.array([0, 1000, 32896, 40000, 65535], np.uint16)
    rgb = np.stack([vals, vals[::-1], vals], axis=1)[None]  # (1, 5, 3)
    raw = b"\x00" + rgb.astype(">u2").tobytes()
    p = tmp_path / "rgb16.png"
    p.write_bytes(_png_bytes(5, 1, 16, 2, raw))
    out = load_image(p).astype(int)
    exact = np.round(rgb.astype(np.float64) * 255 / 65535)
    assert np.abs(out - exact).max() <= 1


def test_int32_and_float_tiff(tmp_path):
    p = tmp_path / "i32.tif"
    Image.fromarray(np.array([[0, 65535, 70000]], np.int32), "I").save(p)
    np.testing.assert_array_equal(load_image(p)[0, :, 1], [0, 255, 255])
    p2 = tmp_path / "f32.tif"
    Image.fromarray(np.array([[0.0, 0.5, 1.0]], np.float32), "F").save(p2)
    np.testing.assert_array_equal(load_image(p2)[0, :, 0], [0, 128, 255])


def test_cmyk_jpeg_colours_sane(tmp_path):
    img = _photo()
    img[:8, :8] = [220, 30, 30]  # a red patch stays red
    p = tmp_path / "print.jpg"
    Image.fromarray(img).convert("CMYK").save(p, quality=95)
    assert Image.open(p).mode == "CMYK"
    out = load_image(p)
    assert out.shape == img.shape
    assert np.abs(out.astype(int) - img).mean() < 6
    r, g, b = out[2:6, 2:6].reshape(-1, 3).mean(axis=0)
    assert r > 180 and g < 80 and b < 80


def test_srgb_icc_profile_keeps_pixels(tmp_path):
    from PIL import ImageCms

    img = _photo()
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    p = tmp_path / "srgb.png"
    Image.fromarray(img).save(p, icc_profile=icc)
    np.testing.assert_array_equal(load_image(p), img)


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    # stored 40 wide x 20 high, red block at the stored top-left corner
    img = np.full((20, 40, 3), 128, np.uint8)
    img[:5, :5] = [255, 0, 0]
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    p = tmp_path / "phone.jpg"
    Image.fromarray(img).save(p, exif=exif.tobytes(), quality=95)
    out = load_image(p)
    assert out.shape == (40, 20, 3)  # dims swapped
    # rotating the stored image 90 degrees clockwise takes its top-left corner to the top-right
    top_right = out[:4, -4:].reshape(-1, 3).mean(axis=0)
    top_left = out[:4, :4].reshape(-1, 3).mean(axis=0)
    bottom_right = out[-4:, -4:].reshape(-1, 3).mean(axis=0)
    assert top_right[0] > 200 and top_right[1] < 60
    assert abs(top_left[0] - 128) < 20 and abs(bottom_right[0] - 128) < 20


def test_max_side_uses_jpeg_draft_and_keeps_aspect(tmp_path, monkeypatch):
    img = np.repeat(np.repeat(_photo(30, 40), 20, axis=0), 20, axis=1)  # 600 x 800
    p = tmp_path / "big.jpg"
    Image.fromarray(img).save(p, quality=90)
    from PIL import JpegImagePlugin

    drafts = []
    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        drafts.append(size)
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = load_image(p, max_side=100)
    assert drafts == [(100, 75)], "JPEG draft mode was not used"
    assert out.shape == (75, 100, 3)
    ref, _ = downscale_for_detection(load_image(p), 100)
    assert np.abs(out.astype(int) - ref).mean() < 4


def test_multiframe_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255)]]
    p = tmp_path / "anim.gif"
    frames[0].save(p, save_all=True, append_images=frames[1:])
    np.testing.assert_array_equal(load_image(p)[0, 0], [255, 0, 0])


# ----------------------------------------------------------------------------- errors


def test_missing_file_fails(tmp_path):
    p = tmp_path / "IMG_0392.jpg"
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "no such file" in _assert_one_line_naming(err, p)


def test_directory_fails(tmp_path):
    with pytest.raises(InvalidImageError) as err:
        load_image(tmp_path)
    assert "folder" in _assert_one_line_naming(err, tmp_path)


def test_empty_file_fails(tmp_path):
    p = tmp_path / "empty.jpg"
    p.write_bytes(b"")
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "empty" in _assert_one_line_naming(err, p)


def test_truncated_jpeg_fails(tmp_path):
    rng = np.random.default_rng(0)
    noisy = rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)
    good = tmp_path / "good.jpg"
    Image.fromarray(noisy).save(good, quality=90)
    data = good.read_bytes()
    p = tmp_path / "half.jpg"
    p.write_bytes(data[: len(data) // 2])
    assert load_image(good).shape == (64, 64, 3)
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "truncated" in _assert_one_line_naming(err, p)


def test_truncated_png_fails(tmp_path):
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(good)
    p = tmp_path / "half.png"
    p.write_bytes(good.read_bytes()[:2000])
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    _assert_one_line_naming(err, p)


def test_text_file_named_jpg_fails(tmp_path):
    p = tmp_path / "notes.jpg"
    p.write_text("this is not a photo\n")
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    msg = _assert_one_line_naming(err, p)
    assert "not an image file" in msg and "JPEG" in msg


def test_heic_fails_with_specific_message(tmp_path):
    p = tmp_path / "IMG_0001.HEIC"
    p.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64)
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "HEIC" in _assert_one_line_naming(err, p)


def test_camera_raw_fails(tmp_path):
    p = tmp_path / "DSC_0001.NEF"
    p.write_bytes(b"II*\x00" + b"\x00" * 64)
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "RAW" in _assert_one_line_naming(err, p)


def test_decompression_bomb_fails_before_decoding(tmp_path, monkeypatch):
    p = tmp_path / "pano.png"
    Image.fromarray(_photo(40, 50)).save(p)
    monkeypatch.setattr(image_mod, "MAX_PIXELS", 1000)
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    msg = _assert_one_line_naming(err, p)
    assert "too large" in msg and "50x40" in msg


def test_huge_png_header_fails(tmp_path):
    # 20000 x 20000 claimed in the header: Pillow's own bomb guard fires on open
    p = tmp_path / "bomb.png"
    p.write_bytes(_png_bytes(20000, 20000, 8, 0, b"\x00" * 10))
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "megapixel" in _assert_one_line_naming(err, p)


def test_newline_in_name_keeps_message_one_line(tmp_path):
    p = tmp_path / "bad\nname.jpg"
    with pytest.raises(InvalidImageError) as err:
        load_image(p)
    assert "\n" not in str(err.value) and "bad\\nname.jpg" in str(err.value)


# ----------------------------------------------------------------------------- in memory


def test_load_image_any_arrays_and_pil(tmp_path):
    img = _photo(6, 7)
    assert load_image_any(img) is img
    np.testing.assert_array_equal(load_image_any(img.astype(np.float32) / 255), img)
    np.testing.assert_array_equal(load_image_any(img[:, :, 0]), np.repeat(img[:, :, :1], 3, axis=2))
    np.testing.assert_array_equal(load_image_any(img.astype(np.uint16) * 257), img)
    np.testing.assert_array_equal(load_image_any(Image.fromarray(img)), img)
    rgba = np.concatenate([img, np.zeros((6, 7, 1), np.uint8)], axis=2)
    np.testing.assert_array_equal(load_image_any(rgba), np.full_like(img, 255))
    p = tmp_path / "x.png"
    Image.fromarray(img).save(p)
    np.testing.assert_array_equal(load_image_any(str(p)), img)


def test_load_image_any_torch_tensor():
    torch = pytest.importorskip("torch")
    img = _photo(5, 6)
    np.testing.assert_array_equal(load_image_any(torch.from_numpy(img)), img)


@pytest.mark.parametrize(
    "bad",
    [
        np.zeros((3, 4, 5), np.uint8),  # 5 channels
        np.zeros((0, 4, 3), np.uint8),  # empty
        np.full((2, 2, 3), 200.0),  # 0..255 data as float
        np.full((2, 2, 3), np.nan),
        np.full((2, 2, 3), 300, np.int32),
        np.zeros((2, 2, 3), np.complex64),
    ],
)
def test_array_to_rgb_bad_inputs_fail(bad):
    with pytest.raises(InvalidImageError) as err:
        array_to_rgb(bad, "<array>")
    assert "\n" not in str(err.value) and "<array>" in str(err.value)


def test_load_image_any_unknown_type_fails():
    with pytest.raises(InvalidImageError):
        load_image_any(12345)


def test_downscale_for_detection():
    img = np.zeros((300, 400, 3), np.uint8)
    img[:, 200:] = 255
    small, scale = downscale_for_detection(img, 100)
    assert small.shape == (75, 100, 3) and scale == pytest.approx(0.25)
    # the edge at x = 200 in the full image is at x = 200 * scale = 50 in the small one
    assert small[40, 45, 0] < 30 and small[40, 55, 0] > 225
    same, s1 = downscale_for_detection(img, 400)
    assert same is img and s1 == 1.0
    with pytest.raises(ValueError):
        downscale_for_detection(img.astype(np.float32), 100)
