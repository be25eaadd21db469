"""write_obj / write_glb: load back with trimesh and pygltflib, check geometry, UVs, texture, frame."""
import io
import json
import struct

import numpy as np
import pytest
import trimesh
from PIL import Image

from facesculpt.core.conventions import EXPORT_SCALE
from facesculpt.core.errors import ShapeError
from facesculpt.io.export import write_glb, write_obj


def _quad():
    verts = np.array([[-1, -1, 0], [1, -1, 0], [1, 1, 0], [-1, 1, 0]], np.float64) * 5.0
    faces = np.array([[0, 1, 2], [0, 2, 3]])
    uvs = np.array([[0, 0], [1, 0], [1, 1], [0, 1]], np.float64)
    normals = np.tile([0.0, 0.0, 1.0], (4, 1))
    return verts, faces, uvs, normals


def _dome(n=13, half=8.0, radius=12.0):
    """A face-sized spherical cap looking along +Z, y up, triangles counter-clockwise from +Z."""
    ys, xs = np.meshgrid(np.linspace(-half, half, n), np.linspace(-half, half, n), indexing="ij")
    zc = np.sqrt(radius**2 - 2 * half**2)  # cap touches z = 0 at the corners
    z = np.sqrt(radius**2 - xs**2 - ys**2) - zc
    verts = np.stack([xs, ys, z], axis=-1).reshape(-1, 3)
    normals = verts + [0.0, 0.0, zc]
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    uvs = (verts[:, :2] + half) / (2 * half)
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j
            faces += [[a, b, c], [a, c, d]]
    return verts, np.array(faces), uvs, normals


