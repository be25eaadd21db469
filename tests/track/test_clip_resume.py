"""A tracked clip interrupted during detection resumes on a rerun of the same command: the frames
detected before the interruption are not detected again, and the result equals an uninterrupted run's."""
import json

import numpy as np
import pytest
from PIL import Image

from facesculpt import cli
from facesculpt.io.clip_checkpoint import ClipCheckpoint, checkpoint_key, checkpoint_path

ARGS = ["--preset", "fast", "--set", "identity_metrics=false", "--quiet"]


@pytest.fixture(scope="module")
def clip(tmp_path_factory, grace_hopper, write_video):
    """6 frames: the photo sliding right, one blank frame (no face)."""
    face = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    frames = [np.roll(face, s, axis=1) for s in (0, 3, 6)] + [np.full_like(face, 128)] + \
             [np.roll(face, s, axis=1) for s in (9, 12)]
    path = tmp_path_factory.mktemp("resume") / "clip.mp4"
    write_video(path, frames)
    return path


class _Counting:
    """detect_faces wrapper: records the frames it is called on (a frame with a face is detected twice, as it is
    and mirrored: ``track.mirrored_detection``), raises KeyboardInterrupt when called on frame number ``stop_at``
    (1-based, counting distinct frames)."""

    def __init__(self, real, stop_at=None):
        self.real, self.stop_at, self.calls = real, stop_at, []

    @property
    def frames(self) -> list:
        """The distinct frame names called on, in order."""
        return list(dict.fromkeys(self.calls))

    def __call__(self, image, *a, **k):
        name = k.get("name")
        if self.stop_at is not None and name not in self.calls and len(self.frames) + 1 == self.stop_at:
            raise KeyboardInterrupt
        self.calls.append(name)
        return self.real(image, *a, **k)


def _result(folder):
    """The result files' contents, timings left out (they differ between any two runs)."""
    out = {}
    for p in sorted(folder.rglob("*")):
        if not p.is_file() or p.suffix == ".html":
            continue
        if p.suffix == ".json":
            d = json.loads(p.read_text())
            for key in ("timings_s", "timings", "created", "command"):
                d.pop(key, None)
            out[p.name] = d
        else:
            out[p.name] = p.read_bytes()
    return out


def test_interrupted_clip_resumes_without_detecting_again(tmp_path, clip, monkeypatch, capsys):
    import facesculpt.detect as det

    real = det.detect_faces
    # the uninterrupted run
    full = _Counting(real)
    monkeypatch.setattr(det, "detect_faces", full)
    assert cli.main(["reconstruct", str(clip), "-o", str(tmp_path / "a"), *ARGS]) == 0
    assert len(full.frames) == 6
    assert len(full.calls) == 11  # the five frames with a face detected twice (as they are and mirrored)
    assert not checkpoint_path(tmp_path / "a" / "clip").exists()  # deleted once the result is committed

    # interrupted after k = 4 frames (the blank one included): no result, a checkpoint holding the 4
    k = 4
    first = _Counting(real, stop_at=k + 1)
    monkeypatch.setattr(det, "detect_faces", first)
    assert cli.main(["reconstruct", str(clip), "-o", str(tmp_path / "b"), *ARGS]) == 130
    out = tmp_path / "b" / "clip"
    assert not out.exists()
    ck = checkpoint_path(out)
    assert ck.is_file()
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == [ck.name]  # no temporary folder
    # the rerun detects only the frames after k
    again = _Counting(real)
    monkeypatch.setattr(det, "detect_faces", again)
    capsys.readouterr()
    assert cli.main(["reconstruct", str(clip), "-o", str(tmp_path / "b"), *ARGS]) == 0
    assert again.frames == [f"clip.mp4 frame {i}" for i in range(k, 6)]
    assert f"clip.mp4: resuming: {k} frame(s) already detected" in capsys.readouterr().err  # said without bars
    assert not ck.exists()
    a, b = _result(tmp_path / "a" / "clip"), _result(out)
    assert a.keys() == b.keys() and {"mesh.glb", "blendshapes.csv", "frames.json", "albedo.png"} <= a.keys()
    for name in a:
        assert a[name] == b[name], name
    assert json.loads((out / "frames.json").read_text())["frames"][3]["status"] == "interpolated"


def test_checkpoint_of_other_settings_is_not_reused(tmp_path, clip):
    from facesculpt.config import make_config
    from facesculpt.structures import Landmarks
    import torch

    cfg = make_config("fast")
    folder = tmp_path / "clip"
    ck = ClipCheckpoint.open(folder, checkpoint_key(clip, cfg, 1), save_every=100)
    lm = Landmarks(torch.rand(478, 3), torch.tensor([1.0, 2.0, 3.0, 4.0]), (300, 256), "mediapipe_face_mesh")
    ck[0] = lm
    ck[1] = "no face found in clip.mp4 frame 1"
    assert not checkpoint_path(folder).exists()  # saved every 100 frames or on save()
    ck.save()
    back = ClipCheckpoint.open(folder, checkpoint_key(clip, cfg, 1))
    assert back.resumed == 2 and back[1] == "no face found in clip.mp4 frame 1"
    assert torch.equal(back[0].points, lm.points) and back[0].image_size == (300, 256)
    assert back[0].detector == "mediapipe_face_mesh"
    # other settings, another --every, or a touched video: not reused
    import dataclasses

    cfg2 = dataclasses.replace(cfg, min_face_size=cfg.min_face_size + 1)
    assert ClipCheckpoint.open(folder, checkpoint_key(clip, cfg2, 1)).resumed == 0
    assert ClipCheckpoint.open(folder, checkpoint_key(clip, cfg, 2)).resumed == 0
    import os

    st = os.stat(clip)
    os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    try:
        assert ClipCheckpoint.open(folder, checkpoint_key(clip, cfg, 1)).resumed == 0
    finally:
        os.utime(clip, ns=(st.st_atime_ns, st.st_mtime_ns))
    # a corrupt file is ignored, not an error
    checkpoint_path(folder).write_bytes(b"not a checkpoint")
    assert ClipCheckpoint.open(folder, checkpoint_key(clip, cfg, 1)).resumed == 0


def test_clip_without_a_face_leaves_no_checkpoint(tmp_path, write_video):
    path = tmp_path / "blank.mp4"
    write_video(path, [np.full((120, 100, 3), 128, np.uint8)] * 3)
    assert cli.main(["reconstruct", str(path), "-o", str(tmp_path / "out"), *ARGS]) == 1
    assert not (tmp_path / "out" / "blank").exists()
    assert not checkpoint_path(tmp_path / "out" / "blank").exists()
