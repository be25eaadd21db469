"""Multi-part, animatable head export: one GLB with expression morph targets, and an OBJ.

A full head model (face, head/neck, mouth socket, eyeballs, teeth, gums) comes as several
parts, each with its own UV layout, texture or plain colour, and its own share of the
expression blendshapes. The exporter is generic: it takes a list of ``HeadPart`` arrays and
writes files; it loads no model itself.

Both files are in the export frame of ``core/conventions.py``: metres (``EXPORT_SCALE``),
+Y up, the face looking along +Z, so they open upright in Blender, three.js and
model-viewer. Vertex order and triangle winding of every part are kept as given (no merging,
no reordering), so vertex ``i`` of a part is vertex ``i`` of its glTF primitive and of its
OBJ group.

The GLB is built with pygltflib rather than trimesh's exporter, for the same reasons as
``io/export.py`` (exact primitive layout, PBR factors, clamping sampler) and one more:
trimesh writes no morph targets. The expression blendshapes are glTF morph targets on ONE
mesh with one primitive per part. glTF requires every primitive of a mesh to carry the same
number of targets, so a part that does not move gets targets that are accessors without a
``bufferView`` (all zeros by the glTF 2.0 spec, no bytes stored), and the targets of a part
that moves are sparse accessors holding only the vertices that move (an expression moves a
small part of the head). Target names go in ``mesh.extras.targetNames``, the convention
that three.js's GLTFLoader and Blender's importer read for blendshape names. The OBJ is
plain text written with numpy formatting (see ``io/export.py``); it carries no morph targets.
"""
from __future__ import annotations

import contextlib
import os
import struct
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import numpy as np

from facesculpt.core.conventions import EXPORT_SCALE
from facesculpt.core.errors import ShapeError
from facesculpt.io.atomic import RecentMemo, _write_bytes_atomic, array_digest, encode_png
from facesculpt.io.export import (
    _ARRAY_BUFFER,
    _ELEMENT_ARRAY_BUFFER,
    _FLOAT,
    _UNSIGNED_INT,
    _check_mesh,
    _check_texture,
    _np,
)

_UNSIGNED_SHORT = 5123

#: a morph-target vertex that moves by at most this many metres is left out of the sparse
#: accessor (it reads back as exactly zero).
_MORPH_EPS_M = 1e-7


@dataclass(frozen=True, eq=False)  # eq=False: fields are arrays, compare parts by identity
class HeadPart:
    """One part of a head mesh: its own geometry, UVs, material and blendshape offsets.

    name:     material / primitive / OBJ group name, a single token without whitespace,
              unique among the parts (e.g. "skin_face", "skin_head", "eyes", "teeth", "gums").
    verts:    (V, 3) float — model frame, centimetres, +Y up, +Z towards the viewer; already
              split at UV seams (one UV and one normal per vertex).
    faces:    (F, 3) int — counter-clockwise seen from outside, indices into this part's verts.
    uvs:      (V, 2) float in [0, 1] — v up (OpenGL/OBJ convention; the GLB stores 1 - v).
    normals:  (V, 3) float — unit normals, model frame (normalised on writing).
    texture:  (H, W, 3) float in [0, 1] or uint8 — base-colour map, row 0 at the top (v = 1);
              None -> plain ``color``.
    color:    (r, g, b) in [0, 1] — linear base-colour factor, used when ``texture`` is None.
    roughness: PBR roughness in [0, 1] (metallic is always 0).
    texture_name: PNG file name of ``texture`` beside the OBJ, e.g. "albedo.png" (also the
              image name in the GLB); required when ``texture`` is given, must be None
              otherwise. Parts may share a name only if they share the same image.
    morph_deltas: (E, V, 3) float — expression blendshape offsets of this part's verts in
              centimetres, in the order of ``target_names``; None = the part does not move.
    normal_texture: (H, W, 3) uint8 or float in [0, 1] — tangent-space normal map in the part's UV layout
              (glTF convention: RGB = n * 0.5 + 0.5, x along +u, y along +v), or None. The GLB carries it as
              the material's ``normalTexture``; the OBJ/MTL does not (Blender 4.2 reads an MTL ``map_Bump``
              image as sRGB, docs/results.md "The outputs in Blender").
    pivot:    (3,) float, model frame cm, or None. A part with a pivot is written as its own mesh on a child
              node of the head, placed at the pivot (its vertices relative to it), so that an animation can
              turn it about that point (the eyeballs, by the gaze: ``HeadAnimation.part_rotations``). Such a
              part carries no morph targets (its ``morph_deltas`` must be None or all below
              ``_MORPH_EPS_M``). The OBJ writes its vertices where they are, as any part's.
    """

    name: str
    verts: np.ndarray
    faces: np.ndarray
    uvs: np.ndarray
    normals: np.ndarray
    texture: np.ndarray | None = None
    color: tuple[float, float, float] = (0.8, 0.8, 0.8)
    roughness: float = 0.6
    texture_name: str | None = None
    morph_deltas: np.ndarray | None = None
    normal_texture: np.ndarray | None = None
    pivot: np.ndarray | tuple | None = None


