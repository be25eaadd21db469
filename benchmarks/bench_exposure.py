"""Exposure out of the albedo, on real photos (issue 12, item 1): the same photo at other exposures.

Each photo is decoded to linear light, multiplied by k (0.6, 1.3, 1.6 by default) and encoded back to 8-bit sRGB with
the clip a camera would apply; each version is reconstructed and its exported albedo (``albedo.png`` decoded, as a
user relights it) is compared with the unchanged photo's over the face chart's skin texels both saw. Exposure belongs
to the light, so the ideal albedo does not move: printed per photo and k are the mean absolute difference (per cent of
the reference's mean, no scale fitted), the level ratio (mean albedo over the reference's; 1 is ideal, k means the
whole exposure went into the albedo), the share of the exposure change the albedo took (log level / log k), whether
the whites of the eyes were read (``texture.sclera``; without them only the skin prior splits albedo from light)
and the share of the photo's pixels with a clipped channel.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_exposure.py [PHOTO ...] [--preset fast] [--factors 0.6,1.3,1.6]
        [--set KEY=VALUE ...]

Without photos: the bundled grace_hopper and scikit-image's astronaut. Never collected by pytest.
"""
from __future__ import annotations

import argparse
import math
import os
import sys


def main() -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="*", help="photos (default: grace_hopper and the astronaut)")
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--factors", default="0.6,1.3,1.6", help="comma list of exposure factors (linear light)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    a = ap.parse_args()

    import numpy as np
    import torch

    import facesculpt
    from facesculpt.bench.relight import _resize, exported_albedo, face_skin_texels
    from facesculpt.cli import _parse_overrides
    from facesculpt.config import make_config
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.image import load_image
    from facesculpt.texture.clipping import seen_confidence
    from facesculpt.texture.color import linear_to_srgb, srgb_to_linear

    cfg = make_config(a.preset, **_parse_overrides(a.set))
    factors = [float(x) for x in a.factors.split(",") if x.strip()]
    if a.paths:
        photos = {os.path.basename(p): load_image(p) for p in a.paths}
    else:
        from skimage import data

        photos = {"grace_hopper": load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets",
                                                          "grace_hopper.jpg")),
                  "astronaut": np.ascontiguousarray(data.astronaut())}
    S = 256
    skin = face_skin_texels(S)

    def albedo_of(img):
        rec = facesculpt.reconstruct(img, config=cfg)
        alb = _resize(exported_albedo(rec), S)
        seen = _resize(seen_confidence(rec.maps)[..., None], S)[..., 0] > 0.5
        whites = rec.losses.get("skin_prior", {}).get("sclera", {}).get("refused", "read")
        return alb, seen, whites

    rows = []
    print(f"{'photo':<18}{'k':>5}{'MAD %':>8}{'level':>8}{'taken':>7}  {'whites':<24}{'clipped px':>10}")
    for name, img in photos.items():
        try:
            ref, ref_seen, ref_whites = albedo_of(img)
        except FaceSculptError as e:
            print(f"{name:<18} skipped ({str(e).splitlines()[0][:60]})")
            continue
        print(f"{name:<18}{1.0:>5.2f}{'-':>8}{'-':>8}{'-':>7}  {ref_whites:<24}"
              f"{float((img >= 250).any(-1).mean()):>10.3f}")
        lin = srgb_to_linear(torch.from_numpy(img).float() / 255)
        for k in factors:
            im = (linear_to_srgb((lin * k).clamp(0, 1)) * 255).round().byte().numpy()
            try:
                alb, seen, whites = albedo_of(im)
            except FaceSculptError as e:
                print(f"{name:<18}{k:>5.2f}  failed ({str(e).splitlines()[0][:60]})")
                rows.append((name, k, math.nan, math.nan))
                continue
            m = skin & seen & ref_seen
            p, r = alb[m], ref[m]
            mad = float(100 * (p - r).abs().mean() / r.mean())
            level = float(p.mean() / r.mean())
            taken = math.log(level) / math.log(k) if abs(math.log(k)) > 1e-9 else math.nan
            rows.append((name, k, mad, level))
            print(f"{name:<18}{k:>5.2f}{mad:>8.1f}{level:>8.3f}{taken:>7.2f}  {whites:<24}"
                  f"{float((im >= 250).any(-1).mean()):>10.3f}", flush=True)
    ok = [r for r in rows if math.isfinite(r[2])]
    if ok:
        print(f"mean over {len(ok)} (failed {len(rows) - len(ok)}): MAD {np.mean([r[2] for r in ok]):.2f} %, "
              f"|log level| {np.mean([abs(math.log(r[3])) for r in ok]):.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
