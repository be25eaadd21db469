"""Fine geometric detail: a UV displacement map along the normal, p' = p + d n, estimated by
shape from shading in UV space against the unwrapped photo (see ``docs/detail.md``).

``refine_detail`` is the pipeline stage (no file work); ``write_detail`` writes its outputs
(displacement.png, detail.json, normal.png, mesh_detail.obj/.glb, mesh_normalmap.glb).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from facesculpt.core.determinism import sparse_mm
from facesculpt.detail.config import DetailConfig


@dataclass
class DetailResult:
    """The detail stage's output, all in UV space (row 0 at v = 1).

    displacement:  (1, S, S) float — cm along the coarse normal (negative = into the skin).
    albedo:        (1, S, S, 3) float — albedo refined jointly with the displacement.
    normal_view:   (1, S, S, 3) float — unit normals of the detailed surface, view frame.
    coarse_normal_view: (1, S, S, 3) float — unit normals of the coarse surface, view frame.
    normal_tangent: (1, S, S, 3) float — detailed normals in the coarse surface's tangent frame
                   (x along +u, y along +v, z along the normal; glTF/OpenGL convention).
    mask:          (1, S, S) bool — texels on the skin part of the chart (eyes/mouth excluded).
    losses:        final loss terms of the fine solve.
    timings:       seconds per part.
    """

    displacement: torch.Tensor
    albedo: torch.Tensor
    normal_view: torch.Tensor
    coarse_normal_view: torch.Tensor
    normal_tangent: torch.Tensor
    mask: torch.Tensor
    losses: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)


def _skin_texels(frames, topo) -> torch.Tensor:
    from facesculpt.topology import REGION_SKIN

    face = frames.face.clamp(min=0)
    return (frames.inside & (topo.dense_face_region[face] == REGION_SKIN)).float()


def refine_detail(image, rec, topo, cfg: DetailConfig, progress=None) -> DetailResult:
    """Estimate the displacement detail of reconstruction ``rec`` (``image`` is unused: the stage
    works on ``rec.maps.texture``, the photo unwrapped with the fitted geometry and visibility)."""
    from facesculpt.detail.sfs import _resize, solve_displacement, texel_frames

    t0 = time.perf_counter()
    S = int(cfg.size)
    verts = rec.mesh.verts.detach()
    faces, uvs = rec.mesh.faces, rec.mesh.uvs
    pose = rec.params.pose
    light = rec.params.light.coeffs.detach()
    maps = rec.maps
    timings = {}
    init = None
    with torch.no_grad():
        T_full = maps.texture.detach()
        A_full = maps.albedo.detach()
        from facesculpt.texture.clipping import seen_confidence

        W_full = seen_confidence(maps).detach()  # clipped texels too: the data term is one-sided there
    sizes = ([int(cfg.coarse_size)] if 0 < cfg.coarse_size < S else []) + [S]
    res = None
    frames = None
    for k, size in enumerate(sizes):
        t = time.perf_counter()
        with torch.no_grad():
            frames = texel_frames(verts, faces, uvs, pose, size)
            skin = _skin_texels(frames, topo)
            T = _resize(T_full, size, "area")
            A0 = _resize(A_full, size, "area")
            W = _resize(W_full, size, "area")
        if init is not None:
            init = _resize(init, size)
        iters = cfg.iterations if (k == 0 and len(sizes) > 1) or len(sizes) == 1 else cfg.fine_iterations
        with torch.enable_grad():
            res = solve_displacement(T, W, A0, light, frames, skin, cfg, init=init, iterations=iters,
                                     progress=progress)
        init = res.displacement
        timings[f"solve_{size}"] = time.perf_counter() - t
    with torch.no_grad():
        n0 = frames.normal
        tan = F.normalize(frames.du - (frames.du * n0).sum(-1, keepdim=True) * n0, dim=-1, eps=1e-8)
        bit = torch.cross(n0, tan, dim=-1)
        flip = torch.sign((bit * frames.dv).sum(-1, keepdim=True))
        bit = bit * torch.where(flip == 0, torch.ones_like(flip), flip)
        nd = res.normal
        nt = torch.stack([(nd * tan).sum(-1), (nd * bit).sum(-1), (nd * n0).sum(-1)], dim=-1)
        nt = torch.where(frames.inside[..., None], F.normalize(nt, dim=-1, eps=1e-8), torch.tensor([0.0, 0.0, 1.0]))
    timings["total"] = time.perf_counter() - t0
    return DetailResult(res.displacement, res.albedo, res.normal, n0, nt, skin > 0, res.losses, timings)


_SUBDIV: dict = {}


def detail_mesh(rec, levels: int = 1) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The dense mesh Loop-subdivided ``levels`` more times with the displacement applied along its
    vertex normals: (verts (1, V', 3) cm, faces (F', 3), uvs (V', 2))."""
    from facesculpt.ops.mesh import vertex_normals
    from facesculpt.ops.subdivision import subdivide_levels
    from facesculpt.render.texture import texture as sample_texture

    verts, faces, uvs = rec.mesh.verts.detach(), rec.mesh.faces, rec.mesh.uvs
    key = (int(verts.shape[1]), int(faces.shape[0]), float(faces.sum()), levels)
    hit = _SUBDIV.get(key)
    if hit is None:
        f2, S_loop, S_lin = subdivide_levels(faces, verts.shape[1], levels)
        hit = (f2, S_loop, sparse_mm(S_lin, uvs.float()))
        _SUBDIV.clear()
        _SUBDIV[key] = hit
    f2, S_loop, uv2 = hit
    with torch.no_grad():
        v2 = sparse_mm(S_loop, verts[0].float())[None]
        n2 = vertex_normals(v2, f2)
        d = sample_texture(rec.detail.displacement[..., None], uv2[None, None])[0, 0, :, 0]
        v2 = v2 + d[None, :, None] * n2
    return v2, f2, uv2


