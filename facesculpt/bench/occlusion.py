"""`facesculpt benchmark occlusion PATH...`: are pasted occluders kept out of the albedo?

Each photo is reconstructed clean, then with an occluder pasted over the face (``OCCLUDERS``):

* ``bar``: a dark bar across the eyes (a glasses frame / hair strand, exaggerated);
* ``hand``: a hand-shaped blob (palm and four fingers) in a skin tone over the chin and cheek;
* ``patch``: a textured square cut from a non-face corner of the same photo, over a cheek;
* ``skin_hand``: a hand at the chin (a palm, four finger capsules and a thumb) in the face's own skin
  colour (the median of the photo's mid-face), shaded as a 3D hand under a light from the upper right,
  with fine skin noise, anti-aliased edges and a soft cast shadow beside it on the face: a colour test
  cannot tell it from skin (``hand`` is the older flat-coloured blob, kept for comparison);
* ``glasses``: a pair of dark brown frames (rounded lenses around the eyes, a bridge, the arms to the
  face's sides), rims 0.04 x the eye distance wide with anti-aliased edges and a thin highlight; the lenses
  clear (``texture.glasses`` looks for such frames).

The occluded run's albedo is compared with the clean run's albedo *of today's pipeline*
(``texture.occlusion.enabled=False``: the photo's albedo as before this benchmark's mask) over the
UV texels the occluder covers (texels of the clean fit that were seen and whose photo position
the occluder covers): PSNR and SSIM of the 8-bit sRGB albedo, with the occluder mask on and off
(and, when the hand landmarker is on, ``colour``: the mask without it, as in session 4). The
albedos are written beside ``results.json`` (``albedo_<photo>_<occluder>_<on|off|colour>.png``).
``psnr_gain_*``: the same PSNR after one gain per channel fitted on the seen texels outside the
occluded region (an occluder moves the whole albedo's tone through the light fit and the landmarks;
this keeps the region's own error). ``--oracle`` adds the clean photo reconstructed with the
occluder's pixels given as invalid (a perfect mask): what any mask could reach with today's
completion.
``clean_psnr`` (mask on vs off on the clean photo, over all seen face texels) is what the mask
costs where nothing occludes the face (its false positives).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

OCCLUDERS = ("bar", "hand", "patch", "skin_hand", "glasses")


def _box(landmarks) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = [float(v) for v in landmarks.bbox.tolist()]
    return x0, y0, x1 - x0, y1 - y0


def _capsule(yy, xx, p, q, r) -> np.ndarray:
    """(H, W) bool pixels within ``r`` of the segment p-q (x, y)."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    d = q - p
    t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(float(d @ d), 1e-9), 0, 1)
    return (xx - (p[0] + t * d[0])) ** 2 + (yy - (p[1] + t * d[1])) ** 2 <= r * r


def _ellipse_sdf(xx, yy, c, a, b):
    """Approximate signed distance (pixels, < 0 inside) to the axis-aligned ellipse (c, a, b), and
    the ellipsoid's view-facing normal (H, W, 3) over it."""
    u, v = (xx - c[0]) / a, (yy - c[1]) / b
    q = np.sqrt(u * u + v * v)
    nz = np.sqrt(np.clip(1 - q * q, 0, 1))
    return (q - 1) * min(a, b), np.stack([u * (q <= 1), v * (q <= 1), nz], -1)


def _capsule_sdf(xx, yy, p, q, r):
    """Signed distance (pixels, < 0 inside) to the capsule p-q of radius ``r``, and a cylinder's
    normal (H, W, 3) over it."""
    p, q = np.asarray(p, float), np.asarray(q, float)
    d = q - p
    t = np.clip(((xx - p[0]) * d[0] + (yy - p[1]) * d[1]) / max(float(d @ d), 1e-9), 0, 1)
    ox, oy = (xx - (p[0] + t * d[0])) / r, (yy - (p[1] + t * d[1])) / r
    dist = np.sqrt(ox * ox + oy * oy)
    nz = np.sqrt(np.clip(1 - dist * dist, 0, 1))
    return (dist - 1) * r, np.stack([ox * (dist <= 1), oy * (dist <= 1), nz], -1)


