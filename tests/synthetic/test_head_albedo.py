"""The synthetic albedos' freckles and moles (``synthetic.head.make_head_albedo``, ``synthetic.generator.make_albedo``):
painted on a window of the tile, the same bits as over the whole tile (the rendered training heads and the
benchmarks' photos must not change with the speed-up)."""
import numpy as np

from facesculpt.synthetic.generator import _paint_spot, _uv_grid


def test_spots_painted_in_a_window_equal_the_whole_tile():
    rng = np.random.default_rng(5)
    for S in (64, 256, 257):
        grid = _uv_grid(S)
        fast = np.zeros((S, S))
        whole = np.zeros((S, S))
        # centres inside, on the border and outside the tile; radii from a freckle's to a mole's and wider
        centres = np.r_[rng.uniform(-0.05, 1.05, (40, 2)), [[0.0, 0.0], [1.0, 1.0], [0.5, 1.0], [-0.2, 0.5]]]
        for c in centres:
            rad = float(rng.uniform(0.001, 0.02))
            amp = float(rng.uniform(0.1, 0.8))
            _paint_spot(fast, grid, c, rad, amp)
            whole = np.maximum(whole, amp * np.exp(-((grid - c) ** 2).sum(-1) / (2 * rad**2)))
        assert np.count_nonzero(whole) > 0
        assert np.array_equal(fast, whole)
