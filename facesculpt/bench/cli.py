"""`facesculpt benchmark synthetic|holdout|relight|aflw2000|clip` (relight: ``bench/relight.py``).

    facesculpt benchmark synthetic --n N --seed S -o DIR [--model head|mask] [--yaw-max DEG] [--size 512]
        [--preset default] [--variants detail,smooth] [--noise 0] [--blur 0] [--downsample 1]
        [--light-strength LO,HI] [--skin-mottling 0] [--proxy fitted|true] [--no-detail-stage] [--set K=V]
    facesculpt benchmark holdout PATH... -o DIR [--preset default] [--regions cheek,eye] [--set K=V]
    facesculpt benchmark aflw2000 DIR [-o OUT] [--preset default] [--from-results RESULTS] [--set K=V]
    facesculpt benchmark clip -o DIR [--kinds motion,channels] [--n 1] [--seed 0] [--frames 240]
        [--noise-px 0.5] [--frames-from points|photos] [--photo-noise 0.008] [--eye-look gaze|lids] [--lid-cover] [--set track.K=V]

Each prints a table and writes it as JSON (``DIR/results.json``, written atomically). Errors are
one line on stderr and a non-zero exit; a bad image is reported and the rest go on.
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

EXIT_FAILED = 1
EXIT_USAGE = 2


def _fmt(x, spec=".2f") -> str:
    return "nan" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


#: the head benchmark's default largest yaw (degrees); the mask's is ``SyntheticConfig.yaw_max``
HEAD_YAW_MAX = 60.0


def _row(name: str, m: dict, head: bool = False) -> str:
    """One line of the synthetic benchmark's table (a face's metrics or a variant's means); ``head``
    adds the shape columns (vertex error aligned / in the camera frame, mm; expression MAE; gaze error, degrees)."""
    rel = m.get("detail_normal_mad_deg", {})
    shape = ""
    if head:
        v = m.get("vertex_error_mm", {})
        shape = (f"{_fmt(v.get('aligned')):>9}{_fmt(v.get('camera')):>9}{_fmt(m.get('expression_mae'), '.3f'):>9}"
                 f"{_fmt(m.get('gaze_error_deg'), '.1f'):>9}")
    return (f"{name:<16}{shape}{_fmt(m['normal_mad_deg']['coarse']):>11}{_fmt(m['normal_mad_deg']['detail']):>11}"
            f"{_fmt(m['normal_mad_deg'].get('perfect_detail')):>11}"
            f"{_fmt(rel.get('coarse')):>11}{_fmt(rel.get('detail')):>11}"
            f"{_fmt(m['side']['coarse'], '.4f'):>12}{_fmt(m['side']['detail'], '.4f'):>12}"
            f"{_fmt(m['albedo_psnr_aligned']):>9}{_fmt(m['light_error_pct'], '.1f'):>8}{_fmt(m['light_gain']):>7}"
            f"{_fmt(m.get('detail_seconds', float('nan')), '.1f'):>8}")


def _config(args, detail: bool, face_model: str | None = None):
    from facesculpt.cli import _parse_overrides
    from facesculpt.config import make_config

    over = _parse_overrides(args.set)
    if detail:
        over.setdefault("detail.enabled", True)
    if face_model is not None:
        over.setdefault("face_model", face_model)
    return make_config(args.preset, **over)


def _config_or_report(args):
    """``_config(args, detail=False)``, or None after printing its one-line error (the caller then
    returns EXIT_USAGE): the start of every photo benchmark."""
    from facesculpt.core.errors import FaceSculptError

    try:
        return _config(args, detail=False)
    except (FaceSculptError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return None


def _entry_photo(entry) -> tuple[Path, "object"]:
    """(path, (H, W, 3) uint8 image) of a ``find_images`` entry; raises the entry's own error (a file
    that could not be listed) or the image's (``load_image``)."""
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.image import load_image

    path, err = entry if isinstance(entry, tuple) else (entry, None)
    if err is not None:
        raise err if isinstance(err, BaseException) else FaceSculptError(str(err))
    return Path(path), load_image(path)


