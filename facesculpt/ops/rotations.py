"""Rotation conversions (pure torch, differentiable, batched)."""
from __future__ import annotations

import torch


def _skew(v: torch.Tensor) -> torch.Tensor:
    z = torch.zeros_like(v[..., 0])
    return torch.stack(
        [z, -v[..., 2], v[..., 1], v[..., 2], z, -v[..., 0], -v[..., 1], v[..., 0], z], dim=-1
    ).reshape(v.shape[:-1] + (3, 3))


def rotvec_to_matrix(rotvec: torch.Tensor) -> torch.Tensor:
    """Axis-angle (..., 3) radians -> rotation matrices (..., 3, 3) (Rodrigues).

    Uses a Taylor expansion near zero so gradients are finite at the identity.
    """
    theta2 = (rotvec * rotvec).sum(-1, keepdim=True)[..., None]
    theta = torch.sqrt(theta2.clamp(min=1e-12))
    small = theta2 < 1e-8
    a = torch.where(small, 1.0 - theta2 / 6.0, torch.sin(theta) / theta)
    b = torch.where(small, 0.5 - theta2 / 24.0, (1.0 - torch.cos(theta)) / theta2.clamp(min=1e-12))
    K = _skew(rotvec)
    eye = torch.eye(3, dtype=rotvec.dtype, device=rotvec.device).expand_as(K)
    return eye + a * K + b * (K @ K)


def matrix_to_rotvec(R: torch.Tensor) -> torch.Tensor:
    """Rotation matrices (..., 3, 3) -> axis-angle (..., 3). Not meant for backprop."""
    from scipy.spatial.transform import Rotation

    flat = R.detach().reshape(-1, 3, 3).cpu().double().numpy()
    rv = Rotation.from_matrix(flat).as_rotvec()
    return torch.as_tensor(rv, dtype=R.dtype, device=R.device).reshape(R.shape[:-2] + (3,))


def euler_yxz_to_matrix(yaw: float, pitch: float = 0.0, roll: float = 0.0, dtype=torch.float32) -> torch.Tensor:
    """A (3, 3) rotation: yaw about +Y, then pitch about +X, then roll about +Z (radians)."""
    import math

    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    cr, sr = math.cos(roll), math.sin(roll)
    Ry = torch.tensor([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]], dtype=dtype)
    Rx = torch.tensor([[1, 0, 0], [0, cp, -sp], [0, sp, cp]], dtype=dtype)
    Rz = torch.tensor([[cr, -sr, 0], [sr, cr, 0], [0, 0, 1]], dtype=dtype)
    return Rz @ Rx @ Ry
