"""Locate dlib's model files inside the installed ``face-recognition-models`` distribution.

The package's ``__init__.py`` imports ``pkg_resources`` (absent from modern setuptools), so
we never import it: we ask the import system where the package directory is
(``importlib.util.find_spec`` of a top-level package does not execute it) and fall back to
the distribution's file list (``importlib.metadata``).
"""
from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

from facesculpt.core.errors import AssetError

DISTRIBUTION = "face-recognition-models"
PACKAGE = "face_recognition_models"
RESNET_FILE = "dlib_face_recognition_resnet_model_v1.dat"
SHAPE68_FILE = "shape_predictor_68_face_landmarks.dat"

# SHA-256 of the file shipped in face-recognition-models==0.3.0 (the same bytes dlib.net
# publishes). Used to tell a corrupted install from a good one.
RESNET_SHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"

_INSTALL_HINT = f"(install it: pip install {DISTRIBUTION}==0.3.0)"


def _candidates(filename: str) -> list[Path]:
    found: list[Path] = []
    spec = importlib.util.find_spec(PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            found.append(Path(loc) / "models" / filename)
    try:
        dist = importlib.metadata.distribution(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        dist = None
    if dist is not None:
        for f in dist.files or ():
            if f.name == filename:
                found.append(Path(str(dist.locate_file(f))))
    return found


def model_path(filename: str) -> Path:
    """Absolute path of ``filename`` inside the installed face-recognition-models package.

    Raises AssetError with an install hint when the package or the file is missing.
    """
    candidates = _candidates(filename)
    if not candidates:
        raise AssetError(f"the Python package {DISTRIBUTION} is not installed {_INSTALL_HINT}")
    for p in candidates:
        if p.is_file():
            return p
    raise AssetError(f"{filename} is missing from the installed {DISTRIBUTION} {_INSTALL_HINT}")


def resnet_model_path() -> Path:
    """Path of ``dlib_face_recognition_resnet_model_v1.dat``."""
    return model_path(RESNET_FILE)


def shape_predictor_68_path() -> Path:
    """Path of ``shape_predictor_68_face_landmarks.dat`` (used by tests against dlib)."""
    return model_path(SHAPE68_FILE)
