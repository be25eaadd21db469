"""``report.html`` for a result folder and ``index.html`` over a batch.

The page is static HTML written from the files already in the folder (``params.json``,
``metrics.json``, the PNG maps, ``mesh.glb``), so ``facesculpt report OUTDIR`` can (re)write it
for any result folder. The 3D viewer's scripts (vendored three.js, ``viewer.js``, the CSS) are
written once per batch into ``OUTDIR/_report/`` and linked relatively; each folder adds its own
``report.html``, ``report_data.js`` (the compact mesh payload, see ``payload.py``) and, when the
photo is at hand, ``report_photo.jpg``. Everything loads with classic ``<script>``/``<img>``/
``<link>`` tags, which browsers allow from ``file://`` (module imports and fetch are not).
"""
from __future__ import annotations

import html
import json
import os
import shutil
from pathlib import Path

import numpy as np

from facesculpt.io.atomic import _write_bytes_atomic
from facesculpt.report.payload import build_payload, payload_script, read_viewer_mesh

#: name of the batch folder holding the viewer's shared scripts
ASSETS_DIR = "_report"
#: longest side (pixels) of the photo copy shown in the report
PHOTO_MAX = 1024

_HERE = Path(__file__).resolve().parent
_ASSET_FILES = {
    "three.min.js": _HERE / "vendor" / "three.min.js",
    "OrbitControls.js": _HERE / "vendor" / "OrbitControls.js",
    "THREE_LICENSE": _HERE / "vendor" / "THREE_LICENSE",
    "viewer.js": _HERE / "static" / "viewer.js",
    "report.css": _HERE / "static" / "report.css",
}
#: (file, caption) of the maps shown when present
_MAPS = (
    ("albedo.png", "albedo (face, light-free)"),
    ("albedo_head.png", "albedo (head and neck)"),
    ("texture.png", "texture (photo unwrapped, lit)"),
    ("visibility.png", "visibility"),
    ("normal.png", "normal map"),
    ("displacement.png", "displacement"),
    ("eye_left.png", "left eye"),
)


def is_result_folder(path: Path) -> bool:
    """A folder written by ``write_result`` (has ``params.json`` and ``mesh.glb``)."""
    return (path / "params.json").is_file() and (path / "mesh.glb").is_file()


def find_result_folders(root: Path) -> list[Path]:
    """Result folders at or below ``root`` (sorted; hidden/temporary folders and ``_report`` skipped)."""
    root = Path(root)
    if is_result_folder(root):
        return [root]
    out = []
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d != ASSETS_DIR)
        if is_result_folder(Path(dirpath)):
            out.append(Path(dirpath))
    return out


def write_assets(assets_dir: Path) -> Path:
    """Copy the viewer's shared scripts and CSS into ``assets_dir`` (created). Returns it."""
    assets_dir = Path(assets_dir)
    assets_dir.mkdir(parents=True, exist_ok=True)
    for name, src in _ASSET_FILES.items():
        dst = assets_dir / name
        if not dst.is_file() or dst.read_bytes() != src.read_bytes():
            shutil.copyfile(src, dst)
    return assets_dir


def _esc(x) -> str:
    return html.escape(str(x), quote=True)


