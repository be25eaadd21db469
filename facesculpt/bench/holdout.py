"""Held-out completion check on real photos: hide a face region from the fit and the texture,
reconstruct, render the completed albedo with the fitted camera and light, and compare with the
hidden pixels (PSNR, SSIM over the hidden region only). Copying the photo into the texture
cannot score here, because the hidden pixels never reach the texture.

Regions are convex hulls of mediapipe landmarks (indices of the 478-point mesh, via the
topology's iBUG-68 map ``lmk68``), grown by a few per cent of the face size:

* ``cheek``: the subject's right cheek (jaw 1-4, nose wing 31, mouth corner 48, lower eyelid 40-41);
* ``eye``:   the subject's right eye and brow (brow 17-21, eye 36-41).
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageDraw

#: iBUG-68 landmark numbers whose convex hull is each hidden region
REGIONS = {"cheek": (1, 2, 3, 4, 31, 48, 40, 41), "eye": (17, 18, 19, 20, 21, 36, 37, 38, 39, 40, 41)}
#: hull growth, as a fraction of the face size
GROW = 0.04


def region_mask(landmarks, topo, region: str, image_size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool mask of a hidden ``region`` ("cheek" or "eye") from detected ``Landmarks``."""
    from scipy.spatial import ConvexHull

    if region not in REGIONS:
        raise ValueError(f"unknown hold-out region {region!r} (choose from: {', '.join(REGIONS)})")
    idx = topo.lmk68[list(REGIONS[region])].numpy()
    pts = landmarks.points[idx, :2].numpy().astype(np.float64)
    c = pts.mean(0)
    grow = GROW * landmarks.size
    d = pts - c
    pts = pts + d / np.maximum(np.linalg.norm(d, axis=1, keepdims=True), 1e-6) * grow
    hull = pts[ConvexHull(pts).vertices]
    H, W = image_size
    im = Image.new("L", (W, H), 0)
    ImageDraw.Draw(im).polygon([tuple(p) for p in hull], fill=255)
    return np.asarray(im) > 127


def evaluate_holdout(image: np.ndarray, rec, hidden: np.ndarray, topo) -> dict:
    """PSNR/SSIM of the render of ``rec``'s completed albedo against ``image`` over ``hidden`` pixels
    (only those the rendered skin covers). The comparison runs on a crop around the region."""
    from facesculpt.metrics.image import psnr, ssim
    from facesculpt.ops.image import to_tensor
    from facesculpt.render.face import render_face
    from facesculpt.topology import REGION_SKIN

    ys, xs = np.nonzero(hidden)
    if len(ys) == 0:
        return {"pixels": 0, "psnr": float("nan"), "ssim": float("nan")}
    H, W = hidden.shape
    m = 16
    x0, x1 = max(0, xs.min() - m), min(W, xs.max() + m + 1)
    y0, y1 = max(0, ys.min() - m), min(H, ys.max() + m + 1)
    cam = rec.params.camera.crop(float(x0), float(y0), 1.0, (int(y1 - y0), int(x1 - x0)))
    target = to_tensor(np.ascontiguousarray(image[y0:y1, x0:x1]))
    with torch.no_grad():
        rend = render_face(rec.mesh.verts, rec.mesh.faces, rec.mesh.uvs, rec.params.pose, cam,
                           rec.maps.albedo, rec.params.light.coeffs, background=target)
        p2f = rend.frags.pix_to_face
        skin = rend.mask & (topo.dense_face_region[p2f.clamp(min=0)] == REGION_SKIN)
    mask = skin & torch.from_numpy(hidden[y0:y1, x0:x1])[None]
    from facesculpt.texture.color import to_display

    pred = to_display(rend.image, rec.maps.linear).clamp(0, 1)
    return {"pixels": int(mask.sum()), "psnr": psnr(pred, target, mask), "ssim": ssim(pred, target, mask)}
