"""`facesculpt reconstruct clip.mp4` (tracking, the default for videos) end to end on a clip made from
the bundled photo, and an interrupted run leaving nothing behind."""
import csv
import json

import numpy as np
import pytest
from PIL import Image

from facesculpt import cli


@pytest.fixture(scope="module")
def clip(tmp_path_factory, grace_hopper, write_video):
    """7 frames at 10 fps: the photo sliding right, a blank frame (no face) in the middle."""
    face = np.asarray(Image.fromarray(grace_hopper).resize((256, 300)))
    frames = [np.roll(face, s, axis=1) for s in (0, 2, 4)] + [np.full_like(face, 128)] + \
             [np.roll(face, s, axis=1) for s in (6, 8, 10)]
    path = tmp_path_factory.mktemp("track") / "clip.mp4"
    write_video(path, frames)
    return path


ARGS = ["--preset", "fast", "--set", "identity_metrics=false", "--quiet"]


def test_interrupted_track_leaves_nothing(tmp_path, clip, monkeypatch):
    import facesculpt.io.clip_results as cr

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(cr, "write_live_link_csv", boom)
    assert cli.main(["reconstruct", str(clip), "-o", str(tmp_path / "out"), *ARGS]) == 130
    assert not (tmp_path / "out" / "clip").exists()
    # no temporary folder either; only the detections' checkpoint a rerun resumes from (io.clip_checkpoint)
    assert [p.name for p in (tmp_path / "out").glob(".*")] == [".clip.track-checkpoint.pt"]


def test_track_clip_end_to_end(tmp_path, clip, capsys):
    import pygltflib

    assert cli.main(["reconstruct", str(clip), "-o", str(tmp_path / "out"), *ARGS]) == 0
    cap = capsys.readouterr()
    assert "frame 3 has no face" in cap.err and "interpolated" in cap.err
    out = tmp_path / "out" / "clip"
    index = json.loads((out / "frames.json").read_text())
    assert [f["frame"] for f in index["frames"]] == list(range(7))
    assert [f["status"] for f in index["frames"]] == ["fitted"] * 3 + ["interpolated"] + ["fitted"] * 3
    assert abs(index["fps"] - 10) < 1e-6 and len(index["frames"][0]["expression"]) == 53
    # the same face slid by a few pixels: the head turns by less than 3 degrees over the clip
    rv = np.array([f["pose"]["rotvec_rad"] for f in index["frames"]])
    assert np.abs(rv - rv[0]).max() < 0.05
    g = pygltflib.GLTF2().load(str(out / "mesh.glb"))
    (anim,) = g.animations
    paths = {}
    for ch in anim.channels:
        s = anim.samplers[ch.sampler]
        paths[ch.target.path] = (g.accessors[s.input].count, g.accessors[s.output].count)
    assert paths == {"weights": (7, 7 * 53), "rotation": (7, 7), "translation": (7, 7)}
    assert len(g.meshes[0].extras["targetNames"]) == 53
    # the eyeballs are child nodes turned by the gaze, one key a frame
    assert [g.nodes[i].name for i in g.nodes[0].children] == ["eye_left", "eye_right"]
    eye_keys = sorted((g.nodes[c.target.node].name, c.target.path) for c in anim.channels if c.target.node != 0)
    assert eye_keys == [("eye_left", "rotation"), ("eye_right", "rotation")]
    rows = list(csv.reader((out / "blendshapes.csv").open()))
    assert len(rows) == 8 and len(rows[0]) == 63 and rows[0][:2] == ["Timecode", "BlendShapeCount"]
    assert rows[2][0] == "00:00:00:01.000"
    for name in ("albedo.png", "mesh.obj", "params.json"):
        assert (out / name).is_file()
    # the folder names its video: another clip.mp4 into the same output folder gets clip_2, not this one
    assert json.loads((out / "source.json").read_text())["input"] == str(clip.resolve())
    # the report: the tracked head's page plays its frames (every frame's 53 weights and rotation)
    page = (out / "report.html").read_text()
    assert 'id="clip-play"' in page and 'src="clip_data.js"' in page and 'max="6"' in page
    data = json.loads((out / "clip_data.js").read_text().split("=", 1)[1].rstrip().rstrip(";"))
    assert [f["frame"] for f in data["frames"]] == list(range(7)) and len(data["names"]) == 53
    assert data["frames"][3]["weights"] == index["frames"][3]["expression"]
    assert data["frames"][6]["rotvec"] == index["frames"][6]["pose"]["rotvec_rad"]
    listing = (tmp_path / "out" / "index.html").read_text()
    assert 'href="clip/report.html">clip</a> (clip: play)' in listing and listing.count("clip/report.html") == 1
