"""Did a change move the results? Save a preset's outputs on the bundled photos with one tree,
then compare another tree's outputs with them.

    PYTHONPATH=/path/to/old/tree python benchmarks/compare_outputs.py --preset fast --save /tmp/old.pt
    python benchmarks/compare_outputs.py --preset fast --against /tmp/old.pt [--large]

Photos: grace_hopper and scikit-image's astronaut, or with ``--large`` the 12 MP canvas of
``bench_pipeline.py``. Saved per photo: the face albedo and texture maps, the head tile, the fitted
vertices and light, the detail displacement (``full``) and the float metrics. Prints, per output,
"equal" or the largest absolute difference and how many texels change in 8 bits. Never collected by pytest.
"""
from __future__ import annotations

import argparse
import os
import sys


def _photos(large: bool) -> dict:
    import numpy as np
    from PIL import Image
    from skimage import data

    import facesculpt
    from facesculpt.io.image import load_image

    gh = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
    if not large:
        return {"grace_hopper": gh, "astronaut": np.ascontiguousarray(data.astronaut())}
    canvas = np.full((3000, 4000, 3), 180, np.uint8)
    canvas[600:2400, 1200:2736] = np.asarray(Image.fromarray(gh).resize((1536, 1800), Image.BICUBIC))
    return {"large_12mp": canvas}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--large", action="store_true")
    ap.add_argument("--save")
    ap.add_argument("--against")
    args = ap.parse_args()
    os.environ.setdefault("GLOG_minloglevel", "2")
    import torch

    import facesculpt

    out = {}
    for name, img in _photos(args.large).items():
        rec = facesculpt.reconstruct(img, preset=args.preset)
        out[name] = {"albedo": rec.maps.albedo, "texture": rec.maps.texture, "head_tile": rec.textures["head"],
                     "verts": rec.mesh.verts.detach(), "light": rec.params.light.coeffs.detach(),
                     "displacement": rec.detail.displacement if rec.detail is not None else torch.zeros(1),
                     "metrics": {k: v for k, v in rec.metrics.items() if isinstance(v, float)}}
    print(f"package: {facesculpt.__file__}")
    if args.save:
        torch.save(out, args.save)
    if not args.against:
        return 0
    ref = torch.load(args.against, weights_only=False)
    moved = False
    for photo, items in ref.items():
        for key, a in items.items():
            b = out[photo][key]
            if key == "metrics":
                diff = {m: (v, b.get(m)) for m, v in a.items() if v != b.get(m)}
                print(f"{photo} metrics: {'equal' if not diff else diff}")
                moved |= bool(diff)
            elif torch.equal(a, b):
                print(f"{photo} {key}: equal")
            else:
                moved = True
                u8 = ((a * 255 + 0.5).floor() != (b * 255 + 0.5).floor()).any(-1).sum() if a.dim() == 4 else "-"
                print(f"{photo} {key}: max |diff| {(a - b).abs().max().item():.3g}, 8-bit texels changed {int(u8) if u8 != '-' else u8}")
    print("some outputs moved" if moved else "all outputs equal")
    return 0


if __name__ == "__main__":
    sys.exit(main())
