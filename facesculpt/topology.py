"""The facesculpt face topology: a coarse mesh on mediapipe's 468 face landmarks and
its Loop-subdivided dense version.

``load_topology(levels)`` reads ``assets/topology.npz`` (built by
``tools/build_topology.py``; provenance in ``assets/TOPOLOGY.md``) on first call and
caches the result; nothing is read at import. The npz holds the coarse data only; the
dense mesh is computed here.

Index conventions
    * vertex i of the coarse mesh is mediapipe FaceMesh landmark i (0..467; the iris
      landmarks 468..477 are not part of the mesh);
    * 'left'/'right' are the subject's: the left eye is at +X in the model frame
      (the viewer's right), as in mediapipe's ``FACEMESH_LEFT_EYE``;
    * dense vertex numbering follows ``ops.subdivision``: the first 468 dense vertices
      are the coarse ones, dense face ``4**levels * f + k`` lies inside coarse face f.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import numpy as np
import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.determinism import sparse_mm
from facesculpt.core.errors import AssetError, ShapeError

NUM_VERTS = 468

#: labels of ``Topology.face_region`` / ``dense_face_region``
REGION_SKIN, REGION_EYE, REGION_MOUTH = 0, 1, 2

_KEYS = {
    "canonical": (np.float32, (NUM_VERTS, 3)),
    "faces": (np.int64, (None, 3)),
    "uvs": (np.float32, (NUM_VERTS, 2)),
    "mirror": (np.int64, (NUM_VERTS,)),
    "lmk68": (np.int64, (68,)),
    "oval": (np.int64, (None,)),
    "face_region": (np.int8, (None,)),
    "eye_left_loop": (np.int64, (None,)),
    "eye_right_loop": (np.int64, (None,)),
    "mouth_loop": (np.int64, (None,)),
    "lips_outer_loop": (np.int64, (None,)),
    "midline": (np.int64, (None,)),
}


@dataclass(frozen=True, eq=False)
class Topology:
    """The face topology (coarse + dense). Shared and cached: never modify in place.

    Coarse mesh (V = 468, F faces):
      canonical:   (V, 3) float32 — symmetric neutral face, model frame, cm; origin at the
                   centroid of the four eye corners (mediapipe 33, 133, 362, 263),
                   outer eye corners 9 cm apart, nose tip (vertex 1) at about Z = +3.5.
      faces:       (F, 3) long — counter-clockwise seen from +Z (normals towards the viewer).
                   The mesh is one topological disk: eyes and mouth are closed.
      uvs:         (V, 2) float32 — one chart in [0.02, 0.98]^2, u right / v up,
                   uvs[mirror[i]] == (1 - u_i, v_i).
      mirror:      (V,) long — index of the left/right partner (itself on the midline).
      lmk68:       (68,) long — coarse vertex of each iBUG-68 landmark (0-16 jaw from the
                   subject's right, 17-21 right brow, ..., 60-67 inner lip).
      oval:        (L,) long — the boundary loop (face oval), ordered counter-clockwise
                   seen from +Z, starting at vertex 10 (top of the forehead).
      face_region: (F,) int8 — 0 skin, 1 eye opening, 2 mouth opening.
      eye_left, eye_right, mouth: (k,) long — indices into ``faces`` of the triangles
                   that close the subject's left eye (+X), right eye (-X), the mouth.
      eye_left_loop, eye_right_loop, mouth_loop: (k,) long — ordered (ccw from +Z)
                   vertex contours of those openings (eyelid margins, inner lip line);
      lips_outer_loop: (20,) long — outer lip contour, ccw; midline: vertices on X = 0,
                   top to bottom.

    Dense mesh (``levels`` Loop subdivisions; V' vertices, F' = 4**levels F faces):
      dense_faces:  (F', 3) long.
      dense_S:      torch sparse COO (V', V) float32 — Loop subdivision, dense = S @ coarse.
      dense_S_linear: torch sparse COO (V', V) float32 — midpoint subdivision (for UVs).
      dense_uvs:    (V', 2) float32 — ``dense_S_linear @ uvs`` (exactly symmetric).
      dense_mirror: (V', ) long — left/right partner of every dense vertex.
      dense_face_region: (F',) int8 — labels of the coarse parent face.
      dense_canonical: (V', 3) float32 — ``dense_S @ canonical``.
    """

    levels: int
    canonical: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor
    mirror: torch.Tensor
    lmk68: torch.Tensor
    oval: torch.Tensor
    face_region: torch.Tensor
    eye_left: torch.Tensor
    eye_right: torch.Tensor
    mouth: torch.Tensor
    eye_left_loop: torch.Tensor
    eye_right_loop: torch.Tensor
    mouth_loop: torch.Tensor
    lips_outer_loop: torch.Tensor
    midline: torch.Tensor
    dense_faces: torch.Tensor
    dense_S: torch.Tensor
    dense_S_linear: torch.Tensor
    dense_uvs: torch.Tensor
    dense_mirror: torch.Tensor
    dense_face_region: torch.Tensor
    dense_canonical: torch.Tensor

    @property
    def num_verts(self) -> int:
        return int(self.canonical.shape[0])

    @property
    def num_dense_verts(self) -> int:
        return int(self.dense_S.shape[0])

    def densify(self, verts: torch.Tensor) -> torch.Tensor:
        """Coarse vertices (B, 468, 3) -> Loop-subdivided dense vertices (B, V', 3).

        A sparse matmul: differentiable w.r.t. ``verts``, any float dtype and device.
        Also works for any per-vertex attribute with C channels: (B, 468, C) -> (B, V', C).
        """
        check_shape("verts", verts, ("B", self.num_verts, None))
        return _apply_sparse(self.dense_S, verts)

    def densify_linear(self, values: torch.Tensor) -> torch.Tensor:
        """(B, 468, C) -> (B, V', C) with midpoint weights (piecewise-linear attributes)."""
        check_shape("values", values, ("B", self.num_verts, None))
        return _apply_sparse(self.dense_S_linear, values)


def _apply_sparse(S: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    if not x.is_floating_point():
        raise ShapeError(f"expected a floating-point tensor, got {x.dtype}")
    B, V, C = x.shape
    S = S.to(device=x.device, dtype=x.dtype)
    flat = x.permute(1, 0, 2).reshape(V, B * C)
    out = sparse_mm(S, flat)
    return out.reshape(-1, B, C).permute(1, 0, 2)


def _read_npz() -> dict[str, np.ndarray]:
    ref = resources.files("facesculpt") / "assets" / "topology.npz"
    try:
        with resources.as_file(ref) as path, np.load(path, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
    except FileNotFoundError as exc:
        raise AssetError(
            f"topology asset missing: {ref} (regenerate it with tools/build_topology.py)"
        ) from exc
    except Exception as exc:  # zip/npy errors: truncated or corrupt file
        raise AssetError(
            f"topology asset unreadable: {ref}: {exc} (regenerate it with tools/build_topology.py)"
        ) from exc
    for key, (dtype, shape) in _KEYS.items():
        if key not in data:
            raise AssetError(f"topology asset {ref}: expected array {key!r}, found {sorted(data)}")
        arr = data[key]
        if arr.dtype != dtype or arr.ndim != len(shape) or any(
            s is not None and s != a for s, a in zip(shape, arr.shape)
        ):
            raise AssetError(
                f"topology asset {ref}: expected {key} {np.dtype(dtype).name} {shape}, got {arr.dtype} {arr.shape}"
            )
    return data


@functools.lru_cache(maxsize=4)
def load_topology(levels: int = 2) -> Topology:
    """The face topology with ``levels`` Loop subdivisions for the dense mesh (cached).

    ``levels=2`` gives 7,257 dense vertices and 14,368 dense faces (898 coarse faces).
    """
    from facesculpt.ops.subdivision import scipy_to_torch_sparse, subdivide_levels_scipy, subdivide_vertex_map

    if not isinstance(levels, int) or levels < 0:
        raise ShapeError(f"load_topology: expected levels to be an int >= 0, got {levels!r}")
    d = _read_npz()
    faces = d["faces"]
    region = d["face_region"]
    if len(region) != len(faces):
        raise AssetError(f"topology asset: expected face_region of length {len(faces)}, got {len(region)}")
    dfaces, S_loop, S_lin = subdivide_levels_scipy(faces, NUM_VERTS, levels)
    dense_uvs = S_lin @ d["uvs"].astype(np.float64)
    dense_can = S_loop @ d["canonical"].astype(np.float64)
    dense_mirror = subdivide_vertex_map(faces, NUM_VERTS, d["mirror"], levels)
    # which eye a coarse eye face closes: the side of its vertices
    is_eye = region == REGION_EYE
    side = np.sign(d["canonical"][faces].mean(1)[:, 0])
    eye_left = np.nonzero(is_eye & (side > 0))[0]
    eye_right = np.nonzero(is_eye & (side < 0))[0]
    mouth = np.nonzero(region == REGION_MOUTH)[0]

    def L(a):
        return torch.as_tensor(np.asarray(a, dtype=np.int64))

    return Topology(
        levels=levels,
        canonical=torch.as_tensor(d["canonical"]),
        faces=L(faces),
        uvs=torch.as_tensor(d["uvs"]),
        mirror=L(d["mirror"]),
        lmk68=L(d["lmk68"]),
        oval=L(d["oval"]),
        face_region=torch.as_tensor(region),
        eye_left=L(eye_left),
        eye_right=L(eye_right),
        mouth=L(mouth),
        eye_left_loop=L(d["eye_left_loop"]),
        eye_right_loop=L(d["eye_right_loop"]),
        mouth_loop=L(d["mouth_loop"]),
        lips_outer_loop=L(d["lips_outer_loop"]),
        midline=L(d["midline"]),
        dense_faces=L(dfaces),
        dense_S=scipy_to_torch_sparse(S_loop),
        dense_S_linear=scipy_to_torch_sparse(S_lin),
        dense_uvs=torch.as_tensor(dense_uvs, dtype=torch.float32),
        dense_mirror=L(dense_mirror),
        dense_face_region=torch.as_tensor(np.repeat(region, 4**levels).astype(np.int8)),
        dense_canonical=torch.as_tensor(dense_can, dtype=torch.float32),
    )


__all__ = ["Topology", "load_topology", "NUM_VERTS", "REGION_SKIN", "REGION_EYE", "REGION_MOUTH"]