@dataclass(frozen=True, eq=False)
class HeadAnimation:
    """A keyframed animation of the head node (one key per frame, linear interpolation).

    times:        (T,) float — seconds, strictly increasing.
    weights:      (T, E) float — morph-target weights per key, in the order of the target names;
                  None: the weights are not animated.
    rotations:    (T, 4) float — unit quaternions (x, y, z, w) of the head node in the export frame;
                  None: not animated.
    translations: (T, 3) float — head node translation in metres (export frame); None: not animated.
    part_rotations: {part name: (T, 4) unit quaternions (x, y, z, w)} — the rotation of a part with a
                  ``pivot`` about it, relative to the head (e.g. each eyeball's gaze); None: none animated.
    name:         the glTF animation's name.
    """

    times: np.ndarray
    weights: np.ndarray | None = None
    rotations: np.ndarray | None = None
    translations: np.ndarray | None = None
    name: str = "track"
    part_rotations: dict | None = None


def _check_animation(anim: Any, n_targets: int, fn: str, pivots: Sequence[str] = ()) -> Optional[HeadAnimation]:
    if anim is None:
        return None
    if not isinstance(anim, HeadAnimation):
        raise ValueError(f"{fn}: animation must be a HeadAnimation, got {type(anim).__name__}")
    t = np.asarray(anim.times, dtype=np.float64)
    if t.ndim != 1 or len(t) < 1:
        raise ShapeError(f"{fn}: animation.times: expected shape (T,) with T >= 1, got {tuple(t.shape)}")
    if not np.isfinite(t).all() or (len(t) > 1 and not (np.diff(t) > 0).all()):
        raise ValueError(f"{fn}: animation.times must be finite and strictly increasing")
    T = len(t)

    def keys(a: Any, width: int, label: str) -> np.ndarray:
        """(T, width) finite float64 keys of ``animation.<label>``."""
        a = np.asarray(a, dtype=np.float64)
        if a.shape != (T, width):
            raise ShapeError(f"{fn}: animation.{label}: expected shape ({T}, {width}), got {tuple(a.shape)}")
        if not np.isfinite(a).all():
            raise ValueError(f"{fn}: animation.{label} contains NaN or infinite values")
        return a

    def unit(q: np.ndarray) -> np.ndarray:
        return q / np.linalg.norm(q, axis=1, keepdims=True).clip(1e-12)

    out = {key: None if getattr(anim, key) is None else keys(getattr(anim, key), width, key)
           for key, width in (("weights", n_targets), ("rotations", 4), ("translations", 3))}
    if out["weights"] is not None and n_targets == 0:
        raise ShapeError(f"{fn}: animation.weights given but the mesh has no morph targets")
    if out["rotations"] is not None:
        out["rotations"] = unit(out["rotations"])
    parts_rot = None
    if anim.part_rotations is not None:
        if not isinstance(anim.part_rotations, dict):
            raise ValueError(f"{fn}: animation.part_rotations must be a dict of part name -> (T, 4) quaternions")
        parts_rot = {}
        for name, q in anim.part_rotations.items():
            if name not in pivots:
                raise ValueError(f"{fn}: animation.part_rotations: {name!r} is not a part with a pivot "
                                 f"(parts with one: {sorted(pivots) or 'none'})")
            parts_rot[name] = unit(keys(q, 4, f"part_rotations[{name!r}]"))
    return HeadAnimation(t, out["weights"], out["rotations"], out["translations"], anim.name, parts_rot)