def _texture(s=16):
    """Grey with a red block in the top-left (u small, v large) and a blue pixel row at the bottom."""
    tex = np.full((s, s, 3), 120, np.uint8)
    tex[: s // 2, : s // 2] = [230, 20, 20]
    tex[-1, :] = [20, 20, 230]
    return tex


def _single_mesh(loaded):
    if isinstance(loaded, trimesh.Scene):
        assert len(loaded.geometry) == 1
        return next(iter(loaded.geometry.values()))
    return loaded


def _check_common(mesh, verts, faces, uvs, normals, tex):
    np.testing.assert_allclose(mesh.vertices, verts * EXPORT_SCALE, atol=1e-6)  # same order, metres
    np.testing.assert_array_equal(mesh.faces, faces)  # same winding
    np.testing.assert_allclose(mesh.visual.uv, uvs, atol=1e-6)
    # upright: y range survives (top of the mesh is still +Y), face still towards +Z
    np.testing.assert_allclose(mesh.bounds[:, 1], [verts[:, 1].min() * EXPORT_SCALE, verts[:, 1].max() * EXPORT_SCALE], atol=1e-6)
    # winding: geometric face normals agree with the given outward normals
    centre_normals = normals[faces].mean(axis=1)
    assert (np.einsum("ij,ij->i", mesh.face_normals, centre_normals) > 0.9).all()


@pytest.mark.parametrize("make", [_quad, _dome])
def test_obj_roundtrip_with_trimesh(tmp_path, make):
    verts, faces, uvs, normals = make()
    tex = _texture()
    obj, mtl = write_obj(tmp_path / "mesh.obj", verts, faces, uvs, normals, texture=tex)
    assert mtl == tmp_path / "mesh.mtl"
    text = obj.read_text()
    assert "mtllib mesh.mtl\n" in text and "usemtl face\n" in text
    a, b, c = faces[0] + 1
    assert f"\nf {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}\n" in text  # 1-based v/vt/vn, same index
    mtl_text = mtl.read_text()
    for line in ["newmtl face", "Kd 1.000000 1.000000 1.000000", "Ka 0.000000 0.000000 0.000000",
                 "Ks 0.000000 0.000000 0.000000", "illum 1", "map_Kd albedo.png"]:
        assert line + "\n" in mtl_text
    mesh = _single_mesh(trimesh.load(obj, process=False, maintain_order=True))
    assert len(mesh.vertices) == len(verts) and len(mesh.faces) == len(faces)
    _check_common(mesh, verts, faces, uvs, normals, tex)
    np.testing.assert_allclose(mesh.vertex_normals, normals, atol=1e-5)
    image = mesh.visual.material.image
    assert image is not None
    np.testing.assert_array_equal(np.asarray(image.convert("RGB")), tex)


def test_obj_without_texture_and_custom_names(tmp_path):
    verts, faces, uvs, normals = _quad()
    write_obj(tmp_path / "head.obj", verts, faces, uvs, normals, texture_name="skin.png", material_name="skin")
    assert "mtllib head.mtl" in (tmp_path / "head.obj").read_text()
    assert "map_Kd skin.png" in (tmp_path / "head.mtl").read_text()
    assert not (tmp_path / "skin.png").exists()


def _parse_glb(data: bytes):
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    chunks, off = [], 12
    while off < len(data):
        n, kind = struct.unpack_from("<I4s", data, off)
        assert n % 4 == 0
        chunks.append((kind, data[off + 8: off + 8 + n]))
        off += 8 + n
    assert off == len(data)
    assert [k for k, _ in chunks] == [b"JSON", b"BIN\x00"]
    return json.loads(chunks[0][1]), chunks[1][1]


def _accessor(doc, binary, index):
    acc = doc["accessors"][index]
    view = doc["bufferViews"][acc["bufferView"]]
    dtype = {5126: np.float32, 5125: np.uint32}[acc["componentType"]]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[acc["type"]]
    start = view["byteOffset"] + acc.get("byteOffset", 0)
    return np.frombuffer(binary, dtype, acc["count"] * width, start).reshape(acc["count"], width)


def _image(doc, binary, index):
    view = doc["bufferViews"][doc["images"][index]["bufferView"]]
    png = binary[view["byteOffset"]: view["byteOffset"] + view["byteLength"]]
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


@pytest.mark.parametrize("make", [_quad, _dome])
def test_glb_structure_and_content(tmp_path, make):
    verts, faces, uvs, normals = make()
    tex = _texture()
    path = write_glb(tmp_path / "face.glb", verts, faces, uvs, normals, tex)
    doc, binary = _parse_glb(path.read_bytes())
    assert doc["asset"]["version"] == "2.0"
    assert all(v["byteOffset"] % 4 == 0 for v in doc["bufferViews"])
    assert doc["buffers"][0]["byteLength"] == len(binary)
    [prim] = doc["meshes"][0]["primitives"]
    assert set(prim["attributes"]) == {"POSITION", "NORMAL", "TEXCOORD_0"}
    pos = _accessor(doc, binary, prim["attributes"]["POSITION"])
    np.testing.assert_allclose(pos, verts * EXPORT_SCALE, atol=1e-6)
    acc = doc["accessors"][prim["attributes"]["POSITION"]]
    np.testing.assert_allclose(acc["min"], pos.min(axis=0))
    np.testing.assert_allclose(acc["max"], pos.max(axis=0))
    tc = _accessor(doc, binary, prim["attributes"]["TEXCOORD_0"])
    np.testing.assert_allclose(tc, np.stack([uvs[:, 0], 1 - uvs[:, 1]], axis=1), atol=1e-6)  # top-left origin
    assert doc["accessors"][prim["indices"]]["componentType"] == 5125
    np.testing.assert_array_equal(_accessor(doc, binary, prim["indices"]).reshape(-1, 3), faces)
    np.testing.assert_allclose(_accessor(doc, binary, prim["attributes"]["NORMAL"]), normals, atol=1e-6)
    mat = doc["materials"][prim["material"]]
    pbr = mat["pbrMetallicRoughness"]
    assert pbr["metallicFactor"] == 0 and pbr["roughnessFactor"] == pytest.approx(0.8)
    assert mat.get("doubleSided", False) is False and "normalTexture" not in mat
    source = doc["textures"][pbr["baseColorTexture"]["index"]]["source"]
    np.testing.assert_array_equal(_image(doc, binary, source), tex)


def test_glb_uv_flip_samples_the_right_texel(tmp_path):
    """A glTF viewer samples row floor(t * S) from the top: the top-left vertex must land in the red block."""
    verts, faces, uvs, normals = _dome()
    tex = _texture(16)
    doc, binary = _parse_glb(write_glb(tmp_path / "f.glb", verts, faces, uvs, normals, tex).read_bytes())
    tc = _accessor(doc, binary, doc["meshes"][0]["primitives"][0]["attributes"]["TEXCOORD_0"])
    top_left = np.argmin(verts[:, 0] - verts[:, 1])  # min x, max y
    inner = np.argmin(np.abs(verts[:, 0] + 4) + np.abs(verts[:, 1] - 4))  # upper-left quadrant
    for vi in (top_left, inner):
        row, col = np.minimum((tc[vi, [1, 0]] * 16).astype(int), 15)
        np.testing.assert_array_equal(tex[row, col], [230, 20, 20])
    bottom = np.argmin(verts[:, 1])
    row = min(int(tc[bottom, 1] * 16), 15)
    assert row == 15  # v = 0 is the last image row


def test_glb_loads_in_trimesh_and_pygltflib(tmp_path):
    pygltflib = pytest.importorskip("pygltflib")
    verts, faces, uvs, normals = _dome()
    tex = _texture()
    nmap = np.full((8, 8, 3), [128, 128, 255], np.uint8)
    path = write_glb(tmp_path / "face.glb", verts, faces, uvs, normals, tex, name="subject", normal_texture=nmap)
    mesh = _single_mesh(trimesh.load(path, process=False))
    assert len(mesh.vertices) == len(verts) and len(mesh.faces) == len(faces)
    _check_common(mesh, verts, faces, uvs, normals, tex)
    mat = mesh.visual.material
    np.testing.assert_array_equal(np.asarray(mat.baseColorTexture.convert("RGB")), tex)
    np.testing.assert_array_equal(np.asarray(mat.normalTexture.convert("RGB")), nmap)
    assert mat.metallicFactor == 0 and mat.roughnessFactor == pytest.approx(0.8)

    g = pygltflib.GLTF2().load(str(path))
    assert g.meshes[0].name == "subject" and g.nodes[0].mesh == 0 and g.scenes[g.scene].nodes == [0]
    assert g.materials[0].doubleSided is False and g.materials[0].normalTexture.index == 1
    assert [im.mimeType for im in g.images] == ["image/png", "image/png"]
    blob = g.binary_blob()
    view = g.bufferViews[g.images[0].bufferView]
    png = blob[view.byteOffset: view.byteOffset + view.byteLength]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), tex)


