"""Write one Reconstruction to its output folder, atomically."""
from __future__ import annotations

import functools
import platform
from pathlib import Path

import numpy as np
import torch

from facesculpt.config import config_to_dict
from facesculpt.io.atomic import atomic_output_dir, write_json, write_png
from facesculpt.io.export import write_glb, write_obj
from facesculpt.ops.image import to_uint8
from facesculpt.ops.mesh import vertex_normals
from facesculpt.render.face import render_face

#: overlay/render images are written at most this large (longer side)
OVERLAY_MAX = 2048


def package_versions() -> dict:
    """The versions of Python and the packages a result was made with (a copy: looked up once a process, 15 ms)."""
    return dict(_package_versions())


@functools.lru_cache(maxsize=1)
def _package_versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ("facesculpt", "torch", "numpy", "mediapipe", "numba", "scipy", "pillow", "trimesh", "pygltflib"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = None
    return out


def params_dict(rec) -> dict:
    p = rec.params
    return {
        "units": "model frame in centimetres (exports in metres); camera OpenCV (x right, y down, z forward)",
        "camera": {
            "focal_px": float(p.camera.focal[0]),
            "principal_px": p.camera.principal[0].tolist(),
            "image_size_hw": list(p.camera.image_size),
        },
        "pose": {
            "rotvec_rad": p.pose.rotvec[0].tolist(),
            "rotation_matrix": p.pose.matrix()[0].tolist(),
            "translation_cm": p.pose.translation[0].tolist(),
            "convention": "x_cam = R @ X_model + t",
        },
        "light": {
            "sh_coeffs": p.light.coeffs[0].tolist(),
            "convention": "9x3 band-ordered irradiance SH in the view frame (+Y up, +Z to camera); see facesculpt/ops/sh.py",
        },
        "landmarks_bbox_px": rec.landmarks.bbox.tolist(),
        "detector": getattr(rec.landmarks, "detector", "mediapipe_face_detector"),
        "detector_mirror_weight": getattr(rec.landmarks, "mirror_weight", None),
        **({"head": __import__("facesculpt.io.head_results", fromlist=["x"]).head_params_dict(rec)}
           if getattr(rec, "head", None) is not None else {}),
        "losses": rec.losses,
        "timings_s": rec.timings,
        "config": config_to_dict(rec.config),
        "versions": package_versions(),
    }


def _shown_photo(image: np.ndarray) -> tuple[np.ndarray, float]:
    """(the photo shrunk to ``OVERLAY_MAX`` on its longer side, or as it is; the scale s applied)."""
    H, W = image.shape[:2]
    s = min(1.0, OVERLAY_MAX / max(H, W))
    if s == 1.0:
        return image, s
    from PIL import Image

    return np.asarray(Image.fromarray(image).resize((max(1, round(W * s)), max(1, round(H * s))))), s


def render_overlay(image: np.ndarray, rec) -> tuple[np.ndarray, np.ndarray]:
    """(overlay RGB, render RGBA) uint8 at the photo's size (shrunk to OVERLAY_MAX)."""
    photo, s = _shown_photo(image)
    h, w = photo.shape[:2]
    cam = rec.params.camera.crop(0.0, 0.0, s, (h, w))
    with torch.no_grad():
        rend = render_face(rec.mesh.verts, rec.mesh.faces, rec.mesh.uvs, rec.params.pose, cam,
                           rec.maps.albedo, rec.params.light.coeffs)
    from facesculpt.texture.color import to_display

    col = to_uint8(to_display(rend.image, rec.maps.linear))
    m = rend.mask[0].numpy()
    over = photo.copy()
    over[m] = (0.75 * col[m] + 0.25 * photo[m]).astype(np.uint8)
    rgba = np.concatenate([col, (m * 255).astype(np.uint8)[..., None]], axis=-1)
    return over, rgba


def occluder_overlay(image: np.ndarray, rec):
    """(h, w, 3) uint8: the photo shrunk as ``render_overlay`` shrinks it, with the pixels the occluder mask took
    out of the albedo (``rec.occluded``: the colour test, hands, the outer ring's cap, collar or hair) tinted red;
    None when no mask ran."""
    occ = getattr(rec, "occluded", None)
    if occ is None:
        return None
    from facesculpt.texture.occlusion import occluded_on_grid

    photo, s = _shown_photo(image)
    taken = occluded_on_grid(occ, 0.0, 0.0, 1.0 / s, photo.shape[:2]).numpy()
    out = photo.copy()
    out[taken] = (0.45 * photo[taken] + np.array([140.0, 0.0, 0.0])).clip(0, 255).astype(np.uint8)
    return out


def _encode_pngs(images: list) -> None:
    """Encode the (H, W[, C]) uint8 ``images`` into ``io.atomic.encode_png``'s memo, two at a time (zlib runs without
    the GIL: one result's nine PNGs took 0.13 s one after another)."""
    if len(images) < 2:
        return
    from concurrent.futures import ThreadPoolExecutor

    from facesculpt.io.atomic import encode_png

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(encode_png, images))


def write_result(folder: Path, image: np.ndarray, rec, extra_writers=()) -> Path:
    """Write every output of ``rec`` into ``folder`` (replaced atomically). Returns the folder."""
    folder = Path(folder)
    with atomic_output_dir(folder) as tmp:
        tmp = Path(tmp)
        verts = rec.mesh.verts[0].detach()
        normals = vertex_normals(rec.mesh.verts.detach(), rec.mesh.faces)[0]
        from facesculpt.texture.color import to_display

        shared = None  # the head's export textures (the albedo among them)
        if getattr(rec, "head", None) is not None:
            from facesculpt.io.head_results import part_textures

            shared = part_textures(rec)
            albedo = shared[0]["albedo"]
        else:
            albedo = to_uint8(to_display(rec.maps.albedo, rec.maps.linear))
        texture = to_uint8(to_display(rec.maps.texture, rec.maps.linear))
        visibility = to_uint8(rec.maps.visibility[..., None].expand(-1, -1, -1, 3))[..., 0]
        over, rgba = render_overlay(image, rec)
        occ = occluder_overlay(image, rec)
        pngs = [albedo, texture, visibility, over, rgba] + ([] if occ is None else [occ])
        if shared is not None:
            pngs += [t for k, t in shared[0].items() if k != "albedo"] + ([] if shared[1] is None else [shared[1]])
        _encode_pngs(pngs)  # on both cores; the writes below take them from encode_png's memo
        write_png(tmp / "albedo.png", albedo)
        write_png(tmp / "texture.png", texture)
        write_png(tmp / "visibility.png", visibility)
        if shared is not None:
            from facesculpt.io.head_results import write_head_outputs

            write_head_outputs(tmp, rec, textures=shared)
        else:
            write_obj(tmp / "mesh.obj", verts.numpy(), rec.mesh.faces.numpy(), rec.mesh.uvs.numpy(), normals.numpy(),
                      texture_name="albedo.png")
            write_glb(tmp / "mesh.glb", verts.numpy(), rec.mesh.faces.numpy(), rec.mesh.uvs.numpy(), normals.numpy(),
                      albedo)
        write_png(tmp / "overlay.png", over)
        write_png(tmp / "render.png", rgba)
        if occ is not None:
            write_png(tmp / "occluders.png", occ)
        if getattr(rec, "detail", None) is not None:
            from facesculpt.detail import write_detail

            write_detail(tmp, rec)
        write_json(tmp / "params.json", params_dict(rec))
        write_json(tmp / "metrics.json", rec.metrics)
        for writer in extra_writers:  # last: a writer may read the files above (the report does)
            writer(tmp, rec)
    return folder
