"""A real scanned head as a benchmark subject: "Infinite, 3D Head Scan by Lee Perry-Smith".

The committed asset (``assets/scan_lps.npz``: mesh in cm, +Y up, face along +Z; and
``assets/scan_lps_colour.jpg``: its 512^2 colour map; built by ``tools/build_scan_asset.py``, licence
``assets/SCAN_LPS_LICENSE``, provenance ``assets/SCAN_LPS.md``) is CC BY 3.0: "Infinite, 3D Head
Scan by Lee Perry-Smith is licensed under a Creative Commons Attribution 3.0 Unported License.
Based on a work at www.triplegangers.com." Keep that credit with anything made from it.

It is one light-skinned man, eyes closed, with stubble; the colour map is a scan texture (little
baked shading), not a calibrated albedo: it is used as the albedo (its sRGB values decoded to
linear light), and the mesh's scale is set by hand (a 15.5 cm wide head).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import torch

from facesculpt.core.conventions import DEFAULT_FOCAL_FACTOR, MODEL_TO_CV
from facesculpt.structures import Camera, Pose

#: the scan's head is bowed a little in its own frame; this pitch (degrees) makes the face upright
BASE_PITCH = -8.0
CREDIT = ("Infinite, 3D Head Scan by Lee Perry-Smith (CC BY 3.0), based on a work at www.triplegangers.com")


@dataclass(frozen=True)
class Scan:
    """verts (1, V, 3) cm; faces (F, 3) long; uvs (V, 2) (v up); albedo (1, S, S, 3) linear light."""

    verts: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor
    albedo: torch.Tensor


@lru_cache(maxsize=1)
def load_scan() -> Scan:
    """The committed Lee Perry-Smith scan (cached; never modify it)."""
    from PIL import Image

    from facesculpt.texture.color import srgb_to_linear

    root = resources.files("facesculpt").joinpath("assets")
    with root.joinpath("scan_lps.npz").open("rb") as f:
        d = np.load(f)
        verts, faces, uvs = d["verts"], d["faces"], d["uvs"]
    with root.joinpath("scan_lps_colour.jpg").open("rb") as f:
        img = np.asarray(Image.open(f).convert("RGB"), dtype=np.float32) / 255.0
    return Scan(torch.from_numpy(verts.astype(np.float32))[None], torch.from_numpy(faces.astype(np.int64)),
                torch.from_numpy(uvs.astype(np.float32)), srgb_to_linear(torch.from_numpy(img))[None])


def scan_view(yaw_deg: float, pitch_deg: float = 0.0, size: int = 512, face_fraction: float = 0.45,
              face_width_cm: float = 13.0) -> tuple[Pose, Camera]:
    """Pose and camera showing the scan's face centred, turned by ``yaw_deg`` and ``pitch_deg``
    (Euler angles as ``synthetic.head.face_pose``; the pitch on top of ``BASE_PITCH``), its face
    (``face_width_cm`` cheek to cheek) ``face_fraction`` of the ``size`` x ``size`` image wide."""
    from facesculpt.ops.rotations import euler_yxz_to_matrix, matrix_to_rotvec

    R = MODEL_TO_CV @ euler_yxz_to_matrix(math.radians(yaw_deg), math.radians(pitch_deg + BASE_PITCH), 0.0)
    focal = DEFAULT_FOCAL_FACTOR * size
    z = focal * face_width_cm / (face_fraction * size)
    centre = torch.tensor([0.0, -3.0, 0.0])  # below the head box centre: the face middle (nose)
    t = torch.tensor([0.0, 0.0, z]) - R.float() @ centre
    return (Pose(matrix_to_rotvec(R[None].float()), t[None]),
            Camera(torch.tensor([focal]), torch.tensor([[size / 2, size / 2]]), (size, size)))


__all__ = ["Scan", "load_scan", "scan_view", "CREDIT"]
