"""``io.results.occluder_overlay``: the occluder mask of a square crop drawn onto the photo."""
from types import SimpleNamespace

import numpy as np
import torch

from facesculpt.io.results import occluder_overlay


def test_mask_pixels_land_where_the_crop_puts_them():
    img = np.full((40, 60, 3), 100, np.uint8)
    mask = torch.zeros(8, 8, dtype=torch.bool)
    mask[2, 3] = True  # crop (10, 5, side 16), 2 photo pixels a crop pixel: photo x 16-17, y 9-10
    out = occluder_overlay(img, SimpleNamespace(occluded=(10.0, 5.0, 16.0, mask)))
    tinted = np.any(out != img, axis=-1)
    expect = np.zeros((40, 60), bool)
    expect[9:11, 16:18] = True
    assert np.array_equal(tinted, expect)
    assert out[9, 16, 0] > out[9, 16, 1]  # red
    assert occluder_overlay(img, SimpleNamespace(occluded=None)) is None
