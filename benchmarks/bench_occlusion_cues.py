"""Can a colour-independent cue tell a pasted hand from the face? (issue 12 item 3, session 5)

For each photo and occluder (``bench.occlusion.occluder``: ``hand``, ``skin_hand``) the photo with the
occluder is reconstructed (``--preset``); the inputs of the occluder mask (``texture.occlusion.
occluder_mask``: the texture crop, the fitted head, light and camera) are captured, the crop is
de-lit as the mask does (photo / shading of the fitted head, linear light), and four per-pixel cues
are computed over the face (the head's pixels, mouth and eye openings out):

* ``colour``: max over channels of |log de-lit - the face's median| (the session-4 colour test);
* ``edge``: gradient magnitude of the smoothed log de-lit image (luminance + 2 x chroma) at 128 px,
  on a 2-pixel band along the occluder's outline vs the face (features out: the occluder's outline
  must be an edge the face does not have);
* ``symmetry``: max over channels of |low-pass log de-lit - the same at the mirror point| (the model's
  mirror map: ``texture.head.texel_mirror_grid``), where the mirror point is seen;
* ``band``: local energy of the band-pass (difference of Gaussians, 1.2 % and 4 % of the crop) of the
  log de-lit luminance, inside the face away from the features.

Prints for each cue the median on the occluder's pixels and the median and 90th percentile on the
other face pixels: a cue separates when the occluder's median lies above the face's 90th percentile.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_occlusion_cues.py facesculpt/assets/grace_hopper.jpg astronaut.png
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch


def _capture():
    """Wrap ``texture.occlusion.occluder_mask`` so that its last call's inputs are kept."""
    import facesculpt.texture.occlusion as occ_mod

    box: dict = {}
    orig = occ_mod.occluder_mask

    def wrapped(photo_srgb, dense, faces, uvs, pose, camera, light, cfg, **kw):
        box.update(photo=photo_srgb.clone(), dense=dense.clone(), faces=faces, uvs=uvs, pose=pose,
                   camera=camera, light=light.clone(), kw=kw)
        return orig(photo_srgb, dense, faces, uvs, pose, camera, light, cfg, **kw)

    occ_mod.occluder_mask = wrapped
    return box


def _crop_of(mask: np.ndarray, x0: float, y0: float, side: float, S: int) -> np.ndarray:
    """(S, S) bool: the photo mask (H, W) at the centres of the square crop (x0, y0, side) at S px."""
    c = (np.arange(S) + 0.5) * side / S
    yi = np.clip((y0 + c).astype(int), 0, mask.shape[0] - 1)
    xi = np.clip((x0 + c).astype(int), 0, mask.shape[1] - 1)
    inside_y = (y0 + c >= 0) & (y0 + c < mask.shape[0])
    inside_x = (x0 + c >= 0) & (x0 + c < mask.shape[1])
    return mask[yi][:, xi] & inside_y[:, None] & inside_x[None]