def _skin_hand(image: np.ndarray, box, yy, xx) -> tuple[np.ndarray, np.ndarray]:
    """(image with the ``skin_hand`` occluder (H, W, 3) float, its mask (H, W) bool)."""
    from scipy import ndimage

    x0, y0, w, h = box
    H, W = image.shape[:2]
    img = image.astype(np.float64)
    ys, ye = int(np.clip(y0 + 0.45 * h, 0, H - 1)), int(np.clip(y0 + 0.72 * h, 1, H))
    xs, xe = int(np.clip(x0 + 0.2 * w, 0, W - 1)), int(np.clip(x0 + 0.8 * w, 1, W))
    skin = np.median(img[ys:ye, xs:xe].reshape(-1, 3), 0)  # the face's own colour: no colour cue
    # parts from back to front: palm (ellipsoid), four fingers and a thumb (cylinders)
    c = np.array([x0 + 0.26 * w, y0 + 0.94 * h])
    parts = [_ellipse_sdf(xx, yy, c, 0.2 * w, 0.17 * w)]
    r = 0.045 * w
    for i, (ang, ln) in enumerate(((-0.42, 0.30), (-0.16, 0.36), (0.1, 0.35), (0.34, 0.29))):
        base = c + w * np.array([-0.13 + 0.085 * i, -0.1])
        tip = base + ln * w * np.array([np.sin(ang), -np.cos(ang)])
        parts.append(_capsule_sdf(xx, yy, base, tip, r))
    parts.append(_capsule_sdf(xx, yy, c + w * np.array([0.12, 0.02]), c + w * np.array([0.33, -0.07]), 1.1 * r))
    sdf = np.full((H, W), np.inf)
    normal = np.zeros((H, W, 3))
    normal[..., 2] = 1
    for d, n in parts:  # the front-most part that covers a pixel gives its normal
        normal[d < 0] = n[d < 0]
        sdf = np.minimum(sdf, d)
    light = np.array([0.35, -0.45, 0.82])
    light /= np.linalg.norm(light)
    shade = 0.3 + 0.7 * np.clip(normal @ light, 0, 1)
    shade = ndimage.gaussian_filter(shade, 0.6) / 0.85
    noise = 1 + 0.03 * ndimage.gaussian_filter(np.random.default_rng(7).standard_normal((H, W)), 1.0) / 0.28
    hand = skin * (shade * noise)[..., None]
    alpha = np.clip(0.5 - sdf, 0, 1)[..., None]  # one pixel of anti-aliasing
    # a soft cast shadow on the face, down-left of the hand
    shift = ndimage.shift(alpha[..., 0], (0.04 * w, -0.03 * w), order=1, cval=0.0)
    shadow = 1 - 0.3 * ndimage.gaussian_filter(shift, 0.015 * w)
    out = img * shadow[..., None] * (1 - alpha) + hand * alpha
    return out, alpha[..., 0] >= 0.5


