"""Identity metrics: does the reconstruction still look like the person in the photo?

Euclidean distance between dlib face-recognition embeddings (same person below 0.6,
``SAME_PERSON_THRESHOLD``) of

* the photo — a chip cut from the photo with the detected landmarks, as dlib's
  ``get_face_chip`` cuts it;
* renders of the reconstruction (``rec.mesh`` with ``rec.maps.albedo``, the fitted camera,
  pose and SH light): in view, and with the head turned about its centre by -30 / +30 deg
  of yaw in the camera frame (positive: the face turns to the image's right, the subject's
  left), lit by the same fitted light (the light lives in the view frame, so it stays put).

Renders are drawn over a uniform grey, not over the photo: over the photo, the hair,
ears, clothes and background around the face are the photo's own pixels and would carry a
large part of the identity into the render's chip (any face pasted into the photo scores
well), and the in-view and turned renders would not be comparable. The in-view render over
the photo is reported as well (``identity_distance_inview_over_photo``), as that is what
the fit's identity term sees. A render's chip is cut with the render's own projected 68
landmarks (as a recogniser that detects the landmarks on the render would cut it); each
render covers a square around its chip at ``RENDER_SIZE`` pixels.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.errors import InvalidImageError

#: side (pixels) of the square render around a render's face chip
RENDER_SIZE = 160
#: grey level of the renders' background
BACKGROUND = 0.5
#: chip padding (dlib's default)
PADDING = 0.25


def _as_image(image: np.ndarray) -> np.ndarray:
    a = np.asarray(image)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise InvalidImageError(f"image: expected (H, W, 3) uint8 RGB, got {a.shape} {a.dtype}")
    return a


def photo_embedding(image: np.ndarray, landmarks68: torch.Tensor) -> torch.Tensor:
    """(128,) embedding of the face chip cut from ``image`` (H, W, 3) uint8 with the 68 landmarks
    (68, 2) in facesculpt pixels (centres at +0.5), as dlib's get_face_chip + recogniser do.

    Only a window around the chip is converted to float (large photos stay cheap); the chip
    is the one ``cut_chips`` gives on the whole photo away from the image border.
    """
    from facesculpt.identity import embed

    with torch.no_grad():
        return embed(photo_chip(image, landmarks68))[0]


def photo_chip(image: np.ndarray, landmarks68: torch.Tensor) -> torch.Tensor:
    """(1, 3, 150, 150) the face chip ``photo_embedding`` embeds (a batch of chips goes through the recogniser in
    one pass: two chips cost about what one does on this 2-core CPU)."""
    from facesculpt.identity import cut_chips
    from facesculpt.identity.fitting import DLIB_PIXEL_OFFSET, chip_box

    img = _as_image(image)
    check_shape("landmarks68", landmarks68, (68, 2))
    lm = landmarks68.detach().to(torch.float32)[None]
    H, W = img.shape[:2]
    bx, by, side = chip_box(lm, PADDING, margin=1.0)
    grow = 0.25 * side + 16
    x0, y0 = max(0, int(math.floor(bx - grow))), max(0, int(math.floor(by - grow)))
    x1, y1 = min(W, int(math.ceil(bx + side + grow))), min(H, int(math.ceil(by + side + grow)))
    if x1 - x0 < 9 or y1 - y0 < 9:
        raise InvalidImageError("the face's landmarks lie outside the image")
    # np.array copies: the photo may be read-only (torch warns on non-writable arrays)
    win = torch.from_numpy(np.array(img[y0:y1, x0:x1])).permute(2, 0, 1)[None].float() / 255.0
    lm_win = lm - torch.tensor([x0, y0], dtype=lm.dtype) - DLIB_PIXEL_OFFSET
    with torch.no_grad():
        return cut_chips(win, lm_win, 150, PADDING)


def render_embedding(rec, topo, yaw_deg: float = 0.0, *, pitch_deg: float = 0.0, image: np.ndarray | None = None,
                     return_chip: bool = False):
    """(128,) embedding of ``rec`` rendered with its fitted camera, pose and light, the head
    turned by ``yaw_deg`` and ``pitch_deg`` (positive tilts the face up) about its centre
    (camera frame, as ``turn_head``), over grey — or over ``image``
    (the photo, (H, W, 3) uint8) when given. With ``return_chip`` also the (150, 150, 3)
    uint8 chip."""
    from facesculpt.identity import cut_chips, embed
    from facesculpt.identity.fitting import DLIB_PIXEL_OFFSET, chip_box, turn_head
    from facesculpt.ops.image import crop_resize, to_tensor, to_uint8
    from facesculpt.render.face import render_face

    pose, camera = rec.params.pose, rec.params.camera
    with torch.no_grad():
        coarse = rec.coarse.detach()
        centre = coarse.mean(dim=1)
        yaw, pitch = math.radians(yaw_deg), math.radians(pitch_deg)
        verts = turn_head(rec.mesh.verts.detach(), pose, yaw, pitch, centre)
        lm3 = turn_head(coarse[:, topo.lmk68], pose, yaw, pitch, centre)
        lm_xy = camera.project(pose.apply(lm3))                              # (1, 68, 2) photo pixels
        bx, by, side = chip_box(lm_xy, PADDING)
        S = RENDER_SIZE
        cam = camera.crop(bx, by, S / side, (S, S))
        if image is None:
            bg = torch.full((1, S, S, 3), BACKGROUND)
        else:
            bg = to_tensor(crop_resize(_as_image(image), bx, by, side, S))
        # the head's own shadowing (``rec.vis_transfer``, view frame) turns with the head
        occ = rec.vis_transfer
        if occ is not None and (yaw_deg != 0.0 or pitch_deg != 0.0):
            from facesculpt.identity.fitting import head_turn_view
            from facesculpt.render.visibility import turn_transfer

            occ = turn_transfer(occ, head_turn_view(yaw, pitch))
        rend = render_face(verts, rec.mesh.faces, rec.mesh.uvs, pose, cam, rec.maps.albedo,
                           rec.params.light.coeffs, background=bg, occluded=occ)
        from facesculpt.texture.color import to_display

        img = torch.where(rend.mask[..., None], to_display(rend.image, rec.maps.linear), bg)
        lm = (lm_xy - lm_xy.new_tensor([bx, by])) * (S / side) - DLIB_PIXEL_OFFSET
        chip = cut_chips(img.clamp(0, 1).permute(0, 3, 1, 2), lm, 150, PADDING)
        emb = embed(chip)[0]
    if return_chip:
        return emb, to_uint8(chip.permute(0, 2, 3, 1))
    return emb


def identity_metrics(image: np.ndarray, rec, topo) -> dict:
    """Identity distances between the photo and renders of its reconstruction.

    image: (H, W, 3) uint8 — the photo ``rec`` was fitted to; rec: a pipeline
    ``Reconstruction``; topo: its Topology. Returns floats
    ``identity_distance_inview``, ``identity_distance_yaw_minus30``,
    ``identity_distance_yaw_plus30``, ``identity_distance_inview_over_photo`` and the bool
    ``identity_same_person_inview`` (in-view distance below dlib's 0.6).
    """
    from facesculpt.identity import SAME_PERSON_THRESHOLD

    img = _as_image(image)
    e_photo = photo_embedding(img, rec.landmarks.points[topo.lmk68, :2])

    def dist(e: torch.Tensor) -> float:
        return float(torch.linalg.vector_norm(e - e_photo))

    d0 = dist(render_embedding(rec, topo, 0.0))
    return {
        "identity_distance_inview": d0,
        "identity_distance_yaw_minus30": dist(render_embedding(rec, topo, -30.0)),
        "identity_distance_yaw_plus30": dist(render_embedding(rec, topo, 30.0)),
        "identity_distance_inview_over_photo": dist(render_embedding(rec, topo, 0.0, image=img)),
        "identity_same_person_inview": bool(d0 < SAME_PERSON_THRESHOLD),
    }


__all__ = ["identity_metrics", "photo_embedding", "render_embedding", "RENDER_SIZE"]
