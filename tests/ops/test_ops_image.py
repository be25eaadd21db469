"""Small image helpers (``facesculpt.ops.image``)."""
import numpy as np
from scipy import ndimage

from facesculpt.ops.image import labels_among


def test_labels_among_is_isin_of_the_chosen_labels():
    rng = np.random.default_rng(3)
    for _ in range(20):
        mask = rng.random((48, 40)) > 0.55
        lab, n = ndimage.label(mask)
        seeds = rng.random(mask.shape) > 0.97
        chosen = lab[seeds]
        want = np.isin(lab, [c for c in np.unique(chosen) if c > 0])
        got = labels_among(lab, n, chosen)
        assert got.dtype == bool and got.shape == lab.shape
        assert np.array_equal(got, want)


def test_labels_among_ignores_the_background_and_empty_choices():
    lab, n = ndimage.label(np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1]], bool))
    assert not labels_among(lab, n, np.array([0, 0])).any()
    assert not labels_among(lab, n, np.array([], np.int64)).any()
    got = labels_among(lab, n, [lab[0, 0]])
    assert np.array_equal(got, lab == lab[0, 0]) and got.sum() == 2