def _note_failure(path: Path, e: BaseException, failures: list) -> None:
    """A photo that failed: its one-line error (named after the file) printed and kept in ``failures``."""
    line = str(e).splitlines()[0] if str(e) else type(e).__name__
    if path.name not in line:
        line = f"{path.name}: {line}"
    failures.append(line)
    print(f"error: {line}", file=sys.stderr)


def _head_truth(face) -> dict:
    """The true head parameters of a head face, for truth.json."""
    from facesculpt.face_model import load_face_model

    h = face.head
    names = load_face_model().expression_names
    return {"identity": h.identity[0], "expression": {n: float(w) for n, w in zip(names, h.expression[0])},
            "gaze_rad": h.gaze[0]}


def _write_face(folder: Path, face) -> None:
    """The photo and its ground truth, written atomically into ``folder``."""
    from facesculpt.detail import displacement_scale
    from facesculpt.io.atomic import atomic_output_dir, write_json, write_png, write_png16

    with atomic_output_dir(folder) as tmp:
        tmp = Path(tmp)
        write_png(tmp / "photo.png", face.image)
        write_png(tmp / "photo_clean.png", face.clean)
        write_png(tmp / "albedo.png", face.albedo[0].numpy())
        d = face.displacement[0]
        sc = displacement_scale(d)
        write_png16(tmp / "displacement.png", ((d - sc["offset_cm"]) / sc["scale_cm"]).clamp(0, 1).numpy())
        write_png(tmp / "normals.png", (face.normals * 0.5 + 0.5) * face.mask[..., None])
        write_png(tmp / "normals_smooth.png", (face.normals_smooth * 0.5 + 0.5) * face.mask[..., None])
        zmax = float(face.depth.max()) if face.depth.max() > 0 else 1.0
        write_png16(tmp / "depth.png", face.depth / (zmax * 1.001))
        write_png(tmp / "mask.png", face.mask)
        write_json(tmp / "truth.json", {
            "displacement_png": sc,
            "depth_png": {"formula": "z_cm = png_value / 65535 * scale_cm (0 = background)", "scale_cm": zmax * 1.001},
            "normals_png": "view-frame normals (+Y up, +Z to camera), RGB = n * 0.5 + 0.5, skin pixels only",
            "light_sh": face.light[0], "pose": {"rotvec_rad": face.pose.rotvec[0], "translation_cm": face.pose.translation[0]},
            "camera": {"focal_px": float(face.camera.focal[0]), "principal_px": face.camera.principal[0]},
            "coarse_verts_cm": face.verts[0], "info": face.info,
            **({"head": _head_truth(face)} if face.head is not None else {}),
        })


