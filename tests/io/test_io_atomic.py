"""atomic_output_dir, write_json, write_png, write_png16."""
import json
import os
import stat

import numpy as np
import pytest
from PIL import Image

from facesculpt.core.errors import FaceSculptError, ShapeError
from facesculpt.io.atomic import atomic_output_dir, write_json, write_png, write_png16


def test_exception_leaves_nothing(tmp_path):
    final = tmp_path / "IMG_0392"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_output_dir(final) as tmp:
            assert tmp.parent == tmp_path and tmp.name.startswith(".IMG_0392.tmp-")
            (tmp / "mesh.obj").write_text("half")
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def test_keyboard_interrupt_leaves_nothing(tmp_path):
    with pytest.raises(KeyboardInterrupt):
        with atomic_output_dir(tmp_path / "r") as tmp:
            (tmp / "a").write_text("x")
            raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []


def test_success_creates_and_replaces(tmp_path):
    final = tmp_path / "out" / "face"  # parents are created
    with atomic_output_dir(final) as tmp:
        (tmp / "old.txt").write_text("1")
    assert (final / "old.txt").read_text() == "1"
    with atomic_output_dir(final) as tmp:
        assert (final / "old.txt").exists()  # the previous result stays until the end
        (tmp / "new.txt").write_text("2")
    assert sorted(os.listdir(final)) == ["new.txt"]
    assert os.listdir(tmp_path / "out") == ["face"]  # no .tmp / .old leftovers


def test_failed_rerun_keeps_previous_result(tmp_path):
    final = tmp_path / "face"
    with atomic_output_dir(final) as tmp:
        (tmp / "mesh.obj").write_text("good")
    with pytest.raises(ValueError):
        with atomic_output_dir(final) as tmp:
            (tmp / "mesh.obj").write_text("bad")
            raise ValueError
    assert (final / "mesh.obj").read_text() == "good"
    assert os.listdir(tmp_path) == ["face"]


def test_result_folder_has_normal_permissions(tmp_path):
    with atomic_output_dir(tmp_path / "r"):
        pass
    (tmp_path / "plain").mkdir()
    assert stat.S_IMODE((tmp_path / "r").stat().st_mode) == stat.S_IMODE((tmp_path / "plain").stat().st_mode)


def test_final_is_a_file_fails(tmp_path):
    (tmp_path / "r").write_text("x")
    with pytest.raises(FaceSculptError) as err:
        with atomic_output_dir(tmp_path / "r"):
            pass
    assert "\n" not in str(err.value) and "a file with that name exists" in str(err.value)


def test_write_json_converts_numpy_torch(tmp_path):
    torch = pytest.importorskip("torch")
    obj = {
        "b": np.float32(1.5),
        "a": np.arange(3),
        "t": torch.tensor([[1.0, 2.0]]),
        "s": torch.tensor(3),
        "nan": float("nan"),
        "ok": np.bool_(True),
        "path": tmp_path / "x",
        7: "int key",
    }
    p = tmp_path / "r.json"
    write_json(p, obj)
    text = p.read_text()
    data = json.loads(text)
    assert data == {"a": [0, 1, 2], "b": 1.5, "t": [[1.0, 2.0]], "s": 3, "nan": None, "ok": True,
                    "path": str(tmp_path / "x"), "7": "int key"}
    assert list(data) == sorted(data)  # sorted keys
    assert text.startswith('{\n  "7"')  # indent 2
    with pytest.raises(TypeError):
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists()


@pytest.mark.parametrize("shape", [(5, 6), (5, 6, 1), (5, 6, 3), (5, 6, 4)])
def test_write_png_uint8_and_float(tmp_path, shape):
    rng = np.random.default_rng(0)
    a8 = rng.integers(0, 256, shape, dtype=np.uint8)
    p = tmp_path / "u8.png"
    write_png(p, a8)
    back = np.asarray(Image.open(p))
    np.testing.assert_array_equal(back, a8.reshape(back.shape))
    write_png(p, a8.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(np.asarray(Image.open(p)), a8.reshape(back.shape))


def test_write_png_clips_and_rejects(tmp_path):
    p = tmp_path / "c.png"
    write_png(p, np.array([[-0.5, 0.5, 2.0]]))
    np.testing.assert_array_equal(np.asarray(Image.open(p)), [[0, 128, 255]])
    with pytest.raises(ShapeError):
        write_png(p, np.zeros((2, 2, 2)))
    with pytest.raises(ShapeError):
        write_png(p, np.zeros((2, 2), np.int64))
    with pytest.raises(ValueError):
        write_png(p, np.full((2, 2), np.nan))


def test_write_png16_roundtrip(tmp_path):
    a = np.array([[0, 1, 255, 256, 4095], [32768, 40000, 65534, 65535, 12345]], np.uint16)
    p = tmp_path / "d.png"
    write_png16(p, a)
    im = Image.open(p)
    assert im.mode.startswith("I")  # 16-bit gray, not reduced to 8 bits
    assert p.read_bytes()[24] == 16  # IHDR bit depth
    np.testing.assert_array_equal(np.asarray(im).astype(np.int64), a)
    write_png16(p, a / 65535.0)
    np.testing.assert_array_equal(np.asarray(Image.open(p)).astype(np.int64), a)
    with pytest.raises(ShapeError):
        write_png16(p, np.zeros((2, 2, 3), np.uint16))
    with pytest.raises(ShapeError):
        write_png16(p, a.astype(np.int32))


def test_encode_png_memo_gives_the_same_bytes_and_stays_small():
    """A texture encoded again (GLB, OBJ and PNG of one result) comes from the memo: the same bytes, which decode to
    the pixels; another image is encoded afresh; the memo keeps a few images only."""
    import io as _io

    from facesculpt.io import atomic

    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (64, 48, 3), dtype=np.uint8)
    first = atomic.encode_png(a)
    assert atomic.encode_png(a.copy()) is first  # same pixels: the memo's bytes
    assert np.array_equal(np.asarray(Image.open(_io.BytesIO(first))), a)
    b = a.copy()
    b[0, 0, 0] ^= 1
    other = atomic.encode_png(b)
    assert other != first and np.array_equal(np.asarray(Image.open(_io.BytesIO(other))), b)
    assert atomic.encode_png(a.astype(np.float32) / 255.0) is first  # the 8-bit pixels are the key
    for k in range(2 * atomic._PNG_MEMO_SIZE):
        atomic.encode_png(np.full((4, 4), k, np.uint8))
    assert len(atomic._PNG_MEMO) == atomic._PNG_MEMO_SIZE


def test_a_result_s_pngs_are_encoded_up_front_into_the_memo():
    """``io.results._encode_pngs``: the images encoded two at a time land in the memo, so the writes that follow take
    their bytes from it; the bytes are those of one encode after another."""
    import io as _io

    from PIL import Image

    from facesculpt.io import atomic
    from facesculpt.io.results import _encode_pngs

    rng = np.random.default_rng(7)
    images = [rng.integers(0, 256, (32 + k, 40, 3), dtype=np.uint8) for k in range(5)] + [np.full((9, 9), 3, np.uint8)]
    atomic._PNG_MEMO.clear()
    _encode_pngs(images)
    assert len(atomic._PNG_MEMO) == len(images)
    for im in images:
        data = atomic.encode_png(im)
        assert data in atomic._PNG_MEMO.values()
        buf = _io.BytesIO()
        Image.fromarray(im).save(buf, format="PNG", compress_level=atomic.PNG_COMPRESS_LEVEL)
        assert data == buf.getvalue()
    assert atomic._PNG_MEMO_SIZE >= 10  # a result's nine or ten images stay in it until written
