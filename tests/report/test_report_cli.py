"""The report from the command line: written by default beside the results, within its size
budget, skipped with --no-report; and a quiet terminal (no third-party logs or warnings)."""
import argparse
import os
import subprocess
import sys
from pathlib import Path

REPORT_FILES = ("report.html", "report_data.js", "report_photo.jpg")


def test_demo_writes_a_report_and_prints_nothing_on_stderr(demo_out):
    out, r = demo_out
    assert r.stderr == ""  # no mediapipe/TFLite lines, no torch UserWarning (bars are off: not a terminal)
    assert "grace_hopper.jpg:" in r.stdout and "done: 1 face(s)" in r.stdout
    folder = out / "grace_hopper"
    for name in REPORT_FILES:
        assert (folder / name).is_file(), name
    assert (out / "index.html").is_file() and 'href="grace_hopper/report.html"' in (out / "index.html").read_text()
    page = (folder / "report.html").read_text()
    assert 'src="../_report/three.min.js"' in page and 'href="../index.html"' in page


def test_report_adds_at_most_2_mb_per_result_folder(demo_out):
    out, _ = demo_out
    folder = out / "grace_hopper"
    added = sum((folder / n).stat().st_size for n in REPORT_FILES)
    assert added <= 2_000_000, added
    assert (folder / "mesh.glb").stat().st_size > 4 * added // 2  # the payload is much smaller than the GLB
    shared = sum(p.stat().st_size for p in (out / "_report").iterdir())
    assert shared <= 1_000_000, shared  # the viewer's scripts, once per batch


def test_report_command_rewrites_reports(demo_out, tmp_path):
    out, _ = demo_out
    page = out / "grace_hopper" / "report.html"
    page.unlink()
    r = subprocess.run([sys.executable, "-m", "facesculpt.cli", "report", str(out)], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert page.is_file() and str(out / "index.html") in r.stdout


def test_no_report_flag_skips_the_writer():
    from facesculpt.cli import _report_writers, build_parser

    args = build_parser().parse_args(["reconstruct", "x.jpg", "-o", "out", "--no-report"])
    assert args.no_report and _report_writers(args, Path("out/x"), None) == []
    args = build_parser().parse_args(["demo", "-o", "out"])
    assert not args.no_report


def _child(env_extra):
    code = ("import os\nfrom facesculpt.core.quiet import quiet_native_stderr\n"
            "with quiet_native_stderr():\n    os.write(2, b'native log line\\n')\n"
            "os.write(2, b'after\\n')\n")
    env = {**os.environ, **env_extra}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60).stderr


def test_native_logs_silenced_unless_asked_for():
    assert _child({"FACESCULPT_NATIVE_LOGS": "0"}) == "after\n"  # fd 2 restored afterwards
    assert _child({"FACESCULPT_NATIVE_LOGS": "1"}) == "native log line\nafter\n"


def test_a_failing_report_does_not_fail_the_result(tmp_path, capsys):
    from facesculpt.report.cli import report_writer

    folder = tmp_path / "photo"
    folder.mkdir()  # no mesh.glb: the report cannot be built
    report_writer(tmp_path, folder, None)(folder, None)
    err = capsys.readouterr().err
    assert err.startswith("note: photo: report.html not written") and len(err.splitlines()) == 1
    assert not (folder / "report.html").exists()
