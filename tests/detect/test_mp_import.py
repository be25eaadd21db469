"""mediapipe imported without matplotlib's pyplot (``detect._mp``): a fresh process, as the command starts."""
import subprocess
import sys

CHECK = r"""
import sys
from facesculpt.detect._mp import import_mediapipe
mp = import_mediapipe()
assert "matplotlib" not in sys.modules and "matplotlib.pyplot" not in sys.modules, "pyplot imported"
assert mp.solutions.face_mesh.FaceMesh is not None
from mediapipe.python.solutions import drawing_utils
import matplotlib.pyplot as plt  # the real module, after the import
assert type(plt).__name__ == "module" and drawing_utils.plt.figure is plt.figure  # the stand-in forwards
assert import_mediapipe() is mp
print("ok")
"""

ALREADY = r"""
import matplotlib.pyplot as plt
from facesculpt.detect._mp import import_mediapipe
import_mediapipe()
from mediapipe.python.solutions import drawing_utils
assert drawing_utils.plt is plt  # matplotlib imported first: nothing stood in
print("ok")
"""


def test_mediapipe_imports_without_pyplot():
    for code in (CHECK, ALREADY):
        r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
        assert r.returncode == 0 and r.stdout.strip() == "ok", r.stderr
