"""Rendering a textured, SH-lit face: the rasterize -> interpolate -> texture -> shade chain
composed once, for the fit, the metrics, the overlays and the synthetic benchmark."""
from __future__ import annotations

from dataclasses import dataclass

import torch

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.ops.mesh import vertex_normals
from facesculpt.ops.sh import sh_shade
from facesculpt.render.antialias import antialias as _antialias
from facesculpt.render.interpolate import interpolate
from facesculpt.render.rasterize import Fragments, rasterize
from facesculpt.render.texture import texture as _texture
from facesculpt.structures import Camera, Pose


def to_view_frame(vectors_model: torch.Tensor, pose: Pose) -> torch.Tensor:
    """Directions (B, N, 3) from the model frame to the view frame (camera axes, +Y up, +Z to camera)."""
    F = MODEL_TO_CV.to(vectors_model.dtype)
    M = F @ pose.matrix()  # (B, 3, 3)
    return vectors_model @ M.transpose(1, 2)


@dataclass
class FaceRender:
    """image: (B,H,W,3) lit colour; albedo, shading: (B,H,W,3); mask: (B,H,W) bool coverage;
    normals_view: (B,H,W,3); frags: Fragments; screen: (B,V,3) projected vertices."""

    image: torch.Tensor
    albedo: torch.Tensor
    shading: torch.Tensor
    mask: torch.Tensor
    normals_view: torch.Tensor
    frags: Fragments
    screen: torch.Tensor


def project_vertices(verts_model: torch.Tensor, pose: Pose, camera: Camera) -> torch.Tensor:
    """(B, V, 3) model-frame vertices -> (B, V, 3) screen (x_pix, y_pix, depth)."""
    cam = pose.apply(verts_model)
    return torch.cat([camera.project(cam), cam[..., 2:3]], dim=-1)


def render_face(
    verts_model: torch.Tensor,
    faces: torch.Tensor,
    uvs: torch.Tensor,
    pose: Pose,
    camera: Camera,
    albedo_map: torch.Tensor,
    sh_coeffs: torch.Tensor,
    *,
    background: torch.Tensor | None = None,
    antialias: bool = False,
    normals_model: torch.Tensor | None = None,
    occluded: torch.Tensor | None = None,
    frags: Fragments | None = None,
) -> FaceRender:
    """Render the mesh with a UV albedo (B,S,S,3) under SH light (B,9,3) seen by ``camera``.

    verts_model: (B, V, 3) cm; faces: (F, 3); uvs: (V, 2). ``background`` (B,H,W,3) fills
    uncovered pixels (black if None). ``normals_model`` overrides the smooth vertex normals.
    ``occluded``: (B, V, 9) per-vertex occluded transfer in the view frame (``render.visibility``):
    the shading then has ambient occlusion and cast shadows; None: no visibility.
    ``frags``: the rasterisation of these vertices at this camera if made already (``texture.unwrap.
    view_geometry``); its barycentrics carry no gradient to the vertices unless it was made with them.
    """
    B = verts_model.shape[0]
    screen = project_vertices(verts_model, pose, camera)
    if frags is None:
        frags = rasterize(screen, faces, camera.image_size)
    mask = frags.pix_to_face >= 0
    n_model = vertex_normals(verts_model, faces) if normals_model is None else normals_model
    n_view = to_view_frame(n_model, pose)
    attrs = torch.cat([uvs[None].expand(B, -1, -1).to(verts_model.dtype), n_view], dim=-1)
    interp = interpolate(attrs, frags, faces)
    uv_pix, n_pix = interp[..., :2], torch.nn.functional.normalize(interp[..., 2:5], dim=-1, eps=1e-8)
    albedo = _texture(albedo_map, uv_pix)
    shading = sh_shade(n_pix, sh_coeffs)
    if occluded is not None:
        # the light the head blocks, per vertex (linear in the light: interpolating 3 channels
        # instead of the transfer's 9 gives the same shading, cheaper)
        blocked = occluded.to(shading.dtype).expand(B, -1, -1) @ sh_coeffs.to(shading.dtype)
        shading = (shading - interpolate(blocked, frags, faces)).clamp(min=0)
    color = albedo * shading
    bg = torch.zeros_like(color) if background is None else background
    image = torch.where(mask[..., None], color, bg)
    if antialias:
        image = _antialias(image, frags, screen, faces)
    return FaceRender(image, albedo, shading, mask, n_pix, frags, screen)
