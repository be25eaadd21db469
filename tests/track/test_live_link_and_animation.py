"""blendshapes.csv (Live Link Face layout), the 53 -> 52 mapping, head angles, and the animated GLB."""
import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.face_model import load_face_model
from facesculpt.io.export_head import HeadAnimation, HeadPart, write_head_glb
from facesculpt.io.live_link import ARKIT_52, POSE_COLUMNS, timecode, to_arkit52, write_live_link_csv


def test_arkit52_mapping():
    names = load_face_model().expression_names
    assert len(ARKIT_52) == 52 and len(set(ARKIT_52)) == 52
    w = np.zeros((1, len(names)))
    w[0, names.index("browInnerUp_L")] = 0.4
    w[0, names.index("browInnerUp_R")] = 0.8
    w[0, names.index("eyeBlink_R")] = 0.7
    a = to_arkit52(names, w)[0]
    assert a[ARKIT_52.index("browInnerUp")] == pytest.approx(0.6)
    assert a[ARKIT_52.index("eyeBlinkRight")] == pytest.approx(0.7) and a[ARKIT_52.index("eyeBlinkLeft")] == 0
    assert a[ARKIT_52.index("tongueOut")] == 0 and a.sum() == pytest.approx(1.3)
    # every ARKit name but tongueOut is driven by some model shape
    M = to_arkit52(names, np.eye(len(names)))
    assert [ARKIT_52[j] for j in np.flatnonzero(M.sum(0) == 0)] == ["tongueOut"]


def test_live_link_csv(tmp_path):
    T = 4
    arkit = np.linspace(0, 1, T * 52).reshape(T, 52)
    ypr = np.tile([0.1, -0.2, 0.05], (T, 1))
    eyes = np.zeros((T, 2, 2))
    eyes[:, 0, 0] = 0.3
    write_live_link_csv(tmp_path / "b.csv", np.arange(T) / 30, 30.0, arkit, ypr, eyes)
    lines = (tmp_path / "b.csv").read_text().splitlines()
    head = lines[0].split(",")
    assert head[:3] == ["Timecode", "BlendShapeCount", "EyeBlinkLeft"] and head[-9:] == list(POSE_COLUMNS)
    assert len(head) == 2 + 52 + 9 and len(lines) == T + 1
    row = lines[2].split(",")
    assert row[0] == "00:00:00:01.000" and row[1] == "61"
    assert float(row[2 + 52]) == pytest.approx(0.1) and float(row[2 + 52 + 3]) == pytest.approx(0.3)
    assert timecode(61.5, 30) == "00:01:01:15.000"
    with pytest.raises(ValueError):
        write_live_link_csv(tmp_path / "c.csv", [0.0], 30.0, np.zeros((1, 53)), np.zeros((1, 3)), np.zeros((1, 2, 2)))


@pytest.mark.parametrize("fps", [10.0, 24.0, 25.0, 30.0, 60.0])
def test_timecodes_count_every_frame_once(fps):
    """Frame k of a clip (t = k / fps, as the video reader gives it) reads second k // fps, frame k mod fps: ten
    seconds of frames give as many distinct timecodes in order (1.2 s at 10 fps was read as frame 1, not 2)."""
    n = int(10 * fps)
    codes = [timecode(k / fps, fps) for k in range(n)]
    expected = [f"00:00:{k // int(fps):02d}:{k % int(fps):02d}.000" for k in range(n)]
    assert codes == expected
    assert timecode(1.2, 10) == "00:00:01:02.000"
    assert timecode(2.25 / fps, fps) == "00:00:00:02.250"  # a quarter frame on
    assert timecode(1.0 - 1e-12, fps) == "00:00:01:00.000"  # rounds up into the next second


def test_head_yaw_pitch_roll_round_trip():
    from facesculpt.core.conventions import MODEL_TO_CV
    from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec
    from facesculpt.track import head_yaw_pitch_roll

    angles = [(0.3, -0.1, 0.05), (-0.6, 0.25, -0.1)]
    rv = torch.stack([matrix_to_rotvec(MODEL_TO_CV.double() @ euler_yxz_to_matrix(*a, dtype=torch.float64))
                      for a in angles])
    np.testing.assert_allclose(head_yaw_pitch_roll(rv), np.array(angles), atol=1e-9)


