"""The command line through a subprocess: outputs, exit codes, one-line errors, bad inputs."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

CLI = [sys.executable, "-m", "facesculpt.cli"]


def run(*args, cwd=None):
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd, timeout=600)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory, grace_hopper):
    d = tmp_path_factory.mktemp("inputs")
    gh = Image.fromarray(grace_hopper)
    gh.save(d / "good.jpg", quality=95)
    gh.convert("L").save(d / "gray.jpg")
    rgba = gh.convert("RGBA")
    rgba.putalpha(200)
    rgba.save(d / "rgba.png")
    (np.asarray(gh.convert("L"), dtype=np.uint16) * 257).astype(np.uint16)
    Image.fromarray((np.asarray(gh.convert("L"), dtype=np.uint16) * 257)).save(d / "gray16.png")
    gh.convert("CMYK").save(d / "cmyk.jpg")
    # EXIF orientation 6: stored rotated, displayed upright after a 90 degree turn
    exif = Image.Exif()
    exif[0x0112] = 6
    gh.rotate(90, expand=True).save(d / "rotated.jpg", exif=exif.tobytes())
    (d / "empty.jpg").write_bytes(b"")
    (d / "notes.jpg").write_text("this is not an image\n")
    data = (d / "good.jpg").read_bytes()
    (d / "truncated.jpg").write_bytes(data[: len(data) // 3])
    Image.fromarray(np.full((300, 300, 3), 127, np.uint8)).save(d / "noface.png")
    gh.resize((80, 94)).save(d / "tiny.png")
    return d


def test_reconstruct_good_photo_fast(tmp_path, inputs):
    r = run("reconstruct", inputs / "good.jpg", "-o", tmp_path / "out", "--preset", "fast")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "out" / "good"
    assert (out / "mesh.glb").is_file() and (out / "albedo.png").is_file()
    assert "good.jpg" in r.stdout and "done: 1 face(s)" in r.stdout
    m = json.loads((out / "metrics.json").read_text())
    assert m["inview_psnr"] > 22
    # Grace Hopper wears glasses: one line under her result says their frames were completed, and how to keep them
    lines = r.stdout.splitlines()
    at = [i for i, line in enumerate(lines) if line.startswith("good.jpg:")]
    assert len(at) == 1 and lines[at[0] + 1].startswith("  glasses frames found"), r.stdout
    assert "glasses.enabled=false" in lines[at[0] + 1] and "glasses" not in r.stderr


UNUSUAL = ["gray.jpg", "rgba.png", "gray16.png", "cmyk.jpg", "rotated.jpg"]


def test_unusual_but_valid_images_work(tmp_path, inputs):
    r = run("reconstruct", *[inputs / n for n in UNUSUAL], "-o", tmp_path, "--preset", "fast")
    assert r.returncode == 0, r.stderr
    assert "done: 5 face(s) reconstructed, 0 input(s) failed" in r.stdout
    for name in UNUSUAL:
        params = json.loads((tmp_path / Path(name).stem / "params.json").read_text())
        H, W = params["camera"]["image_size_hw"]
        # EXIF honoured: the rotated file comes out upright again, 600 high and 512 wide
        assert (H, W) == (600, 512), name


BAD = {
    "empty.jpg": "empty",
    "notes.jpg": "not an image",
    "truncated.jpg": "truncated",
    "noface.png": "no face",
    "tiny.png": "smaller than",
    "missing.jpg": "no such file",
}


def test_bad_inputs_one_line_error_each_and_no_output(tmp_path, inputs):
    r = run("reconstruct", *[inputs / n for n in BAD], "-o", tmp_path / "out", "--preset", "fast")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == len(BAD), r.stderr
    # nothing else: the fall-back detectors' native logs (``W0000 ... inference_feedback_manager``) stay off
    assert [line for line in r.stderr.splitlines() if line.strip()] == errors, r.stderr
    for name, words in BAD.items():
        line = [e for e in errors if name in e]
        assert len(line) == 1 and words in line[0], (name, r.stderr)
    out = tmp_path / "out"
    assert not out.exists() or not any(out.iterdir())


def test_batch_goes_on_past_bad_files(tmp_path, inputs):
    folder = tmp_path / "batch"
    folder.mkdir()
    for name in ("good.jpg", "empty.jpg", "notes.jpg"):
        (folder / name).write_bytes((inputs / name).read_bytes())
    r = run("reconstruct", folder, "-o", tmp_path / "out", "--preset", "fast")
    assert r.returncode == 1
    assert (tmp_path / "out" / "good" / "mesh.obj").is_file()
    # the good image's folder, and the batch's report index and shared viewer scripts
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["_report", "good", "index.html"]
    assert sum(line.startswith("error:") for line in r.stderr.splitlines()) == 2
    assert "1 face(s) reconstructed, 2 input(s) failed" in r.stdout


def test_verbose_shows_traceback(tmp_path, inputs):
    r = run("reconstruct", inputs / "noface.png", "-o", tmp_path, "--verbose", "--preset", "fast")
    assert r.returncode == 1 and "Traceback" in r.stderr


def test_usage_errors(tmp_path, inputs):
    r = run("reconstruct", inputs / "good.jpg", "-o", tmp_path, "--preset", "fastest")
    assert r.returncode == 2 and "unknown preset" in r.stderr
    r = run("reconstruct", inputs / "good.jpg", "-o", tmp_path, "--set", "photometric.iteratons=3")
    assert r.returncode == 2 and "iteratons" in r.stderr
    assert not any(tmp_path.iterdir())


def test_device_cuda_is_refused_clearly(tmp_path, inputs):
    r = run("reconstruct", inputs / "good.jpg", "-o", tmp_path, "--device", "cuda")
    assert r.returncode == 2 and "cuda" in r.stderr and "Traceback" not in r.stderr
    assert not any(tmp_path.iterdir())


def test_unreadable_weights_file_is_one_usage_error_before_any_photo(tmp_path, capsys):
    """A --set regressor.weights / regressor.refiner_weights file that does not read stops the run once, up front,
    with one line naming it (it failed every photo of a batch with torch's unpickling text)."""
    from facesculpt.cli import _bundled_photo, main

    bad = tmp_path / "notes.pt"
    bad.write_text("not weights")
    out = tmp_path / "o"
    for key, path, words in (("regressor.weights", bad, "not a weights file"),
                             ("regressor.weights", tmp_path / "missing.pt", "no such file"),
                             ("regressor.refiner_weights", bad, "not a file written by")):
        code = main(["reconstruct", str(_bundled_photo()), "-o", str(out), "--set", f"{key}={path}", "--quiet"])
        err = capsys.readouterr().err.strip().splitlines()
        assert code == 2 and len(err) == 1 and str(path) in err[0] and words in err[0], err
        assert not out.exists()


def test_a_killed_runs_unfinished_folder_is_removed_with_a_note(tmp_path, inputs):
    from facesculpt.io import atomic

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    out = tmp_path / "out"
    (out / "good").mkdir(parents=True)  # an earlier, finished result: kept
    stale = out / f".good.tmp-0123abcd-{dead.pid}-{atomic._HOST}"
    stale.mkdir()
    (stale / "params.json").write_text("{")
    r = run("reconstruct", inputs / "empty.jpg", "-o", out, "--preset", "fast")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    notes = [line for line in r.stderr.splitlines() if line.startswith("note: cleaned up 1 unfinished result folder")]
    assert len(notes) == 1, r.stderr
    assert sorted(p.name for p in out.iterdir()) == ["good"]