@dataclass(frozen=True, eq=False)
class _Part:
    """A validated part in the export frame."""

    name: str
    pos: np.ndarray  # (V, 3) float64, metres
    faces: np.ndarray  # (F, 3) int64
    uvs: np.ndarray  # (V, 2) float64, v up
    normals: np.ndarray  # (V, 3) float64, unit
    texture: Optional[np.ndarray]  # (H, W, 3) uint8
    texture_name: Optional[str]
    color: tuple[float, float, float]
    roughness: float
    deltas: Optional[np.ndarray]  # (E, V, 3) float64, metres
    normal_texture: Optional[np.ndarray] = None  # (H, W, 3) uint8
    pivot: Optional[np.ndarray] = None  # (3,) float64, metres


# ----------------------------------------------------------------------------- validation


def _is_token(s: Any) -> bool:
    return isinstance(s, str) and bool(s) and not any(c.isspace() for c in s)


def _check_parts(parts: Any, fn: str) -> list[_Part]:
    if isinstance(parts, HeadPart) or not isinstance(parts, (list, tuple)) or len(parts) == 0:
        raise ValueError(f"{fn}: parts must be a non-empty list of HeadPart, got {type(parts).__name__}")
    out: list[_Part] = []
    textures: dict[str, np.ndarray] = {}
    for i, part in enumerate(parts):
        if not isinstance(part, HeadPart):
            raise ValueError(f"{fn}: parts[{i}]: expected a HeadPart, got {type(part).__name__}")
        if not _is_token(part.name):
            raise ValueError(f"{fn}: parts[{i}].name must be a non-empty name without whitespace, got {part.name!r}")
        if any(p.name == part.name for p in out):
            raise ValueError(f"{fn}: part name {part.name!r} is used twice (part names must be unique)")
        where = f"{fn}: part {part.name!r}"
        v, f, t, n = _check_mesh(part.verts, part.faces, part.uvs, part.normals, where)

        tex, tex_name = None, part.texture_name
        if part.texture is not None:
            tex = _check_texture(f"{where}: texture", part.texture)
            if not (_is_token(tex_name) and tex_name.lower().endswith(".png") and "/" not in tex_name
                    and "\\" not in tex_name and not tex_name.startswith(".")):
                raise ValueError(f"{where}: texture_name must be a PNG file name like 'albedo.png' "
                                 f"(no folders, no whitespace), got {tex_name!r}")
            if tex_name in textures and not np.array_equal(textures[tex_name], tex):
                raise ValueError(f"{where}: texture_name {tex_name!r} is used by another part with a different "
                                 "texture (give each texture its own name)")
            textures[tex_name] = tex
        elif tex_name is not None:
            raise ValueError(f"{where}: texture_name {tex_name!r} given without a texture "
                             "(pass the texture, or drop texture_name for a plain colour)")

        color = tuple(float(c) for c in np.asarray(part.color, dtype=np.float64).ravel())
        if len(color) != 3 or not all(0.0 <= c <= 1.0 for c in color):
            raise ValueError(f"{where}: color must be 3 numbers in [0, 1], got {part.color!r}")
        roughness = float(part.roughness)
        if not (0.0 <= roughness <= 1.0):
            raise ValueError(f"{where}: roughness must be in [0, 1], got {part.roughness}")

        deltas = None
        if part.morph_deltas is not None:
            d = _np(f"{where}: morph_deltas", part.morph_deltas)
            if d.ndim != 3 or d.shape[1:] != (len(v), 3):
                raise ShapeError(f"{where}: morph_deltas: expected shape (E, {len(v)}, 3), got {tuple(d.shape)}")
            if not np.issubdtype(d.dtype, np.floating):
                raise ShapeError(f"{where}: morph_deltas: expected a floating-point dtype, got {d.dtype}")
            if not np.isfinite(d).all():
                raise ValueError(f"{where}: morph_deltas contains NaN or infinite values")
            deltas = d.astype(np.float64) * EXPORT_SCALE
        ntex = _check_texture(f"{where}: normal_texture", part.normal_texture) if part.normal_texture is not None else None
        pivot = None
        if part.pivot is not None:
            pivot = np.asarray(part.pivot, dtype=np.float64)
            if pivot.shape != (3,) or not np.isfinite(pivot).all():
                raise ValueError(f"{where}: pivot must be 3 finite numbers (cm), got {part.pivot!r}")
            if deltas is not None and np.abs(deltas).max() > _MORPH_EPS_M:
                raise ValueError(f"{where}: a part with a pivot carries no morph targets, but its morph_deltas move")
            deltas, pivot = None, pivot * EXPORT_SCALE
        out.append(_Part(part.name, v * EXPORT_SCALE, f, t, n, tex, tex_name if tex is not None else None,
                         color, roughness, deltas, ntex, pivot))
    return out