def cmd_synthetic(args) -> int:
    import torch

    from facesculpt.bench.synthetic import (
        evaluate_head_synthetic,
        evaluate_synthetic,
        summarise,
        truth_proxy_head_reconstruction,
        truth_proxy_reconstruction,
    )
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.atomic import write_json
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.synthetic import SyntheticConfig
    from facesculpt.synthetic.head import generate
    from facesculpt.topology import load_topology

    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    if args.n < 1 or not variants or any(v not in ("detail", "smooth") for v in variants):
        print("error: --n must be >= 1 and --variants a comma list of detail, smooth", file=sys.stderr)
        return EXIT_USAGE
    if args.proxy not in ("fitted", "true"):
        print(f"error: --proxy must be fitted or true, got {args.proxy!r}", file=sys.stderr)
        return EXIT_USAGE
    if args.model not in ("head", "mask"):
        print(f"error: --model must be head or mask, got {args.model!r}", file=sys.stderr)
        return EXIT_USAGE
    head = args.model == "head"
    yaw_max = (HEAD_YAW_MAX if head else SyntheticConfig.yaw_max) if args.yaw_max is None else args.yaw_max
    if not (isinstance(yaw_max, (int, float)) and 0 <= yaw_max <= 90):
        print(f"error: --yaw-max must be between 0 and 90 degrees, got {args.yaw_max!r}", file=sys.stderr)
        return EXIT_USAGE
    try:
        # head: the morphable head's generator, fitted with the head; mask: the hand-made shapes on
        # the 468-point mask (out of the head's model), fitted on that surface
        cfg = _config(args, detail=not args.no_detail_stage, face_model="ict" if head else "mediapipe468")
        if head and cfg.face_model != "ict":
            raise ValueError(f"--model head needs face_model=ict, got {cfg.face_model!r} (use --model mask)")
        extra = {"model": args.model, "yaw_max": float(yaw_max), "srgb": args.photo_encoding == "srgb"}
        if args.light_strength is not None:
            parts = args.light_strength.split(",")
            lo, hi = (float(parts[0]), float(parts[-1])) if len(parts) == 2 else (-1.0, -1.0)
            if not 0 <= lo <= hi <= 1.5:  # stronger lights would shade part of the face black
                raise ValueError(f"--light-strength: expected LO,HI with 0 <= LO <= HI <= 1.5, got {args.light_strength}")
            extra["light_strength"] = (lo, hi)
        if args.skin_mottling:
            if not (head and 0 <= args.skin_mottling <= 0.5):
                raise ValueError(f"--skin-mottling: expected 0-0.5 with --model head, got {args.skin_mottling}")
            extra["skin_mottling"] = float(args.skin_mottling)
        syn = [SyntheticConfig(size=args.size, detail=(v == "detail"), noise_sigma=args.noise, blur_sigma=args.blur,
                               downsample=args.downsample, **extra) for v in variants]
    except (FaceSculptError, ValueError, TypeError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.output)
    topo = None if head else load_topology(cfg.subdivision_levels)
    rows, failures = [], []
    shape_cols = f"{'mm align':>9}{'mm cam':>9}{'expr MAE':>9}{'gaze deg':>9}" if head else ""
    title = (f"{'face':<16}{shape_cols}{'MAD coarse':>11}{'MAD detail':>11}{'MAD perf.':>11}{'rel coarse':>11}{'rel detail':>11}{'SIDE coarse':>12}"
            f"{'SIDE detail':>12}{'alb PSNR':>9}{'light %':>8}{'l.gain':>7}{'t_det s':>8}")
    print(title)
    for i in range(args.n):
        for v, sc in zip(variants, syn):
            name = f"{v}_{args.seed + i:04d}"
            try:
                face = generate(args.seed + i, sc)
                _write_face(out / "faces" / name, face)
                if args.proxy == "true":
                    rec = truth_proxy_head_reconstruction(face, cfg) if head else truth_proxy_reconstruction(face, cfg, topo)
                else:
                    rec = reconstruct_all(face.image, config=cfg, max_faces=1, name=name)[0]
                m = evaluate_head_synthetic(face, rec) if head else evaluate_synthetic(face, rec, topo)
                m.update(name=name, variant=v, seed=args.seed + i, timings_s=rec.timings)
                if head:
                    m.update(abs_yaw_deg=abs(face.info["yaw_deg"]), actions=face.info["actions"])
                rows.append(m)
                print(_row(name, m, head), flush=True)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # report and go on
                line = str(e).splitlines()[0] if str(e) else type(e).__name__
                failures.append(f"{name}: {line}")
                print(f"error: {name}: {line}", file=sys.stderr)
            torch.set_grad_enabled(True)
    by = {v: [r for r in rows if r["variant"] == v] for v in variants}
    main = by.get("detail") or by[variants[0]]
    summary = summarise(main) if main else {}
    for v in variants:
        summary[v] = summarise(by[v]) if by[v] else {}
    if main:
        c, d = summary["normal_mad_deg"]["coarse"], summary["normal_mad_deg"]["detail"]
        summary["normal_improvement_pct"] = 100 * (c - d) / c if c else float("nan")
        p = summary["normal_mad_deg"].get("perfect_detail", float("nan"))
        summary["perfect_detail_improvement_pct"] = 100 * (c - p) / c if c else float("nan")
        c, d = summary["detail_normal_mad_deg"]["coarse"], summary["detail_normal_mad_deg"]["detail"]
        summary["detail_normal_improvement_pct"] = 100 * (c - d) / c if c else float("nan")
    result = {"summary": summary, "faces": rows, "failures": failures,
              "settings": {"n": args.n, "seed": args.seed, "size": args.size, "preset": cfg.name,
                           "model": args.model, "yaw_max": float(yaw_max), "face_model": cfg.face_model,
                           "detail_stage": cfg.detail.enabled, "proxy": args.proxy, "variants": variants, "noise": args.noise,
                           "blur": args.blur, "downsample": args.downsample,
                           "light_strength": list(syn[0].light_strength), "photo_encoding": args.photo_encoding,
                           "skin_mottling": syn[0].skin_mottling}}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", result)
    for v in variants:
        s = summary.get(v) or {}
        if s:
            print(_row("mean " + v, s, head))
    print(f"results: {out / 'results.json'}" + (f"; {len(failures)} face(s) failed" if failures else ""))
    return EXIT_FAILED if failures or not rows else 0


