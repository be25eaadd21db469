"""Where the tracker's channel errors come from: the clip identity's error (issue 16 follow-up).

    .venv/bin/python benchmarks/bench_track_identity.py [--seed 0] [--track]

The cosines between the eye-lid channels' landmark motions, per eye; then, on the synthetic
channels clip (``bench.clip.make_clip(seed, "channels")``): the identity vertex error
(narrow face, neutral, similarity aligned, mm) of ``fit_joint_identity`` for several choices of
identity frames (8 / 16 spread evenly, 8 without expression: an oracle choice); with ``--track`` also
the whole clip tracked with the clip's **true** identity given (expression MAE and the lowest
channel correlations), the bound the identity's error keeps the tracker from. Never collected by pytest.
"""
from __future__ import annotations

import argparse
import dataclasses
import time


def main() -> int:
    import torch

    from facesculpt.bench.clip import evaluate_clip, make_clip
    from facesculpt.bench.synthetic import similarity_error_mm
    from facesculpt.config import make_config
    from facesculpt.face_model import HeadParams, load_face_model
    from facesculpt.fitting.head_track import _spread, fit_joint_identity, track_landmarks

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--track", action="store_true", help="also track the clip with its true identity")
    args = ap.parse_args()
    cfg = make_config("fast")
    model = load_face_model()
    clip = make_clip(args.seed, "channels")
    T = len(clip.landmarks)

    def err(a):
        z = lambda i: model.vertices(HeadParams(i, torch.zeros(1, 53), torch.zeros(1, 2, 2)))[0, model.narrow_face]  # noqa
        with torch.no_grad():
            return similarity_error_mm(z(a), z(clip.identity))

    # the lid channels' landmark motions (478 embedded points): left and right eye side by side
    _, _, exb = model.landmark_model("mediapipe")
    names = model.expression_names
    flat = exb.reshape(len(names), -1).double()
    for side in ("L", "R"):
        pairs = [("eyeLookUp", "eyeWide"), ("eyeLookUp", "eyeLookDown"), ("eyeLookIn", "eyeLookOut"),
                 ("eyeBlink", "eyeWide")]
        cos = [torch.nn.functional.cosine_similarity(flat[names.index(f"{a}_{side}")], flat[names.index(f"{b}_{side}")],
                                                     dim=0) for a, b in pairs]
        print(f"eye {side}: cosine " + ", ".join(f"{a}/{b} {float(c):+.2f}" for (a, b), c in zip(pairs, cos)))
    quiet = [t for t in range(T) if float(clip.expression[t].sum()) == 0]
    choices = {"8 spread": _spread(list(range(T)), 8), "16 spread": _spread(list(range(T)), 16),
               "8 without expression (oracle)": _spread(quiet, 8)}
    print("| identity frames | identity mm |")
    print("|---|---:|")
    for name, idx in choices.items():
        a, _ = fit_joint_identity([clip.landmarks[i] for i in idx], model, [clip.camera] * len(idx),
                                  cfg.head_landmarks, cfg.track)
        print(f"| {name} | {err(a):.3f} |", flush=True)
    if args.track:
        t0 = time.perf_counter()
        tr = track_landmarks(clip.landmarks, model, clip.fps, cfg.head_landmarks,
                             dataclasses.replace(cfg.track), identity=clip.identity)
        res = evaluate_clip(clip, tr, time.perf_counter() - t0)
        low = sorted(res["channel_correlation"].items(), key=lambda kv: kv[1])[:4]
        print(f"true identity: expression MAE {res['expression_mae']:.4f}, lowest channels "
              + ", ".join(f"{k} {v:.2f}" for k, v in low))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
