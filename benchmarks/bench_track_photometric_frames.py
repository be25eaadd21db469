"""Single frames through the tracker's photometric pass: one channel at 0.8, the landmark fit alone against
the pass. Not collected by pytest.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_track_photometric_frames.py [--seed 1] [--set iterations=6 ...]

One synthetic person (the clip benchmark's identity and appearance streams of ``--seed``), rendered at yaw 0
with no expression (the texture frame: its landmark fit with the true identity, then ``reconstruct_head``
with the photometric stage off gives the appearance), then one frame per listed channel at 0.8, yaw 8 deg,
with 2/255 pixel noise, detected by mediapipe, fitted by the tracker's per-frame landmark fit (true identity,
16 iterations) and refined by ``FramePhotometricFit`` (``fast``'s ``track.photometric`` plus ``--set``).
Prints the channel's weight before and after, the three largest weights after, and the seconds of the pass.
"""
from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np
import torch

CHANNELS = ("eyeBlink_L", "eyeBlink_R", "cheekPuff_L", "mouthPucker", "jawOpen", "eyeWide_L", "eyeLookUp_R",
            "noseSneer_L", "mouthPress_L", "eyeSquint_R", "browDown_L", "mouthFrown_R")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--set", nargs="*", default=[], help="track.photometric overrides, name=value")
    args = ap.parse_args()
    from facesculpt.config import make_config
    from facesculpt.detect import detect_faces
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.fitting.head_landmarks import fit_head_landmarks
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import debiased_landmarks
    from facesculpt.fitting.track_photometric import FramePhotometricFit, appearance_from_reconstruction, crop_frame
    from facesculpt.pipeline import reconstruct_head
    from facesculpt.synthetic.generator import SyntheticConfig, make_light
    from facesculpt.synthetic.head import IRIS_COLOURS, atlas, face_pose, make_head_albedo, render_head_photo

    over = dict(kv.split("=", 1) for kv in args.set)
    cfg = make_config("fast", **{f"track.photometric.{k}": v for k, v in over.items()})
    pc = dataclasses.replace(cfg.track.photometric, enabled=True)
    model = load_face_model()
    names, E = model.expression_names, model.num_expression
    rng = np.random.default_rng(args.seed)
    ident = torch.tensor(rng.standard_normal(model.num_identity), dtype=torch.float32)[None]
    scfg = SyntheticConfig(model="head", size=512)
    r = np.random.default_rng([args.seed, 7])
    albedo = torch.as_tensor(make_head_albedo(r, model, scfg.uv_size, scfg.freckles))[None]
    tex = atlas(model, albedo, IRIS_COLOURS[int(r.integers(len(IRIS_COLOURS)))])
    light = make_light(r, scfg.light_strength)
    zero = HeadParams(ident, torch.zeros(1, E), torch.zeros(1, 2, 2))
    with torch.no_grad():
        neutral = model.vertices(zero)

    def render(weights: dict, yaw: float):
        ex = torch.zeros(1, E)
        for n, v in weights.items():
            ex[0, names.index(n)] = v
        pose, cam, _ = face_pose(model, neutral, yaw, 3.0, 0.0, np.zeros(2), scfg)
        with torch.no_grad():
            img = render_head_photo(model, model.vertices(HeadParams(ident, ex, torch.zeros(1, 2, 2))), tex, light,
                                    pose, cam, scfg)
        return np.rint(np.clip(img + r.normal(0, 2, img.shape), 0, 255)).astype(np.uint8), cam

    tc = cfg.track
    held = dataclasses.replace(cfg.head_landmarks, fit_identity=False, expression_first=0, iterations=16,
                               w_expression_l1=tc.w_expression_l1, w_expression_l2=tc.w_expression_l2,
                               active_set=tc.active_set)
    canon = model.points(model.template[None], "mediapipe")[0, :468]

    def landmark_fit(img, cam):
        lm = detect_faces(img, max_faces=1)[0]
        _, pose0, _ = initialize(lm, canon)
        pose, head, _ = fit_head_landmarks(lm, model, pose0, cam, held, init=zero)
        return lm, pose, head

    img0, cam = render({}, 0.0)
    lm0, pose0, head0 = landmark_fit(img0, cam)
    still_cfg = dataclasses.replace(cfg, photometric=dataclasses.replace(cfg.photometric, enabled=False))
    rec = reconstruct_head(img0, lm0, still_cfg, fixed=(pose0, head0))
    fitter = FramePhotometricFit(model, ident, appearance_from_reconstruction(rec, pc), pc)
    print(f"seed {args.seed}, settings {' '.join(args.set) or 'default'}")
    for n in CHANNELS:
        img, cam = render({n: 0.8}, 8.0)
        lm, pose, head = landmark_fit(img, cam)
        t = time.perf_counter()
        _, e, st = fitter.fit(crop_frame(img, lm, pc), cam, pose, head.expression,
                              debiased_landmarks(lm, model, pose, head))
        dt = time.perf_counter() - t
        j = names.index(n)
        top = ", ".join(f"{names[i]} {float(e[0, i]):.2f}" for i in torch.argsort(-e[0])[:3])
        print(f"{n:14} 0.8: landmark fit {float(head.expression[0, j]):.2f} -> pass {float(e[0, j]):.2f} "
              f"(largest: {top}); photo loss {st['photo_initial']:.5f} -> {st['photo_final']:.5f}; {dt:.2f} s",
              flush=True)


if __name__ == "__main__":
    main()
