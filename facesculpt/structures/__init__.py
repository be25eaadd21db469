"""Typed values that flow between stages: named fields, no flat magic vectors."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Optional

import torch

from facesculpt.core.checks import check_shape


@dataclass(frozen=True)
class Landmarks:
    """Detected face landmarks for one image.

    points:  (478, 3) float — mediapipe landmarks in pixels: x right, y down,
             z relative depth in the same pixel scale (smaller = nearer the camera).
    bbox:    (4,) float — x0, y0, x1, y1 of the face in pixels.
    image_size: (H, W).
    detector: what placed the face (``facesculpt.detect.detect_faces``): "mediapipe_face_detector",
             "mediapipe_face_mesh" (the face mesh's own detector on the whole image), "mediapipe_pose",
             "dlib_hog" (fall-backs, landmarks from the box) or "user_box".
    mirror_weight: weight (0..1) of the mirrored photo's detection averaged into ``points`` for a turned
             face (``facesculpt.detect.turned``); None when the face was detected once.
    more_faces: on the first face of a detection that stopped at its ``max_faces``: how many more faces of at
             least the minimum size the face detector found (a group photo; ``detect_faces``), else 0.
    """

    points: torch.Tensor
    bbox: torch.Tensor
    image_size: tuple[int, int]
    detector: str = "mediapipe_face_detector"
    mirror_weight: Optional[float] = None
    more_faces: int = 0

    def __post_init__(self):
        check_shape("Landmarks.points", self.points, (None, 3))
        check_shape("Landmarks.bbox", self.bbox, (4,))

    @property
    def size(self) -> float:
        """Face size in pixels: the larger side of the bounding box."""
        b = self.bbox
        return float(max(b[2] - b[0], b[3] - b[1]))


@dataclass(frozen=True)
class Camera:
    """Pinhole camera with OpenCV conventions (see core/conventions.py).

    focal:     (B,) float — focal length in pixels (fx = fy).
    principal: (B, 2) float — principal point (cx, cy) in pixels.
    image_size: (H, W) of the image the camera renders.
    """

    focal: torch.Tensor
    principal: torch.Tensor
    image_size: tuple[int, int]

    def __post_init__(self):
        check_shape("Camera.focal", self.focal, ("B",))
        check_shape("Camera.principal", self.principal, ("B", 2))

    def project(self, x_cam: torch.Tensor) -> torch.Tensor:
        """Project camera-frame points (B, N, 3) to pixels (B, N, 2)."""
        z = x_cam[..., 2:3].clamp(min=1e-6)
        return x_cam[..., :2] / z * self.focal[:, None, None] + self.principal[:, None, :]

    def crop(self, x0: float, y0: float, scale: float, size: tuple[int, int]) -> "Camera":
        """The camera of the image cropped at (x0, y0) and then resized by ``scale``."""
        off = torch.tensor([x0, y0], dtype=self.principal.dtype, device=self.principal.device)
        return Camera(self.focal * scale, (self.principal - off) * scale, size)


@dataclass(frozen=True)
class Pose:
    """Rigid pose, model -> camera: x_cam = R(rotvec) @ X + translation.

    rotvec:      (B, 3) float — axis-angle, radians.
    translation: (B, 3) float — centimetres, camera frame.
    """

    rotvec: torch.Tensor
    translation: torch.Tensor

    def __post_init__(self):
        check_shape("Pose.rotvec", self.rotvec, ("B", 3))
        check_shape("Pose.translation", self.translation, ("B", 3))

    def matrix(self) -> torch.Tensor:
        """(B, 3, 3) rotation matrices. Without autograd on ``rotvec`` the matrix is made once per pose (a copy is
        returned; ``rotvec`` written in place since is seen by its version counter): the texture stage asks a
        pose for it a dozen times."""
        from facesculpt.ops.rotations import rotvec_to_matrix

        if torch.is_grad_enabled() and self.rotvec.requires_grad:
            return rotvec_to_matrix(self.rotvec)
        hit = self.__dict__.get("_matrix")
        if hit is not None and hit[0] == self.rotvec._version:
            return hit[1].clone()
        R = rotvec_to_matrix(self.rotvec)
        object.__setattr__(self, "_matrix", (self.rotvec._version, R.detach().clone()))
        return R

    def __getstate__(self):  # pickles and copies carry the fields, not the cached matrix (a version counter restarts)
        return {k: v for k, v in self.__dict__.items() if k != "_matrix"}

    def apply(self, verts: torch.Tensor) -> torch.Tensor:
        """Model-frame points (B, N, 3) -> camera frame (B, N, 3)."""
        return verts @ self.matrix().transpose(1, 2) + self.translation[:, None, :]


@dataclass(frozen=True)
class SHLighting:
    """Second-order (3-band) spherical-harmonics irradiance, per colour channel.

    coeffs: (B, 9, 3) float — band-ordered real SH coefficients (see ops/sh.py),
            expressed in the view frame: camera axes turned to +Y up, +Z towards the
            camera (equal to the model frame for a frontal, upright face), so the
            light stays put when the head turns.
    """

    coeffs: torch.Tensor

    def __post_init__(self):
        check_shape("SHLighting.coeffs", self.coeffs, ("B", 9, 3))

    @staticmethod
    def ambient(batch: int = 1, level: float = 1.0, dtype=torch.float32) -> "SHLighting":
        """Uniform white light that shades every normal to ``level``."""
        from facesculpt.ops.sh import ambient_coeffs

        return SHLighting(ambient_coeffs(batch, level, dtype))


@dataclass(frozen=True)
class FaceMesh:
    """A triangle mesh on the facesculpt topology (one UV chart, UV per vertex).

    verts: (B, V, 3) float — model frame, centimetres.
    faces: (F, 3) long — counter-clockwise seen from outside (normals point out).
    uvs:   (V, 2) float — per-vertex UV in [0, 1].
    """

    verts: torch.Tensor
    faces: torch.Tensor
    uvs: torch.Tensor

    def __post_init__(self):
        check_shape("FaceMesh.verts", self.verts, ("B", "V", 3))
        check_shape("FaceMesh.faces", self.faces, ("F", 3))
        check_shape("FaceMesh.uvs", self.uvs, (self.verts.shape[1], 2))


@dataclass(frozen=True)
class UVMaps:
    """Texture-space maps, channels last, row 0 at v = 1 (image convention).

    albedo:     (B, S, S, 3) float in [0, 1] — completed, light-free albedo.
    texture:    (B, S, S, 3) float in [0, 1] — the photo unwrapped (lit, as seen).
    visibility: (B, S, S) float in [0, 1] — confidence that the texel was seen.
    shading:    (B, S, S, 3) float or None — per-texel SH irradiance used to de-light.
    linear:     True when albedo, texture and shading are linear light (the sRGB photo decoded;
                ``texture.color.to_display`` encodes them for files and photo comparisons).
    light_ratio: (B, S, S, 3) float or None — the per-texel light ratio (``texture.local_light``) the
                photo's light has on top of the global SH light; ``shading`` includes it. None: off.
    censored:   (B, S, S) float or None — the confidence a texel lost because a photo channel there
                was clipped (``texture.clipping``); ``visibility + censored`` is the confidence without
                that rule. None: no clipped channel was considered.
    """

    albedo: torch.Tensor
    texture: torch.Tensor
    visibility: torch.Tensor
    shading: Optional[torch.Tensor] = None
    linear: bool = False
    light_ratio: Optional[torch.Tensor] = None
    censored: Optional[torch.Tensor] = None


@dataclass
class FaceParams:
    """Everything the fit estimates, by name.

    pose:      Pose — rigid head pose.
    shape:     the shape model's parameters: for the default ``LandmarkMeshModel`` (B, 468, 3)
               per-vertex offsets (cm) on top of this photo's landmark mesh; for a
               ``PCAShapeModel`` (B, K) coefficients.
    light:     SHLighting.
    camera:    Camera.
    """

    pose: Pose
    shape: torch.Tensor
    light: SHLighting
    camera: Camera

    def detach(self) -> "FaceParams":
        return FaceParams(
            Pose(self.pose.rotvec.detach(), self.pose.translation.detach()),
            self.shape.detach(),
            SHLighting(self.light.coeffs.detach()),
            Camera(self.camera.focal.detach(), self.camera.principal.detach(), self.camera.image_size),
        )


__all__ = ["Landmarks", "Camera", "Pose", "SHLighting", "FaceMesh", "UVMaps", "FaceParams", "replace", "field"]