def _check_targets(parts: list[_Part], target_names: Any, weights: Any, fn: str) -> tuple[list[str], np.ndarray]:
    """Validate target names against every moving part; return (names, (E,) float32 weights)."""
    moving = [p for p in parts if p.deltas is not None]
    if target_names is None:
        if moving:
            p = moving[0]
            raise ShapeError(f"{fn}: target_names: expected {p.deltas.shape[0]} names (part {p.name!r} has "
                             f"morph_deltas of shape {tuple(p.deltas.shape)}), got None")
        names: list[str] = []
    else:
        if isinstance(target_names, (str, bytes)) or not isinstance(target_names, (Sequence, np.ndarray)):
            raise ShapeError(f"{fn}: target_names: expected a list of E names, got {type(target_names).__name__}")
        names = list(target_names)
        bad = [s for s in names if not isinstance(s, str) or not s]
        if bad:
            raise ShapeError(f"{fn}: target_names: expected non-empty strings, got {bad[0]!r}")
        dupes = sorted({s for s in names if names.count(s) > 1})
        if dupes:
            raise ShapeError(f"{fn}: target_names: expected unique names, got duplicates {dupes}")
    e = len(names)
    for p in moving:
        if p.deltas.shape[0] != e:
            raise ShapeError(f"{fn}: part {p.name!r}: morph_deltas: expected {e} targets (one per target name), "
                             f"got shape {tuple(p.deltas.shape)}")
    if weights is None:
        w = np.zeros(e, np.float32)
    else:
        w = _np(f"{fn}: weights", weights) if hasattr(weights, "detach") else np.asarray(weights)
        if w.shape != (e,):
            raise ShapeError(f"{fn}: weights: expected shape ({e},) (one per target name), got {tuple(w.shape)}")
        if not (np.issubdtype(w.dtype, np.floating) or np.issubdtype(w.dtype, np.integer)):
            raise ShapeError(f"{fn}: weights: expected a numeric dtype, got {w.dtype}")
        if not np.isfinite(w).all():
            raise ValueError(f"{fn}: weights contains NaN or infinite values")
        w = w.astype(np.float32)
    return names, w


# ----------------------------------------------------------------------------- GLB


def _sparse_targets(deltas: Optional[np.ndarray], count: int) -> list:
    """Per morph target of one part, (moving (K,) indices of the vertices that move by more than
    ``_MORPH_EPS_M``, their (K, 3) float32 deltas, min [3], max [3] over the whole target, zeros included);
    ``count`` targets that move nothing when ``deltas`` (E, V, 3) metres is None. The norms of all targets in one
    pass, the bounds over the moving rows only (a per-target pass over all V rows cost ~0.1 s a head)."""
    if deltas is None:
        return [(np.empty(0, np.int64), None, None, None)] * count
    nv = deltas.shape[1]
    sq = deltas * deltas  # np.linalg.norm(d, axis=1)'s sum, x + y then + z, as three plane adds (a reduction over
    moves = np.sqrt(sq[..., 0] + sq[..., 1] + sq[..., 2]) > _MORPH_EPS_M  # a length-3 axis is slow)
    out = []
    for e in range(deltas.shape[0]):
        moving = np.flatnonzero(moves[e])
        if moving.size == 0:
            out.append((moving, None, None, None))
            continue
        values = deltas[e, moving].astype(np.float32)
        cols = values.T.copy()  # (3, K): a column's min in one contiguous pass (25x faster than over axis 0)
        lo, hi = cols.min(axis=1), cols.max(axis=1)
        if moving.size < nv:  # the vertices that do not move hold zeros
            lo, hi = np.minimum(lo, np.float32(0.0)), np.maximum(hi, np.float32(0.0))
        out.append((moving, values, lo.tolist(), hi.tolist()))
    return out