def _glasses(image: np.ndarray, points: np.ndarray, box, yy, xx) -> tuple[np.ndarray, np.ndarray]:
    """(image with the ``glasses`` occluder (H, W, 3) float, its mask (H, W) bool); points: mediapipe's
    (N, >=2) face points in pixels."""
    eyes = [points[[33, 133], :2].mean(0), points[[362, 263], :2].mean(0)]
    d = float(np.linalg.norm(eyes[1] - eyes[0]))
    w = 0.04 * d
    dist = np.full(xx.shape, np.inf)
    for e, outward in zip(eyes, (-1.0, 1.0)):
        c = e + np.array([0.0, 0.06 * d])
        a, b = 0.36 * d, 0.27 * d
        u, v = (xx - c[0]) / a, (yy - c[1]) / b
        q = (np.abs(u) ** 4 + np.abs(v) ** 4) ** 0.25  # a rounded rectangle
        dist = np.minimum(dist, np.abs(q - 1) * min(a, b))
        top = c[1] - 0.7 * b
        side = box[0] if outward < 0 else box[0] + box[2]
        arm0 = np.array([c[0] + outward * a, top])
        arm1 = np.array([side + outward * 0.02 * box[2], top + 0.05 * d])
        t = np.clip(((xx - arm0[0]) * (arm1 - arm0)[0] + (yy - arm0[1]) * (arm1 - arm0)[1])
                    / max(float((arm1 - arm0) @ (arm1 - arm0)), 1e-9), 0, 1)
        dist = np.minimum(dist, np.hypot(xx - (arm0[0] + t * (arm1 - arm0)[0]), yy - (arm0[1] + t * (arm1 - arm0)[1]))
                          - 0.5 * w)
    inner = [eyes[0] + np.array([0.36 * d, 0.06 * d - 0.1 * d]), eyes[1] + np.array([-0.36 * d, 0.06 * d - 0.1 * d])]
    t = np.clip((xx - inner[0][0]) / max(inner[1][0] - inner[0][0], 1e-9), 0, 1)
    bridge_y = inner[0][1] - 0.08 * d * np.sin(np.pi * t)
    dist = np.minimum(dist, np.where((xx >= inner[0][0]) & (xx <= inner[1][0]), np.abs(yy - bridge_y), np.inf))
    alpha = np.clip(0.5 * w - dist + 0.5, 0, 1)[..., None]
    frame = np.array([52.0, 36.0, 28.0])
    shine = np.clip(1 - np.abs(dist + 0.25 * w) / (0.15 * w + 0.5), 0, 1)[..., None] * 70.0
    out = image.astype(np.float64) * (1 - alpha) + (frame + shine) * alpha
    return out, alpha[..., 0] >= 0.5


