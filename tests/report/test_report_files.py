"""The report's files without a browser: the compact viewer payload decodes back to the GLB's
head (positions, triangles, UVs, morph targets within their quantisation), the page links only
relative, offline assets, and ``facesculpt report`` finds result folders and fails clearly."""
import base64
import json
import re
import zlib

import numpy as np
import pytest

from facesculpt.io.export_head import HeadPart, write_head_glb
from facesculpt.report import find_result_folders, write_assets, write_index, write_report
from facesculpt.report import payload as P

NAMES = ["jawOpen", "eyeBlink_L", "mouthSmile_R"]


def _grid(n, z=0.0):
    u, v = np.meshgrid(np.linspace(0, 1, n), np.linspace(0, 1, n))
    verts = np.stack([u.ravel() * 10 - 5, v.ravel() * 12 - 6, np.full(n * n, z)], 1)  # cm
    f = []
    for i in range(n - 1):
        for j in range(n - 1):
            a = i * n + j
            f += [[a, a + 1, a + n], [a + 1, a + n + 1, a + n]]
    uvs = np.stack([u.ravel(), v.ravel()], 1)
    normals = np.tile([0.0, 0.0, 1.0], (n * n, 1))
    return verts, np.array(f), uvs, normals


@pytest.fixture
def head_glb(tmp_path):
    rng = np.random.default_rng(0)
    v, f, t, n = _grid(12)
    deltas = np.zeros((3, len(v), 3))
    deltas[0, :40, 1] = -rng.uniform(0.1, 1.5, 40)  # jawOpen moves 40 vertices down (cm)
    deltas[1, 50:55] = rng.normal(0, 0.3, (5, 3))
    deltas[2, 60, 0] = 0.001  # 10 um: below MORPH_MIN_M, dropped
    tex = (rng.uniform(0, 1, (32, 32, 3)) * 255).astype(np.uint8)
    face = HeadPart("skin_face", v, f, t, n, texture=tex, texture_name="albedo.png", morph_deltas=deltas)
    v2, f2, t2, n2 = _grid(4, z=2.0)
    teeth = HeadPart("teeth", v2, f2, t2, n2, color=(0.9, 0.85, 0.75), roughness=0.3)
    path = tmp_path / "r" / "mesh.glb"
    path.parent.mkdir()
    write_head_glb(path, [face, teeth], target_names=NAMES, weights=np.array([0.5, 0.0, 0.25]))
    return path, [face, teeth]


def _decode(payload, spec, buf):
    """Python mirror of viewer.js's view(): undo the byte planes."""
    off, count, dtype = spec
    k = np.dtype(dtype).itemsize
    planes = np.frombuffer(buf, np.uint8, count * k, off).reshape(k, count)
    return planes.T.copy().view(dtype).reshape(-1)


def test_glb_reads_back(head_glb):
    path, parts = head_glb
    vm = P.read_viewer_mesh(path)
    assert vm.target_names == NAMES
    np.testing.assert_allclose(vm.weights, [0.5, 0.0, 0.25])
    face, teeth = vm.parts
    assert face.name == "skin_face" and teeth.name == "teeth"
    np.testing.assert_allclose(face.positions, parts[0].verts / 100, atol=1e-6)  # cm -> m
    np.testing.assert_array_equal(face.faces, parts[0].faces)
    np.testing.assert_allclose(face.uvs, parts[0].uvs, atol=1e-6)  # v up again
    np.testing.assert_allclose(face.morphs, parts[0].morph_deltas / 100, atol=1e-7)  # sparse accessors
    assert face.texture.shape == (32, 32, 3) and teeth.texture is None and teeth.morphs is None
    assert teeth.color == pytest.approx((0.9, 0.85, 0.75))


def test_payload_decodes_within_quantisation(head_glb):
    path, parts = head_glb
    pl = P.build_payload(P.read_viewer_mesh(path))
    buf = zlib.decompress(base64.b64decode(pl["bin"]))
    assert len(buf) == pl["bin_bytes"]
    face = pl["parts"][0]
    q = _decode(pl, face["position"], buf).reshape(-1, 3).astype(float)
    pos = np.array(pl["position_min"]) + q * np.array(pl["position_scale"])
    np.testing.assert_allclose(pos, parts[0].verts / 100, atol=np.max(pl["position_scale"]) * 0.51)
    np.testing.assert_array_equal(_decode(pl, face["index"], buf).reshape(-1, 3), parts[0].faces)
    uv = _decode(pl, face["uv"], buf).reshape(-1, 2) / 65535
    np.testing.assert_allclose(uv, parts[0].uvs, atol=1e-5)
    dense = np.zeros((3, face["vertices"], 3))
    for t, (isteps, ivals) in enumerate(face["morphs"]):
        idx = np.cumsum(_decode(pl, isteps, buf).astype(np.int64))
        dense[t, idx] = _decode(pl, ivals, buf).reshape(-1, 3) * pl["morph_scale"]
    want = parts[0].morph_deltas / 100
    keep = np.linalg.norm(want, axis=2) > P.MORPH_MIN_M
    np.testing.assert_allclose(dense[keep], want[keep], atol=P.MORPH_STEP_M * 0.51)
    assert not dense[~keep].any()  # the 10 um move was dropped
    assert len(_decode(pl, face["morphs"][0][0], buf)) == 40
    assert pl["parts"][1]["morphs"] is None and pl["parts"][1]["texture"] is None
    assert pl["textures"][face["texture"]].startswith("data:image/jpeg;base64,")
    assert pl["weights"] == pytest.approx([0.5, 0.0, 0.25]) and pl["target_names"] == NAMES