def cues(c: dict, view) -> dict:
    """The four cue maps (S, S) and the masks they are read over, from captured mask inputs ``c``."""
    import cv2
    from scipy import ndimage

    from facesculpt.ops.sh import AMBIENT_BASIS
    from facesculpt.render.face import render_face
    from facesculpt.render.interpolate import interpolate
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.occlusion import _hulls
    from facesculpt.texture.unwrap import texel_geometry

    with torch.no_grad():
        rend = render_face(c["dense"], c["faces"], c["uvs"], c["pose"], c["camera"], torch.ones(1, 8, 8, 3), c["light"])
        level = (c["light"][:, 0] * AMBIENT_BASIS).mean(-1).clamp(min=1e-4).view(-1, 1, 1, 1)
        delit = (srgb_to_linear(c["photo"]) / torch.maximum(rend.image, 0.15 * level))[0].numpy()
        face = rend.mask & (c["kw"]["face_weight"][rend.frags.pix_to_face.clamp(min=0)] > 0)
        if c["kw"]["valid"] is not None:
            face = face & c["kw"]["valid"].bool()
        face = face[0].numpy()
        S = face.shape[0]
        feat = _hulls(np.asarray(c["kw"]["points_xy"], np.float64), (S, S))[0].numpy()
        la = np.log(np.clip(delit, 1e-3, None))
        out = {"face": face, "feat": feat}
        out["colour"] = np.abs(la - np.median(la[face], 0)).max(-1)
        # edge: at 128 px, luminance + 2 x chroma
        N = 128
        small = cv2.resize(la.astype(np.float32), (N, N), interpolation=cv2.INTER_AREA)
        lum = small.mean(-1)
        g2 = 0
        for ch, w in ((lum, 1.0), (small[..., 0] - lum, 2.0), (small[..., 2] - lum, 2.0)):
            ch = ndimage.gaussian_filter(ch, 1.0)
            g2 = g2 + w * ((ndimage.sobel(ch, 0) / 8) ** 2 + (ndimage.sobel(ch, 1) / 8) ** 2)
        out["edge"] = cv2.resize(np.sqrt(g2).astype(np.float32), (S, S), interpolation=cv2.INTER_LINEAR)
        # symmetry: pixel -> uv -> mirror uv -> pixel of the mirror point
        TS = 256
        grid, gvalid = texel_mirror_grid(view.fill, TS)
        geo = texel_geometry(c["dense"], c["faces"], c["uvs"], c["pose"], c["camera"], TS)
        uvp = interpolate(c["uvs"].float(), rend.frags, c["faces"])
        to_grid = lambda uv: torch.stack([uv[..., 0] * 2 - 1, 1 - 2 * uv[..., 1]], -1)  # noqa: E731 - row = (1 - v) S
        gs = torch.nn.functional.grid_sample
        mir = gs(grid.permute(0, 3, 1, 2), to_grid(uvp), mode="nearest", align_corners=False).permute(0, 2, 3, 1)
        ok = gs(gvalid[:, None].float(), to_grid(uvp), mode="nearest", align_corners=False)[0, 0] > 0.5
        xyp = gs(geo.xy.permute(0, 3, 1, 2), to_grid(mir), mode="bilinear", align_corners=False).permute(0, 2, 3, 1)[0]
        xi = xyp[..., 0].round().long().clamp(0, S - 1)
        yi = xyp[..., 1].round().long().clamp(0, S - 1)
        seen = ((uvp[0, yi, xi] - mir[0]).norm(dim=-1) < 0.01) & ok
        seen = seen.numpy() & face & face[yi.numpy(), xi.numpy()]
        wgt = ndimage.gaussian_filter(face.astype(float), 0.012 * S) + 1e-6
        low = np.stack([ndimage.gaussian_filter(la[..., k] * face, 0.012 * S) / wgt for k in range(3)], -1)
        low_m = cv2.remap(low.astype(np.float32), xyp[..., 0].numpy() - 0.5, xyp[..., 1].numpy() - 0.5,
                          cv2.INTER_LINEAR)
        out["symmetry"] = np.abs(low - low_m).max(-1)
        out["symmetry_seen"] = seen
        # band energy
        lum_full = la.mean(-1)

        def lp(x, s):
            den = ndimage.gaussian_filter(face.astype(float), s * S) + 1e-6
            return ndimage.gaussian_filter(x * face, s * S) / den

        F = lp(lum_full, 0.012) - lp(lum_full, 0.04)
        inner = ndimage.binary_erosion(face, iterations=max(1, int(0.03 * S))) & ~ndimage.binary_dilation(
            feat, iterations=max(1, int(0.02 * S)))
        out["band"] = np.sqrt(ndimage.gaussian_filter(F ** 2 * inner, 0.03 * S)
                              / (ndimage.gaussian_filter(inner.astype(float), 0.03 * S) + 1e-6))
        out["band_inner"] = inner
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--occluders", default="hand,skin_hand")
    args = ap.parse_args()

    from scipy import ndimage

    from facesculpt.bench.occlusion import occluder
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.io.image import load_image
    from facesculpt.pipeline import reconstruct_all

    box = _capture()
    view = fit_view(load_face_model())
    cfg = make_config(args.preset, **{"texture.occlusion.hands.enabled": False})
    print(f"{'photo':<18}{'occluder':<11}{'cue':<10}{'occluder p50':>13}{'face p50':>10}{'face p90':>10}  separates")
    for path in map(Path, args.paths):
        image = load_image(path)
        lmk = detect_faces(image, max_faces=1)[0]
        for kind in args.occluders.split(","):
            img, pasted = occluder(image, lmk, kind)
            rec = reconstruct_all(img, config=cfg, max_faces=1)[0]
            torch.set_grad_enabled(True)
            cm = cues(box, view)
            x0, y0, side, occ = rec.occluded
            S = cm["face"].shape[0]
            hand = _crop_of(pasted, x0, y0, side, S)
            face = cm["face"]
            rows = {"colour": (face & hand, face & ~hand),
                    "edge": (face & ~cm["feat"] & (ndimage.binary_dilation(hand, iterations=2)
                                                   ^ ndimage.binary_erosion(hand, iterations=2)),
                             face & ~cm["feat"] & ~ndimage.binary_dilation(hand, iterations=3)),
                    "symmetry": (cm["symmetry_seen"] & hand, cm["symmetry_seen"] & ~hand),
                    "band": (cm["band_inner"] & hand, cm["band_inner"] & ~hand)}
            for cue, (on, off) in rows.items():
                v = cm[cue]
                if not on.any() or not off.any():
                    continue
                a, (b50, b90) = float(np.median(v[on])), np.percentile(v[off], [50, 90])
                print(f"{path.name[:17]:<18}{kind:<11}{cue:<10}{a:>13.3f}{b50:>10.3f}{b90:>10.3f}  "
                      f"{'yes' if a > b90 else 'no'}", flush=True)


if __name__ == "__main__":
    main()
