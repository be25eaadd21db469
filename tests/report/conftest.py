import subprocess
import sys

import pytest


@pytest.fixture(scope="session")
def demo_out(tmp_path_factory):
    """``facesculpt demo --preset fast`` run as a user would (a subprocess, stderr not a terminal):
    (output folder, completed process)."""
    out = tmp_path_factory.mktemp("demo") / "out"
    r = subprocess.run([sys.executable, "-m", "facesculpt.cli", "demo", "--preset", "fast", "-o", str(out)],
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr
    return out, r
