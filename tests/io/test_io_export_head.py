"""write_head_glb / write_head_obj: multi-part head with morph targets, read back with pygltflib and trimesh."""
import io
import json
import struct

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image

from facesculpt.core.conventions import EXPORT_SCALE
from facesculpt.core.errors import ShapeError
from facesculpt.io.export_head import HeadPart, write_head_glb, write_head_obj

NAMES = ["jawOpen", "mouthSmileLeft", "eyeBlinkRight"]


def _grid(n=3, size=6.0, z=2.0):
    """An n x n vertex grid in the plane z, facing +Z, triangles counter-clockwise from +Z."""
    ys, xs = np.meshgrid(np.linspace(-size / 2, size / 2, n), np.linspace(-size / 2, size / 2, n), indexing="ij")
    verts = np.stack([xs, ys + 1.0, np.full_like(xs, z)], axis=-1).reshape(-1, 3)
    uvs = (verts[:, :2] - verts[:, :2].min(axis=0)) / size
    faces = []
    for i in range(n - 1):
        for j in range(n - 1):
            a, b, c, d = i * n + j, i * n + j + 1, (i + 1) * n + j + 1, (i + 1) * n + j
            faces += [[a, b, c], [a, c, d]]
    return verts, np.array(faces), uvs, np.tile([0.0, 0.0, 1.0], (len(verts), 1))


def _cube(half=1.0, centre=(0.0, -2.0, 1.0)):
    """A cube split per side (24 vertices), outward normals, counter-clockwise from outside."""
    verts, faces, uvs, normals = [], [], [], []
    for axis in range(3):
        for sign in (-1.0, 1.0):
            n = np.zeros(3)
            n[axis] = sign
            u = np.roll(n, 1) if sign > 0 else -np.roll(n, 1)
            v = np.cross(n, u)
            base = len(verts)
            for du, dv in ((-1, -1), (1, -1), (1, 1), (-1, 1)):
                verts.append(np.asarray(centre) + half * (n + du * u + dv * v))
                uvs.append([(du + 1) / 2, (dv + 1) / 2])
                normals.append(n)
            faces += [[base, base + 1, base + 2], [base, base + 2, base + 3]]
    return np.array(verts), np.array(faces), np.array(uvs), np.array(normals)


def _texture(s=8):
    tex = np.full((s, s, 3), 120, np.uint8)
    tex[: s // 2, : s // 2] = [230, 20, 20]
    return tex


def _face_deltas(nv):
    """(3, nv, 3) cm: target 0 moves two vertices, target 1 moves all, target 2 moves none."""
    d = np.zeros((3, nv, 3))
    d[0, 0] = [0.0, -1.5, 0.25]
    d[0, 4] = [0.1, -0.7, 0.0]
    d[1] = np.linspace(-0.5, 0.5, nv * 3).reshape(nv, 3) + 0.01
    return d


def _parts(tex=None):
    v, f, t, n = _grid()
    face = HeadPart("skin_face", v, f, t, n, texture=_texture() if tex is None else tex, roughness=0.55,
                    texture_name="albedo.png", morph_deltas=_face_deltas(len(v)))
    v, f, t, n = _cube()
    teeth = HeadPart("teeth", v, f, t, n, color=(0.9, 0.85, 0.75), roughness=0.3)
    return [face, teeth]


def _decode(g: pygltflib.GLTF2, blob: bytes, index: int) -> np.ndarray:
    """Dense (count, width) array of an accessor: bufferView (or zeros), then sparse substitution."""
    acc = g.accessors[index]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3}[acc.type]
    dtypes = {5126: np.float32, 5125: np.uint32, 5123: np.uint16, 5121: np.uint8}
    dtype = dtypes[acc.componentType]
    if acc.bufferView is None:
        out = np.zeros((acc.count, width), dtype)
    else:
        view = g.bufferViews[acc.bufferView]
        assert view.byteStride is None
        start = view.byteOffset + (acc.byteOffset or 0)
        out = np.frombuffer(blob, dtype, acc.count * width, start).reshape(acc.count, width).copy()
    if acc.sparse is not None:
        sp = acc.sparse
        iview, vview = g.bufferViews[sp.indices.bufferView], g.bufferViews[sp.values.bufferView]
        idx = np.frombuffer(blob, dtypes[sp.indices.componentType], sp.count,
                            iview.byteOffset + (sp.indices.byteOffset or 0))
        vals = np.frombuffer(blob, dtype, sp.count * width, vview.byteOffset + (sp.values.byteOffset or 0))
        assert (np.diff(idx.astype(np.int64)) > 0).all()  # the spec wants strictly increasing indices
        out[idx] = vals.reshape(sp.count, width)
    return out


