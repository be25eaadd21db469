"""Video input: frame sampling, errors, and `facesculpt reconstruct clip.mp4` end to end."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from facesculpt.io.discover import find_images
from facesculpt.io.video import InvalidVideoError, is_video_name, iter_video_frames, video_info

CLI = [sys.executable, "-m", "facesculpt.cli"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, grace_hopper, write_video):
    """5 frames at 10 fps: face, face, blank (no face), face (shifted), face."""
    d = tmp_path_factory.mktemp("video")
    face = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    blank = np.full_like(face, 128)
    shifted = np.roll(face, 6, axis=1)
    path = d / "clip.mp4"
    write_video(path, [face, face, blank, shifted, face])
    return path


def test_frames_sampled_in_order_as_rgb(clip, grace_hopper):
    info = video_info(clip)
    assert info.frames == 5 and abs(info.fps - 10) < 1e-6 and info.size_hw == (300, 256)
    frames = list(iter_video_frames(clip, every=2))
    assert [f.index for f in frames] == [0, 2, 4]
    assert [round(f.time_s, 3) for f in frames] == [0.0, 0.2, 0.4]
    img = frames[0].image
    assert img.shape == (300, 256, 3) and img.dtype == np.uint8
    ref = np.asarray(Image.fromarray(grace_hopper).resize((256, 300))).astype(float)
    assert np.abs(img.astype(float) - ref).mean() < 12  # RGB, not BGR (lossy codec)
    assert np.abs(img[..., ::-1].astype(float) - ref).mean() > np.abs(img.astype(float) - ref).mean() + 5
    assert [f.index for f in iter_video_frames(clip, max_frames=2)] == [0, 1]


@pytest.mark.parametrize("kw", [{"every": 0}, {"max_frames": 0}])
def test_bad_sampling_fails(clip, kw):
    with pytest.raises(ValueError):
        next(iter_video_frames(clip, **kw))


def test_unreadable_videos_fail_with_one_line(tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x01not a video at all" * 50)
    empty = tmp_path / "empty.mov"
    empty.write_bytes(b"")
    for p in (bad, empty, tmp_path / "missing.mp4"):
        with pytest.raises(InvalidVideoError) as e:
            list(iter_video_frames(p))
        msg = str(e.value)
        assert "\n" not in msg and p.name in msg


def test_a_truncated_video_fails_without_ffmpeg_lines_on_stderr(tmp_path, clip, capfd, monkeypatch):
    """FFmpeg reports a cut-off MP4 on fd 2 itself ("moov atom not found"); the user gets the one-line error only
    (``--verbose`` lets the native lines through: ``core.quiet``)."""
    from facesculpt.core.quiet import NATIVE_LOGS_ENV

    cut = tmp_path / "cut.mp4"
    data = clip.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    monkeypatch.delenv(NATIVE_LOGS_ENV, raising=False)
    capfd.readouterr()
    with pytest.raises(InvalidVideoError) as e:
        list(iter_video_frames(cut))
    assert "cut.mp4" in str(e.value)
    assert capfd.readouterr().err == ""
    monkeypatch.setenv(NATIVE_LOGS_ENV, "1")
    with pytest.raises(InvalidVideoError):
        list(iter_video_frames(cut))
    assert "moov" in capfd.readouterr().err  # the check above would see the line


def test_folders_yield_videos_only_when_asked(tmp_path, clip):
    (tmp_path / "a.MP4").write_bytes(clip.read_bytes())
    assert is_video_name(tmp_path / "a.MP4") and not is_video_name(tmp_path / "a.jpg")
    assert [e.path.name for e in find_images([tmp_path], videos=True)] == ["a.MP4"]
    only = find_images([tmp_path])
    assert len(only) == 1 and only[0].error and "no images found" in only[0].error


def test_reconstruct_video_cli(tmp_path, clip):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"garbage" * 100)
    r = subprocess.run([*CLI, "reconstruct", str(clip), str(bad), "-o", str(tmp_path / "out"), "--preset", "fast",
                        "--every", "2", "--no-track"], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1, r.stderr  # the broken video fails; the good one is written
    err = [ln for ln in r.stderr.splitlines() if ln.startswith(("error:", "note:"))]
    assert any(ln.startswith("error:") and "broken.mp4" in ln for ln in err)
    assert any(ln.startswith("note:") and "frame 2 skipped" in ln for ln in err)  # the blank frame
    assert "Traceback" not in r.stderr
    out = tmp_path / "out" / "clip"
    index = json.loads((out / "frames.json").read_text())
    assert [f["frame"] for f in index["faces"]] == [0, 4] and [s["frame"] for s in index["skipped"]] == [2]
    assert index["frames_read"] == 3 and abs(index["fps"] - 10) < 1e-6
    for f in index["faces"]:
        assert (out / f["folder"] / "mesh.glb").is_file() and (out / f["folder"] / "mesh.obj").is_file()
        assert f["metrics"]["inview_psnr"] > 20
    assert sorted(p.name for p in out.iterdir()) == ["clip_data.js", "frame_000000", "frame_000004", "frames.json",
                                                     "report.html", "source.json"]  # the clip page (docs/report.md)
    assert json.loads((out / "source.json").read_text())["input"] == str(clip.resolve())  # (io.names)
    clip = (out / "clip_data.js").read_text()
    assert '"frame_000004"' in clip and (out / "frame_000004" / "report.html").is_file()
    assert not (tmp_path / "out" / "broken").exists()
    assert "2 face(s) reconstructed, 1 input(s) failed" in r.stdout
    # the same picture (re-encoded by a lossy codec) gives the same pose within 3 degrees
    p0, p4 = (np.array(f["pose"]["rotvec_rad"]) for f in index["faces"])
    assert np.abs(p0 - p4).max() < 0.05


def test_video_without_faces_leaves_nothing(tmp_path, write_video):
    path = tmp_path / "empty_room.mp4"
    write_video(path, [np.full((120, 160, 3), v, np.uint8) for v in (60, 120, 180)])
    r = subprocess.run([*CLI, "reconstruct", str(path), "-o", str(tmp_path / "out"), "--preset", "fast"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and "no face found in any of the 3 frame(s)" in errors[0]
    assert not (tmp_path / "out" / "empty_room").exists()
    leftovers = list((tmp_path / "out").glob(".*")) if (tmp_path / "out").exists() else []
    assert not leftovers  # no temporary folder either


def test_bad_every_is_a_usage_error(tmp_path, clip):
    r = subprocess.run([*CLI, "reconstruct", str(clip), "-o", str(tmp_path / "o"), "--every", "0"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and r.stderr.strip().startswith("error: --every")


def test_public_api_reads_frames(clip):
    import facesculpt

    frames = list(facesculpt.iter_video_frames(clip, every=3))
    assert [f.index for f in frames] == [0, 3] and frames[1].image.shape == (300, 256, 3)