def cmd_holdout(args) -> int:
    import torch

    from facesculpt.bench.holdout import REGIONS, evaluate_holdout, region_mask
    from facesculpt.detect import detect_faces
    from facesculpt.io.atomic import write_json
    from facesculpt.io.discover import find_images
    from facesculpt.pipeline import reconstruct_all
    from facesculpt.topology import load_topology

    regions = [r.strip() for r in args.regions.split(",") if r.strip()]
    bad = [r for r in regions if r not in REGIONS]
    if bad or not regions:
        print(f"error: unknown region(s) {', '.join(bad) or '(none)'} (choose from: {', '.join(REGIONS)})", file=sys.stderr)
        return EXIT_USAGE
    cfg = _config_or_report(args)
    if cfg is None:
        return EXIT_USAGE
    out = Path(args.output)
    entries = find_images(args.paths, exclude=[out])
    if not entries:
        print("error: no images found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    topo = load_topology(cfg.subdivision_levels)
    rows, failures = [], []
    print(f"{'image':<28}{'region':<8}{'pixels':>8}{'PSNR dB':>9}{'SSIM':>7}{'time s':>8}")
    for entry in entries:
        path = Path(entry[0] if isinstance(entry, tuple) else entry)
        try:
            path, image = _entry_photo(entry)
            lmk = detect_faces(image, max_faces=1, min_face_size=cfg.min_face_size,
                               detection_max_side=cfg.detection_max_side, name=path.name)[0]
            for region in regions:
                t0 = time.perf_counter()
                hidden = region_mask(lmk, topo, region, image.shape[:2])
                rec = reconstruct_all(image, config=cfg, max_faces=1, name=path.name, valid_mask=~hidden)[0]
                m = evaluate_holdout(image, rec, hidden, rec.fit_topology)
                m.update(image=str(path), region=region, seconds=time.perf_counter() - t0)
                rows.append(m)
                print(f"{path.name[:27]:<28}{region:<8}{m['pixels']:>8}{_fmt(m['psnr']):>9}{_fmt(m['ssim'], '.3f'):>7}"
                      f"{m['seconds']:>8.1f}", flush=True)
                torch.set_grad_enabled(True)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # one line, and the batch goes on
            _note_failure(path, e, failures)
    import numpy as np

    summary = {}
    for region in regions:
        rr = [r for r in rows if r["region"] == region and r["pixels"] > 0]
        summary[region] = {"psnr": float(np.mean([r["psnr"] for r in rr])) if rr else float("nan"),
                           "ssim": float(np.mean([r["ssim"] for r in rr])) if rr else float("nan"), "n": len(rr)}
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"summary": summary, "rows": rows, "failures": failures,
                                      "settings": {"preset": cfg.name, "regions": regions}})
    for region, s in summary.items():
        print(f"{'mean':<28}{region:<8}{'':>8}{_fmt(s['psnr']):>9}{_fmt(s['ssim'], '.3f'):>7}")
    print(f"results: {out / 'results.json'}" + (f"; {len(failures)} image(s) failed" if failures else ""))
    return EXIT_FAILED if failures or not rows else 0


