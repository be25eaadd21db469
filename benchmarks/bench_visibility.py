"""Cost of the head's visibility (issue 12, ``texture.visibility``): the occluded transfer of the fitted
face mesh, and a ``default`` reconstruction of grace_hopper with it on and off (per-stage seconds
and CPU seconds of the whole process). Run on an idle machine for speed figures:

    OMP_NUM_THREADS=1 python benchmarks/bench_visibility.py
"""
from __future__ import annotations

import sys
import time
from importlib import resources

import numpy as np
import torch


def main() -> None:
    from PIL import Image

    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, fit_view, load_face_model
    from facesculpt.pipeline import reconstruct
    from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer
    from facesculpt.structures import Pose

    model = load_face_model()
    view = fit_view(model)
    hv = model.vertices(HeadParams(torch.zeros(1, model.num_identity), torch.zeros(1, model.num_expression),
                                   torch.zeros(1, 2, 2)))
    dense = view.render_verts(hv)
    pose = Pose(torch.zeros(1, 3), torch.tensor([[0.0, 0.0, 50.0]]))
    head_occluded_transfer(dense, view.dense_faces, pose, VisibilityConfig())  # numba compile / cache load
    for d, r in ((64, 192), (128, 192), (64, 128)):
        w, c = time.perf_counter(), time.process_time()
        for _ in range(3):
            head_occluded_transfer(dense, view.dense_faces, pose, VisibilityConfig(directions=d, resolution=r))
        print(f"occluded transfer, {dense.shape[1]} vertices, {d} directions, {r}^2 maps: "
              f"{(time.perf_counter() - w) / 3:.3f} s wall, {(time.process_time() - c) / 3:.3f} s CPU")
    # one photometric step's extra: the render with the occluded transfer, forward + backward
    from facesculpt.render.face import render_face
    from facesculpt.structures import Camera

    O = head_occluded_transfer(dense, view.dense_faces, pose, VisibilityConfig())
    cam = Camera(torch.tensor([360.0]), torch.tensor([[128.0, 128.0]]), (256, 256))
    alb = torch.full((1, 64, 64, 3), 0.5)
    for occ in (None, O, None, O):
        light = torch.zeros(1, 9, 3)
        light[0, 0] = 3.0
        light.requires_grad_(True)
        c = time.process_time()
        for _ in range(10):
            r = render_face(dense, view.dense_faces, view.dense_uvs, pose, cam, alb, light, occluded=occ)
            r.image.sum().backward()
        print(f"render 256^2 forward+backward, visibility {'on ' if occ is not None else 'off'}: "
              f"{(time.process_time() - c) / 10 * 1000:.1f} ms CPU")
    if "--no-pipeline" in sys.argv:
        return
    with resources.files("facesculpt").joinpath("assets/grace_hopper.jpg").open("rb") as f:
        img = np.asarray(Image.open(f).convert("RGB"))
    for on in (False, True, False, True):
        cfg = make_config("default", **{"texture.visibility.enabled": on})
        w, c = time.perf_counter(), time.process_time()
        rec = reconstruct(img, config=cfg)
        t = rec.timings
        print(f"default, visibility {'on ' if on else 'off'}: {time.perf_counter() - w:.2f} s wall, "
              f"{time.process_time() - c:.2f} s CPU; visibility {t.get('visibility', 0.0):.3f} s, "
              f"photometric {t.get('photometric', 0.0):.2f} s, texture {t.get('texture', 0.0):.2f} s")


if __name__ == "__main__":
    main()
