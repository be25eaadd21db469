"""find_images: files as given, folders recursively, sorted, de-duplicated, errors as entries."""
import os

from facesculpt.io.discover import FoundImage, find_images, is_image_name


def _touch(p):
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_bytes(b"x")
    return p


def test_folders_recursive_sorted_dedup(tmp_path):
    a = _touch(tmp_path / "in" / "b.JPG")
    b = _touch(tmp_path / "in" / "a.png")
    c = _touch(tmp_path / "in" / "sub" / "c.WebP")
    _touch(tmp_path / "in" / "notes.txt")
    _touch(tmp_path / "in" / "._a.jpg")  # macOS resource fork
    _touch(tmp_path / "in" / ".out.tmp-1234" / "x.png")  # unfinished result folder
    odd = _touch(tmp_path / "photo.dat")  # given explicitly: kept, fails later in load_image
    found = find_images([tmp_path / "in", a, str(odd), tmp_path / "in" / "sub"])
    assert all(isinstance(f, FoundImage) and f.error is None for f in found)
    assert [f.path for f in found] == sorted([b, a, c, odd], key=str)


def test_missing_path_is_an_entry_not_an_exception(tmp_path):
    good = _touch(tmp_path / "x.jpg")
    missing = tmp_path / "nope.jpg"
    found = find_images([missing, good])
    assert [f.path for f in found] == [missing, good]
    err = found[0].error
    assert err is not None and "\n" not in err and str(missing) in err and "no such file" in err
    assert found[1].error is None
    path, error = found[1]  # unpacks like a tuple
    assert path == good and error is None


def test_empty_folder_is_reported(tmp_path):
    (tmp_path / "empty").mkdir()
    _touch(tmp_path / "empty" / "readme.md")
    [entry] = find_images([tmp_path / "empty"])
    assert entry.error is not None and "no images" in entry.error and "empty" in entry.error


def test_exclude_output_folder(tmp_path):
    keep = _touch(tmp_path / "photos" / "a.jpg")
    _touch(tmp_path / "photos" / "out" / "a" / "albedo.png")
    found = find_images([tmp_path / "photos"], exclude=[tmp_path / "photos" / "out"])
    assert [f.path for f in found] == [keep]


def test_symlinked_duplicate_listed_once(tmp_path):
    real = _touch(tmp_path / "d" / "a.jpg")
    os.symlink(real, tmp_path / "d" / "link.jpg")
    found = find_images([tmp_path / "d", real])
    assert len(found) == 1


def test_is_image_name():
    assert is_image_name("X.TIFF") and is_image_name("a.jpeg") and not is_image_name("a.heic")