def cmd_aflw2000(args) -> int:
    """The AFLW2000-3D landmark benchmark (``facesculpt.bench.aflw2000``): reconstruct each photo of DIR
    into OUT/faces/<stem> (or score the result folders of ``--from-results``), score its landmarks.json."""
    import torch

    from facesculpt.bench.aflw2000 import find_pairs, load_truth, predicted_points, score, summarise, table
    from facesculpt.core.errors import FaceNotFoundError, FaceSculptError, FaceTooSmallError
    from facesculpt.io.atomic import write_json

    try:
        pairs = find_pairs(Path(args.folder))
        if not pairs:
            raise FaceSculptError(f"no imageNNNNN.jpg + .mat pairs in {args.folder}")
        cfg = None if args.from_results else _config(args, detail=False)
        if args.from_results and not Path(args.from_results).is_dir():
            raise FaceSculptError(f"--from-results: {args.from_results} is not a folder")
    except (FaceSculptError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    out = Path(args.output)
    rows, yaws, failures, missed = [], [], [], []
    print(f"{'image':<16}{'yaw':>7}{'NME2D %':>9}{'NME3D %':>9}{'time s':>8}  detector")
    for img, mat in pairs:
        t0 = time.perf_counter()
        try:
            truth = load_truth(mat)
            yaws.append(truth.yaw_deg)
            detector = ""
            if args.from_results:
                folder = Path(args.from_results) / img.stem
                if not (folder / "landmarks.json").is_file():
                    raise FaceNotFoundError(f"no {img.stem}/landmarks.json in {args.from_results}")
            else:
                from facesculpt.io.image import load_image
                from facesculpt.io.results import write_result
                from facesculpt.pipeline import reconstruct_all

                image = load_image(img)
                rec = reconstruct_all(image, config=cfg, max_faces=1, name=img.name)[0]
                folder = out / "faces" / img.stem
                write_result(folder, image, rec)
                detector = str(getattr(rec.landmarks, "detector", "") or "")
            m = score(predicted_points(folder), truth)
            m.update(image=img.name, seconds=time.perf_counter() - t0, detector=detector)
            rows.append(m)
            print(f"{img.stem:<16}{truth.yaw_deg:>7.1f}{_fmt(m['nme_2d_pct']):>9}{_fmt(m['nme_3d_pct']):>9}"
                  f"{m['seconds']:>8.1f}  {detector}", flush=True)
        except KeyboardInterrupt:
            raise
        except (FaceNotFoundError, FaceTooSmallError) as e:
            line = str(e).splitlines()[0]
            missed.append({"image": img.name, "reason": line})
            print(f"{img.stem:<16}  not found: {line}", flush=True)
        except Exception as e:  # report and go on
            line = str(e).splitlines()[0] if str(e) else type(e).__name__
            failures.append(f"{img.name}: {line}")
            print(f"error: {img.name}: {line}", file=sys.stderr)
        torch.set_grad_enabled(True)
    summary = summarise(rows, yaws)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {
        "summary": summary, "images": rows, "not_found": missed, "failures": failures,
        "settings": {"folder": str(args.folder), "preset": None if cfg is None else cfg.name,
                     "from_results": args.from_results,
                     "metric": "NME % = mean 2D (3D: z centred) distance over the 68 points / sqrt(w*h) of the "
                               "ground-truth points' 2D box; overall = mean of the |yaw| bin means"}})
    print(table(summary))
    print(f"results: {out / 'results.json'}" + (f"; {len(failures)} image(s) failed" if failures else ""))
    return EXIT_FAILED if failures or not rows else 0
