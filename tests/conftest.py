"""Shared pytest options."""


def pytest_addoption(parser):
    parser.addoption(
        "--update-golden",
        action="store_true",
        default=False,
        help="rewrite golden images (tests/**/golden/*.png) instead of comparing; review them "
        "before committing (FACESCULPT_UPDATE_GOLDEN=1 does the same)",
    )


import os

import numpy as np
import pytest

# keep mediapipe's C++ logging out of test output
os.environ.setdefault("GLOG_minloglevel", "2")


@pytest.fixture(scope="session")
def grace_hopper() -> np.ndarray:
    """matplotlib's Grace Hopper photo (600 x 512 RGB), as bundled with facesculpt."""
    from facesculpt.io.image import load_image

    path = os.path.join(os.path.dirname(__file__), "..", "facesculpt", "assets", "grace_hopper.jpg")
    return load_image(path)


@pytest.fixture(scope="session")
def astronaut() -> np.ndarray:
    """scikit-image's astronaut photo (512 x 512 RGB)."""
    skimage_data = pytest.importorskip("skimage.data")
    return np.ascontiguousarray(skimage_data.astronaut())


@pytest.fixture(scope="session")
def write_video():
    """``write_video(path, frames, fps=10)``: an MP4 (mp4v) of (H, W, 3) uint8 RGB frames, as test input."""

    def write(path, frames, fps=10):
        import cv2

        h, w = frames[0].shape[:2]
        out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
        assert out.isOpened()
        for f in frames:
            out.write(np.ascontiguousarray(f[..., ::-1]))  # RGB -> BGR
        out.release()

    return write
