"""`facesculpt train regressor`: train the landmark regressor (``training.regressor``).

    facesculpt train regressor -o runs/reg [--steps N] [--seed S] [--batch-chunks C] [--no-resume]
    torchrun --nproc-per-node 2 --no-python facesculpt train regressor -o runs/reg   # 2 processes, gloo

    facesculpt train render-landmarks -o heads.npz --seed 77 --n 6000 --embed   # photos' embeddings too
    facesculpt train identity-refiner --rendered heads.npz -o runs/refiner          # the identity refiner

Re-running the same command on the same folder resumes from its checkpoint. The weights land in
``OUT/regressor.pt``; copy them to ``facesculpt/assets/regressor.pt`` to ship them.
"""
from __future__ import annotations

import sys

EXIT_USAGE = 2


def cmd_train_regressor(args) -> int:
    import os

    from dataclasses import replace

    from facesculpt.face_model import load_face_model
    from facesculpt.training.regressor import TrainConfig, train_regressor

    if args.steps < 1 or args.batch_chunks < 1:
        print("error: --steps and --batch-chunks must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    cfg = replace(TrainConfig(), steps=args.steps, seed=args.seed, batch_chunks=args.batch_chunks, lr=args.lr)
    if args.val_size is not None:
        cfg = replace(cfg, val_size=args.val_size)
    if args.val_every is not None:
        cfg = replace(cfg, val_every=args.val_every)
    if args.detector_response != "off":
        cfg = replace(cfg, data=replace(cfg.data, noise=replace(cfg.data.noise, detector_response=args.detector_response)))
    if args.rendered:
        cfg = replace(cfg, rendered=str(args.rendered), rendered_chunks=args.rendered_chunks)
    rank = int(os.environ.get("RANK", "0"))
    bar = None
    if rank == 0 and not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, desc="train regressor", unit="step", file=sys.stderr)

    last_val = [None]

    def progress(step, total, loss, val):
        if val is not None:
            last_val[0] = val
        if bar is not None:
            bar.n = step
            post = {"loss": f"{loss:.4f}"}
            if last_val[0] is not None:
                post["val_mm"] = f"{last_val[0]:.3f}"
            bar.set_postfix(post, refresh=False)
            bar.refresh()

    try:
        res = train_regressor(load_face_model(), cfg, args.output, progress, resume=not args.no_resume)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if bar is not None:
        bar.close()
    if rank == 0:
        print(f"done: {res.step} steps, validation vertex error {res.val_error_mm:.3f} mm; weights in {res.weights}")
    return 0