def _build_glb(parts: list[_Part], names: list[str], weights: np.ndarray,
               animation: Optional[HeadAnimation] = None) -> bytes:
    import pygltflib as gl

    blob = bytearray()
    views: list = []
    accessors: list = []

    def add_view(data: bytes, target: Optional[int]) -> int:
        blob.extend(b"\0" * (-len(blob) % 4))
        views.append(gl.BufferView(buffer=0, byteOffset=len(blob), byteLength=len(data), target=target))
        blob.extend(data)
        return len(views) - 1

    def add_accessor(**kwargs: Any) -> int:
        accessors.append(gl.Accessor(**kwargs))
        return len(accessors) - 1

    def vec_accessor(a: np.ndarray, target: Optional[int], with_bounds: bool = False) -> int:
        bounds = dict(min=a.min(axis=0).tolist(), max=a.max(axis=0).tolist()) if with_bounds else {}
        return add_accessor(bufferView=add_view(a.tobytes(), target), componentType=_FLOAT, count=len(a),
                            type=f"VEC{a.shape[1]}", **bounds)

    images: list = []
    image_of: dict[str, int] = {}
    materials: list = []
    primitives: list = []
    child_meshes: list = []  # (part name, pivot, primitive) of the parts with a pivot
    for p in parts:
        nv = len(p.pos)
        pos = (p.pos if p.pivot is None else p.pos - p.pivot).astype(np.float32)
        tc = np.stack([p.uvs[:, 0], 1.0 - p.uvs[:, 1]], axis=1).astype(np.float32)
        attributes = gl.Attributes(
            POSITION=vec_accessor(pos, _ARRAY_BUFFER, with_bounds=True),
            NORMAL=vec_accessor(p.normals.astype(np.float32), _ARRAY_BUFFER),
            TEXCOORD_0=vec_accessor(tc, _ARRAY_BUFFER),
        )
        idx = p.faces.astype(np.uint32).ravel()
        indices = add_accessor(bufferView=add_view(idx.tobytes(), _ELEMENT_ARRAY_BUFFER),
                               componentType=_UNSIGNED_INT, count=len(idx), type="SCALAR")

        targets = []
        zero: Optional[int] = None  # one shared all-zero accessor per part (no bufferView, no bytes)
        for moving, values, lo, hi in (_sparse_targets(p.deltas, len(names)) if p.pivot is None else ()):
            if moving.size == 0:
                if zero is None:
                    zero = add_accessor(bufferView=None, byteOffset=None, componentType=_FLOAT, count=nv,
                                        type="VEC3", min=[0.0, 0.0, 0.0], max=[0.0, 0.0, 0.0])
                targets.append(gl.Attributes(POSITION=zero))
                continue
            index_type, index_dtype = (_UNSIGNED_SHORT, np.uint16) if nv <= 65536 else (_UNSIGNED_INT, np.uint32)
            sparse = gl.Sparse(
                count=int(moving.size),
                indices=gl.AccessorSparseIndices(bufferView=add_view(moving.astype(index_dtype).tobytes(), None),
                                                 componentType=index_type),
                values=gl.AccessorSparseValues(bufferView=add_view(values.tobytes(), None)),
            )
            targets.append(gl.Attributes(POSITION=add_accessor(
                bufferView=None, byteOffset=None, componentType=_FLOAT, count=nv, type="VEC3", sparse=sparse,
                min=lo, max=hi)))

        if p.texture is not None:
            if p.texture_name not in image_of:
                image_of[p.texture_name] = len(images)
                images.append(gl.Image(bufferView=add_view(encode_png(p.texture), None), mimeType="image/png",
                                       name=p.texture_name))
            pbr = gl.PbrMetallicRoughness(baseColorFactor=[1.0, 1.0, 1.0, 1.0],
                                          baseColorTexture=gl.TextureInfo(index=image_of[p.texture_name]),
                                          metallicFactor=0.0, roughnessFactor=p.roughness)
        else:
            pbr = gl.PbrMetallicRoughness(baseColorFactor=[*p.color, 1.0], metallicFactor=0.0,
                                          roughnessFactor=p.roughness)
        normal = None
        if p.normal_texture is not None:  # one image per part: ``<part>_normal.png`` inside the GLB
            images.append(gl.Image(bufferView=add_view(encode_png(p.normal_texture), None), mimeType="image/png",
                                   name=f"{p.name}_normal.png"))
            normal = gl.NormalMaterialTexture(index=len(images) - 1)
        materials.append(gl.Material(name=p.name, pbrMetallicRoughness=pbr, normalTexture=normal, alphaMode="OPAQUE",
                                     doubleSided=False))
        prim = gl.Primitive(attributes=attributes, indices=indices, material=len(materials) - 1, mode=gl.TRIANGLES,
                            targets=targets if p.pivot is None else None)
        if p.pivot is None:
            primitives.append(prim)
        else:
            child_meshes.append((p.name, p.pivot, prim))
    child_node = {name: 1 + k for k, (name, _, _) in enumerate(child_meshes)}
    animations = []
    if animation is not None:
        t = animation.times.astype(np.float32)
        t_acc = add_accessor(bufferView=add_view(t.tobytes(), None), componentType=_FLOAT, count=len(t),
                             type="SCALAR", min=[float(t.min())], max=[float(t.max())])
        samplers, channels = [], []
        for path, values, kind in (("weights", animation.weights, "SCALAR"), ("rotation", animation.rotations, "VEC4"),
                                   ("translation", animation.translations, "VEC3")):
            if values is None:
                continue
            v = values.astype(np.float32)
            out = add_accessor(bufferView=add_view(v.tobytes(), None), componentType=_FLOAT,
                               count=v.size if kind == "SCALAR" else len(v), type=kind)
            samplers.append(gl.AnimationSampler(input=t_acc, output=out, interpolation="LINEAR"))
            channels.append(gl.AnimationChannel(sampler=len(samplers) - 1,
                                                target=gl.AnimationChannelTarget(node=0, path=path)))
        for name, q in (animation.part_rotations or {}).items():
            out = add_accessor(bufferView=add_view(q.astype(np.float32).tobytes(), None), componentType=_FLOAT,
                               count=len(q), type="VEC4")
            samplers.append(gl.AnimationSampler(input=t_acc, output=out, interpolation="LINEAR"))
            channels.append(gl.AnimationChannel(sampler=len(samplers) - 1,
                                                target=gl.AnimationChannelTarget(node=child_node[name], path="rotation")))
        animations.append(gl.Animation(name=animation.name, samplers=samplers, channels=channels))
    blob.extend(b"\0" * (-len(blob) % 4))

    mesh = gl.Mesh(name="head", primitives=primitives)
    if names:
        mesh.weights = weights.tolist()
        mesh.extras = {"targetNames": list(names)}
    gltf = gl.GLTF2(
        asset=gl.Asset(version="2.0", generator="facesculpt"),
        scene=0,
        scenes=[gl.Scene(nodes=[0])],
        nodes=[gl.Node(mesh=0, name="head", children=list(child_node.values()) or None)]
        + [gl.Node(mesh=1 + k, name=name, translation=pivot.tolist()) for k, (name, pivot, _) in enumerate(child_meshes)],
        meshes=[mesh] + [gl.Mesh(name=name, primitives=[prim]) for name, _, prim in child_meshes],
        materials=materials,
        samplers=[gl.Sampler(magFilter=gl.LINEAR, minFilter=gl.LINEAR_MIPMAP_LINEAR,
                             wrapS=gl.CLAMP_TO_EDGE, wrapT=gl.CLAMP_TO_EDGE)] if images else [],
        textures=[gl.Texture(sampler=0, source=i) for i in range(len(images))],
        images=images,
        animations=animations,
        accessors=accessors,
        bufferViews=views,
        buffers=[gl.Buffer(byteLength=len(blob))],
    )
    return glb_bytes(gltf, bytes(blob))


