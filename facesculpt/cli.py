"""The ``facesculpt`` command line.

    facesculpt reconstruct PATH... -o OUTDIR [--preset fast|default] [--device cpu|cuda] [--max-faces N]
        [--box x0,y0,x1,y1]
    facesculpt reconstruct --subject A.jpg B.jpg ... -o OUTDIR [--force]   (one person, several photos)
    facesculpt reconstruct CLIP.mp4 -o OUTDIR [--no-track]                 (tracked, animated head)
    facesculpt demo -o OUTDIR [--preset ...]
    facesculpt report OUTDIR [--serve]       (report.html per result folder, index.html; --no-report skips them)

Errors are one line on stderr and a non-zero exit; tracebacks only with --verbose.
A batch goes on past a bad file and exits 1 at the end if any image failed.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import time
import traceback
from pathlib import Path

EXIT_FAILED = 1
EXIT_USAGE = 2


def _bundled_photo() -> Path:
    return Path(__file__).resolve().parent / "assets" / "grace_hopper.jpg"


def _parse_overrides(items):
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got '{item}'")
        try:
            import json

            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


class _Bars:
    """tqdm progress: one bar over images, one per fit stage."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.stage = None
        self.bar = None

    def __call__(self, stage: str, step: int, total: int):
        if not self.enabled:
            return
        from tqdm import tqdm

        if stage != self.stage or self.bar is None:
            self.close()
            self.stage = stage
            self.bar = tqdm(total=total, desc=f"  {stage}", leave=False, file=sys.stderr, dynamic_ncols=True)
        self.bar.n = step
        self.bar.refresh()

    def close(self):
        if self.bar is not None:
            self.bar.close()
        self.bar = None
        self.stage = None


def _stem_dirs(outdir: Path, path: Path, n: int, used: set) -> list[Path]:
    """Result folders of the ``n`` faces of ``path`` (naming rule: ``facesculpt.io.names``)."""
    from facesculpt.io.names import result_names

    return [outdir / name for name in result_names(path, n, used, outdir)]


def _quality(m: dict) -> str:
    return (f"in-view PSNR {m['inview_psnr']:.2f} dB, SSIM {m['inview_ssim']:.3f}"
            + (f", identity distance {m['identity_distance_inview']:.2f}" if "identity_distance_inview" in m else ""))


def _reconstruct_video(path: Path, folder: Path, cfg, args, bars) -> tuple[Path, int, int, list[str]]:
    """Reconstruct the sampled frames of one video into ``folder`` (written atomically, as one
    result): ``frame_NNNNNN[_faceK]/`` per frame and face, and ``frames.json`` (per frame: time,
    folder, pose, light, metrics; frames without a face listed as skipped). Frames are fitted
    independently. Returns (folder, faces written, frames read, one note per skipped frame); raises if no
    frame gave a face, so nothing is left behind."""
    from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError, FitFailedError
    from facesculpt.io.atomic import atomic_output_dir, write_json
    from facesculpt.io.results import params_dict, write_result
    from facesculpt.fitting.gates import fitted_image
    from facesculpt.io.video import iter_video_frames, video_info
    from facesculpt.pipeline import reconstruct_all

    info = video_info(path)
    frames, skipped, notes = [], [], []
    n_read = 0
    with atomic_output_dir(folder) as tmp:
        for fr in iter_video_frames(path, every=args.every, max_frames=args.max_frames):
            n_read += 1
            try:
                recs = reconstruct_all(fr.image, config=cfg, name=f"{path.name} frame {fr.index}", progress=bars)
            except (FaceNotFoundError, FaceTooSmallError, FitFailedError) as e:
                bars.close()
                skipped.append({"frame": fr.index, "time_s": fr.time_s, "reason": str(e).splitlines()[0]})
                notes.append(f"note: {path.name}: frame {fr.index} skipped: {str(e).splitlines()[0]}")
                continue
            bars.close()
            for k, rec in enumerate(recs):
                name = f"frame_{fr.index:06d}" + ("" if k == 0 else f"_face{k + 1}")
                shown = fitted_image(fr.image, rec)
                write_result(Path(tmp) / name, shown, rec, extra_writers=_report_writers(args, folder / name, shown))
                p = params_dict(rec)
                frames.append({"frame": fr.index, "time_s": fr.time_s, "face": k + 1, "folder": name,
                               "pose": p["pose"], "light": p["light"]["sh_coeffs"], "metrics": rec.metrics})
        if not frames:
            raise FaceNotFoundError(f"{path.name}: no face found in any of the {n_read} frame(s) read"
                                    + (" (the video has no decodable frames)" if n_read == 0 else ""))
        from facesculpt.io.names import source_writer

        source_writer(path, 1, 1)(tmp, None)  # the folder says which video it holds (io.names)
        write_json(Path(tmp) / "frames.json", {
            "video": path.name, "fps": info.fps, "frame_count": info.frames, "size_hw": list(info.size_hw),
            "every": args.every, "frames_read": n_read, "faces": frames, "skipped": skipped,
            "note": "each frame is fitted independently (no temporal smoothing); time_s is null when the fps is unknown"})
        if not args.no_report:
            from facesculpt.report.cli import clip_report

            clip_report(Path(args.output), folder, Path(tmp))
    return folder, len(frames), n_read, notes


