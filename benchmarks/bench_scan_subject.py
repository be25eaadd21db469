"""The multi-photo fit on the real scanned face: three photos of the Lee Perry-Smith scan (yaw -40, 0, +40, the
``white`` light) fitted together (``subject.reconstruct_subject``, ``--force``), each photo's head (the shared
identity with its own pose and expression) scored as ``bench_scan_shape.py`` scores one photo's, with the identity
features off and on.

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/bench_scan_subject.py [--presets fast default] [--set KEY=VALUE ...]

Never collected by pytest.
"""
from __future__ import annotations

import dataclasses
import os
import sys

import numpy as np
import torch


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--presets", nargs="+", default=["fast", "default"])
    ap.add_argument("--set", action="append", default=[], help="config override KEY=VALUE (as the CLI's), every row")
    args = ap.parse_args()
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_scan_shape import icp_error_mm, project, surface_samples, visible_under

    from facesculpt.bench.relight import SCENE_LIGHTS, ScanSubject, sh_light
    from facesculpt.cli import _parse_overrides
    from facesculpt.config import make_config
    from facesculpt.face_model import load_face_model
    from facesculpt.subject import reconstruct_subject

    model = load_face_model()
    region = model.narrow_face
    subjects = [ScanSubject(yaw) for yaw in (-40.0, 0.0, 40.0)]
    photos = [s.photo(sh_light(*SCENE_LIGHTS["white"]), seed=0) for s in subjects]
    samples = torch.from_numpy(surface_samples(subjects[0].scan.verts[0], subjects[0].scan.faces, 400_000)).float()
    for preset in args.presets:
        for sets in (["regressor.identity_features=false"], ["regressor.identity_features=true"]):
            cfg = dataclasses.replace(make_config(preset, **_parse_overrides(args.set + sets)), identity_metrics=False)
            res = reconstruct_subject(photos, cfg, force=True)
            errs = []
            for subj, rec in zip(subjects, res.photos):
                surf = subj.pose.apply(samples[None])[0].double().numpy()
                with torch.no_grad():
                    pts = rec.params.pose.apply(model.vertices(rec.head)[:, region].float())[0].double().numpy()
                start = visible_under(project(pts, rec.params.camera), surf, subj.camera)
                errs.append(icp_error_mm(pts, surf, start))
            print(f"{preset} {' '.join(sets)}: " + " / ".join(f"{e:.2f}" for e in errs)
                  + f" mm, mean {np.mean(errs):.2f}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