def test_accepts_torch_and_float_texture(tmp_path):
    torch = pytest.importorskip("torch")
    verts, faces, uvs, normals = _quad()
    tex = _texture()
    path = write_glb(tmp_path / "t.glb", torch.tensor(verts, dtype=torch.float32), torch.tensor(faces),
                     torch.tensor(uvs), torch.tensor(normals), torch.tensor(tex / 255.0))
    mesh = _single_mesh(trimesh.load(path, process=False))
    np.testing.assert_array_equal(np.asarray(mesh.visual.material.baseColorTexture.convert("RGB")), tex)


def test_bad_inputs_fail(tmp_path):
    verts, faces, uvs, normals = _quad()
    tex = _texture()
    with pytest.raises(ShapeError, match="uvs"):
        write_obj(tmp_path / "m.obj", verts, faces, uvs[:3], normals)
    with pytest.raises(ShapeError, match="verts"):
        write_glb(tmp_path / "m.glb", verts[:, :2], faces, uvs, normals, tex)
    with pytest.raises(ShapeError, match="faces"):
        write_glb(tmp_path / "m.glb", verts, faces.astype(np.float32), uvs, normals, tex)
    with pytest.raises(ValueError, match="only 4 vertices"):
        write_glb(tmp_path / "m.glb", verts, faces + 2, uvs, normals, tex)
    with pytest.raises(ShapeError, match="texture_rgb"):
        write_glb(tmp_path / "m.glb", verts, faces, uvs, normals, tex[:, :, 0])
    with pytest.raises(ValueError, match="NaN"):
        write_obj(tmp_path / "m.obj", verts * np.nan, faces, uvs, normals)
    assert list(tmp_path.iterdir()) == []