def _load(path):
    g = pygltflib.GLTF2().load(str(path))
    return g, g.binary_blob()


def test_glb_primitives_materials_and_targets(tmp_path):
    parts = _parts()
    path = tmp_path / "head.glb"
    write_head_glb(path, parts, NAMES, weights=np.array([0.0, 0.5, 1.0]))
    g, blob = _load(path)

    assert len(g.meshes) == 1 and len(g.nodes) == 1 and g.nodes[0].mesh == 0
    mesh = g.meshes[0]
    assert len(mesh.primitives) == 2 and len(g.materials) == 2
    assert len(g.images) == 1 and len(g.textures) == 1 and g.images[0].mimeType == "image/png"
    assert mesh.extras == {"targetNames": NAMES}
    np.testing.assert_allclose(mesh.weights, [0.0, 0.5, 1.0])
    assert all(len(p.targets) == 3 for p in mesh.primitives)

    for prim, part in zip(mesh.primitives, parts):
        assert g.materials[prim.material].name == part.name
        pos = _decode(g, blob, prim.attributes.POSITION)
        np.testing.assert_allclose(pos, part.verts * EXPORT_SCALE, rtol=1e-6, atol=1e-7)  # metres, same order
        acc = g.accessors[prim.attributes.POSITION]
        assert acc.min == pos.min(axis=0).tolist() and acc.max == pos.max(axis=0).tolist()
        np.testing.assert_array_equal(_decode(g, blob, prim.indices).reshape(-1, 3), part.faces)
        np.testing.assert_allclose(_decode(g, blob, prim.attributes.NORMAL), part.normals, atol=1e-6)
        tc = _decode(g, blob, prim.attributes.TEXCOORD_0)
        np.testing.assert_allclose(tc, np.stack([part.uvs[:, 0], 1 - part.uvs[:, 1]], axis=1), atol=1e-6)
        for target in prim.targets:
            acc = g.accessors[target["POSITION"]]
            dense = _decode(g, blob, target["POSITION"])
            assert acc.count == len(part.verts) and acc.type == "VEC3"
            assert acc.min == dense.min(axis=0).tolist() and acc.max == dense.max(axis=0).tolist()

    face, teeth = mesh.primitives
    deltas = parts[0].morph_deltas
    for e in range(3):
        dense = _decode(g, blob, face.targets[e]["POSITION"])
        np.testing.assert_allclose(dense, (deltas[e] * EXPORT_SCALE).astype(np.float32), rtol=1e-6, atol=0)
    sparse0 = g.accessors[face.targets[0]["POSITION"]]
    assert sparse0.bufferView is None and sparse0.sparse.count == 2  # only the two moving vertices are stored
    assert g.accessors[face.targets[1]["POSITION"]].sparse.count == len(parts[0].verts)
    zero = g.accessors[face.targets[2]["POSITION"]]
    assert zero.bufferView is None and zero.sparse is None and zero.min == zero.max == [0.0, 0.0, 0.0]
    for target in teeth.targets:
        acc = g.accessors[target["POSITION"]]
        assert acc.bufferView is None and acc.sparse is None
        np.testing.assert_array_equal(_decode(g, blob, target["POSITION"]), np.zeros((len(parts[1].verts), 3)))

    mat_face, mat_teeth = (g.materials[p.material] for p in mesh.primitives)
    pbr = mat_face.pbrMetallicRoughness
    assert pbr.metallicFactor == 0 and pbr.roughnessFactor == pytest.approx(0.55)
    assert pbr.baseColorFactor == [1.0, 1.0, 1.0, 1.0] and pbr.baseColorTexture.index == 0
    sampler = g.samplers[g.textures[0].sampler]
    assert sampler.wrapS == sampler.wrapT == pygltflib.CLAMP_TO_EDGE
    view = g.bufferViews[g.images[g.textures[0].source].bufferView]
    png = blob[view.byteOffset: view.byteOffset + view.byteLength]
    np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), _texture())
    pbr = mat_teeth.pbrMetallicRoughness
    assert pbr.baseColorTexture is None and pbr.metallicFactor == 0 and pbr.roughnessFactor == pytest.approx(0.3)
    np.testing.assert_allclose(pbr.baseColorFactor, [0.9, 0.85, 0.75, 1.0])