def cmd_clip(args) -> int:
    """``facesculpt benchmark clip``: synthetic clips tracked from their projected model landmarks, or from
    mediapipe's landmarks of the rendered frames (``--frames-from photos``)."""
    import dataclasses

    from facesculpt.bench.clip import run_clip_benchmark
    from facesculpt.io.atomic import write_json

    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    if (args.n < 1 or args.frames < 10 or args.noise_px < 0 or not 0 <= args.photo_noise < 1 or not kinds
            or any(k not in ("motion", "channels") for k in kinds)):
        print("error: --n >= 1, --frames >= 10, --noise-px >= 0, 0 <= --photo-noise < 1 and --kinds a comma list "
              "of motion, channels",
              file=sys.stderr)
        return EXIT_USAGE
    cfg = _config_or_report(args)
    if cfg is None:
        return EXIT_USAGE
    rows = []
    print(f"{'clip':<16}{'frames':>7}{'id mm':>8}{'expr MAE':>10}{'jitter mm':>11}{'raw jit':>9}{'rot deg':>9}"
          f"{'s/frame':>9}{'cpu s/fr':>9}{'min corr':>10}{'gaze deg':>10}")
    for kind in kinds:
        for i in range(args.n):
            r = run_clip_benchmark(args.seed + i, kind, args.frames, args.noise_px, cfg.track, cfg.head_landmarks,
                                   fps=args.fps, rendered=args.frames_from == "photos", photo_noise=args.photo_noise,
                                   still_cfg=cfg, look_gaze=args.eye_look == "gaze", lid_cover=args.lid_cover)
            rows.append(r)
            print(f"{kind + ' ' + str(args.seed + i):<16}{r['frames']:>7}{_fmt(r['identity_error_mm']):>8}"
                  f"{_fmt(r['expression_mae'], '.3f'):>10}{_fmt(r.get('jitter_mm'), '.3f'):>11}"
                  f"{_fmt(r.get('jitter_raw_mm'), '.3f'):>9}{_fmt(r['rotation_error_deg']):>9}"
                  f"{_fmt(r['seconds_per_frame'], '.3f'):>9}{_fmt(r['cpu_seconds_per_frame'], '.3f'):>9}"
                  f"{_fmt(r.get('channel_correlation_min'), '.2f'):>10}{_fmt(r.get('gaze_error_deg'), '.2f'):>10}",
                  flush=True)
            if "frames_with_face" in r:
                print(f"  rendered frames: {r['frames_with_face']}/{r['frames']} with a face, detection "
                      f"{r['detect_seconds_per_frame']:.3f} s/frame (not in s/frame above)", flush=True)
            if "photometric_seconds_per_frame" in r:
                print(f"  photometric pass: {r['photometric_seconds_per_frame']:.3f} s/frame (in s/frame above)",
                      flush=True)
            if r.get("channels_below_0.8"):
                print(f"  channels below 0.8: {', '.join(r['channels_below_0.8'])}", flush=True)
    out = Path(args.output)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"settings": {k: v for k, v in vars(args).items() if k != "func"},
                                      "track": dataclasses.asdict(cfg.track),
                                      "clips": rows})
    print(f"results: {out / 'results.json'}")
    return 0


