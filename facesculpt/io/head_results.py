"""The morphable head's outputs: the animatable whole head (OBJ/MTL, GLB with the 53 expression
blendshapes as morph targets), the neutral head, the landmarks and the head parameters."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from facesculpt.face_model import (
    PART_EYE_SOCKET_LEFT,
    PART_EYE_SOCKET_RIGHT,
    PART_EYEBALL_LEFT,
    PART_EYEBALL_RIGHT,
    PART_FACE,
    PART_GUMS,
    PART_HEAD_NECK,
    PART_MOUTH_SOCKET,
    PART_TEETH,
    HeadParams,
)
from facesculpt.io.atomic import write_json
from facesculpt.io.export_head import HeadPart, write_head_glb, write_head_obj
from facesculpt.ops.image import to_uint8
from facesculpt.ops.mesh import vertex_normals

#: (material name, parts, texture key or None, plain colour, roughness)
MATERIALS = (
    ("skin_face", (PART_FACE,), "albedo", None, 0.55),
    ("skin_head", (PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT), "head", None, 0.6),
    ("eye_left", (PART_EYEBALL_LEFT,), "eye_left", None, 0.15),
    ("eye_right", (PART_EYEBALL_RIGHT,), "eye_right", None, 0.15),
    ("gums_tongue", (PART_GUMS,), None, "gums", 0.35),
    ("teeth", (PART_TEETH,), None, "teeth", 0.3),
)
TEXTURE_FILES = {"albedo": "albedo.png", "head": "albedo_head.png", "eye_left": "eye_left.png",
                 "eye_right": "eye_right.png"}


def part_textures(rec) -> tuple[dict, np.ndarray | None]:
    """(the export's textures by ``TEXTURE_FILES`` key, (H, W, 3) uint8 sRGB; the detail stage's tangent-space normal
    map of the face tile or None): what every ``head_parts`` of ``rec`` shares."""
    from facesculpt.texture.color import to_display

    # the face and head tiles are linear light when ``rec.maps.linear``; the eye textures are sRGB
    textures = {key: to_uint8(to_display(rec.maps.albedo, rec.maps.linear) if key == "albedo" else
                              to_display(rec.textures[key], rec.maps.linear and key == "head"))
                for key in TEXTURE_FILES}
    # the detail stage's tangent-space normal map (``full``) is in the face tile's UV layout, as the albedo
    detail = getattr(rec, "detail", None)
    if detail is None:
        return textures, None
    from facesculpt.detail import normal_map_image

    return textures, normal_map_image(detail)


def head_parts(rec, head: HeadParams, with_morphs: bool = True, textures: tuple | None = None) -> list[HeadPart]:
    """The head of ``rec`` with parameters ``head`` as export parts (one per material).

    With ``with_morphs`` the parts carry the model's expression blendshapes restricted to their
    vertices (E, Vs, 3) cm. ``textures``: ``part_textures(rec)`` if made already (a result writes three heads)."""
    from facesculpt.texture.head import GUMS_COLOUR, TEETH_COLOUR

    model = rec.model
    colours = {"gums": GUMS_COLOUR, "teeth": TEETH_COLOUR}
    with torch.no_grad():
        verts = model.vertices(head)
        normals = vertex_normals(verts, model.faces)[0]
    textures, face_normals = part_textures(rec) if textures is None else textures
    parts = []
    for name, pids, tex, plain, rough in MATERIALS:
        rm = model.render_mesh(pids)
        idx = rm.vert_index
        parts.append(HeadPart(
            name=name,
            verts=verts[0, idx].numpy(),
            faces=rm.faces.numpy(),
            uvs=rm.uvs.numpy(),
            normals=normals[idx].numpy(),
            texture=None if tex is None else textures[tex],
            color=(0.8, 0.8, 0.8) if plain is None else tuple(float(c) for c in colours[plain]),
            roughness=rough,
            texture_name=None if tex is None else TEXTURE_FILES[tex],
            morph_deltas=model.expression_basis[:, idx].numpy() if with_morphs else None,
            normal_texture=face_normals if name == "skin_face" else None,
        ))
    return parts


def landmarks_dict(rec) -> dict:
    """68 iBUG points of the fitted head in image pixels and model-frame cm; 478 mediapipe points in pixels."""
    model, cam, pose = rec.model, rec.params.camera, rec.params.pose
    with torch.no_grad():
        p68 = model.points(rec.head_verts, "ibug68")
        p478 = model.points(rec.head_verts, "mediapipe")
        px68 = cam.project(pose.apply(p68))[0]
        px478 = cam.project(pose.apply(p478))[0]
    return {
        "units": "pixels: x right, y down, pixel centres at +0.5; model: cm, +Y up, +Z out of the face, +X subject's left",
        "ibug68_px": px68.tolist(),
        "ibug68_model_cm": p68[0].tolist(),
        "mediapipe478_px": px478.tolist(),
        "detected_mediapipe478_px": rec.landmarks.points[:, :2].tolist(),
    }


def head_params_dict(rec) -> dict:
    h = rec.head
    names = rec.model.expression_names
    return {
        "model": "ICT FaceKit Light (MIT), facesculpt/assets/FACE_MODEL.md",
        "identity": h.identity[0].tolist(),
        "expression": {n: float(w) for n, w in zip(names, h.expression[0])},
        "gaze_rad": {"left": {"yaw": float(h.gaze[0, 0, 0]), "pitch": float(h.gaze[0, 0, 1])},
                     "right": {"yaw": float(h.gaze[0, 1, 0]), "pitch": float(h.gaze[0, 1, 1])}},
        "corrections_cm_max": 0.0 if h.offsets is None else float(h.offsets.abs().max()),
    }


def write_head_outputs(folder: Path, rec, textures: tuple | None = None) -> None:
    """mesh.obj/.mtl/.glb (whole head, fitted expression; GLB with the 53 morph targets and the fitted
    weights), mesh_neutral.obj, the textures, landmarks.json. ``textures``: ``part_textures(rec)`` if made already."""
    folder = Path(folder)
    h = rec.head
    names = list(rec.model.expression_names)
    base = HeadParams(h.identity, torch.zeros_like(h.expression), h.gaze, h.offsets)
    shared = part_textures(rec) if textures is None else textures
    parts = head_parts(rec, base, textures=shared)
    write_head_glb(folder / "mesh.glb", parts, target_names=names, weights=h.expression[0].numpy())
    fitted = head_parts(rec, h, with_morphs=False, textures=shared)
    write_head_obj(folder / "mesh.obj", fitted)
    neutral = head_parts(rec, h.neutral(), with_morphs=False, textures=shared)
    write_head_obj(folder / "mesh_neutral.obj", neutral)
    write_json(folder / "landmarks.json", landmarks_dict(rec))


__all__ = ["head_parts", "part_textures", "write_head_outputs", "landmarks_dict", "head_params_dict", "MATERIALS"]
