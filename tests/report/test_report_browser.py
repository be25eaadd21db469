"""The report in a real browser: headless Chromium (Debian's ``chromium``; ``.ci/run`` installs
it) loads the bundled photo's report from file:// and over ``facesculpt report --serve``, the
viewer reports ready, the WebGL canvas shows the head, an expression slider changes the pixels,
reset restores them, every view mode draws, and no console error or exception occurs."""
import subprocess
import sys

import numpy as np
import pytest

from chromium import Browser, skip_reason

pytestmark = pytest.mark.skipif(skip_reason() is not None, reason=skip_reason() or "")

BACKGROUND = np.array([0x20, 0x23, 0x2A])  # viewer.js scene background
READY = "window.facesculptViewer && (facesculptViewer.ready || !!facesculptViewer.error)"


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


def _foreground(img):
    return (np.abs(img.astype(int) - BACKGROUND).sum(-1) > 30).mean()


def _changed(a, b):
    return (np.abs(a.astype(int) - b.astype(int)).sum(-1) > 30).mean()


def _set_slider(b, name, value):
    b.eval(f"(() => {{ const s = document.querySelector('input[data-target={name}]'); s.value = '{value}';"
           " s.dispatchEvent(new Event('input')); })()")
    b.wait_for(f"facesculptViewer.weights()[{_index(b, name)}] === {value}")
    b.pump(0.4)  # a few animation frames


def _index(b, name):
    return b.eval(f"Array.from(document.querySelectorAll('#expression-sliders input')).findIndex(s => s.dataset.target === '{name}')")


def test_report_from_file_draws_the_head_and_reacts(demo_out, browser):
    out, _ = demo_out
    b = browser
    b.errors.clear()
    b.goto((out / "grace_hopper" / "report.html").resolve().as_uri())
    b.wait_for(READY, timeout=90)
    assert b.eval("facesculptViewer.error") is None
    assert b.eval("document.body.dataset.viewer") == "ready"
    first = b.screenshot("#viewer-canvas")
    assert _foreground(first) > 0.15  # the head fills a good part of the canvas
    assert b.eval("document.querySelectorAll('#expression-sliders input').length") == 53
    _set_slider(b, "jawOpen", 1)
    opened = b.screenshot("#viewer-canvas")
    assert _changed(first, opened) > 0.01
    b.eval("document.getElementById('expression-reset').click()")
    b.pump(0.4)
    assert _changed(first, b.screenshot("#viewer-canvas")) < 0.002
    views = {}
    for view in ("shaded", "albedo", "normals", "wireframe"):
        b.eval(f"document.querySelector('input[name=view][value={view}]').click()")
        b.pump(0.3)
        views[view] = b.screenshot("#viewer-canvas")
        assert _foreground(views[view]) > 0.05, view
        assert _changed(first, views[view]) > 0.05, view
    b.eval("document.querySelector('input[name=view][value=shaded]').click()")
    b.eval("(() => { const s = document.getElementById('light-azimuth'); s.value = '-120';"
           " s.dispatchEvent(new Event('input')); })()")
    b.pump(0.3)
    assert _changed(views["shaded"], b.screenshot("#viewer-canvas")) > 0.05  # the light moved
    b.pump(0.3)
    assert b.errors == []


def test_console_errors_are_caught(demo_out, browser, tmp_path):
    """The harness sees a broken page: the payload script is missing."""
    out, _ = demo_out
    page = (out / "grace_hopper" / "report.html").read_text().replace('src="report_data.js"', 'src="missing_data.js"')
    broken = out / "grace_hopper" / "broken.html"
    broken.write_text(page)
    b = browser
    b.errors.clear()
    try:
        b.goto(broken.resolve().as_uri())
        b.wait_for(READY, timeout=60)
        b.pump(0.3)
        assert "report_data.js did not load" in b.eval("facesculptViewer.error")
        assert any("missing_data.js" in e or "ERR_FILE_NOT_FOUND" in e for e in b.errors), b.errors
    finally:
        broken.unlink()