def test_glb_binary_layout_is_consistent(tmp_path):
    path = tmp_path / "head.glb"
    write_head_glb(path, _parts(), NAMES)
    data = path.read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    assert magic == b"glTF" and version == 2 and length == len(data)
    chunks, off = [], 12
    while off < len(data):
        n, kind = struct.unpack_from("<I4s", data, off)
        assert n % 4 == 0
        chunks.append((kind, data[off + 8: off + 8 + n]))
        off += 8 + n
    assert [k for k, _ in chunks] == [b"JSON", b"BIN\x00"]
    doc, binary = json.loads(chunks[0][1]), chunks[1][1]
    assert doc["buffers"] == [{"byteLength": len(binary)}]
    for view in doc["bufferViews"]:
        assert view["byteOffset"] % 4 == 0 and view["byteOffset"] + view["byteLength"] <= len(binary)
    for acc in doc["accessors"]:
        if "bufferView" not in acc:
            assert "byteOffset" not in acc  # the spec forbids byteOffset without a bufferView
    assert doc["meshes"][0]["weights"] == [0.0, 0.0, 0.0]  # default: the neutral face


def test_glb_loads_in_trimesh(tmp_path):
    parts = _parts()
    path = tmp_path / "head.glb"
    write_head_glb(path, parts, NAMES)
    scene = trimesh.load(path, force="scene", process=False)
    assert len(scene.geometry) == 2
    assert sum(len(m.vertices) for m in scene.geometry.values()) == sum(len(p.verts) for p in parts)
    assert sum(len(m.faces) for m in scene.geometry.values()) == sum(len(p.faces) for p in parts)
    top = max(p.verts[:, 1].max() for p in parts) * EXPORT_SCALE
    assert scene.bounds[1, 1] == pytest.approx(top, abs=1e-6)  # upright, metres


def test_glb_drops_vertices_below_threshold_and_accepts_torch(tmp_path):
    torch = pytest.importorskip("torch")
    v, f, t, n = _grid()
    d = np.zeros((2, len(v), 3))
    d[0, 3] = [0.0, 0.0, 1e-6]  # 1e-8 m: below the 1e-7 m threshold -> not stored
    d[0, 5] = [0.0, 2.0, 0.0]
    d[1, 2] = [5e-6, 0.0, 0.0]  # only sub-threshold motion -> an all-zero target
    part = HeadPart("skin_face", torch.tensor(v), torch.tensor(f), torch.tensor(t), torch.tensor(n),
                    texture=torch.tensor(_texture() / 255.0), texture_name="a.png", morph_deltas=torch.tensor(d))
    path = tmp_path / "h.glb"
    write_head_glb(path, [part], ["a", "b"], weights=torch.tensor([0.25, 0.0]))
    g, blob = _load(path)
    prim = g.meshes[0].primitives[0]
    first = g.accessors[prim.targets[0]["POSITION"]]
    assert first.sparse.count == 1
    expected = np.zeros((len(v), 3), np.float32)
    expected[5] = [0.0, 0.02, 0.0]
    np.testing.assert_allclose(_decode(g, blob, prim.targets[0]["POSITION"]), expected, rtol=1e-6, atol=0)
    second = g.accessors[prim.targets[1]["POSITION"]]
    assert second.sparse is None and second.bufferView is None
    assert g.meshes[0].weights == [0.25, 0.0]


def test_glb_without_targets(tmp_path):
    parts = [p for p in _parts() if p.morph_deltas is None]
    path = tmp_path / "static.glb"
    write_head_glb(path, parts)
    g, _ = _load(path)
    mesh = g.meshes[0]
    assert mesh.primitives[0].targets == [] and mesh.weights == [] and not mesh.extras
    assert g.images == [] and g.samplers == []


def test_parts_sharing_a_texture_share_one_image(tmp_path):
    face, teeth = _parts()
    v, f, t, n = _grid(n=2, z=-1.0)
    head = HeadPart("skin_head", v, f, t, n, texture=_texture(), texture_name="albedo.png")
    path = tmp_path / "h.glb"
    write_head_glb(path, [face, head, teeth], NAMES)
    g, _ = _load(path)
    assert len(g.images) == 1 and len(g.materials) == 3
    a, b, _ = (g.materials[p.material].pbrMetallicRoughness.baseColorTexture for p in g.meshes[0].primitives)
    assert a.index == b.index == 0


