"""The viewer's compact mesh payload, read back from a result folder's ``mesh.glb``.

A base64 copy of ``mesh.glb`` would add ~13 MB to every result folder (float positions,
normals, UVs and 53 sparse float morph targets). The viewer needs far less precision than an
exchange file, so the payload is quantised and deflated:

- positions: uint16 per axis over the head's bounding box (~5 um steps on a 30 cm head);
- normals: int8 per axis; UVs: uint16 per axis; triangles: uint16 (uint32 for a part with
  more than 65535 vertices);
- each expression target of each part: the vertices it moves by more than ``MORPH_MIN_M``
  (sorted, stored as steps between indices) and their offsets as int16 in ``MORPH_STEP_M``;
- every array byte-planed before deflate (the high bytes of small numbers make long runs);
- the whole binary deflated (zlib) and base64-encoded in a sidecar ``.js`` file, loaded by a
  classic ``<script>`` tag: browsers block fetch/XHR of local files from ``file://`` pages,
  but not scripts. The page inflates it with the browser's ``DecompressionStream``;
- textures as JPEG data URIs (WebGL refuses images loaded from ``file://`` URLs as
  cross-origin, data URIs are not).

The GLB is parsed here (container, accessors, glTF sparse accessors) with ``json`` and numpy:
pygltflib decodes the same file but spends ~5 s of a 2-core CPU in its dataclass layer on
a head's ~700 accessors, longer than the fast preset's whole fit; it leaves the accessor
decoding to the caller anyway.
"""
from __future__ import annotations

import base64
import io
import json
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

#: a morph-target vertex that moves less than this (metres) is dropped from the payload
MORPH_MIN_M = 5e-5
#: quantisation step (metres) of the morph-target offsets (int16)
MORPH_STEP_M = 2e-5
#: JPEG quality of the textures embedded in the payload
JPEG_QUALITY = 85
#: zlib level of the payload's binary: on grace_hopper's head (2.73 MB raw) level 4 deflates in 34 ms to 1.213 MB
#: against 52 ms and 1.198 MB at zlib's default 6 (level 1: 28 ms, 1.266 MB; 9: 262 ms, 1.191 MB)
BIN_COMPRESS_LEVEL = 4

_DTYPES = {5120: np.int8, 5121: np.uint8, 5122: np.int16, 5123: np.uint16, 5125: np.uint32, 5126: np.float32}
_NCOMP = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}


@dataclass(frozen=True, eq=False)
class ViewerPart:
    """One primitive of the head as the viewer draws it.

    name: material name (e.g. "skin_face").
    positions: (V, 3) float32 metres, glTF frame.  normals: (V, 3) float32 unit.
    uvs: (V, 2) float32, v up (OpenGL).  faces: (F, 3) int64.
    texture: (H, W, 3) uint8 base colour or None.  color: (r, g, b) linear when no texture.
    roughness: PBR roughness in [0, 1].
    morphs: (E, V, 3) float32 metres, expression offsets, or None for a part that does not move.
    """

    name: str
    positions: np.ndarray
    normals: np.ndarray
    uvs: np.ndarray
    faces: np.ndarray
    texture: np.ndarray | None
    color: tuple[float, float, float]
    roughness: float
    morphs: np.ndarray | None


@dataclass(frozen=True, eq=False)
class ViewerMesh:
    """The head read from ``mesh.glb``: its parts, the expression target names and fitted weights (E,)."""

    parts: list[ViewerPart]
    target_names: list[str]
    weights: np.ndarray


def _read_glb(path: Path) -> tuple[dict, bytes]:
    """(glTF JSON as dicts, BIN chunk) of a binary glTF file."""
    data = Path(path).read_bytes()
    magic, version, length = struct.unpack_from("<4sII", data, 0)
    if magic != b"glTF" or version != 2:
        raise ValueError(f"{Path(path).name} is not a glTF 2.0 binary file")
    off, gltf, blob = 12, None, b""
    while off + 8 <= min(length, len(data)):
        size, kind = struct.unpack_from("<I4s", data, off)
        chunk = data[off + 8:off + 8 + size]
        if kind == b"JSON":
            gltf = json.loads(chunk)
        elif kind == b"BIN\0":
            blob = chunk
        off += 8 + size
    if gltf is None:
        raise ValueError(f"{Path(path).name} has no JSON chunk")
    return gltf, blob


