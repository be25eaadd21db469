"""Initial pose, camera and per-photo shape from mediapipe landmarks.

mediapipe's 468 face-mesh landmarks are, up to scale, an orthographic 3D reconstruction
in an OpenCV-like frame (x right, y down, z away from the camera, in pixels). A
similarity Procrustes fit of the canonical shape to them gives the head rotation and
the pixels-per-centimetre scale; undoing that similarity turns the landmarks into
this photo's metric, frontal mesh (identity + expression). A default focal length
then fixes the perspective camera distance: depth = focal / scale.
"""
from __future__ import annotations

import torch

from facesculpt.core.conventions import DEFAULT_FOCAL_FACTOR
from facesculpt.ops.rotations import matrix_to_rotvec
from facesculpt.structures import Camera, Landmarks, Pose


def similarity_procrustes(src: torch.Tensor, dst: torch.Tensor):
    """Least-squares s, R, t with dst ~= s * src @ R.T + t (Umeyama). src, dst: (N, 3)."""
    src = src.double()
    dst = dst.double()
    ms, md = src.mean(0), dst.mean(0)
    a, b = src - ms, dst - md
    cov = b.T @ a / src.shape[0]
    U, S, Vt = torch.linalg.svd(cov)
    D = torch.eye(3, dtype=torch.float64)
    if torch.det(U @ Vt) < 0:
        D[2, 2] = -1.0
    R = U @ D @ Vt
    var = a.pow(2).sum() / src.shape[0]
    s = (S * D.diagonal()).sum() / var
    t = md - s * R @ ms
    return s, R, t


def initialize(landmarks: Landmarks, canonical: torch.Tensor, focal_factor: float = DEFAULT_FOCAL_FACTOR):
    """(base (468, 3) cm, Pose, Camera) for one face.

    landmarks.points: (478, 3) pixels; canonical: (468, 3) cm, model frame.
    """
    H, W = landmarks.image_size
    pts = landmarks.points[:468].double()
    s, R, t = similarity_procrustes(canonical.double(), pts)
    base = ((pts - t) @ R) / s  # R^T (p - t) / s, row-vector form
    f = focal_factor * max(H, W)
    cam = Camera(torch.tensor([f], dtype=torch.float32), torch.tensor([[W / 2.0, H / 2.0]], dtype=torch.float32), (H, W))
    # perspective translation: the base mesh's centroid lands where the landmarks' centroid is
    centroid = pts.mean(0)
    c_model = base.mean(0)
    tz = f / s
    rc = R @ c_model
    tx = (centroid[0] - W / 2.0) * tz / f - rc[0]
    ty = (centroid[1] - H / 2.0) * tz / f - rc[1]
    T = torch.stack([tx, ty, tz - rc[2]])
    pose = Pose(matrix_to_rotvec(R[None]).float(), T[None].float())
    return base.float(), pose, cam