_FIELDS: dict = {}


def _plain(obj: Any) -> Any:
    """``obj`` (pygltflib's dataclasses, lists, dicts, numbers, strings) as plain dicts and lists: what pygltflib's
    ``gltf_asdict`` makes (the fields in their order; ``Attributes`` by its instance dict), without its deep copies."""
    t = type(obj)
    if t in (int, float, str, bool) or obj is None:
        return obj
    if t in (list, tuple):
        return [_plain(v) for v in obj]
    if t is dict:
        return {k: _plain(v) for k, v in obj.items()}
    import pygltflib as gl

    if t is gl.Attributes:
        return {k: _plain(v) for k, v in obj.__dict__.items()}
    names = _FIELDS.get(t)
    if names is None:
        import dataclasses

        if not dataclasses.is_dataclass(obj):
            raise TypeError(f"cannot write a {t.__name__} into a glTF file")
        names = _FIELDS[t] = [f.name for f in dataclasses.fields(obj)]
    return {n: _plain(getattr(obj, n)) for n in names}


def glb_bytes(gltf, blob: bytes) -> bytes:
    """The binary glTF file of ``gltf`` (a ``pygltflib.GLTF2`` whose one buffer is ``blob``, its buffer views laid
    out in order at 4-byte aligned offsets): the bytes ``GLTF2.save_to_bytes`` gives for it (a test compares them),
    in a fifth of the time (pygltflib deep-copies every value on the way to JSON: 80 ms for a head's 300 morph-target
    accessors)."""
    import json

    from pygltflib import delete_empty_keys

    blob = bytes(blob) + b"\0" * (-len(blob) % 4)
    doc = _plain(gltf)
    doc["buffers"] = [{"byteLength": len(blob)}]
    doc = delete_empty_keys(doc)
    text = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 4)
    head = struct.pack("<4sII", b"glTF", 2, 12 + 8 + len(text) + 8 + len(blob))
    return b"".join([head, struct.pack("<I", len(text)), b"JSON", text, struct.pack("<I", len(blob)), b"BIN\0", blob])