def _report_writers(args, folder: Path, image) -> list:
    """The report writer for ``write_result`` (none with --no-report); writes the batch's shared
    viewer scripts first (so a batch where every input fails leaves no folder)."""
    if args.no_report:
        return []
    from facesculpt.report.cli import report_writer, start_batch

    start_batch(Path(args.output))
    return [report_writer(Path(args.output), folder, image)]
def _track_video(path: Path, folder: Path, cfg, args, show: bool) -> tuple[Path, int, int, list[str]]:
    """``--track``: one tracked, animated head for the video (``facesculpt.track``), written atomically
    into ``folder``. Returns (folder, 1, frames read, one note per frame without a face)."""
    import numpy as np
    from tqdm import tqdm

    from facesculpt.io.clip_results import write_clip_result
    from facesculpt.io.video import iter_video_frames, video_info
    from facesculpt.track import reconstruct_clip

    info = video_info(path)
    total = -(-info.frames // args.every) if info.frames else None
    if total is not None and args.max_frames is not None:
        total = min(total, args.max_frames)
    bars = {}

    def progress(stage, step, n):
        if not show:
            return
        if stage not in bars:
            for b in bars.values():
                b.close()
            unit = "frame" if stage in ("detect", "track", "photometric") else "fit"
            bars[stage] = tqdm(total=n or None, desc=f"  {stage}", unit=unit, leave=False, file=sys.stderr,
                               dynamic_ncols=True)
        bars[stage].update(step - bars[stage].n)

    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.clip_checkpoint import ClipCheckpoint, checkpoint_key

    # the detections are kept in a hidden checkpoint beside the result: a rerun resumes (io.clip_checkpoint)
    ckpt = ClipCheckpoint.open(folder, checkpoint_key(path, cfg, args.every))
    if ckpt.resumed:  # also without progress bars (a log file, --quiet): the rerun says it resumed, as other notes
        tqdm.write(f"{path.name}: resuming: {ckpt.resumed} frame(s) already detected by an interrupted run",
                   file=sys.stderr)
    try:
        clip = reconstruct_clip(iter_video_frames(path, every=args.every, max_frames=args.max_frames),
                                info.fps / args.every if info.fps else 0.0, cfg, progress=progress, name=path.name,
                                total=total, detections=ckpt)
    except FaceSculptError:  # a failure for good (no face in any frame): nothing to resume
        ckpt.discard()
        raise
    finally:
        ckpt.save()
        for b in bars.values():
            b.close()
    from facesculpt.io.names import source_writer

    write_clip_result(folder, clip, {"video": path.name, "fps": info.fps, "frame_count": info.frames,
                                     "size_hw": list(info.size_hw), "every": args.every},
                      extra_writers=[source_writer(path, 1, 1)] + _report_writers(args, folder, clip.still_image))
    ckpt.delete()
    notes = [f"note: {path.name}: frame {s['frame']} has no face ({s['reason']}); "
             + ("interpolated" if clip.track.status[k] == "interpolated" else "held")
             for k, s in zip([int(np.flatnonzero(clip.frame_index == s["frame"])[0]) for s in clip.skipped],
                             clip.skipped)]
    return folder, 1, len(clip.track), notes


def _reconstruct_subject(entries, outdir: Path, cfg, args, bars) -> int:
    """``--subject``: every input photo is the same person; one result folder named after the first."""
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.image import load_image
    from facesculpt.io.subject_results import write_subject_result
    from facesculpt.subject import reconstruct_subject

    t0 = time.perf_counter()
    # the photos in the order given (find_images sorts by path): the folder is named after the first one
    given = {os.path.realpath(p): i for i, p in enumerate(args.paths)}
    entries = sorted(entries, key=lambda e: given.get(os.path.realpath(e[0]), len(given)))
    try:
        paths = []
        for entry in entries:
            path, err = entry if isinstance(entry, tuple) else (entry, None)
            if err is not None:
                raise err if isinstance(err, BaseException) else FaceSculptError(str(err))
            paths.append(Path(path))
        from facesculpt.io.video import is_video_name

        videos = [p.name for p in paths if is_video_name(p)]
        if videos:
            raise FaceSculptError(f"--subject takes photos, not videos ({videos[0]}: reconstruct it without --subject, "
                                  "which tracks its frames into one animated head)")
        if len(paths) < 2:
            raise FaceSculptError("--subject needs at least two photos of the person")
        images = [load_image(p) for p in paths]
        sub = reconstruct_subject(images, cfg, names=[p.name for p in paths], force=args.force, progress=bars)
        bars.close()
        target = outdir / (paths[0].stem or "subject")
        folder = write_subject_result(target, images[sub.front], sub,
                                      extra_writers=_report_writers(args, target, images[sub.front]))
    except KeyboardInterrupt:
        raise
    except Exception as e:
        bars.close()
        if args.verbose:
            traceback.print_exc()
        text = str(e) if isinstance(e, FaceSculptError) else f"{type(e).__name__}: {e}"
        print(f"error: {text.splitlines()[0] if text else type(e).__name__}", file=sys.stderr)
        return EXIT_FAILED
    if not args.no_report:
        from facesculpt.report.cli import finish_batch

        finish_batch(outdir)
    print(f"{len(paths)} photos of one person: {folder}  ({time.perf_counter() - t0:.1f} s; subject.json)")
    return 0


def _weights_problem(cfg) -> str | None:
    """One line if a weights file named in the config (``regressor.weights``, ``regressor.refiner_weights``) cannot
    be read, before any photo is fitted (else every photo of a batch would fail with it); None when they read."""
    from facesculpt.core.errors import FaceSculptError

    reg = getattr(cfg, "regressor", None)
    if reg is None or not getattr(reg, "enabled", False) or not (reg.weights or reg.refiner_weights):
        return None
    try:
        if reg.weights:
            from facesculpt.models.regressor import get_regressor

            get_regressor(reg.weights)
        if reg.refiner_weights:
            from facesculpt.models.identity_refiner import get_identity_refiner

            get_identity_refiner(reg.refiner_weights)
    except FaceSculptError as e:
        return str(e).splitlines()[0]
    return None


def cmd_reconstruct(args) -> int:
    from facesculpt.config import make_config
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.discover import find_images

    if args.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            print("error: --device cuda asked for, but no CUDA device is available (use --device cpu)", file=sys.stderr)
        else:
            print("error: --device cuda is not supported by this version: the fit runs on the CPU "
                  "(use --device cpu)", file=sys.stderr)
        return EXIT_USAGE
    try:
        cfg = make_config(args.preset, **{"max_faces": args.max_faces, **_parse_overrides(args.set)})
    except (FaceSculptError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    bad = _weights_problem(cfg)
    if bad:
        print(f"error: {bad}", file=sys.stderr)
        return EXIT_USAGE
    box = None
    if getattr(args, "box", None):
        try:
            box = tuple(float(v) for v in args.box.split(","))
            if len(box) != 4:
                raise ValueError
        except ValueError:
            print(f"error: --box expects four numbers x0,y0,x1,y1 (pixels), got '{args.box}'", file=sys.stderr)
            return EXIT_USAGE
    if box is not None and getattr(args, "subject", False):
        print("error: --box applies to single photos, not to --subject (each photo's face is detected)", file=sys.stderr)
        return EXIT_USAGE
    if args.every < 1 or (args.max_frames is not None and args.max_frames < 1):
        print("error: --every and --max-frames must be >= 1", file=sys.stderr)
        return EXIT_USAGE
    outdir = Path(args.output)
    entries = find_images(args.paths, exclude=[outdir], videos=True)
    if not entries:
        print("error: no images found in the given paths", file=sys.stderr)
        return EXIT_USAGE
    if box is not None:
        from facesculpt.io.video import is_video_name

        paths = [Path(e[0] if isinstance(e, tuple) else e) for e in entries]
        videos = [p.name for p in paths if is_video_name(p)]
        if videos:
            print(f"error: --box applies to photos, not to videos ({videos[0]}: its frames' faces are detected)",
                  file=sys.stderr)
            return EXIT_USAGE
    from facesculpt.io.outdir import prepare_output_dir, remove_created_if_empty

    try:  # -o is checked (and created) before the first fit; removed again if the run leaves it empty
        created = prepare_output_dir(outdir)
    except FaceSculptError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_USAGE
    from facesculpt.io.atomic import remove_stale_temps

    stale = remove_stale_temps(outdir)  # what a killed run (SIGKILL, out of memory) was writing there
    if stale:
        print(f"note: cleaned up {stale} unfinished result folder(s) a killed run left in {outdir}", file=sys.stderr)
    try:
        return _reconstruct_entries(args, cfg, entries, outdir, box)
    finally:
        if created:  # a folder this run made, left with only the viewer's shared scripts (interrupted before the
            from facesculpt.report.cli import remove_lone_assets  # first result was in place): removed with them

            remove_lone_assets(outdir)
        remove_created_if_empty(created)


def _reconstruct_entries(args, cfg, entries, outdir: Path, box=None) -> int:
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.image import load_image
    from facesculpt.fitting.gates import fitted_image
    from facesculpt.io.names import remove_stale_faces, source_writer
    from facesculpt.io.results import write_result
    from facesculpt.io.video import is_video_name
    from facesculpt.pipeline import reconstruct_all

    show = not args.quiet and sys.stderr.isatty() or args.progress
    bars = _Bars(show)
    if getattr(args, "subject", False):
        return _reconstruct_subject(entries, outdir, cfg, args, bars)
    failures: list[str] = []
    done: list[Path] = []
    used: set = {"_report"}  # the report's shared scripts folder (facesculpt/report)
    n_warned = 0
    from tqdm import tqdm

    it = tqdm(entries, desc="images", unit="img", file=sys.stderr, disable=not show, dynamic_ncols=True)
    for entry in it:
        _check_interrupted()
        path, err = entry if isinstance(entry, tuple) else (entry, None)
        path = Path(path)
        t0 = time.perf_counter()
        try:
            if err is not None:
                raise err if isinstance(err, BaseException) else FaceSculptError(str(err))
            if is_video_name(path) and args.track is not False:
                folder, n_faces, n_read, notes = _track_video(path, _stem_dirs(outdir, path, 1, used)[0], cfg, args,
                                                              show)
                done.append(folder)
                for note in notes:
                    tqdm.write(note, file=sys.stderr)
                tqdm.write(f"{path.name}: {folder}  ({time.perf_counter() - t0:.1f} s, tracked {n_read} frame(s), "
                           f"{n_read - len(notes)} with a face; mesh.glb animated, blendshapes.csv, frames.json)",
                           file=sys.stdout)
                continue
            if is_video_name(path):
                folder, n_faces, n_read, notes = _reconstruct_video(path, _stem_dirs(outdir, path, 1, used)[0],
                                                                    cfg, args, bars)
                done.extend([folder] * n_faces)
                for note in notes:
                    tqdm.write(note, file=sys.stderr)
                tqdm.write(f"{path.name}: {folder}  ({time.perf_counter() - t0:.1f} s, {n_faces} face(s) from "
                           f"{n_read - len(notes)} of {n_read} frame(s) read; index in frames.json)", file=sys.stdout)
                continue
            image = load_image(path)
            recs = reconstruct_all(image, config=cfg, name=str(path), progress=bars, box=box)
            bars.close()
            folders = _stem_dirs(outdir, path, len(recs), used)
            for k, (folder, rec) in enumerate(zip(folders, recs)):
                shown = fitted_image(image, rec)
                write_result(folder, shown, rec,
                             extra_writers=[source_writer(path, k + 1, len(recs))]
                             + _report_writers(args, folder, shown))
                done.append(folder)
                tqdm.write(f"{path.name}: {folder}  ({time.perf_counter() - t0:.1f} s, {_quality(rec.metrics)})",
                           file=sys.stdout)
                for w in rec.metrics.get("warnings", []):
                    tqdm.write(f"warning: {path.name}: {w}", file=sys.stderr)
                n_warned += bool(rec.metrics.get("warnings"))
                if ((getattr(rec, "losses", None) or {}).get("occlusion") or {}).get("glasses", {}).get("found"):
                    ident = ("; the identity distance compares the render with the photo's glasses"
                             if "identity_distance_inview" in rec.metrics else "")
                    tqdm.write(f"  glasses frames found and completed as skin in the albedo{ident} "
                               "(--set texture.occlusion.glasses.enabled=false keeps them)", file=sys.stdout)
                hair = ((getattr(rec, "losses", None) or {}).get("occlusion") or {}).get("hair") or {}
                if hair.get("added_share", 0.0) >= 0.01:  # what the hair test took beyond the colour tests
                    tqdm.write(f"  hair over the forehead found ({100 * hair['face_share']:.0f} % of the face) and "
                               "completed as skin in the albedo (--set texture.occlusion.hair=0 keeps it)",
                               file=sys.stdout)
            more = getattr(getattr(recs[0], "landmarks", None), "more_faces", 0) if recs else 0
            if more:  # a group photo: only the largest faces were reconstructed
                tqdm.write(f"note: {path.name}: {more} more face(s) found; --max-faces {len(recs) + more} "
                           "reconstructs them too", file=sys.stderr)
            for stale in remove_stale_faces(folders, path, used):
                tqdm.write(f"note: removed {stale} (a face of an earlier run of {path.name} not found this time)",
                           file=sys.stderr)
        except KeyboardInterrupt:
            raise
        except Exception as e:  # one line per failure; the batch goes on
            bars.close()
            if args.verbose:
                traceback.print_exc()
            text = str(e) if isinstance(e, FaceSculptError) else f"{type(e).__name__}: {e}"
            line = text.splitlines()[0] if text else type(e).__name__
            if path.name not in line:
                line = f"{path.name}: {line}"
            failures.append(line)
            tqdm.write(f"error: {line}", file=sys.stderr)
    _check_interrupted()
    n_ok = len(done)
    if not args.no_report:
        from facesculpt.report.cli import finish_batch

        finish_batch(outdir)
    print(f"done: {n_ok} face(s) reconstructed, {len(failures)} input(s) failed; "
          + (f"outputs in {outdir}" if n_ok or done else "nothing written")
          + (f"; {n_warned} with warnings (see their metrics.json)" if n_warned else ""))
    return EXIT_FAILED if failures else 0


def cmd_demo(args) -> int:
    args.paths = [str(_bundled_photo())]
    args.every, args.max_frames, args.track, args.subject = 1, None, None, False
    return cmd_reconstruct(args)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="facesculpt", description="One photo to a textured, relightable 3D face.")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True)

    def common(sp):
        sp.add_argument("-o", "--output", required=True, help="output folder (one sub-folder per image)")
        sp.add_argument("--preset", default="default", help="fast | default | full")
        sp.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (default) or cuda")
        sp.add_argument("--max-faces", type=int, default=1,
                        help="faces per image, largest first (default 1: only the largest face of a group photo)")
        sp.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="config override, e.g. --set photometric.iterations=40 (repeatable)")
        sp.add_argument("--verbose", action="store_true", help="print tracebacks and third-party logs and warnings")
        sp.add_argument("--no-report", action="store_true", help="skip report.html (the 3D viewer page) and index.html")
        sp.add_argument("--quiet", action="store_true", help="no progress bars")
        sp.add_argument("--progress", action="store_true", help="progress bars even when stderr is not a terminal")

    r = sub.add_parser("reconstruct", help="reconstruct faces from images and folders")
    r.add_argument("paths", nargs="+", help="image and video files and folders (searched recursively)")
    r.add_argument("--every", type=int, default=1, metavar="N", help="videos: reconstruct every N-th frame (default 1)")
    r.add_argument("--max-frames", type=int, default=None, metavar="N", help="videos: at most N frames per video")
    r.add_argument("--box", default=None, metavar="x0,y0,x1,y1",
                   help="the face's box in pixels (photos; skips face detection, one face per photo)")
    r.add_argument("--subject", action="store_true",
                   help="the photos show one person: one identity and albedo fitted to all of them")
    r.add_argument("--force", action="store_true",
                   help="--subject: fit the photos together even when they do not look like one person")
    r.add_argument("--track", action=argparse.BooleanOptionalAction, default=None,
                   help="videos: one tracked, animated head per video (default); --no-track fits every frame "
                        "on its own")
    common(r)
    r.set_defaults(func=cmd_reconstruct)
    d = sub.add_parser("demo", help="reconstruct the bundled sample photo")
    common(d)
    d.set_defaults(func=cmd_demo)
    from facesculpt.bench.cli import register as register_benchmark
    from facesculpt.identity.cli import register as register_compare
    from facesculpt.report.cli import register as register_report

    register_compare(sub)
    register_benchmark(sub)
    register_report(sub)
    from facesculpt.training.cli import register as register_train

    register_train(sub)
    return p


