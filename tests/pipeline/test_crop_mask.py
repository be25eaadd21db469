"""The valid-mask crop reads only the box's window of the photo's mask and gives the crop the whole
mask gave (inside the photo and across its borders)."""
import numpy as np
import torch

from facesculpt.ops.image import crop_resize
from facesculpt.pipeline import _crop_mask


def _reference(valid, x0, y0, side, size):
    m = crop_resize(np.repeat((np.asarray(valid) > 0).astype(np.uint8)[..., None] * 255, 3, axis=2), x0, y0, side, size)
    return torch.from_numpy(m[..., 0] > 127)[None]


def test_crop_mask_window_equals_the_whole_mask_crop():
    rng = np.random.default_rng(0)
    valid = rng.random((90, 120)) > 0.3
    valid[20:50, 30:80] = False
    for box in ((10.3, 5.7, 60.2, 48), (-15.5, -8.25, 70.0, 64), (80.4, 60.6, 55.5, 32),
                (0.0, 0.0, 90.0, 90), (100.9, 2.2, 12.3, 200)):
        assert torch.equal(_crop_mask(valid, *box), _reference(valid, *box)), box
    assert _crop_mask(None, 0.0, 0.0, 10.0, 8) is None


def test_one_band_crop_equals_each_band_of_the_three_band_crop():
    """crop_resize of an (H, W) image (PIL "L", what the mask crop uses) gives each band of the same image as
    (H, W, 3): bicubic enlarging and Lanczos shrinking, boxes inside and across the borders."""
    rng = np.random.default_rng(1)
    for k in range(40):
        H, W = (int(v) for v in rng.integers(20, 200, 2))
        g = rng.integers(0, 256, (H, W), dtype=np.uint8)
        side = float(rng.uniform(5, 1.5 * max(H, W)))
        x0, y0 = float(rng.uniform(-side / 3, W / 2)), float(rng.uniform(-side / 3, H / 2))
        out = int(rng.integers(8, 300))
        three = crop_resize(np.repeat(g[..., None], 3, axis=2), x0, y0, side, out)
        one = crop_resize(g, x0, y0, side, out)
        assert one.shape == (out, out)
        for c in range(3):
            assert np.array_equal(three[..., c], one), (k, c)