def test_report_page_is_offline_and_relative(head_glb):
    path, _ = head_glb
    folder = path.parent
    (folder / "params.json").write_text(json.dumps({
        "camera": {"focal_px": 812.5, "principal_px": [256, 300], "image_size_hw": [600, 512]},
        "pose": {"rotvec_rad": [3.1, 0.0, 0.0], "translation_cm": [0, 0, 70]},
        "light": {"sh_coeffs": [[1, 1, 1]] * 9},
        "head": {"identity": [0.5] * 100, "expression": {"jawOpen": 0.5, "eyeBlink_L": 0.0}, "gaze_rad": {}},
    }))
    (folder / "metrics.json").write_text(json.dumps({"inview_psnr": 27.125}))
    (folder / "albedo.png").write_bytes(b"")
    write_assets(folder.parent / "_report")
    page = write_report(folder, "../_report", photo=np.zeros((40, 30, 3), np.uint8)).read_text()
    assert (folder / "report_photo.jpg").is_file() and (folder / "report_data.js").is_file()
    assert "27.12" in page and "812.5" in page and "jawOpen" in page  # metrics and parameters as tables
    assert "eyeBlink_L</td>" not in page  # expression table lists the active blendshapes only
    srcs = [s for s in re.findall(r'(?:src|href)="([^"]+)"', page) if s != "data:,"]  # data:, = no favicon
    assert srcs and not [s for s in srcs if re.match(r"[a-z]+:", s) or s.startswith("/")]  # nothing absolute
    assert 'type="module"' not in page  # classic scripts: they load from file://
    for s in srcs:
        assert (folder / s).exists(), s
    js = (folder / "report_data.js").read_text()
    assert js.startswith("window.FACESCULPT_REPORT_DATA = {") and "http" not in js
    for name in ("three.min.js", "OrbitControls.js", "viewer.js", "THREE_LICENSE"):
        assert (folder.parent / "_report" / name).stat().st_size > 0
    vendor = json.loads((P.Path(P.__file__).parent / "vendor" / "VENDOR.json").read_text())
    assert vendor["version"] == "0.147.0" and vendor["licence"].startswith("MIT")


def test_light_starts_from_the_fitted_sh_direction():
    from facesculpt.report.html import light_direction

    sh = np.zeros((9, 3))
    sh[0] = 1.0
    sh[3] = 0.5  # Y11 (x): light from the viewer's right
    assert light_direction({"light": {"sh_coeffs": sh.tolist()}}) == pytest.approx((90.0, 0.0))
    sh[3], sh[1], sh[2] = 0.0, 0.5, 0.5  # from above and the front
    assert light_direction({"light": {"sh_coeffs": sh.tolist()}}) == pytest.approx((0.0, 45.0))
    assert light_direction({}) == (30.0, 25.0)


def test_find_result_folders_and_index(head_glb, tmp_path):
    path, _ = head_glb
    (path.parent / "params.json").write_text("{}")
    (tmp_path / "_report").mkdir()
    (tmp_path / "_report" / "params.json").write_text("{}")  # not a result folder: no mesh.glb
    assert find_result_folders(tmp_path) == [path.parent]
    other = tmp_path / "_photo"  # a result of "_photo.jpg": only the shared _report folder is skipped
    other.mkdir()
    for name in ("params.json", "mesh.glb"):
        (other / name).write_bytes((path.parent / name).read_bytes())
    assert find_result_folders(tmp_path) == [other, path.parent]
    (tmp_path / "_report" / "mesh.glb").write_bytes(b"")
    assert find_result_folders(tmp_path) == [other, path.parent]
    assert find_result_folders(path.parent) == [path.parent]
    index = write_index(tmp_path).read_text()
    assert "<td>r</td>" in index and "report.html" not in index  # listed; no report yet, so no link


def test_report_command_fails_clearly(tmp_path, capsys):
    from facesculpt.cli import main

    assert main(["report", str(tmp_path)]) == 2
    assert "no result folders" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "missing")]) == 2
    assert "is not a folder" in capsys.readouterr().err
