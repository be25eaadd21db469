"""``facesculpt report OUTDIR [--serve]`` and the report hooks of ``reconstruct``."""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from facesculpt.report.html import (
    ASSETS_DIR,
    find_result_folders,
    is_result_folder,
    write_assets,
    write_clip_report,
    write_index,
    write_report,
)


def assets_rel(outdir: Path, folder: Path, name: str = ASSETS_DIR) -> str:
    """``OUTDIR/name`` (default: the shared scripts' folder) relative to the result ``folder`` (URL form)."""
    return os.path.relpath(Path(outdir) / name, Path(folder)).replace(os.sep, "/")


def report_writer(outdir: Path, folder: Path, photo):
    """An ``extra_writers`` entry for ``write_result``: writes the report into the temporary folder
    that becomes ``folder`` (links computed for the final place)."""
    rel, index = assets_rel(outdir, folder), assets_rel(outdir, folder, "index.html")
    name = Path(folder).name

    def write(tmp, rec):
        try:
            write_report(Path(tmp), rel, photo=photo, title=name, index_href=index)
        except Exception as e:  # the reconstruction is written all the same; `facesculpt report` can retry
            text = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"note: {name}: report.html not written ({text})", file=sys.stderr)

    return write


def clip_report(outdir: Path, folder: Path, tmp: Path) -> None:
    """The clip page of a video written into ``tmp``, which becomes ``folder`` (after its frames)."""
    write_clip_report(Path(tmp), assets_rel(outdir, folder), title=Path(folder).name,
                      index_href=assets_rel(outdir, folder, "index.html"))


def remove_lone_assets(outdir: Path) -> bool:
    """Remove ``OUTDIR/_report`` when it is all ``OUTDIR`` holds (a run interrupted between writing the shared scripts
    and putting its first result in place); only for a folder the run itself created. True if removed."""
    outdir = Path(outdir)
    try:
        names = [p.name for p in outdir.iterdir()]
    except OSError:
        return False
    if names != [ASSETS_DIR] or not (outdir / ASSETS_DIR).is_dir() or (outdir / ASSETS_DIR).is_symlink():
        return False
    shutil.rmtree(outdir / ASSETS_DIR, ignore_errors=True)
    return not (outdir / ASSETS_DIR).exists()


def start_batch(outdir: Path) -> None:
    """Write the viewer's shared scripts into ``OUTDIR/_report`` (before the results that link them)."""
    write_assets(Path(outdir) / ASSETS_DIR)


def finish_batch(outdir: Path) -> Path | None:
    """Write ``OUTDIR/index.html`` over every result folder below ``OUTDIR``; None if there is none."""
    outdir = Path(outdir)
    if not outdir.is_dir() or not find_result_folders(outdir) or is_result_folder(outdir):
        return None
    return write_index(outdir)


def cmd_report(args) -> int:
    outdir = Path(args.outdir)
    if not outdir.is_dir():
        print(f"error: {outdir} is not a folder (give a results folder written by facesculpt reconstruct)",
              file=sys.stderr)
        return 2
    folders = find_result_folders(outdir)
    if not folders:
        print(f"error: no result folders (with params.json and mesh.glb) in {outdir}", file=sys.stderr)
        return 2
    start_batch(outdir)
    batch = not is_result_folder(outdir)
    for f in folders:
        write_report(f, assets_rel(outdir, f), index_href=assets_rel(outdir, f, "index.html") if batch else None)
    for frames_json in sorted(outdir.rglob("frames.json")):  # videos: the clip page over their frames
        clip = frames_json.parent
        write_clip_report(clip, assets_rel(outdir, clip), index_href=assets_rel(outdir, clip, "index.html") if batch else None)
    index = finish_batch(outdir)
    page = index if index is not None else folders[0] / "report.html"
    print(f"report: {len(folders)} result folder(s); open {page}")
    if args.serve:
        return serve(outdir, page, args.port)
    return 0


def serve(root: Path, page: Path, port: int = 0) -> int:
    """Serve ``root`` on 127.0.0.1 until interrupted, printing the page's URL."""
    import functools
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format, *args):  # noqa: A002 - the base class's name
            pass

    handler = functools.partial(Quiet, directory=str(root))
    with ThreadingHTTPServer(("127.0.0.1", port), handler) as httpd:
        rel = os.path.relpath(page, root).replace(os.sep, "/")
        print(f"serving {root} at http://127.0.0.1:{httpd.server_address[1]}/{rel}  (Ctrl-C to stop)", flush=True)
        try:
            httpd.serve_forever()
        except KeyboardInterrupt:
            pass
    return 0


def register(sub) -> None:
    r = sub.add_parser("report", help="write report.html (3D viewer, maps, metrics) for result folders")
    r.add_argument("outdir", help="a results folder (or one result folder)")
    r.add_argument("--serve", action="store_true", help="then serve it on http://127.0.0.1 (prints the URL)")
    r.add_argument("--port", type=int, default=0, help="port for --serve (default: any free port)")
    r.set_defaults(func=cmd_report)


__all__ = ["register", "report_writer", "clip_report", "start_batch", "finish_batch", "assets_rel", "cmd_report", "serve"]
