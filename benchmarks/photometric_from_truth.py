"""The photometric stage started at the truth of the synthetic heads: where does its objective's minimum lie?

For each synthetic head (the benchmark's faces, seeds 0..N-1) the head pipeline runs with the landmark stage
replaced by the true pose and head (``reconstruct_head(..., fixed=(pose, head))``) and reports how far the
photometric stage moves the head from the truth (face-region vertex error, mm, after a similarity alignment).
TRUTH is a comma list of what else is given: ``light`` (the true SH light as the initial light), ``albedo``
(the true albedo, area-downsampled, as the initial low-res albedo), ``clean`` (the photo before noise and
blur); ``none`` for nothing. KEY=VALUE are config overrides of the ``default`` preset (detail off).

    .venv/bin/python benchmarks/photometric_from_truth.py N TRUTH [KEY=VALUE ...]
    e.g. ... 6 light,albedo,clean photometric.lr_light=1e-9 photometric.lr_albedo=1e-9 (light and albedo held)
"""
from __future__ import annotations

import sys

import numpy as np
import torch
import torch.nn.functional as F

import facesculpt.texture.light as light_mod
from facesculpt.bench.synthetic import similarity_error_mm
from facesculpt.cli import _parse_overrides  # the CLI's --set KEY=VALUE parsing
from facesculpt.config import make_config
from facesculpt.detect.mediapipe_landmarker import detect_faces
from facesculpt.face_model import load_face_model
from facesculpt.pipeline import reconstruct_head
from facesculpt.synthetic.generator import SyntheticConfig
from facesculpt.synthetic.head import generate
from facesculpt.texture.color import srgb_to_linear



def main(n: int, truth: list[str], sets: dict) -> None:
    cfg = make_config("default", **{"detail.enabled": False, **sets})
    model = load_face_model()
    region = model.narrow_face
    sc = SyntheticConfig(model="head", yaw_max=45.0, srgb=True)
    estimate = light_mod.initial_linear_light
    current = {}

    def given(image, dense, view, pose, camera, tex_cfg, size=64, valid=None, clipped=None):
        light, albedo, seen = estimate(image, dense, view, pose, camera, tex_cfg, size, valid, clipped)
        face = current["face"]
        if "light" in truth:
            light = face.light.float().clone()
        if "albedo" in truth:
            a = srgb_to_linear(face.albedo.float()).permute(0, 3, 1, 2)
            albedo = F.interpolate(a, size=albedo.shape[1:3], mode="area").permute(0, 2, 3, 1).contiguous()
        return light, albedo, seen

    light_mod.initial_linear_light = given  # reconstruct_head imports it from the module at call time
    errors = []
    for seed in range(n):
        torch.set_grad_enabled(True)
        face = generate(seed, sc)
        current["face"] = face
        image = face.clean if "clean" in truth else face.image
        det = detect_faces(image, max_faces=1)[0]
        h = face.head
        true_head = type(h)(h.identity.float(), h.expression.float(), h.gaze.float(), None)
        rec = reconstruct_head(image, det, cfg, fixed=(face.pose, true_head))
        e = similarity_error_mm(rec.head_verts[0, region].detach(), face.head_verts[0, region].float())
        ph = rec.losses.get("photometric", {})
        errors.append(e)
        print(seed, "from truth %.3f mm  photo loss %.4f -> %.4f" % (e, ph.get("photo_initial", 0),
                                                                    ph.get("photo_final", 0)), flush=True)
    print("MEAN from truth %.3f mm" % np.mean(errors))


if __name__ == "__main__":
    main(int(sys.argv[1]), sys.argv[2].split(","),
         _parse_overrides(sys.argv[3:]))