def test_served_report(demo_out, browser):
    out, _ = demo_out
    proc = subprocess.Popen([sys.executable, "-m", "facesculpt.cli", "report", str(out), "--serve"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        url = None
        for _ in range(5):
            line = proc.stdout.readline()
            if line.startswith("serving"):
                url = line.split(" at ")[1].split()[0]
                break
        assert url and url.startswith("http://127.0.0.1:") and url.endswith("/index.html"), url
        b = browser
        b.errors.clear()
        b.goto(url.replace("index.html", "grace_hopper/report.html"))
        b.wait_for(READY, timeout=90)
        assert b.eval("facesculptViewer.error") is None
        assert _foreground(b.screenshot("#viewer-canvas")) > 0.15
        b.pump(0.3)
        assert b.errors == []
    finally:
        proc.terminate()
        proc.wait(30)


def _step_to_second_frame(b, page):
    """Open a clip ``page``, check its first frame is drawn, move the slider to the second frame (the head
    turned, jawOpen 1) and check the picture and the weights followed. Returns the browser."""
    b.errors.clear()
    b.goto(page.resolve().as_uri())
    b.wait_for(READY, timeout=90)
    assert b.eval("facesculptViewer.error") is None and b.eval("facesculptViewer.clipFrame") == 0
    first = b.screenshot("#viewer-canvas")
    assert _foreground(first) > 0.15
    b.eval("(() => { const s = document.getElementById('clip-frame'); s.value = '1';"
           " s.dispatchEvent(new Event('input')); })()")
    b.wait_for("facesculptViewer.clipFrame === 1")
    b.pump(0.4)
    assert _changed(first, b.screenshot("#viewer-canvas")) > 0.05
    assert b.eval(f"facesculptViewer.weights()[{_index(b, 'jawOpen')}]") == 1.0
    return b


def test_clip_page_plays_the_frames(demo_out, browser, tmp_path):
    """A video's page: the first frame's head, moved by every frame's expression and rotation."""
    import json
    import shutil

    from facesculpt.report import write_clip_report

    out, _ = demo_out
    shutil.copytree(out / "_report", tmp_path / "_report")
    clip = tmp_path / "clip"
    for name in ("frame_000000", "frame_000002"):
        shutil.copytree(out / "grace_hopper", clip / name)
    params = json.loads((clip / "frame_000002" / "params.json").read_text())
    params["head"]["expression"]["jawOpen"] = 1.0
    params["pose"]["rotvec_rad"][1] += 0.4  # the head turns
    (clip / "frame_000002" / "params.json").write_text(json.dumps(params))
    (clip / "frames.json").write_text(json.dumps({"video": "clip.mp4", "fps": 10.0, "faces": [
        {"frame": 0, "time_s": 0.0, "face": 1, "folder": "frame_000000"},
        {"frame": 2, "time_s": 0.2, "face": 1, "folder": "frame_000002"}], "skipped": []}))
    page = write_clip_report(clip, "../_report")
    b = _step_to_second_frame(browser, page)
    b.eval("document.getElementById('clip-play').click()")
    b.wait_for("facesculptViewer.clipFrame === 0", timeout=10)  # plays on, loops back to the start
    b.pump(0.3)
    assert b.errors == []


def test_tracked_clip_page_plays_the_frames(demo_out, browser, tmp_path):
    """A tracked clip's result folder (one head, frames.json with every frame's weights and pose): its own page
    plays the frames."""
    import json
    import shutil

    from facesculpt.report import write_report

    out, _ = demo_out
    shutil.copytree(out / "_report", tmp_path / "_report")
    clip = tmp_path / "clip"
    shutil.copytree(out / "grace_hopper", clip)
    for stale in ("report.html", "report_data.js"):
        (clip / stale).unlink()
    params = json.loads((clip / "params.json").read_text())
    names = list(params["head"]["expression"])
    w0 = [float(v) for v in params["head"]["expression"].values()]
    w1 = list(w0)
    w1[names.index("jawOpen")] = 1.0
    rv0 = params["pose"]["rotvec_rad"]
    rv1 = [rv0[0], rv0[1] + 0.4, rv0[2]]  # the head turns
    (clip / "frames.json").write_text(json.dumps({"video": "clip.mp4", "fps": 10.0, "expression_names": names,
        "frames": [{"frame": 0, "time_s": 0.0, "expression": w0, "pose": {"rotvec_rad": rv0}, "status": "fitted"},
                   {"frame": 1, "time_s": 0.1, "expression": w1, "pose": {"rotvec_rad": rv1}, "status": "fitted"}]}))
    page = write_report(clip, "../_report")
    assert (clip / "clip_data.js").is_file()
    b = _step_to_second_frame(browser, page)
    assert b.errors == []