def _accessor(gltf: dict, blob: bytes, index: int) -> np.ndarray:
    acc = gltf["accessors"][index]
    n = _NCOMP[acc["type"]]
    dt = np.dtype(_DTYPES[acc["componentType"]])
    count = acc["count"]
    if acc.get("bufferView") is None:
        out = np.zeros((count, n), dt)
    else:
        view = gltf["bufferViews"][acc["bufferView"]]
        start = view.get("byteOffset", 0) + acc.get("byteOffset", 0)
        stride = view.get("byteStride") or dt.itemsize * n
        raw = np.frombuffer(blob, np.uint8, count=stride * (count - 1) + dt.itemsize * n, offset=start)
        out = np.lib.stride_tricks.as_strided(raw, (count, stride), (stride, 1))[:, :dt.itemsize * n]
        out = np.ascontiguousarray(out).view(dt).reshape(count, n).copy()
    sp = acc.get("sparse")
    if sp is not None:
        iv, vv = gltf["bufferViews"][sp["indices"]["bufferView"]], gltf["bufferViews"][sp["values"]["bufferView"]]
        idx = np.frombuffer(blob, _DTYPES[sp["indices"]["componentType"]], count=sp["count"],
                            offset=iv.get("byteOffset", 0) + sp["indices"].get("byteOffset", 0))
        vals = np.frombuffer(blob, dt, count=sp["count"] * n,
                             offset=vv.get("byteOffset", 0) + sp["values"].get("byteOffset", 0))
        out[idx.astype(np.int64)] = vals.reshape(sp["count"], n)
    return out


def _image(gltf: dict, blob: bytes, tex_index: int) -> np.ndarray:
    from PIL import Image

    img = gltf["images"][gltf["textures"][tex_index]["source"]]
    view = gltf["bufferViews"][img["bufferView"]]
    start = view.get("byteOffset", 0)
    return np.asarray(Image.open(io.BytesIO(blob[start:start + view["byteLength"]])).convert("RGB"))


def read_viewer_mesh(path: Path) -> ViewerMesh:
    """Read the parts, morph targets, materials and textures of a head ``mesh.glb``."""
    gltf, blob = _read_glb(path)
    mesh = gltf["meshes"][0]
    names = list(mesh.get("extras", {}).get("targetNames", []))
    weights = np.asarray(mesh.get("weights") or [0.0] * len(names), np.float32)
    parts = []
    for prim in mesh["primitives"]:
        mat = gltf["materials"][prim["material"]]
        pbr = mat.get("pbrMetallicRoughness", {})
        tex = _image(gltf, blob, pbr["baseColorTexture"]["index"]) if "baseColorTexture" in pbr else None
        morphs = None
        if prim.get("targets"):
            m = np.stack([_accessor(gltf, blob, t["POSITION"]) for t in prim["targets"]]).astype(np.float32)
            morphs = m if np.abs(m).max() > 0 else None
        attr = prim["attributes"]
        uv = _accessor(gltf, blob, attr["TEXCOORD_0"]).astype(np.float32)
        parts.append(ViewerPart(
            name=mat.get("name") or f"part{len(parts)}",
            positions=_accessor(gltf, blob, attr["POSITION"]).astype(np.float32),
            normals=_accessor(gltf, blob, attr["NORMAL"]).astype(np.float32),
            uvs=np.stack([uv[:, 0], 1.0 - uv[:, 1]], axis=1),
            faces=_accessor(gltf, blob, prim["indices"]).reshape(-1, 3).astype(np.int64),
            texture=tex,
            color=tuple(float(c) for c in pbr.get("baseColorFactor", [0.8, 0.8, 0.8, 1.0])[:3]),
            roughness=float(pbr.get("roughnessFactor", 1.0)),
            morphs=morphs,
        ))
    return ViewerMesh(parts=parts, target_names=names, weights=weights)


