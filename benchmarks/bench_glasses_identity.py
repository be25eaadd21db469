"""Does taking glasses frames out of the albedo cost identity? (``texture.glasses``)

    OMP_NUM_THREADS=2 python benchmarks/bench_glasses_identity.py astronaut,lfw_0,lfw_3,lfw_6 [KEY=VALUE ...]

For each photo (names from ``bench_head_vs_mask.py``'s ten), the benchmark's drawn pair of glasses is pasted on,
the `default` preset reconstructs it with the glasses search off and on, and the identity distances of the renders
are measured against the clean photo (the person without glasses: what a glasses-free head should match) and
against the photo with the glasses (what ``metrics.json`` measures for a user's photo).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_head_vs_mask import photos  # noqa: E402
from facesculpt.bench.occlusion import occluder  # noqa: E402
from facesculpt.config import make_config  # noqa: E402
from facesculpt.detect import detect_faces  # noqa: E402
from facesculpt.face_model import fit_view, load_face_model  # noqa: E402
from facesculpt.metrics.identity import identity_metrics  # noqa: E402
from facesculpt.pipeline import reconstruct_all  # noqa: E402
ims = photos()
view = fit_view(load_face_model())
from facesculpt.cli import _parse_overrides  # noqa: E402

args = [a for a in sys.argv[1:] if "=" not in a]
extra = _parse_overrides([a for a in sys.argv[1:] if "=" in a])  # KEY=VALUE overrides for both runs
names = (args[0] if args else "astronaut,lfw_0,lfw_3,lfw_6").split(",")
for n in names:
    clean = ims[n]
    pasted = occluder(clean, detect_faces(clean, max_faces=1)[0], "glasses")[0]
    for g in (False, True):
        rec = reconstruct_all(pasted, config=make_config("default", **{**extra, "texture.occlusion.glasses.enabled": g}),
                              max_faces=1)[0]
        found = rec.losses["occlusion"].get("glasses", {}).get("found")
        a = identity_metrics(clean, rec, view)
        b = identity_metrics(pasted, rec, view)
        print(n, "search", g, "found", found, "vs clean photo: in view %.3f +30 %.3f -30 %.3f" % (
            a["identity_distance_inview"], a["identity_distance_yaw_plus30"], a["identity_distance_yaw_minus30"]),
            "| vs photo with glasses: in view %.3f" % b["identity_distance_inview"], flush=True)
