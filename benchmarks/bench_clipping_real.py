"""How much of the face texture the clipping rule touches on real photos (issue 12, session 6).

For grace_hopper (bundled), scikit-image's astronaut and grace_hopper brightened x1.3 and x1.6 (made
over-exposures), reconstructed with one preset: the share of the face tile's seen skin texels that have
a clipped channel (``UVMaps.censored`` > 0, ``texture.clipping``), and the in-view PSNR with the rule on
(with the given ``texture.clipping`` overrides) and off.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_clipping_real.py [preset=fast] [KEY=VALUE ...]

e.g. ``texture.clipping.light_fit=drop``.
"""
from __future__ import annotations

import os
import sys


def main() -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    import numpy as np
    from skimage import data

    import facesculpt
    from facesculpt.bench.relight import face_skin_texels
    from facesculpt.config import make_config
    from facesculpt.io.image import load_image

    import json

    preset, overrides = "fast", {}
    for arg in sys.argv[1:]:
        key, _, value = arg.partition("=")
        if key == "preset":
            preset = value
            continue
        try:
            overrides[key] = json.loads(value)
        except ValueError:
            overrides[key] = value
    grace = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
    photos = {"grace_hopper": grace, "astronaut": np.ascontiguousarray(data.astronaut()),
              "grace_hopper_x1.3": np.clip(grace.astype(np.float32) * 1.3, 0, 255).astype(np.uint8),
              "grace_hopper_x1.6": np.clip(grace.astype(np.float32) * 1.6, 0, 255).astype(np.uint8)}
    for name, img in photos.items():
        out = {}
        for on in (True, False):
            kw = {"texture.clipping.enabled": True, **overrides} if on else {"texture.clipping.enabled": False}
            rec = facesculpt.reconstruct(img, config=make_config(preset, **kw))
            out[on] = rec
        m = out[True].maps
        S = m.albedo.shape[1]
        skin = face_skin_texels(S)[0]
        cen = m.censored[0] if m.censored is not None else m.visibility[0] * 0
        seen = skin & ((m.visibility[0] + cen) > 0.5)
        share = 100.0 * float(((cen > 0) & seen).sum()) / max(1, int(seen.sum()))
        print(f"{name:18s} clipped seen skin texels {share:5.1f} % | in-view PSNR on {out[True].metrics['inview_psnr']:.2f}"
              f" / off {out[False].metrics['inview_psnr']:.2f} dB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