def test_a_part_s_normal_map_is_its_material_s_normal_texture(tmp_path):
    """``HeadPart.normal_texture`` (the detail stage's map on the face part, ``full``): the GLB embeds it as that
    material's ``normalTexture``, byte for byte; other parts have none; the OBJ/MTL does not name it."""
    import dataclasses

    face, teeth = _parts()
    nmap = np.zeros((8, 8, 3), np.uint8)
    nmap[...] = (128, 128, 255)
    nmap[2:4, 2:6] = (150, 110, 240)
    path = tmp_path / "h.glb"
    write_head_glb(path, [dataclasses.replace(face, normal_texture=nmap), teeth], NAMES)
    g, blob = _load(path)
    face_mat, teeth_mat = (g.materials[p.material] for p in g.meshes[0].primitives)
    assert teeth_mat.normalTexture is None and face_mat.normalTexture is not None
    image = g.images[g.textures[face_mat.normalTexture.index].source]
    assert image.name == "skin_face_normal.png" and image.mimeType == "image/png"
    view = g.bufferViews[image.bufferView]
    png = blob[view.byteOffset:view.byteOffset + view.byteLength]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")), nmap)
    assert g.textures[face_mat.pbrMetallicRoughness.baseColorTexture.index].source != \
        g.textures[face_mat.normalTexture.index].source
    write_head_obj(tmp_path / "h.obj", [dataclasses.replace(face, normal_texture=nmap), teeth])
    assert "normal" not in (tmp_path / "h.mtl").read_text() and not list(tmp_path.glob("*normal*.png"))


def test_obj_parts_materials_and_textures(tmp_path):
    parts = _parts()
    obj = tmp_path / "head.obj"
    write_head_obj(obj, parts)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["albedo.png", "head.mtl", "head.obj"]
    text = obj.read_text()
    assert text.count("\nv ") == text.count("\nvt ") == text.count("\nvn ") == 9 + 24
    for name in ("skin_face", "teeth"):
        assert f"o {name}\n" in text and f"g {name}\n" in text and f"usemtl {name}\n" in text
    a, b, c = parts[1].faces[0] + 1 + len(parts[0].verts)  # teeth indices follow the face's vertices
    assert f"\nf {a}/{a}/{a} {b}/{b}/{b} {c}/{c}/{c}\n" in text
    mtl = (tmp_path / "head.mtl").read_text()
    face_mtl, teeth_mtl = mtl.split("newmtl skin_face\n")[1].split("newmtl teeth\n")
    assert "map_Kd albedo.png\n" in face_mtl and "Kd 1.000000 1.000000 1.000000\n" in face_mtl
    assert "Kd 0.900000 0.850000 0.750000\n" in teeth_mtl and "map_Kd" not in teeth_mtl
    assert "Pr 0.300000\n" in teeth_mtl
    np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "albedo.png").convert("RGB")), _texture())

    scene = trimesh.load(obj, force="scene", process=False)
    assert len(scene.geometry) == 2
    by_count = {len(m.vertices): m for m in scene.geometry.values()}
    assert sorted(by_count) == [9, 24]
    for part in parts:
        mesh = by_count[len(part.verts)]
        np.testing.assert_allclose(mesh.vertices, part.verts * EXPORT_SCALE, atol=1e-6)  # metres, same order
        np.testing.assert_array_equal(mesh.faces, part.faces)
    face_mesh = by_count[9]
    np.testing.assert_allclose(face_mesh.visual.uv, parts[0].uvs, atol=1e-6)
    np.testing.assert_array_equal(np.asarray(face_mesh.visual.material.image.convert("RGB")), _texture())


def _check_fails(tmp_path, exc, match, call):
    with pytest.raises(exc, match=match):
        call()
    assert list(tmp_path.iterdir()) == []


def test_wrong_delta_shape_fails(tmp_path):
    face, teeth = _parts()
    bad = HeadPart(face.name, face.verts, face.faces, face.uvs, face.normals, texture=face.texture,
                   texture_name=face.texture_name, morph_deltas=face.morph_deltas[:, :-1])
    _check_fails(tmp_path, ShapeError, r"expected shape \(E, 9, 3\), got \(3, 8, 3\)",
                 lambda: write_head_glb(tmp_path / "h.glb", [bad, teeth], NAMES))
    _check_fails(tmp_path, ShapeError, "morph_deltas",
                 lambda: write_head_obj(tmp_path / "h.obj", [bad, teeth]))


def test_names_length_mismatch_fails(tmp_path):
    _check_fails(tmp_path, ShapeError, "expected 2 targets .* got shape \\(3, 9, 3\\)",
                 lambda: write_head_glb(tmp_path / "h.glb", _parts(), NAMES[:2]))
    _check_fails(tmp_path, ShapeError, "expected 3 names .* got None",
                 lambda: write_head_glb(tmp_path / "h.glb", _parts()))