def cmd_render_landmarks(args) -> int:
    from dataclasses import replace

    from facesculpt.training.rendered import REALISM, RenderedConfig, build_rendered

    if args.n < 1 or args.workers < 1:
        print("error: --n and --workers must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    out = args.output
    if not str(out).endswith(".npz"):
        print(f"error: {out}: the output must be an .npz file", file=sys.stderr)
        return EXIT_USAGE
    bar = None
    if not args.quiet:
        from tqdm import tqdm

        bar = tqdm(total=args.n, desc="render landmarks", unit="head", file=sys.stderr)

    def progress(done, total):
        if bar is not None:
            bar.n = done
            bar.refresh()

    try:
        cfg = replace(RenderedConfig(), **REALISM) if args.realism else RenderedConfig()
        if args.mirrored_detection:
            cfg = replace(cfg, mirrored_detection=True)
        res = build_rendered(out, args.n, args.seed, cfg, args.workers, progress=progress, embed=args.embed)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    if bar is not None:
        bar.close()
    print(f"done: {res['count']} heads with landmarks ({res['missed']} without a detected face) in {out}")
    return 0


def cmd_train_identity_refiner(args) -> int:
    from facesculpt.core.errors import AssetError
    from facesculpt.training.identity_refiner import train_identity_refiner

    if args.ridge < 0:
        print("error: --ridge must be >= 0", file=sys.stderr)
        return EXIT_USAGE
    try:
        meta = train_identity_refiner(args.rendered, args.output, args.ridge, args.val, args.regressor_weights,
                                      args.features)
    except (ValueError, AssetError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    print(f"done: {meta['train']} heads fitted, {meta['val']} held out: narrow-face vertex error "
          f"{meta['val_regressor_mm']:.3f} -> {meta['val_error_mm']:.3f} mm (aligned {meta['val_regressor_aligned_mm']:.3f} "
          f"-> {meta['val_aligned_mm']:.3f} mm); weights in {args.output}/identity_refiner.pt")
    return 0


def register(sub) -> None:
    t = sub.add_parser("train", help="train the project's networks")
    ts = t.add_subparsers(dest="what", required=True)
    r = ts.add_parser("regressor", help="the landmark -> head-parameter regressor (Fast-GANFIT-style)")
    r.add_argument("-o", "--output", required=True, help="run folder (checkpoint.pt, regressor.pt)")
    r.add_argument("--steps", type=int, default=2000, help="optimiser steps (default 2000)")
    r.add_argument("--seed", type=int, default=0, help="seed of the weights and the data (default 0)")
    r.add_argument("--batch-chunks", type=int, default=8, help="chunks of 32 faces per step (default 8)")
    r.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (default 1e-3)")
    r.add_argument("--val-size", type=int, default=None, help="validation faces (default 512)")
    r.add_argument("--val-every", type=int, default=None, help="validate every N steps (default 500)")
    r.add_argument("--detector-response", choices=("off", "expression", "both"), default="off",
                   help="train on points moved by mediapipe's measured response to the face's expression (and "
                        "identity) (default off: the shipped weights)")
    r.add_argument("--rendered", default="", metavar="FILE",
                   help="mediapipe's landmarks on rendered heads ('facesculpt train render-landmarks'): train on "
                        "them beside the generated points, validate on their held-out part")
    r.add_argument("--rendered-chunks", type=int, default=4,
                   help="with --rendered: chunks of each batch drawn from FILE (default 4 of 8)")
    r.add_argument("--no-resume", action="store_true", help="start over even if OUT has a checkpoint")
    r.add_argument("--quiet", action="store_true", help="no progress bar")
    r.set_defaults(func=cmd_train_regressor)
    d = ts.add_parser("render-landmarks", help="render heads of the model and keep mediapipe's landmarks of them "
                                               "(training data for the regressor: --rendered)")
    d.add_argument("-o", "--output", required=True, help="output .npz (OUT.parts/ holds finished chunks until done)")
    d.add_argument("--n", type=int, default=8000, help="heads to render (default 8000: the shipped weights' set)")
    d.add_argument("--seed", type=int, default=0, help="seed of the heads (default 0)")
    d.add_argument("--workers", type=int, default=2, help="processes (default 2)")
    d.add_argument("--realism", action="store_true",
                   help="hair on 70 %% of the heads, textured backgrounds on half the photos, camera noise and blur")
    d.add_argument("--mirrored-detection", action="store_true",
                   help="detect each photo as 'reconstruct' does: the mirrored photo's detection averaged in "
                        "(detect.turned; without it, one detection: the shipped weights' data)")
    d.add_argument("--embed", action="store_true",
                   help="also each photo's face-recognition embedding (training data for the identity refiner: "
                        "'facesculpt train identity-refiner')")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=cmd_render_landmarks)
    f = ts.add_parser("identity-refiner", help="the identity from the photo's face-recognition embedding and the "
                                               "regressed identity (a ridge map, models.identity_refiner)")
    f.add_argument("--rendered", required=True, metavar="FILE",
                   help="rendered heads with embeddings ('facesculpt train render-landmarks --embed'), not the "
                        "regressor's own training set")
    f.add_argument("-o", "--output", required=True, help="folder for identity_refiner.pt")
    f.add_argument("--ridge", type=float, default=1000.0, help="ridge penalty on the standardised features "
                                                                "(default 1000)")
    f.add_argument("--val", type=int, default=500, help="the file's last N heads held out (default 500)")
    f.add_argument("--features", choices=("mean", "photo", "map"), default="mean",
                   help="what the map reads: 'mean' of the photo's and the mirrored photo's 128-d embeddings (default; "
                        "what regressor.identity_features_flip feeds), 'photo' the photo's embedding alone, 'map' the "
                        "mean of the two chips' last feature maps of the recogniser (1024 numbers)")
    f.add_argument("--regressor-weights", default="", metavar="FILE",
                   help="the regressor whose identity is refined (default: the packaged one)")
    f.set_defaults(func=cmd_train_identity_refiner)


__all__ = ["register", "cmd_train_regressor", "cmd_render_landmarks", "cmd_train_identity_refiner"]