def _jpeg_data_uri(img: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class _Packer:
    def __init__(self):
        self.chunks: list[bytes] = []
        self.size = 0

    def add(self, a: np.ndarray) -> list[int]:
        """Append ``a`` byte-planed (all first bytes, then all second bytes, ...: deflate then finds
        the runs of the high bytes), 4-byte aligned; returns [byte offset, element count, dtype name]."""
        a = np.ascontiguousarray(a)
        data = a.reshape(-1).view(np.uint8).reshape(-1, a.dtype.itemsize).T.tobytes()
        off = self.size
        self.chunks.append(data)
        self.size += len(data)
        pad = (-self.size) % 4
        if pad:
            self.chunks.append(b"\0" * pad)
            self.size += pad
        return [off, int(a.size), a.dtype.name]


def build_payload(vm: ViewerMesh) -> dict:
    """The JSON-able payload of ``vm``: metadata, textures as data URIs, and ``bin`` (base64 of the
    deflated binary; layout in each part's ``[offset, count, dtype]`` triples)."""
    allpos = np.concatenate([p.positions for p in vm.parts])
    lo, hi = allpos.min(0), allpos.max(0)
    pscale = np.maximum(hi - lo, 1e-9) / 65535.0
    dmax = max((float(np.abs(p.morphs).max()) for p in vm.parts if p.morphs is not None), default=0.0)
    if dmax / MORPH_STEP_M > 32767:
        raise ValueError(f"an expression target moves a vertex by {dmax:.2f} m, more than the viewer payload holds")
    pk = _Packer()
    textures: dict[str, str] = {}
    parts_meta = []
    for p in vm.parts:
        itype = np.uint16 if len(p.positions) <= 65535 else np.uint32
        meta = {
            "name": p.name,
            "vertices": len(p.positions),
            "position": pk.add(np.round((p.positions - lo) / pscale).astype(np.uint16)),
            "normal": pk.add(np.round(np.clip(p.normals, -1, 1) * 127).astype(np.int8)),
            "uv": pk.add(np.round(np.clip(p.uvs, 0, 1) * 65535).astype(np.uint16)),
            "index": pk.add(p.faces.astype(itype)),
            "color": list(p.color),
            "roughness": p.roughness,
            "texture": None,
            "morphs": None,
        }
        if p.texture is not None:
            uri = _jpeg_data_uri(p.texture)
            key = next((k for k, u in textures.items() if u == uri), f"tex{len(textures)}")
            textures[key] = uri  # parts sharing an image share its data URI
            meta["texture"] = key
        if p.morphs is not None:
            morphs = []
            sq = p.morphs * p.morphs  # np.linalg.norm(d, axis=1) of every target at once (x + y, then + z)
            moves = np.sqrt(sq[..., 0] + sq[..., 1] + sq[..., 2]) > MORPH_MIN_M
            for d, m in zip(p.morphs, moves):
                sel = np.flatnonzero(m)
                morphs.append([pk.add(np.diff(sel, prepend=0).astype(itype)),  # sorted: store the steps
                               pk.add(np.round(d[sel] / MORPH_STEP_M).astype(np.int16))])
            meta["morphs"] = morphs
        parts_meta.append(meta)
    raw = b"".join(pk.chunks)
    return {
        "format": "facesculpt-viewer-1",
        "position_min": lo.tolist(),
        "position_scale": pscale.tolist(),
        "morph_scale": MORPH_STEP_M,
        "target_names": vm.target_names,
        "weights": [float(w) for w in vm.weights],
        "parts": parts_meta,
        "textures": textures,
        "bin": base64.b64encode(zlib.compress(raw, BIN_COMPRESS_LEVEL)).decode("ascii"),
        "bin_bytes": len(raw),
    }


def payload_script(payload: dict, extra: dict | None = None) -> str:
    """The sidecar ``.js`` that hands ``payload`` (and ``extra``) to the viewer page."""
    body = json.dumps({**payload, **(extra or {})}, separators=(",", ":"))
    return f"window.FACESCULPT_REPORT_DATA = {body};\n"


__all__ = ["ViewerPart", "ViewerMesh", "read_viewer_mesh", "build_payload", "payload_script", "MORPH_MIN_M"]