def register(subparsers) -> None:
    """Add the ``benchmark`` sub-command to the main parser's subparsers."""
    b = subparsers.add_parser("benchmark", help="quality benchmarks (synthetic ground truth, held-out completion)")
    bs = b.add_subparsers(dest="benchmark", required=True)

    def common(sp):
        sp.add_argument("-o", "--output", required=True, help="output folder (results.json and per-face files)")
        sp.add_argument("--preset", default="default", help="reconstruction preset (fast | default | full)")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
        sp.add_argument("--verbose", action="store_true", help="print tracebacks")

    s = bs.add_parser("synthetic", help="generate faces with known truth, reconstruct, score")
    s.add_argument("--n", type=int, default=6, help="faces per variant")
    s.add_argument("--seed", type=int, default=0, help="seed of the first face (face i uses seed + i)")
    s.add_argument("--model", default="head",
                   help="synthetic faces: head (the morphable head, identity ~ N(0, 1), sparse expressions, "
                        "fitted with the head; the default) or mask (hand-made shapes on the 468-point mask, "
                        "fitted with face_model=mediapipe468)")
    s.add_argument("--yaw-max", type=float, default=None, metavar="DEG",
                   help="largest head yaw, degrees, 0-90 (default 60 for head, 20 for mask)")
    s.add_argument("--size", type=int, default=512, help="photo side, pixels")
    s.add_argument("--variants", default="detail,smooth", help="comma list: detail (wrinkles, pores), smooth (none)")
    s.add_argument("--noise", type=float, default=0.0, help="Gaussian noise sigma on the photo (0-1 scale)")
    s.add_argument("--blur", type=float, default=0.0, help="Gaussian blur sigma, pixels")
    s.add_argument("--downsample", type=int, default=1, help="down-sample factor (and back up)")
    s.add_argument("--photo-encoding", default="srgb", choices=("srgb", "none"),
                   help="head photos: shaded in linear light and sRGB-encoded like a camera's (srgb, the default "
                        "since session 6) or the sRGB values shaded directly (none: every figure recorded before "
                        "session 6)")
    s.add_argument("--light-strength", default=None, metavar="LO,HI",
                   help="range of the directional light relative to the ambient, for analysis "
                        "(default: the generator's, 0.35,0.7)")
    s.add_argument("--skin-mottling", type=float, default=0.0, metavar="SIGMA",
                   help="head faces: multi-scale mottling of the skin's log albedo, its standard deviation "
                        "(default 0: none, as every recorded figure; 0.08 for analysis)")
    s.add_argument("--proxy", default="fitted",
                   help="coarse geometry the detail stage refines: fitted (the preset's fit, the default) or "
                        "true (the generator's smooth shape, pose and camera; light and texture still estimated "
                        "from the photo) to measure the detail stage apart from the coarse fit")
    s.add_argument("--no-detail-stage", action="store_true", help="do not force the detail stage on")
    common(s)
    s.set_defaults(func=cmd_synthetic)
    c = bs.add_parser("clip", help="synthetic clips with known motion: track them, score identity, curves, jitter")
    c.add_argument("--kinds", default="motion,channels",
                   help="comma list: motion (still segment, head turns, expression actions) and channels "
                        "(each of the 53 expressions in turn)")
    c.add_argument("--n", type=int, default=1, help="clips per kind (clip i uses seed + i)")
    c.add_argument("--seed", type=int, default=0, help="seed of the first clip")
    c.add_argument("--frames", type=int, default=240, help="frames of a motion clip (channels clips: 53 x 16 + 10)")
    c.add_argument("--fps", type=float, default=30.0, help="frames a second")
    c.add_argument("--noise-px", type=float, default=0.5, help="Gaussian noise on the landmark points, pixels")
    c.add_argument("--frames-from", choices=("points", "photos"), default="points",
                   help="points: the model's embedded points projected with noise (measures the tracker; the "
                        "default); photos: every frame rendered as a photo and its landmarks detected by "
                        "mediapipe, as a video's (measures detector and tracker; slower)")
    c.add_argument("--photo-noise", type=float, default=2.0 / 255,
                   help="with --frames-from photos: per-frame Gaussian pixel noise sd, 0-1 scale (default 2/255)")
    c.add_argument("--eye-look", choices=("gaze", "lids"), default="gaze",
                   help="channels clips: an eye-look shape's bump turns both eyes the way its lids look (gaze, the "
                        "default) or moves the lids alone over straight eyes (lids: the clip before session 32)")
    c.add_argument("--lid-cover", action="store_true",
                   help="with --frames-from photos: push the lids out of the eyeballs before rendering, so a closed "
                        "lid covers the cornea (FaceModel.cover_eyeballs; off: the recorded benchmarks' renders)")
    common(c)
    c.set_defaults(func=cmd_clip)
    h = bs.add_parser("holdout", help="hide a face region, reconstruct, score the completed texture there")
    h.add_argument("paths", nargs="+", help="image files and folders")
    h.add_argument("--regions", default="cheek,eye", help="comma list of regions to hide: cheek, eye")
    common(h)
    h.set_defaults(func=cmd_holdout)
    from facesculpt.bench.relight import register as register_relight

    register_relight(bs, common)
    from facesculpt.bench.occlusion import register as register_occlusion

    register_occlusion(bs, common)
    a = bs.add_parser("aflw2000", help="68-point NME by |yaw| bin on AFLW2000-3D-style imageNNNNN.jpg + .mat pairs")
    a.add_argument("folder", help="folder of imageNNNNN.jpg + imageNNNNN.mat (pt3d_68, Pose_Para)")
    a.add_argument("-o", "--output", default="aflw2000_results", help="output folder (results.json, faces/<stem>/)")
    a.add_argument("--preset", default="default", help="reconstruction preset (fast | default | full)")
    a.add_argument("--from-results", default=None, metavar="DIR",
                   help="score existing result folders DIR/<stem>/ (from `facesculpt reconstruct`) instead of "
                        "reconstructing")
    a.add_argument("--set", action="append", metavar="KEY=VALUE", help="config override (repeatable)")
    a.add_argument("--verbose", action="store_true", help="print tracebacks")
    a.set_defaults(func=cmd_aflw2000)
