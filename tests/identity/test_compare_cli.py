"""`facesculpt compare A B` end to end (subprocess), and its verdict line."""
import subprocess
import sys
from importlib import resources

import numpy as np
import pytest
from PIL import Image

from facesculpt.identity.cli import verdict

GRACE = str(resources.files("facesculpt") / "assets" / "grace_hopper.jpg")


def _compare(*args):
    return subprocess.run([sys.executable, "-m", "facesculpt.cli", "compare", *args], capture_output=True,
                          text=True, timeout=300)


def test_verdict_line():
    assert verdict(0.4234) == "distance 0.423: same person (threshold 0.60)"
    assert verdict(0.61) == "distance 0.610: different people (threshold 0.60)"


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    import skimage.data

    d = tmp_path_factory.mktemp("compare")
    # the same person: grace_hopper shrunk to 70 % and mirrored
    g = Image.open(GRACE).convert("RGB")
    g = g.resize((int(g.width * 0.7), int(g.height * 0.7)), Image.LANCZOS).transpose(Image.FLIP_LEFT_RIGHT)
    g.save(d / "grace_small.png")
    Image.fromarray(skimage.data.astronaut()).save(d / "astronaut.png")
    (d / "broken.jpg").write_bytes(b"not an image at all")
    Image.fromarray(np.full((200, 200, 3), 128, np.uint8)).save(d / "grey.png")
    return d


def test_compare_same_and_different(photos):
    same = _compare(GRACE, str(photos / "grace_small.png"))
    assert same.returncode == 0, same.stderr
    line = same.stdout.strip().splitlines()[-1]
    assert line.startswith("distance ") and line.endswith("same person (threshold 0.60)")
    assert float(line.split()[1].rstrip(":")) < 0.6
    diff = _compare(GRACE, str(photos / "astronaut.png"))
    assert diff.returncode == 0, diff.stderr
    line = diff.stdout.strip().splitlines()[-1]
    assert line.endswith("different people (threshold 0.60)") and float(line.split()[1].rstrip(":")) >= 0.6


@pytest.mark.parametrize("name,message", [("broken.jpg", "cannot read"), ("grey.png", "no face found"),
                                          ("missing.jpg", "cannot read")])
def test_compare_bad_input_fails(photos, name, message):
    r = _compare(GRACE, str(photos / name))
    assert r.returncode == 1
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and message in errors[0] and name in errors[0]
    assert "Traceback" not in r.stderr and r.stdout.strip() == ""