def test_weights_length_mismatch_fails(tmp_path):
    _check_fails(tmp_path, ShapeError, r"weights: expected shape \(3,\) .* got \(2,\)",
                 lambda: write_head_glb(tmp_path / "h.glb", _parts(), NAMES, weights=np.zeros(2)))


def test_duplicate_names_fails(tmp_path):
    _check_fails(tmp_path, ShapeError, "duplicates",
                 lambda: write_head_glb(tmp_path / "h.glb", _parts(), ["a", "b", "a"]))
    face, _ = _parts()
    _check_fails(tmp_path, ValueError, "used twice", lambda: write_head_obj(tmp_path / "h.obj", [face, face]))


def test_bad_texture_fails(tmp_path):
    face, teeth = _parts()
    v, f, t, n = _grid(n=2)
    unnamed = HeadPart("skin_head", v, f, t, n, texture=_texture())
    _check_fails(tmp_path, ValueError, "texture_name", lambda: write_head_obj(tmp_path / "h.obj", [unnamed]))
    clash = HeadPart("skin_head", v, f, t, n, texture=_texture()[::-1], texture_name="albedo.png")
    _check_fails(tmp_path, ValueError, "different texture",
                 lambda: write_head_glb(tmp_path / "h.glb", [face, clash, teeth], NAMES))
    _check_fails(tmp_path, ShapeError, "texture", lambda: write_head_glb(
        tmp_path / "h.glb", [HeadPart("x", v, f, t, n, texture=_texture()[:, :, 0], texture_name="x.png")]))


def test_failed_write_keeps_previous_files(tmp_path):
    write_head_glb(tmp_path / "h.glb", _parts(), NAMES)
    write_head_obj(tmp_path / "h.obj", _parts())
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(ShapeError):
        write_head_glb(tmp_path / "h.glb", _parts(), NAMES, weights=np.zeros(4))
    face, teeth = _parts(tex=_texture()[::-1])
    bad = HeadPart(face.name, face.verts * np.nan, face.faces, face.uvs, face.normals)
    with pytest.raises(ValueError, match="NaN"):
        write_head_obj(tmp_path / "h.obj", [bad, teeth])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_sparse_targets_match_a_per_target_reference():
    from facesculpt.io.export_head import _MORPH_EPS_M, _sparse_targets

    rng = np.random.default_rng(3)
    d = rng.normal(0.0, 1e-3, (4, 50, 3))
    d[0, 10:] = 0.0  # moves 10 vertices, all down: the zeros bound its max
    d[0, :10] = -np.abs(d[0, :10])
    d[1, 7] = [0.0, 5e-8, 0.0]  # one vertex below the threshold, the rest move
    d[2] = 0.0  # moves nothing
    got = _sparse_targets(d, 4)
    for e, (moving, values, lo, hi) in enumerate(got):
        norm = np.linalg.norm(d[e], axis=1)
        np.testing.assert_array_equal(moving, np.flatnonzero(norm > _MORPH_EPS_M))
        if moving.size == 0:
            assert values is None and lo is None and hi is None
            continue
        dense = np.zeros((50, 3), np.float32)
        dense[moving] = d[e, moving]
        np.testing.assert_array_equal(values, dense[moving])
        assert lo == dense.min(axis=0).tolist() and hi == dense.max(axis=0).tolist()
    assert got[0][3] == [0.0, 0.0, 0.0] and got[1][1].shape == (49, 3) and got[3][1].shape == (50, 3)
    assert [m.size for m, *_ in _sparse_targets(None, 3)] == [0, 0, 0]


def test_obj_lines_memo_gives_the_formatted_text():
    from facesculpt.io.export_head import _obj_lines

    a = np.array([[0.5, 1.0 / 3.0], [2.0, -0.25]])
    first = _obj_lines("vt %.6f %.6f\n", a)
    assert first == "vt 0.500000 0.333333\nvt 2.000000 -0.250000\n"
    assert _obj_lines("vt %.6f %.6f\n", a.copy()) == first  # the same values: the same text
    b = a.copy()
    b[1, 1] = 0.75
    assert _obj_lines("vt %.6f %.6f\n", b) == "vt 0.500000 0.333333\nvt 2.000000 0.750000\n"
    faces = np.array([[1, 2, 3]])
    assert _obj_lines("f %d/%d/%d\n", faces) == "f 1/2/3\n"
    assert _obj_lines("f %d %d %d\n", faces) == "f 1 2 3\n"  # the format is part of the key