def _version() -> str:
    from facesculpt import __version__

    return f"facesculpt {__version__}"


class Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``, a container or job scheduler stopping the run), raised where the program is:
    as Ctrl-C does, it unwinds the atomic writers (``io.atomic``: no half-written result is left) and the video
    checkpoint is kept; the command exits with 143."""


def _on_sigterm(signum, frame):
    raise Terminated()


#: set by the Ctrl-C handler: a KeyboardInterrupt raised inside a C callback (numba compiling its kernels on a first
#: run, through llvmlite's ctypes callback) is printed and swallowed there; the batch checks this between inputs
_INTERRUPTED = []


def _on_sigint(signum, frame):
    _INTERRUPTED.append(signum)
    signal.default_int_handler(signum, frame)


def _check_interrupted() -> None:
    """Raise KeyboardInterrupt if Ctrl-C was pressed and the exception got lost on the way."""
    if _INTERRUPTED:
        raise KeyboardInterrupt


def main(argv=None) -> int:
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import threading

    on_main = threading.current_thread() is threading.main_thread()  # signal handlers can only be set there
    previous = None
    if on_main:
        previous = signal.signal(signal.SIGTERM, _on_sigterm), signal.signal(signal.SIGINT, _on_sigint)
    _INTERRUPTED.clear()
    try:
        return _main(argv)
    except Terminated:
        print("terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:  # also during start-up (the imports take seconds)
        print("interrupted", file=sys.stderr)
        return 130
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, previous[0])
            signal.signal(signal.SIGINT, previous[1])


def _main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "verbose", False):
        os.environ["FACESCULPT_NATIVE_LOGS"] = "1"  # mediapipe/TFLite C++ logs (core/quiet.py)
    else:
        import warnings

        warnings.filterwarnings("ignore")  # third-party warnings only with --verbose
    if getattr(args, "max_faces", 1) < 1:
        print("error: --max-faces must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    try:
        return args.func(args)
    except KeyboardInterrupt:
        raise
    except Exception as e:
        if getattr(args, "verbose", False):
            traceback.print_exc()
        print(f"error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