def write_head_glb(
    path: os.PathLike | str,
    parts: list[HeadPart],
    target_names: list[str] | None = None,
    weights: np.ndarray | None = None,
    animation: HeadAnimation | None = None,
) -> None:
    """Write a multi-part head as one binary glTF 2.0 mesh with expression morph targets.

    path:    output ``.glb``; written atomically (nothing is left behind on error).
    parts:   list of ``HeadPart`` — one primitive and one material per part, in this order.
    target_names: E unique blendshape names (e.g. the 53 ARKit-style expressions); every
             part with ``morph_deltas`` must have exactly E of them, shape (E, V, 3). None:
             no morph targets (and no part may have ``morph_deltas``).
    weights: (E,) float — initial ``mesh.weights``; default zeros (the neutral face).
    animation: optional ``HeadAnimation``: one glTF animation on the head node with a LINEAR
             sampler per animated path (``weights``: T x E scalars, key-major as glTF requires;
             ``rotation``; ``translation``) over one shared time accessor (with min/max).

    Layout: one node and one mesh ``"head"`` (and, per part with a ``pivot``, a child node of that part's
    name at the pivot with its own one-primitive mesh, no morph targets); per part a primitive with POSITION (metres,
    with min/max), NORMAL, TEXCOORD_0 = (u, 1 - v) (float32), uint32 indices, and E
    POSITION-only morph targets in metres. A target that moves some vertices of the part is
    a sparse accessor over those vertices (|delta| > 1e-7 m); a target that moves none is
    an all-zero accessor without a bufferView (one per part, shared). Every target has
    min/max over the full target, zeros included. Textured parts embed their PNG (one image
    per ``texture_name``) with a clamp-to-edge sampler; plain parts use ``baseColorFactor``
    = ``color``; metallic 0, roughness as given, opaque, single-sided. ``mesh.extras`` =
    ``{"targetNames": target_names}``.

    Raises ``ShapeError`` for arrays of the wrong shape or dtype, target names that are not
    E unique strings, or weights not of shape (E,); ``ValueError`` for NaN/inf, bad face
    indices, names, colours or roughness.
    """
    fn = "write_head_glb"
    checked = _check_parts(parts, fn)
    if all(p.pivot is not None for p in checked):
        raise ValueError(f"{fn}: at least one part must have no pivot (the head mesh)")
    names, w = _check_targets(checked, target_names, weights, fn)
    anim = _check_animation(animation, len(names), fn, [p.name for p in checked if p.pivot is not None])
    _write_bytes_atomic(Path(path), _build_glb(checked, names, w, anim))


# ----------------------------------------------------------------------------- OBJ


def _write_files_atomic(files: list[tuple[Path, bytes]]) -> None:
    """Write several files, each through a temporary sibling, renamed into place only once
    all of them are written; on error the temporaries are removed and no target is touched.
    The renames happen in the given order (put the file that references the others last)."""
    staged: list[tuple[Path, Path]] = []
    try:
        for path, data in files:
            tmp = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
            staged.append((tmp, path))
            with open(tmp, "wb") as f:
                f.write(data)
        while staged:
            tmp, path = staged[0]
            os.replace(tmp, path)
            staged.pop(0)
    except BaseException:
        for tmp, _ in staged:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        raise


#: OBJ text blocks recently formatted, by format and the array's digest: a head's UV and face lines are the same for
#: every photo (the model's), and each photo writes two OBJs (mesh.obj, mesh_neutral.obj); formatting them took 45 of
#: the 75 ms of one OBJ of the ICT head
_OBJ_MEMO = RecentMemo(16)


