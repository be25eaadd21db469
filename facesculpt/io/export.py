"""Mesh export: textured OBJ (+ MTL) and binary glTF 2.0 (GLB).

Both files are in the export frame of ``core/conventions.py``: metres (``EXPORT_SCALE``),
+Y up, the face looking along +Z, so they open upright in Blender, three.js and
model-viewer. Vertex order and triangle winding are exactly those of the input mesh.

The GLB is built with pygltflib rather than trimesh's exporter: we need the exact
primitive layout (POSITION, NORMAL, TEXCOORD_0, uint32 indices in this order, no vertex
merging), explicit PBR factors, a clamping sampler and an optional normal map, which are
direct to write as glTF objects and harder to steer through trimesh's visuals. The OBJ is a
plain text format; it is written here with numpy formatting (trimesh's OBJ exporter would
also work, but it merges/reorders vertices when UVs are attached unless told otherwise and
writes its own material names) and checked by loading it back with trimesh in the tests.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Optional

import numpy as np

from facesculpt.core.conventions import EXPORT_SCALE
from facesculpt.core.errors import ShapeError
from facesculpt.io.atomic import _write_bytes_atomic, encode_png, to_uint8_image

_ARRAY_BUFFER = 34962
_ELEMENT_ARRAY_BUFFER = 34963
_FLOAT = 5126
_UNSIGNED_INT = 5125


def _np(name: str, x: Any) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # torch.Tensor, without importing torch
        x = x.detach().cpu().numpy()
    if not isinstance(x, np.ndarray):
        raise ShapeError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}")
    return x


def _check_mesh(verts: Any, faces: Any, uvs: Any, normals: Any, fn: str):
    """Validate and convert to (V,3) f64, (F,3) i64, (V,2) f64, (V,3) f64 unit normals."""
    v = _np(f"{fn}: verts", verts)
    f = _np(f"{fn}: faces", faces)
    t = _np(f"{fn}: uvs", uvs)
    n = _np(f"{fn}: normals", normals)
    if v.ndim != 2 or v.shape[1] != 3 or v.shape[0] == 0:
        raise ShapeError(f"{fn}: verts: expected shape (V, 3), got {tuple(v.shape)}")
    nv = v.shape[0]
    if f.ndim != 2 or f.shape[1] != 3 or f.shape[0] == 0:
        raise ShapeError(f"{fn}: faces: expected shape (F, 3), got {tuple(f.shape)}")
    if not np.issubdtype(f.dtype, np.integer):
        raise ShapeError(f"{fn}: faces: expected an integer dtype, got {f.dtype}")
    if t.shape != (nv, 2):
        raise ShapeError(f"{fn}: uvs: expected shape ({nv}, 2) (one UV per vertex), got {tuple(t.shape)}")
    if n.shape != (nv, 3):
        raise ShapeError(f"{fn}: normals: expected shape ({nv}, 3), got {tuple(n.shape)}")
    for name, a in (("verts", v), ("uvs", t), ("normals", n)):
        if not np.issubdtype(a.dtype, np.floating):
            raise ShapeError(f"{fn}: {name}: expected a floating-point dtype, got {a.dtype}")
        if not np.isfinite(a).all():
            raise ValueError(f"{fn}: {name} contains NaN or infinite values")
    f = f.astype(np.int64)
    lo, hi = int(f.min()), int(f.max())
    if lo < 0 or hi >= nv:
        raise ValueError(f"{fn}: faces index vertices {lo}..{hi}, but there are only {nv} vertices")
    n = n.astype(np.float64)
    length = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(length > 1e-12, n / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))
    return v.astype(np.float64), f, t.astype(np.float64), n


def _check_texture(name: str, tex: Any) -> np.ndarray:
    t = to_uint8_image(tex, name)
    if t.ndim != 3 or t.shape[2] != 3:
        raise ShapeError(f"{name}: expected shape (H, W, 3), got {tuple(t.shape)}")
    return t


# ----------------------------------------------------------------------------- OBJ


def write_obj(
    path_obj: os.PathLike | str,
    verts: Any,
    faces: Any,
    uvs: Any,
    normals: Any,
    texture_name: str = "albedo.png",
    material_name: str = "face",
    *,
    texture: Any = None,
) -> tuple[Path, Path]:
    """Write a textured Wavefront OBJ and its MTL beside it.

    path_obj: ``.../mesh.obj``; the material library is ``.../mesh.mtl`` (same stem).
    verts:    (V, 3) float — model frame, centimetres (written in metres: ``EXPORT_SCALE``).
    faces:    (F, 3) int — 0-based, counter-clockwise seen from outside (kept as given).
    uvs:      (V, 2) float — per-vertex UV, v up (OBJ's own convention, written as is).
    normals:  (V, 3) float — per-vertex normals (normalised on writing).
    texture_name: file name of the colour texture referenced by ``map_Kd`` (relative).
    material_name: name of the single material.
    texture:  optional (H, W, 3) uint8 or float [0, 1] image; if given it is written as
              ``texture_name`` beside the OBJ (otherwise write it yourself).

    Corners are written ``f v/vt/vn`` with the same 1-based index, so vertex order is
    identical to the input. The MTL is unlit-friendly: ``Kd 1 1 1``, ``Ka 0 0 0``,
    ``Ks 0 0 0``, ``illum 1``, ``map_Kd <texture_name>``. Returns (obj path, mtl path).
    """
    v, f, t, n = _check_mesh(verts, faces, uvs, normals, "write_obj")
    for label, s in (("texture_name", texture_name), ("material_name", material_name)):
        if not s or any(c in s for c in "\n\r") or (label == "material_name" and any(c.isspace() for c in s)):
            raise ValueError(f"write_obj: {label} must be a non-empty single token, got {s!r}")
    path_obj = Path(path_obj)
    path_mtl = path_obj.with_suffix(".mtl")
    tex = _check_texture("write_obj: texture", texture) if texture is not None else None

    pos = v * EXPORT_SCALE
    idx = np.repeat(f + 1, 3, axis=1)  # a a a b b b c c c -> "a/a/a b/b/b c/c/c"
    parts = [
        "# facesculpt face mesh: metres, +Y up, face towards +Z\n",
        f"mtllib {path_mtl.name}\n",
        f"o {material_name}\n",
        ("v %.6f %.6f %.6f\n" * len(pos)) % tuple(pos.ravel()),
        ("vt %.6f %.6f\n" * len(t)) % tuple(t.ravel()),
        ("vn %.6f %.6f %.6f\n" * len(n)) % tuple(n.ravel()),
        f"usemtl {material_name}\ns off\n",
        ("f %d/%d/%d %d/%d/%d %d/%d/%d\n" * len(idx)) % tuple(idx.ravel().tolist()),
    ]
    mtl = (
        "# facesculpt material\n"
        f"newmtl {material_name}\n"
        "Ka 0.000000 0.000000 0.000000\n"
        "Kd 1.000000 1.000000 1.000000\n"
        "Ks 0.000000 0.000000 0.000000\n"
        "Ns 0.000000\n"
        "d 1.000000\n"
        "illum 1\n"
        f"map_Kd {texture_name}\n"
    )
    if tex is not None:
        _write_bytes_atomic(path_obj.parent / texture_name, encode_png(tex, "write_obj: texture"))
    _write_bytes_atomic(path_mtl, mtl.encode("utf-8"))
    _write_bytes_atomic(path_obj, "".join(parts).encode("utf-8"))
    return path_obj, path_mtl


# ----------------------------------------------------------------------------- GLB


def write_glb(
    path: os.PathLike | str,
    verts: Any,
    faces: Any,
    uvs: Any,
    normals: Any,
    texture_rgb: Any,
    name: str = "face",
    *,
    normal_texture: Optional[Any] = None,
    roughness: float = 0.8,
) -> Path:
    """Write a binary glTF 2.0 file with one textured mesh.

    verts:   (V, 3) float — model frame, centimetres (written in metres: ``EXPORT_SCALE``).
    faces:   (F, 3) int — counter-clockwise seen from outside (glTF front faces), kept as given.
    uvs:     (V, 2) float — per-vertex UV, v up; written as TEXCOORD_0 = (u, 1 - v) because
             glTF puts the texture origin at the top-left.
    normals: (V, 3) float — per-vertex normals (normalised on writing).
    texture_rgb: (S, S, 3) (any H, W) uint8 or float [0, 1] — base colour, row 0 at the top
             (v = 1), embedded as PNG; viewers read it as sRGB, like photo pixels.
    normal_texture: optional (H, W, 3) tangent-space normal map (OpenGL/glTF convention:
             +X right, +Y towards the top of the image, +Z out; RGB = n * 0.5 + 0.5). No
             TANGENT attribute is written, so viewers derive MikkTSpace tangents from
             TEXCOORD_0; the map must be baked in that basis.
    name:    name of the mesh, node and material.
    roughness: PBR roughnessFactor (metallicFactor is 0).

    One primitive: POSITION (with min/max), NORMAL, TEXCOORD_0 (float32), indices uint32;
    buffer views 4-byte aligned; material single-sided, opaque. Returns ``path``.
    """
    import pygltflib as gl

    v, f, t, n = _check_mesh(verts, faces, uvs, normals, "write_glb")
    tex = _check_texture("write_glb: texture_rgb", texture_rgb)
    ntex = _check_texture("write_glb: normal_texture", normal_texture) if normal_texture is not None else None
    if not (0.0 <= float(roughness) <= 1.0):
        raise ValueError(f"write_glb: roughness must be in [0, 1], got {roughness}")

    pos = (v * EXPORT_SCALE).astype(np.float32)
    nrm = n.astype(np.float32)
    tc = np.stack([t[:, 0], 1.0 - t[:, 1]], axis=1).astype(np.float32)
    idx = f.astype(np.uint32).ravel()

    blob = bytearray()
    views: list = []

    def add_view(data: bytes, target: Optional[int]) -> int:
        blob.extend(b"\0" * (-len(blob) % 4))
        views.append(gl.BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data), target=target))
        blob.extend(data)
        return len(views) - 1

    accessors = [
        gl.Accessor(bufferView=add_view(pos.tobytes(), _ARRAY_BUFFER), componentType=_FLOAT, count=len(pos),
                    type="VEC3", min=pos.min(axis=0).tolist(), max=pos.max(axis=0).tolist()),
        gl.Accessor(bufferView=add_view(nrm.tobytes(), _ARRAY_BUFFER), componentType=_FLOAT, count=len(nrm), type="VEC3"),
        gl.Accessor(bufferView=add_view(tc.tobytes(), _ARRAY_BUFFER), componentType=_FLOAT, count=len(tc), type="VEC2"),
        gl.Accessor(bufferView=add_view(idx.tobytes(), _ELEMENT_ARRAY_BUFFER), componentType=_UNSIGNED_INT,
                    count=len(idx), type="SCALAR"),
    ]
    images = [gl.Image(bufferView=add_view(encode_png(tex), None), mimeType="image/png", name=f"{name}_albedo")]
    if ntex is not None:
        images.append(gl.Image(bufferView=add_view(encode_png(ntex), None), mimeType="image/png", name=f"{name}_normal"))
    blob.extend(b"\0" * (-len(blob) % 4))

    material = gl.Material(
        name=name,
        pbrMetallicRoughness=gl.PbrMetallicRoughness(
            baseColorFactor=[1.0, 1.0, 1.0, 1.0],
            baseColorTexture=gl.TextureInfo(index=0),
            metallicFactor=0.0,
            roughnessFactor=float(roughness),
        ),
        normalTexture=gl.NormalMaterialTexture(index=1) if ntex is not None else None,
        alphaMode="OPAQUE",
        doubleSided=False,
    )
    gltf = gl.GLTF2(
        asset=gl.Asset(version="2.0", generator="facesculpt"),
        scene=0,
        scenes=[gl.Scene(nodes=[0])],
        nodes=[gl.Node(mesh=0, name=name)],
        meshes=[gl.Mesh(name=name, primitives=[gl.Primitive(
            attributes=gl.Attributes(POSITION=0, NORMAL=1, TEXCOORD_0=2), indices=3, material=0, mode=4)])],
        materials=[material],
        samplers=[gl.Sampler(magFilter=gl.LINEAR, minFilter=gl.LINEAR_MIPMAP_LINEAR,
                             wrapS=gl.CLAMP_TO_EDGE, wrapT=gl.CLAMP_TO_EDGE)],
        textures=[gl.Texture(sampler=0, source=i) for i in range(len(images))],
        images=images,
        accessors=accessors,
        bufferViews=views,
        buffers=[gl.Buffer(byteLength=len(blob))],
    )
    gltf.set_binary_blob(bytes(blob))
    data = b"".join(gltf.save_to_bytes())
    path = Path(path)
    _write_bytes_atomic(path, data)
    return path
