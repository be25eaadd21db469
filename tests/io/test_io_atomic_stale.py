"""Temporary result folders a killed run left behind are removed by the next run (io.atomic.remove_stale_temps)."""
import os
import signal
import subprocess
import sys
from pathlib import Path

from facesculpt.io import atomic
from facesculpt.io.atomic import atomic_output_dir, remove_stale_temps, write_json

_KILLED_WRITER = r"""
import os, signal, sys
from pathlib import Path
from facesculpt.io.atomic import atomic_output_dir, write_json
with atomic_output_dir(sys.argv[1]) as tmp:
    write_json(Path(tmp) / "params.json", {"half": "written"})
    os.kill(os.getpid(), signal.SIGKILL)  # no clean-up runs: the temporary folder stays
"""


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_a_killed_writers_folder_is_removed_and_nothing_else(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = subprocess.run([sys.executable, "-c", _KILLED_WRITER, str(out / "photo")], capture_output=True)
    assert r.returncode == -signal.SIGKILL
    left = [p.name for p in out.iterdir()]
    assert len(left) == 1 and left[0].startswith(".photo.tmp-"), left  # what SIGKILL leaves
    keep = {
        f".live.tmp-0123abcd-{os.getpid()}-{atomic._HOST}",  # this process: a writer still running
        f".other.tmp-0123abcd-{_dead_pid()}-{'f' * 8 if atomic._HOST != 'f' * 8 else '0' * 8}",  # another machine's
        ".photo.tmp-0123abcd",  # the form without an owner (earlier versions): not ours to judge
        ".hidden",
        "result",
    }
    for name in keep:
        (out / name).mkdir()
    (out / f".result.old-89abcdef-{_dead_pid()}-{atomic._HOST}").mkdir()  # set aside, its replacement in place
    gone = out / f".gone.old-89abcdef-{_dead_pid()}-{atomic._HOST}"  # set aside, killed before the new one arrived
    gone.mkdir()
    write_json(gone / "params.json", {"previous": "result"})
    assert remove_stale_temps(out) == 3
    assert sorted(p.name for p in out.iterdir()) == sorted(keep | {"gone"})  # the previous result put back
    assert (out / "gone" / "params.json").read_text().strip().startswith("{")
    assert remove_stale_temps(out) == 0
    assert remove_stale_temps(tmp_path / "missing") == 0


def test_atomic_folder_names_carry_their_owner(tmp_path):
    seen = []
    with atomic_output_dir(tmp_path / "photo") as tmp:
        seen.append(Path(tmp).name)
        write_json(Path(tmp) / "a.json", {})
        assert remove_stale_temps(tmp_path) == 0  # its own, live writer's folder stays
    assert atomic._STALE_RE.match(seen[0]) is not None
    assert seen[0].endswith(f"-{os.getpid()}-{atomic._HOST}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photo"]