def displacement_scale(d: torch.Tensor) -> dict:
    """How ``displacement.png`` encodes ``d`` (cm): d = offset_cm + scale_cm * value / 65535."""
    m = max(float(d.abs().max()), 1e-4)
    return {"offset_cm": -m, "scale_cm": 2 * m, "formula": "d_cm = offset_cm + scale_cm * png_value / 65535",
            "direction": "along the outward normal of mesh.obj; negative = into the skin"}


def normal_map_image(det: "DetailResult"):
    """(H, W, 3) uint8 ``normal.png`` of ``det``: the tangent-space normals as RGB = n * 0.5 + 0.5 (glTF)."""
    from facesculpt.ops.image import to_uint8

    return to_uint8(det.normal_tangent * 0.5 + 0.5)


def write_detail(folder, rec) -> None:
    """Write displacement.png (16-bit), detail.json (its scale), normal.png (tangent space),
    mesh_detail.obj/.glb (displaced geometry) and mesh_normalmap.glb (coarse mesh + normal map)."""
    from facesculpt.io.atomic import write_json, write_png, write_png16
    from facesculpt.io.export import write_glb, write_obj
    from facesculpt.ops.image import to_uint8
    from facesculpt.ops.mesh import vertex_normals

    folder = Path(folder)
    det: DetailResult = rec.detail
    d = det.displacement[0]
    sc = displacement_scale(d)
    write_png16(folder / "displacement.png", ((d - sc["offset_cm"]) / sc["scale_cm"]).clamp(0, 1).numpy())
    nmap = normal_map_image(det)
    write_png(folder / "normal.png", nmap)
    from facesculpt.texture.color import to_display

    albedo = to_uint8(to_display(rec.maps.albedo, rec.maps.linear))
    levels = int(getattr(rec.config.detail, "mesh_levels", 1))
    v2, f2, uv2 = detail_mesh(rec, levels)
    n2 = vertex_normals(v2, f2)[0]
    write_obj(folder / "mesh_detail.obj", v2[0].numpy(), f2.numpy(), uv2.numpy(), n2.numpy(), texture_name="albedo.png")
    write_glb(folder / "mesh_detail.glb", v2[0].numpy(), f2.numpy(), uv2.numpy(), n2.numpy(), albedo)
    verts = rec.mesh.verts[0].detach()
    n = vertex_normals(rec.mesh.verts.detach(), rec.mesh.faces)[0]
    write_glb(folder / "mesh_normalmap.glb", verts.numpy(), rec.mesh.faces.numpy(), rec.mesh.uvs.numpy(), n.numpy(),
              albedo, normal_texture=nmap)
    write_json(folder / "detail.json", {"displacement_png": sc, "normal_png": "tangent space (x +u, y +v, z normal), "
               "RGB = n * 0.5 + 0.5, OpenGL/glTF convention; pairs with mesh.obj/mesh.glb (not mesh_detail)",
               "map_size": int(d.shape[-1]), "losses": det.losses, "timings_s": det.timings})


__all__ = ["DetailConfig", "DetailResult", "refine_detail", "write_detail", "detail_mesh", "displacement_scale",
           "normal_map_image"]