def _num(v) -> str:
    if isinstance(v, bool) or v is None:
        return _esc(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"
    return _esc(v)


def _table(rows, head=None, cls="") -> str:
    out = [f'<table class="{cls}">']
    if head:
        out.append("<tr>" + "".join(f"<th>{_esc(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        cells = []
        for c in row:
            num = isinstance(c, (int, float)) and not isinstance(c, bool)
            cells.append(f'<td class="num">{_num(c)}</td>' if num else f"<td>{_esc(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _flat(d, prefix="") -> list[tuple[str, object]]:
    rows = []
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            rows += _flat(v, key + ".")
        elif isinstance(v, list) and len(v) <= 4 and all(isinstance(x, (int, float)) for x in v):
            rows.append((key, ", ".join(_num(x) for x in v)))
        elif isinstance(v, list):
            rows.append((key, f"[{len(v)} values]"))
        else:
            rows.append((key, v))
    return rows


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _param_tables(params: dict, metrics: dict) -> str:
    parts = []
    if metrics:
        parts.append("<div><h3>metrics</h3>" + _table(_flat(metrics), ("metric", "value")) + "</div>")
    cam, pose = params.get("camera", {}), params.get("pose", {})
    if cam or pose:
        rows = [("focal (px)", cam.get("focal_px", "")),
                ("principal point (px)", ", ".join(_num(x) for x in cam.get("principal_px", []))),
                ("image size (h, w)", ", ".join(str(x) for x in cam.get("image_size_hw", []))),
                ("rotation vector (rad)", ", ".join(_num(x) for x in pose.get("rotvec_rad", []))),
                ("translation (cm)", ", ".join(_num(x) for x in pose.get("translation_cm", [])))]
        parts.append("<div><h3>camera and pose</h3>" + _table(rows, ("", "value")) + "</div>")
    head = params.get("head")
    if head:
        expr = sorted(head.get("expression", {}).items(), key=lambda kv: -kv[1])
        rows = [(n, w) for n, w in expr if w >= 0.01] or [("(all below 0.01)", "")]
        gaze = head.get("gaze_rad", {})
        grows = [(eye, g.get("yaw", ""), g.get("pitch", "")) for eye, g in gaze.items()]
        ident = np.asarray(head.get("identity", []), float)
        parts.append("<div><h3>expression (fitted, &ge; 0.01)</h3>" + _table(rows, ("blendshape", "weight")) + "</div>")
        parts.append("<div><h3>gaze (rad)</h3>" + _table(grows, ("eye", "yaw", "pitch"))
                     + "<h3>identity</h3>" + _table([
                         ("coefficients", len(ident)),
                         ("norm", float(np.linalg.norm(ident)) if ident.size else ""),
                         ("largest |coefficient|", float(np.abs(ident).max()) if ident.size else ""),
                         ("corrections, max (cm)", head.get("corrections_cm_max", ""))], ("", "value")) + "</div>")
    light = params.get("light", {}).get("sh_coeffs")
    if light:
        names = ("Y00", "Y1-1 (y)", "Y10 (z)", "Y11 (x)", "Y2-2", "Y2-1", "Y20", "Y21", "Y22")
        rows = [(names[i] if i < len(names) else str(i), *c) for i, c in enumerate(light)]
        parts.append("<div><h3>SH light</h3>" + _table(rows, ("band", "r", "g", "b")) + "</div>")
    other = []
    for key in ("losses", "timings_s"):
        if params.get(key):
            other.append(f"<details><summary>{_esc(key)}</summary>" + _table(_flat(params[key])) + "</details>")
    if params.get("config"):
        other.append("<details><summary>config</summary>" + _table(_flat(params["config"])) + "</details>")
    if params.get("versions"):
        other.append("<details><summary>versions</summary>" + _table(_flat(params["versions"])) + "</details>")
    if other:
        parts.append("<div><h3>run</h3>" + "".join(other) + "</div>")
    return '<div class="tables">' + "".join(parts) + "</div>"


def light_direction(params: dict) -> tuple[float, float]:
    """(azimuth, elevation) in degrees of the fitted SH light's band-1 direction (view frame:
    +Y up, +Z towards the camera; azimuth from +Z towards +X), for the viewer's initial light;
    (30, 25) without a light."""
    sh = np.asarray(params.get("light", {}).get("sh_coeffs", []), float)
    if sh.shape != (9, 3):
        return 30.0, 25.0
    y, z, x = sh[1:4].mean(1)  # band order Y1-1 (y), Y10 (z), Y11 (x): facesculpt/ops/sh.py
    if np.hypot(np.hypot(x, y), z) < 1e-6:
        return 30.0, 25.0
    return float(np.degrees(np.arctan2(x, z))), float(np.degrees(np.arctan2(y, np.hypot(x, z))))


def _clip_controls(n: int, legend: str) -> tuple[str, str]:
    """(the play button and frame slider over ``n`` frames, the script tag of clip_data.js)."""
    box = (f'<fieldset><legend>clip ({_esc(legend)})</legend><button id="clip-play" type="button">play</button> '
           f'<input id="clip-frame" type="range" min="0" max="{n - 1}" step="1" value="0"> '
           '<output id="clip-label"></output></fieldset>')
    return box, '<script src="clip_data.js"></script>\n'


def _page(folder: Path, assets_rel: str, title: str, params: dict, metrics: dict, has_photo: bool,
          index_href: str | None, data_src: str = "report_data.js", clip: list | None = None,
          clip_table: bool = True) -> str:
    """The report page. ``clip``: frames to play (clip_data.js); with ``clip_table`` the page is a video's
    page over per-frame result folders (a table links each frame's report), without it a result folder's own
    page (a tracked clip's head) with the clip's controls added."""
    a = assets_rel.rstrip("/") + "/"
    index_link = f' &middot; <a style="color:#9cf" href="{_esc(index_href)}">all results</a>' if index_href else ""
    figs = []
    if has_photo:
        figs.append('<figure><img src="report_photo.jpg" alt="photo"><figcaption>photo</figcaption></figure>')
    if (folder / "overlay.png").is_file():
        figs.append('<figure><img src="overlay.png" alt="overlay"><figcaption>fitted face over the photo</figcaption></figure>')
    if (folder / "occluders.png").is_file():
        figs.append('<figure><img src="occluders.png" alt="occluders"><figcaption>taken out of the albedo (red)'
                    '</figcaption></figure>')
    maps = "".join(f'<figure><img src="{f}" alt="{_esc(c)}"><figcaption>{_esc(c)}</figcaption></figure>'
                   for f, c in _MAPS if (folder / f).is_file())
    views = "".join(f'<label><input type="radio" name="view" value="{v}"{" checked" if v == "textured" else ""}> {v}</label> '
                    for v in ("textured", "shaded", "albedo", "normals", "wireframe"))
    files = sorted(p.name for p in folder.iterdir() if p.is_file())
    light_az, light_el = light_direction(params)
    if clip is None or not clip_table:
        top = f'<section><h2>photo and fit</h2><div class="pair">{"".join(figs)}</div></section>'
        bottom = (f'<section><h2>maps</h2><div class="maps">{maps}</div></section>'
                  f'<section><h2>metrics and parameters</h2>{_param_tables(params, metrics)}</section>')
        clip_box, clip_script = "", ""
        if clip:
            clip_box, clip_script = _clip_controls(len(clip), "the tracked head: every frame's expression and rotation")
    else:
        top = ""
        rows = "".join(
            f'<tr><td class="num">{f["frame"]}</td><td class="num">{_num(f["time_s"]) if f["time_s"] is not None else ""}</td>'
            f'<td><a href="{_esc(f["folder"])}/report.html"><img src="{_esc(f["folder"])}/overlay.png" style="height:72px"></a></td>'
            f'<td><a href="{_esc(f["folder"])}/report.html">{_esc(f["folder"])}</a></td></tr>' for f in clip)
        bottom = (f'<section><h2>frames ({len(clip)}, each fitted on its own)</h2>'
                  f'<table><tr><th>frame</th><th>time (s)</th><th></th><th>report</th></tr>{rows}</table></section>')
        clip_box, clip_script = _clip_controls(len(clip), "the first frame's head, every frame's expression and rotation")

    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{_esc(title)} - facesculpt report</title>
<link rel="stylesheet" href="{a}report.css">
</head><body data-viewer="loading">
<header><h1>{_esc(title)}</h1><p>facesculpt reconstruction{index_link}</p></header>
<main>
{top}
<section><h2>3D head</h2><div id="viewer">
<canvas id="viewer-canvas" width="640" height="640"></canvas>
<div id="viewer-panel">
<p id="viewer-status">loading the viewer...</p>
{clip_box}<fieldset><legend>view</legend>{views}</fieldset>
<fieldset><legend>light (starts from the fitted light's direction; relights the albedo in the textured and shaded views)</legend>
<label class="slider"><span>azimuth (deg)</span><input id="light-azimuth" type="range" min="-180" max="180" step="1" value="{light_az:.0f}"><output></output></label>
<label class="slider"><span>elevation (deg)</span><input id="light-elevation" type="range" min="-90" max="90" step="1" value="{light_el:.0f}"><output></output></label>
</fieldset>
<fieldset><legend>expression blendshapes <button id="expression-reset" type="button">reset to fitted</button></legend>
<div id="expression-sliders"></div></fieldset>
</div></div></section>
{bottom}
<section><h2>files</h2><p>{' &middot; '.join(f'<a href="{_esc(f)}">{_esc(f)}</a>' for f in files)}</p>
<p style="font-size:12px;color:#666">Viewer: three.js (MIT, <a href="{a}THREE_LICENSE">licence</a>). Head model: ICT FaceKit (MIT).</p></section>
</main>
<script src="{a}three.min.js"></script>
<script src="{a}OrbitControls.js"></script>
<script src="{_esc(data_src)}"></script>
{clip_script}<script src="{a}viewer.js"></script>
</body></html>
"""


def write_report(folder: Path, assets_rel: str = f"../{ASSETS_DIR}", photo: np.ndarray | None = None,
                 title: str | None = None, index_href: str | None = None) -> Path:
    """Write ``report.html`` and ``report_data.js`` (and ``report_photo.jpg`` from ``photo``,
    (H, W, 3) uint8) into the result ``folder``; the page links the shared scripts at
    ``assets_rel`` and the batch's index at ``index_href`` (both relative to the folder; no
    index link when None). Returns the page's path."""
    from PIL import Image

    folder = Path(folder)
    if photo is not None:
        img = Image.fromarray(np.asarray(photo, np.uint8))
        img.thumbnail((PHOTO_MAX, PHOTO_MAX))
        img.save(folder / "report_photo.jpg", format="JPEG", quality=85)
    payload = build_payload(read_viewer_mesh(folder / "mesh.glb"))
    _write_bytes_atomic(folder / "report_data.js", payload_script(payload).encode("utf-8"))
    index, tracked = _tracked_frames(folder)
    if tracked:  # a tracked clip's head: the page also plays its frames (clip_data.js)
        _write_clip_data(folder, index, tracked[0]["names"], tracked)
    page = _page(folder, assets_rel, title or folder.name, _read_json(folder / "params.json"),
                 _read_json(folder / "metrics.json"), (folder / "report_photo.jpg").is_file(), index_href,
                 clip=tracked or None, clip_table=False)
    _write_bytes_atomic(folder / "report.html", page.encode("utf-8"))
    return folder / "report.html"


def _clip_frames(folder: Path) -> tuple[dict, list[dict]]:
    """(frames.json, per first-face frame: frame, time_s, folder, expression weights, pose rotvec)."""
    index = _read_json(folder / "frames.json")
    frames = []
    for f in index.get("faces", []):
        if f.get("face", 1) != 1 or not is_result_folder(folder / f["folder"]):
            continue
        params = _read_json(folder / f["folder"] / "params.json")
        expr = params.get("head", {}).get("expression", {})
        frames.append({"frame": f["frame"], "time_s": f.get("time_s"), "folder": f["folder"],
                       "names": list(expr), "weights": [float(w) for w in expr.values()],
                       "rotvec": params.get("pose", {}).get("rotvec_rad", [0.0, 0.0, 0.0])})
    return index, frames


def _tracked_frames(folder: Path) -> tuple[dict, list[dict]]:
    """(frames.json, its frames) of a tracked clip's result folder (``io.clip_results``: frames.json with
    ``frames`` and ``expression_names``; one head for the clip): frame, time_s, expression weights, pose rotvec,
    each; no frames for any other folder (as ``_clip_frames`` for a ``--no-track`` video's folder)."""
    index = _read_json(folder / "frames.json")
    names = index.get("expression_names")
    if not names or not isinstance(index.get("frames"), list):
        return index, []
    return index, [{"frame": f["frame"], "time_s": f.get("time_s"), "folder": None, "names": list(names),
             "weights": [float(w) for w in f["expression"]],
             "rotvec": f.get("pose", {}).get("rotvec_rad", [0.0, 0.0, 0.0])} for f in index["frames"]]


def _write_clip_data(folder: Path, index: dict, names: list, frames: list[dict]) -> None:
    clip = {"video": index.get("video"), "fps": index.get("fps"), "names": names,
            "frames": [{k: f[k] for k in ("frame", "time_s", "folder", "weights", "rotvec")} for f in frames]}
    _write_bytes_atomic(folder / "clip_data.js",
                        ("window.FACESCULPT_CLIP = " + json.dumps(clip, separators=(",", ":")) + ";\n").encode("utf-8"))


def write_clip_report(folder: Path, assets_rel: str = f"../{ASSETS_DIR}", title: str | None = None,
                      index_href: str | None = None) -> Path | None:
    """``report.html`` + ``clip_data.js`` for a video's folder (``frames.json`` and one result
    folder per frame, each with its report): the viewer shows the first frame's head and plays
    the fitted expression weights and head rotation of every frame at the video's time stamps;
    a table links each frame's report. Returns the page's path; None when no frame has a head."""
    folder = Path(folder)
    index, frames = _clip_frames(folder)
    frames = [f for f in frames if (folder / f["folder"] / "report_data.js").is_file()]
    if not frames:
        return None
    _write_clip_data(folder, index, frames[0]["names"], frames)
    page = _page(folder, assets_rel, title or folder.name, {}, {}, False, index_href,
                 data_src=f"{frames[0]['folder']}/report_data.js", clip=frames)
    _write_bytes_atomic(folder / "report.html", page.encode("utf-8"))
    return folder / "report.html"


def write_index(root: Path, folders: list[Path] | None = None, assets_rel: str = ASSETS_DIR) -> Path:
    """``root/index.html``: one row per result folder below ``root`` with a link to its report."""
    root = Path(root)
    folders = find_result_folders(root) if folders is None else folders
    rows = []
    for clip in sorted(p.parent for p in root.rglob("frames.json")
                       if (p.parent / "report.html").is_file() and not is_result_folder(p.parent)):
        rel = os.path.relpath(clip, root).replace(os.sep, "/")
        rows.append(f'<tr><td></td><td><a href="{_esc(rel)}/report.html">{_esc(rel)}</a> (clip: play)</td>'
                    "<td></td><td></td><td></td></tr>")
    for f in folders:
        rel = os.path.relpath(f, root).replace(os.sep, "/")
        m = _read_json(f / "metrics.json")
        thumb = f"{rel}/overlay.png" if (f / "overlay.png").is_file() else ""
        link = f'<a href="{_esc(rel)}/report.html">{_esc(rel)}</a>' if (f / "report.html").is_file() else _esc(rel)
        if (f / "clip_data.js").is_file():  # a tracked clip's head: its page plays the clip
            link += " (clip: play)"
        rows.append(f"<tr><td>{f'<img src={chr(34)}{_esc(thumb)}{chr(34)} style={chr(34)}height:96px{chr(34)}>' if thumb else ''}</td>"
                    f"<td>{link}</td><td class=num>{_num(m.get('inview_psnr', ''))}</td>"
                    f"<td class=num>{_num(m.get('inview_ssim', ''))}</td>"
                    f"<td class=num>{_num(m.get('identity_distance_inview', ''))}</td></tr>")
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>facesculpt results</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="{assets_rel}/report.css"></head><body>
<header><h1>facesculpt results</h1><p>{len(folders)} reconstruction(s)</p></header>
<main><section><table><tr><th></th><th>result</th><th>in-view PSNR (dB)</th><th>in-view SSIM</th><th>identity distance</th></tr>
{''.join(rows)}</table></section></main></body></html>
"""
    _write_bytes_atomic(root / "index.html", page.encode("utf-8"))
    return root / "index.html"


__all__ = ["write_report", "write_clip_report", "write_assets", "write_index", "find_result_folders", "is_result_folder", "ASSETS_DIR"]