def _part():
    v = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], float)
    return HeadPart("skin", v, np.array([[0, 1, 2]]), np.zeros((3, 2)), np.tile([0, 0, 1.0], (3, 1)),
                    morph_deltas=np.stack([np.eye(3), 2 * np.eye(3)]))


def test_animated_glb_has_one_key_per_frame(tmp_path):
    import pygltflib

    T = 7
    q = np.tile([0, 0, 0, 1.0], (T, 1))
    anim = HeadAnimation(times=np.arange(T) / 25, weights=np.random.default_rng(0).random((T, 2)), rotations=q,
                         translations=np.zeros((T, 3)))
    write_head_glb(tmp_path / "a.glb", [_part()], ["a", "b"], animation=anim)
    g = pygltflib.GLTF2().load(str(tmp_path / "a.glb"))
    (a,) = g.animations
    paths = {}
    for ch in a.channels:
        s = a.samplers[ch.sampler]
        assert ch.target.node == 0 and s.interpolation == "LINEAR"
        paths[ch.target.path] = (g.accessors[s.input].count, g.accessors[s.output].count)
        assert g.accessors[s.input].max == [pytest.approx(6 / 25)]
    assert paths == {"weights": (T, 2 * T), "rotation": (T, T), "translation": (T, T)}
    # the still export is unchanged: no animation
    write_head_glb(tmp_path / "s.glb", [_part()], ["a", "b"])
    assert not pygltflib.GLTF2().load(str(tmp_path / "s.glb")).animations


@pytest.mark.parametrize("bad", [dict(times=np.array([0.0, 0.0])), dict(times=np.arange(3.0), weights=np.zeros((3, 5))),
                                 dict(times=np.arange(3.0), rotations=np.full((3, 4), np.nan))])
def test_bad_animation_fails(tmp_path, bad):
    with pytest.raises((ShapeError, ValueError)):
        write_head_glb(tmp_path / "x.glb", [_part()], ["a", "b"], animation=HeadAnimation(**bad))
    assert not (tmp_path / "x.glb").exists()


def test_eye_look_channels_carry_the_gaze():
    """ARKit's eye-look coefficients are the gaze: eyes turned to the subject's left (+X, positive yaw) raise
    eyeLookOutLeft and eyeLookInRight by yaw / 30 degrees, looking down raises both eyeLookDown by pitch /
    25 degrees; the lid shapes' weights are not mixed in; without a gaze they are written as before."""
    import math

    from facesculpt.face_model import load_face_model
    from facesculpt.io.live_link import eye_look_from_gaze

    names = load_face_model().expression_names
    w = np.zeros((2, len(names)))
    w[1, names.index("eyeLookOut_L")] = 0.9
    gaze = np.zeros((2, 2, 2))
    gaze[:, :, 0] = math.radians(15.0)
    gaze[:, :, 1] = -math.radians(5.0)
    a = to_arkit52(names, w, gaze)
    col = {n: a[:, ARKIT_52.index(n)] for n in ARKIT_52}
    assert np.allclose(col["eyeLookOutLeft"], [0.5, 0.5]) and np.allclose(col["eyeLookInRight"], [0.5, 0.5])
    assert np.allclose(col["eyeLookDownLeft"], 0.2) and np.allclose(col["eyeLookDownRight"], 0.2)
    for n in ("eyeLookInLeft", "eyeLookOutRight", "eyeLookUpLeft", "eyeLookUpRight"):
        assert np.allclose(col[n], 0.0), n
    assert to_arkit52(names, w)[1, ARKIT_52.index("eyeLookOutLeft")] == pytest.approx(0.9)
    far = eye_look_from_gaze(np.full((1, 2, 2), -math.radians(60.0)))
    assert far["eyeLookOutRight"][0] == 1.0 and far["eyeLookDownLeft"][0] == 1.0  # clamped at 1


