"""Look at a reconstruction from the side: the fitted head rendered with its albedo and light, turned about its
centre by a few yaws, side by side in one PNG.

    .venv/bin/python benchmarks/render_turned.py PHOTO OUT.png [--preset default] [--yaws -40 0 40]
        [--set KEY=VALUE ...]

In-view metrics cannot see what the photo shows only at grazing angles (hair or background stretched over the
temples and jaw) or what the albedo keeps that is not skin (glasses frames): a turned render does. Sessions 14
and 15 found the outline slivers and the temples' grazing texels this way (docs/results.md). The turn is the
identity metric's (``identity.fitting.turn_head``), without the head's own shadowing, over grey. Never collected
by pytest.
"""
from __future__ import annotations

import argparse
import math
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("photo")
    ap.add_argument("out", help="PNG to write")
    ap.add_argument("--preset", default="default")
    ap.add_argument("--yaws", nargs="+", type=float, default=[-40.0, 0.0, 40.0])
    ap.add_argument("--size", type=int, default=300, help="side of each view in pixels")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    args = ap.parse_args()

    import numpy as np
    import torch
    from PIL import Image

    import facesculpt
    from facesculpt.cli import _parse_overrides
    from facesculpt.config import make_config
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.identity.fitting import chip_box, turn_head
    from facesculpt.io.image import load_image
    from facesculpt.ops.image import to_uint8
    from facesculpt.render.face import render_face
    from facesculpt.texture.color import to_display

    rec = facesculpt.reconstruct(load_image(args.photo), config=make_config(args.preset, **_parse_overrides(args.set)))
    if rec.head is None:
        print("render_turned: the result has no morphable head (face_model 'ict' only)", file=sys.stderr)
        return 2
    lmk68 = fit_view(load_face_model()).lmk68
    pose, camera, S = rec.params.pose, rec.params.camera, args.size
    views = []
    with torch.no_grad():
        coarse = rec.coarse.detach()
        centre = coarse.mean(dim=1)
        for yaw in args.yaws:
            y = math.radians(yaw)
            verts = turn_head(rec.mesh.verts.detach(), pose, y, 0.0, centre)
            lm_xy = camera.project(pose.apply(turn_head(coarse[:, lmk68], pose, y, 0.0, centre)))
            bx, by, side = chip_box(lm_xy, 0.6)
            cam = camera.crop(bx, by, S / side, (S, S))
            bg = torch.full((1, S, S, 3), 0.5)
            rend = render_face(verts, rec.mesh.faces, rec.mesh.uvs, pose, cam, rec.maps.albedo,
                               rec.params.light.coeffs, background=bg)
            views.append(to_uint8(torch.where(rend.mask[..., None], to_display(rend.image, rec.maps.linear), bg)))
    Image.fromarray(np.concatenate(views, 1)).save(args.out)
    m = rec.metrics
    print(f"{args.out}: yaws {args.yaws}; in-view PSNR {m.get('inview_psnr', float('nan')):.2f} dB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
