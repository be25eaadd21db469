"""The package-level API passes ``box=`` through (issue 11): a bad box is refused in one line."""
import numpy as np
import pytest

import facesculpt
from facesculpt.core.errors import InvalidBoxError


@pytest.mark.parametrize("box", [(100, 100, 50, 50), (-10, 0, 50, 50), (0, 0, 500, 50)])
def test_bad_box_through_the_public_api_fails_in_one_line(box):
    image = np.full((120, 160, 3), 128, np.uint8)
    with pytest.raises(InvalidBoxError) as e:
        facesculpt.reconstruct(image, preset="fast", box=box)
    assert "\n" not in str(e.value) and "box" in str(e.value)
    with pytest.raises(InvalidBoxError):
        facesculpt.reconstruct_all(image, preset="fast", box=box)


def test_the_errors_a_caller_catches_are_on_the_package():
    """``facesculpt.FaceNotFoundError`` (the README's video loop catches it) is what a faceless frame raises, and
    every error raised on purpose is a ``facesculpt.FaceSculptError``."""
    with pytest.raises(facesculpt.FaceNotFoundError) as e:
        facesculpt.reconstruct(np.full((300, 300, 3), 127, np.uint8), preset="fast")
    assert isinstance(e.value, facesculpt.FaceSculptError) and "\n" not in str(e.value)
    for name in ("FaceSculptError", "FaceNotFoundError", "FaceTooSmallError", "FitFailedError", "InvalidImageError"):
        assert name in facesculpt.__all__ and issubclass(getattr(facesculpt, name), facesculpt.FaceSculptError)