def test_a_part_with_a_pivot_is_a_child_node_turned_by_the_animation(tmp_path):
    """An eyeball-like part with a pivot: its own mesh on a child node at the pivot (vertices relative to it, no
    morph targets), turned by ``part_rotations``; the head keeps its targets; unknown or misshapen rotations fail."""
    import pygltflib

    from facesculpt.io.clip_results import gaze_rotations

    eye_v = np.array([[3, 3, 8], [4, 3, 8], [3, 4, 8]], float)
    eye = HeadPart("eye_left", eye_v, np.array([[0, 1, 2]]), np.zeros((3, 2)), np.tile([0, 0, 1.0], (3, 1)),
                   morph_deltas=np.zeros((2, 3, 3)), pivot=(3.0, 3.0, 7.0))
    T = 5
    gaze = torch.zeros(T, 2, 2)
    gaze[:, :, 0] = torch.linspace(0, 0.4, T)[:, None]
    rot = gaze_rotations(gaze)
    anim = HeadAnimation(times=np.arange(T) / 25, weights=np.zeros((T, 2)), part_rotations={"eye_left": rot["eye_left"]})
    write_head_glb(tmp_path / "e.glb", [_part(), eye], ["a", "b"], animation=anim)
    g = pygltflib.GLTF2().load(str(tmp_path / "e.glb"))
    assert [n.name for n in g.nodes] == ["head", "eye_left"] and g.nodes[0].children == [1]
    assert g.nodes[1].translation == pytest.approx([0.03, 0.03, 0.07])
    head_prim, = g.meshes[0].primitives
    eye_prim, = g.meshes[g.nodes[1].mesh].primitives
    assert len(head_prim.targets) == 2 and not eye_prim.targets
    assert g.accessors[eye_prim.attributes.POSITION].min == pytest.approx([0.0, 0.0, 0.01])
    (a,) = g.animations
    eye_ch = [c for c in a.channels if c.target.node == 1]
    assert len(eye_ch) == 1 and eye_ch[0].target.path == "rotation"
    assert g.accessors[a.samplers[eye_ch[0].sampler].output].count == T
    # the last key turns the front (+Z) towards +X by the gaze's yaw (0.4 rad)
    from scipy.spatial.transform import Rotation

    z = Rotation.from_quat(rot["eye_left"][-1]).apply([0, 0, 1.0])
    assert z == pytest.approx([np.sin(0.4), 0, np.cos(0.4)], abs=1e-6)
    with pytest.raises(ValueError):
        write_head_glb(tmp_path / "x.glb", [_part(), eye], ["a", "b"],
                       animation=HeadAnimation(times=np.arange(T) / 25, part_rotations={"skin": rot["eye_left"]}))
    with pytest.raises(ShapeError):
        write_head_glb(tmp_path / "x.glb", [_part(), eye], ["a", "b"],
                       animation=HeadAnimation(times=np.arange(T) / 25, part_rotations={"eye_left": np.ones((2, 4))}))
    assert not (tmp_path / "x.glb").exists()


def test_glb_bytes_are_pygltflib_s(tmp_path, monkeypatch):
    """The head GLB is serialised without pygltflib's deep copies (``export_head.glb_bytes``): the same bytes as
    ``GLTF2.save_to_bytes`` on a file with a texture, morph targets, a pivot part and an animation."""
    import facesculpt.io.export_head as eh

    from facesculpt.io.clip_results import gaze_rotations

    fast, compared = eh.glb_bytes, []

    def both(gltf, blob):
        ours = fast(gltf, blob)
        gltf.set_binary_blob(bytes(blob))
        compared.append(ours == b"".join(gltf.save_to_bytes()))
        return ours

    monkeypatch.setattr(eh, "glb_bytes", both)
    eye = HeadPart("eye_left", np.array([[3, 3, 8], [4, 3, 8], [3, 4, 8]], float), np.array([[0, 1, 2]]),
                   np.zeros((3, 2)), np.tile([0, 0, 1.0], (3, 1)), texture=np.full((4, 4, 3), 200, np.uint8),
                   texture_name="eye.png", pivot=(3.0, 3.0, 7.0))
    T = 3
    anim = HeadAnimation(times=np.arange(T) / 25, weights=np.random.default_rng(1).random((T, 2)),
                         part_rotations={"eye_left": gaze_rotations(torch.zeros(T, 2, 2))["eye_left"]})
    write_head_glb(tmp_path / "a.glb", [_part(), eye], ["a", "b"], weights=np.array([0.25, 0.5]), animation=anim)
    plain = _part()
    write_head_glb(tmp_path / "b.glb", [HeadPart("skin", plain.verts, plain.faces, plain.uvs, plain.normals)])  # static
    assert compared == [True, True]