def occluder(image: np.ndarray, landmarks, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """(occluded image (H, W, 3) uint8, mask (H, W) bool) of ``kind`` (``OCCLUDERS``) pasted on
    ``image`` (H, W, 3) uint8 at the face of ``landmarks``. Deterministic."""
    if kind not in OCCLUDERS:
        raise ValueError(f"unknown occluder {kind!r} (choose from: {', '.join(OCCLUDERS)})")
    H, W = image.shape[:2]
    x0, y0, w, h = _box(landmarks)
    yy, xx = np.mgrid[0:H, 0:W].astype(np.float64)
    out = image.astype(np.float64).copy()
    if kind == "bar":
        yc = y0 + 0.36 * h
        mask = (np.abs(yy - yc) <= 0.045 * h) & (xx >= x0 + 0.05 * w) & (xx <= x0 + 0.95 * w)
        fill = np.broadcast_to(np.array([28.0, 24.0, 22.0]), out.shape)
    elif kind == "hand":
        c = np.array([x0 + 0.32 * w, y0 + 0.92 * h])
        s = 0.36 * w
        mask = ((xx - c[0]) / (0.55 * s)) ** 2 + ((yy - c[1]) / (0.45 * s)) ** 2 <= 1.0
        for i, ang in enumerate((-0.55, -0.2, 0.15, 0.5)):
            base = c + s * np.array([0.25 * np.sin(ang) + 0.1 * (i - 1.5), -0.3])
            tip = base + s * np.array([0.9 * np.sin(ang), -0.95 * np.cos(ang)]) * (0.85 if i in (0, 3) else 1.0)
            mask |= _capsule(yy, xx, base, tip, 0.09 * s)
        shade = 0.75 + 0.35 * np.clip((xx - (c[0] - s)) / (2 * s), 0, 1)
        fill = np.stack([205.0 * shade, 150.0 * shade, 125.0 * shade], -1)
    elif kind == "skin_hand":
        out, mask = _skin_hand(image, (x0, y0, w, h), yy, xx)
        return np.clip(out, 0, 255).round().astype(np.uint8), mask
    elif kind == "glasses":
        out, mask = _glasses(image, landmarks.points.numpy(), (x0, y0, w, h), yy, xx)
        return np.clip(out, 0, 255).round().astype(np.uint8), mask
    else:
        side = int(round(0.3 * w))
        best, src = -1.0, (0, 0)
        for cy, cx in ((0, 0), (0, W - side), (H - side, 0), (H - side, W - side)):
            cand = image[cy:cy + side, cx:cx + side].astype(np.float64)
            if cand.shape[:2] == (side, side) and cand.std() > best:
                best, src = cand.std(), (cy, cx)
        px, py = int(round(x0 + 0.62 * w)), int(round(y0 + 0.5 * h))
        mask = np.zeros((H, W), bool)
        mask[py:py + side, px:px + side] = True
        fill = np.zeros_like(out)
        ph, pw = min(side, H - py), min(side, W - px)
        fill[py:py + ph, px:px + pw] = image[src[0]:src[0] + ph, src[1]:src[1] + pw]
    out[mask] = np.asarray(fill)[mask]
    return np.clip(out, 0, 255).round().astype(np.uint8), mask


def covered_texels(rec, mask: np.ndarray) -> torch.Tensor:
    """(1, S, S) bool face-chart texels that ``rec`` saw (visibility > 0.5) and whose photo position
    lies in ``mask`` (H, W) bool."""
    from facesculpt.ops.image import sample_pixels
    from facesculpt.texture.unwrap import texel_geometry

    S = rec.maps.albedo.shape[1]
    geo = texel_geometry(rec.mesh.verts, rec.mesh.faces, rec.mesh.uvs, rec.params.pose, rec.params.camera, S)
    m = torch.from_numpy(mask.astype(np.float32))[None, ..., None]
    cov = sample_pixels(m, geo.xy)[..., 0] > 0.5
    return cov & geo.inside & (rec.maps.visibility > 0.5)


def albedo_srgb8(rec) -> torch.Tensor:
    """(1, S, S, 3) the face-chart albedo as the exported 8-bit sRGB values (0-1 floats)."""
    from facesculpt.texture.color import linear_to_srgb

    a = rec.maps.albedo
    if getattr(rec.maps, "linear", False):
        a = linear_to_srgb(a)
    return (a.clamp(0, 1) * 255).round() / 255


def compare(a: torch.Tensor, b: torch.Tensor, region: torch.Tensor, gain_region: torch.Tensor | None = None) -> dict:
    """PSNR (dB) and SSIM of albedos ``a``, ``b`` (1, S, S, 3) over ``region`` (1, S, S) bool. With
    ``gain_region`` (1, S, S) bool, also ``psnr_gain``: the PSNR after one gain per channel of ``a``
    fitted to ``b`` (least squares) over ``gain_region`` (the unoccluded skin): what is left when the
    whole albedo's tone, which an occluder moves through the light fit, is set aside."""
    from facesculpt.metrics import psnr, ssim

    if int(region.sum()) == 0:
        return {"psnr": float("nan"), "ssim": float("nan"), "psnr_gain": float("nan"), "texels": 0}
    out = {"psnr": psnr(a, b, region), "ssim": ssim(a, b, region), "texels": int(region.sum())}
    if gain_region is not None and int(gain_region.sum()) > 0:
        av, bv = a[gain_region].double(), b[gain_region].double()
        gain = ((av * bv).sum(0) / (av * av).sum(0).clamp(min=1e-12)).to(a.dtype)
        out["psnr_gain"] = psnr((a * gain).clamp(0, 1), b, region)
    return out


def _save_albedo(path: Path, rec) -> None:
    """The face-chart albedo of ``rec`` as an 8-bit sRGB PNG (to look at by eye)."""
    from PIL import Image

    Image.fromarray((albedo_srgb8(rec)[0].numpy() * 255).round().astype(np.uint8)).save(path)


def _fmt(v, spec=".2f") -> str:
    return "nan" if v != v else format(v, spec)


def cmd_occlusion(args) -> int:
    from dataclasses import replace

    from facesculpt.bench.cli import EXIT_FAILED, EXIT_USAGE, _config_or_report, _entry_photo, _note_failure
    from facesculpt.detect import detect_faces
    from facesculpt.io.atomic import write_json
    from facesculpt.io.discover import find_images
    from facesculpt.pipeline import reconstruct_all

    kinds = [k.strip() for k in args.occluders.split(",") if k.strip()]
    bad = [k for k in kinds if k not in OCCLUDERS]
    if bad or not kinds:
        print(f"error: unknown occluder(s) {', '.join(bad) or '(none)'} (choose from: {', '.join(OCCLUDERS)})",
              file=sys.stderr)
        return EXIT_USAGE
    cfg = _config_or_report(args)
    if cfg is None:
        return EXIT_USAGE
    occ_cfg = cfg.texture.occlusion
    cfgs = {"on": replace(cfg, texture=replace(cfg.texture, occlusion=replace(occ_cfg, enabled=True))),
            "off": replace(cfg, texture=replace(cfg.texture, occlusion=replace(occ_cfg, enabled=False)))}
    if occ_cfg.hands.enabled:  # the session-4 mask (colour test alone, no hand landmarker), for comparison
        cfgs["colour"] = replace(cfg, texture=replace(cfg.texture, occlusion=replace(
            occ_cfg, enabled=True, hands=replace(occ_cfg.hands, enabled=False))))
    out = Path(args.output)
    entries = find_images(args.paths, exclude=[out])
    if not entries:
        print("error: no images found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    rows, failures, clean_rows = [], [], []
    out.mkdir(parents=True, exist_ok=True)
    print(f"{'image':<24}{'occluder':<10}{'texels':>7}{'PSNR off':>9}{'colour':>8}{'PSNR on':>8}{'SSIM off':>9}"
          f"{'SSIM on':>8}{'flagged':>8}{'time s':>8}")
    for entry in entries:
        path = Path(entry[0] if isinstance(entry, tuple) else entry)
        try:
            path, image = _entry_photo(entry)
            lmk = detect_faces(image, max_faces=1, min_face_size=cfg.min_face_size,
                               detection_max_side=cfg.detection_max_side, name=path.name)[0]
            clean = {k: reconstruct_all(image, config=c, max_faces=1, name=path.name)[0] for k, c in cfgs.items()
                     if k != "colour"}
            _save_albedo(out / f"albedo_{path.stem}_clean_off.png", clean["off"])
            torch.set_grad_enabled(True)
            ref = albedo_srgb8(clean["off"])
            seen = clean["off"].maps.visibility > 0.5
            cc = compare(albedo_srgb8(clean["on"]), ref, seen)
            clean_rows.append({"image": str(path), "clean_psnr": cc["psnr"], "clean_ssim": cc["ssim"],
                               "fraction_flagged": clean["on"].losses.get("occlusion", {}).get("fraction")})
            for kind in kinds:
                t0 = time.perf_counter()
                occ_image, mask = occluder(image, lmk, kind)
                region = covered_texels(clean["off"], mask)
                row = {"image": str(path), "occluder": kind, "pixels": int(mask.sum())}
                for k, c in cfgs.items():
                    rec = reconstruct_all(occ_image, config=c, max_faces=1, name=path.name)[0]
                    torch.set_grad_enabled(True)
                    m = compare(albedo_srgb8(rec), ref, region, seen & ~region)
                    if "psnr_gain" in m:
                        row[f"psnr_gain_{k}"] = m["psnr_gain"]
                    _save_albedo(out / f"albedo_{path.stem}_{kind}_{k}.png", rec)
                    row.update({f"psnr_{k}": m["psnr"], f"ssim_{k}": m["ssim"], "texels": m["texels"]})
                    if k == "on":
                        row["fraction_flagged"] = rec.losses.get("occlusion", {}).get("fraction")
                        row["hands"] = rec.losses.get("hands", {}).get("count")
                if getattr(args, "oracle", False):  # the clean photo with the pasted region as the user's mask:
                    # what a perfect mask could give with this completion (the ceiling of any mask)
                    rec = reconstruct_all(image, config=cfgs["off"], max_faces=1, name=path.name, valid_mask=~mask)[0]
                    torch.set_grad_enabled(True)
                    m = compare(albedo_srgb8(rec), ref, region, seen & ~region)
                    row.update({"psnr_oracle": m["psnr"], "ssim_oracle": m["ssim"], "psnr_gain_oracle": m["psnr_gain"]})
                row["seconds"] = time.perf_counter() - t0
                rows.append(row)
                print(f"{path.name[:23]:<24}{kind:<10}{row['texels']:>7}{_fmt(row['psnr_off']):>9}"
                      f"{_fmt(row.get('psnr_colour', float('nan'))):>8}{_fmt(row['psnr_on']):>8}"
                      f"{_fmt(row['ssim_off'], '.3f'):>9}{_fmt(row['ssim_on'], '.3f'):>8}"
                      f"{_fmt(row['fraction_flagged'] or 0.0, '.3f'):>8}{row['seconds']:>8.1f}"
                      + f"   gain-matched off {_fmt(row['psnr_gain_off'])} on {_fmt(row['psnr_gain_on'])}"
                      + (f"   oracle {_fmt(row['psnr_oracle'])} ({_fmt(row['psnr_gain_oracle'])})"
                         if "psnr_oracle" in row else ""), flush=True)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # one line, and the batch goes on
            _note_failure(path, e, failures)

    def mean(rr, key):
        vals = [r[key] for r in rr if r[key] == r[key]]
        return float(np.mean(vals)) if vals else float("nan")

    summary = {}
    for kind in kinds + ["all"]:
        rr = [r for r in rows if (kind == "all" or r["occluder"] == kind) and r["texels"] > 0]
        keys = ("psnr_off", "psnr_on", "ssim_off", "ssim_on") + (("psnr_colour", "ssim_colour") if "colour" in cfgs
                                                                   else ())
        keys += ("psnr_gain_off", "psnr_gain_on") + (("psnr_gain_colour",) if "colour" in cfgs else ())
        keys += ("psnr_oracle", "ssim_oracle", "psnr_gain_oracle") if getattr(args, "oracle", False) else ()
        summary[kind] = {k: mean(rr, k) for k in keys}
        summary[kind]["gain_db"] = summary[kind]["psnr_on"] - summary[kind]["psnr_off"]
        summary[kind]["n"] = len(rr)
    summary["clean"] = {"psnr": mean(clean_rows, "clean_psnr"), "ssim": mean(clean_rows, "clean_ssim"),
                        "n": len(clean_rows)}
    write_json(out / "results.json", {"summary": summary, "rows": rows, "clean": clean_rows, "failures": failures,
                                      "settings": {"preset": cfg.name, "occluders": kinds}})
    for kind in kinds + ["all"]:
        s = summary[kind]
        print(f"{'mean':<24}{kind:<10}{'':>7}{_fmt(s['psnr_off']):>9}{_fmt(s.get('psnr_colour', float('nan'))):>8}"
              f"{_fmt(s['psnr_on']):>8}{_fmt(s['ssim_off'], '.3f'):>9}{_fmt(s['ssim_on'], '.3f'):>8}"
              f"   gain {_fmt(s['gain_db'])} dB; gain-matched off {_fmt(s['psnr_gain_off'])} on "
              f"{_fmt(s['psnr_gain_on'])}"
              + (f"; oracle {_fmt(s['psnr_oracle'])} ({_fmt(s['psnr_gain_oracle'])})" if "psnr_oracle" in s else ""))
    print(f"clean photos, mask on vs off (all seen texels): PSNR {_fmt(summary['clean']['psnr'])} dB, "
          f"SSIM {_fmt(summary['clean']['ssim'], '.3f')}")
    print(f"results: {out / 'results.json'}" + (f"; {len(failures)} image(s) failed" if failures else ""))
    return EXIT_FAILED if failures or not rows else 0


def register(bs, common) -> None:
    """Add ``benchmark occlusion`` to the benchmark sub-parsers ``bs``."""
    o = bs.add_parser("occlusion", help="paste occluders on face photos; compare the occluded region's albedo "
                                        "with the clean photo's, occluder mask on and off")
    o.add_argument("paths", nargs="+", help="image files and folders")
    o.add_argument("--occluders", default=",".join(OCCLUDERS), help=f"comma list from: {', '.join(OCCLUDERS)}")
    o.add_argument("--oracle", action="store_true",
                   help="also reconstruct the clean photo with the occluder's pixels given as invalid (a perfect "
                        "mask): the ceiling of any occluder mask with this completion")
    common(o)
    o.set_defaults(func=cmd_occlusion)


__all__ = ["OCCLUDERS", "occluder", "covered_texels", "albedo_srgb8", "compare", "cmd_occlusion", "register"]