def _obj_lines(line: str, a: np.ndarray) -> str:
    """``line`` repeated once per row of ``a`` (N, k), filled with the row's values (``%``-formatting of the values
    as Python numbers), from a small memo of the blocks formatted recently."""
    a = np.ascontiguousarray(a)
    key = (line, a.shape, a.dtype.str, array_digest(a))
    hit = _OBJ_MEMO.recall(key)
    return hit if hit is not None else _OBJ_MEMO.keep(key, (line * len(a)) % tuple(a.ravel().tolist()))


def write_head_obj(path_obj: os.PathLike | str, parts: list[HeadPart]) -> None:
    """Write a multi-part head as a Wavefront OBJ with one material per part.

    path_obj: ``.../head.obj``; the material library is ``.../head.mtl`` (same stem) and each
              textured part's PNG is written beside them as its ``texture_name``.
    parts:    list of ``HeadPart`` (see there for shapes); ``morph_deltas`` are not written
              (OBJ has no blendshapes: use ``write_head_glb``).

    Per part, in order: ``o <name>``, its ``v`` (metres), ``vt`` (u, v as given, v up) and
    ``vn`` lines, then ``g <name>``, ``usemtl <name>``, ``s off`` and its faces as
    ``f a/a/a ...`` with one 1-based index per corner (offset by the vertices of the parts
    before it), so vertex order and winding are exactly the input's. The MTL has one
    ``newmtl <name>`` per part: ``Kd 1 1 1`` + ``map_Kd <texture_name>`` for textured parts,
    ``Kd <color>`` for plain ones; ``Ka``/``Ks`` 0, ``illum 1``, ``Pr <roughness>`` (the PBR
    extension Blender reads) and the matching ``Ns = 1000 (1 - roughness)^2``. All files
    are staged first and renamed into place at the end (textures, MTL, then OBJ).
    """
    fn = "write_head_obj"
    checked = _check_parts(parts, fn)
    path_obj = Path(path_obj)
    path_mtl = path_obj.with_suffix(".mtl")
    for p in checked:
        if p.texture_name is not None and p.texture_name in (path_obj.name, path_mtl.name):
            raise ValueError(f"{fn}: part {p.name!r}: texture_name {p.texture_name!r} clashes with the "
                             "OBJ/MTL file names (choose another texture_name)")

    obj = ["# facesculpt head: metres, +Y up, face towards +Z\n", f"mtllib {path_mtl.name}\n"]
    mtl = ["# facesculpt head materials\n"]
    pngs: dict[str, bytes] = {}
    offset = 0
    for p in checked:
        idx = np.repeat(p.faces + 1 + offset, 3, axis=1)  # a a a b b b c c c -> "a/a/a b/b/b c/c/c"
        obj += [
            f"o {p.name}\n",
            ("v %.6f %.6f %.6f\n" * len(p.pos)) % tuple(p.pos.ravel().tolist()),
            _obj_lines("vt %.6f %.6f\n", p.uvs),
            ("vn %.6f %.6f %.6f\n" * len(p.normals)) % tuple(p.normals.ravel().tolist()),
            f"g {p.name}\nusemtl {p.name}\ns off\n",
            _obj_lines("f %d/%d/%d %d/%d/%d %d/%d/%d\n", idx),
        ]
        offset += len(p.pos)
        kd = (1.0, 1.0, 1.0) if p.texture is not None else p.color
        mtl += [
            f"\nnewmtl {p.name}\n",
            "Ka 0.000000 0.000000 0.000000\n",
            "Kd %.6f %.6f %.6f\n" % kd,
            "Ks 0.000000 0.000000 0.000000\n",
            "Ns %.6f\n" % (1000.0 * (1.0 - p.roughness) ** 2),
            "Pr %.6f\n" % p.roughness,
            "d 1.000000\n",
            "illum 1\n",
        ]
        if p.texture is not None:
            mtl.append(f"map_Kd {p.texture_name}\n")
            if p.texture_name not in pngs:
                pngs[p.texture_name] = encode_png(p.texture, f"{fn}: part {p.name!r}: texture")

    files = [(path_obj.parent / name, data) for name, data in pngs.items()]
    files += [(path_mtl, "".join(mtl).encode("utf-8")), (path_obj, "".join(obj).encode("utf-8"))]
    _write_files_atomic(files)
