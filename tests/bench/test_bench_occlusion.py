"""The occlusion benchmark's pieces (the full run is `facesculpt benchmark occlusion PATH...`)."""
import numpy as np
import pytest
import torch

from facesculpt.bench.occlusion import OCCLUDERS, compare, occluder


class _Lmk:
    bbox = torch.tensor([100.0, 80.0, 300.0, 330.0])
    points = torch.zeros(478, 3)
    points[[33, 133, 362, 263], :2] = torch.tensor([[150.0, 170.0], [185.0, 170.0], [215.0, 170.0], [250.0, 170.0]])


def test_occluders_paste_inside_the_face_box_only():
    g = np.random.default_rng(0)
    img = g.integers(0, 255, (400, 420, 3), dtype=np.uint8)
    for kind in OCCLUDERS:
        out, mask = occluder(img, _Lmk(), kind)
        assert out.shape == img.shape and out.dtype == np.uint8
        assert 0.02 * 200 * 250 < mask.sum() < 0.5 * 200 * 250, kind
        if kind in ("skin_hand", "glasses"):  # anti-aliased edges (and the hand's shadow) touch a band round it
            from scipy import ndimage

            band = ndimage.binary_dilation(mask, iterations=int(0.12 * 200) if kind == "skin_hand" else 2)
            assert np.array_equal(out[~band], img[~band]) and not np.array_equal(out[band & ~mask], img[band & ~mask])
        else:
            assert np.array_equal(out[~mask], img[~mask])  # nothing changes outside the occluder
        assert not np.array_equal(out[mask], img[mask])
        ys, xs = np.nonzero(mask)
        assert xs.min() >= 80 and xs.max() <= 330 and ys.min() >= 60 and ys.max() <= 400, kind
        out2, mask2 = occluder(img, _Lmk(), kind)
        assert np.array_equal(out, out2) and np.array_equal(mask, mask2)  # deterministic
    with pytest.raises(ValueError, match="unknown occluder"):
        occluder(img, _Lmk(), "scarf")


def test_patch_comes_from_a_textured_corner():
    img = np.full((400, 420, 3), 128, np.uint8)
    img[:60, -60:] = np.random.default_rng(1).integers(0, 255, (60, 60, 3))  # the only textured corner
    out, mask = occluder(img, _Lmk(), "patch")
    assert out[mask].std() > 30


def test_compare_reference_values():
    a = torch.full((1, 8, 8, 3), 0.5)
    region = torch.zeros(1, 8, 8, dtype=torch.bool)
    region[:, 2:6, 2:6] = True
    b = a.clone()
    b[region] += 0.1  # MSE 0.01 in the region: 20 dB
    m = compare(a, b, region)
    assert abs(m["psnr"] - 20.0) < 1e-4 and m["texels"] == 16
    assert compare(a, b, torch.zeros_like(region))["texels"] == 0


def test_occlusion_unknown_occluder_fails(tmp_path, capsys):
    from facesculpt.cli import main

    assert main(["benchmark", "occlusion", str(tmp_path), "--occluders", "bar,scarf", "-o", str(tmp_path / "o")]) == 2
    assert "unknown occluder(s) scarf" in capsys.readouterr().err


def test_compare_gain_matched():
    """``psnr_gain``: one gain per channel fitted outside the region takes out a global tone change."""
    g = torch.Generator().manual_seed(0)
    b = 0.2 + 0.6 * torch.rand(1, 16, 16, 3, generator=g)
    region = torch.zeros(1, 16, 16, dtype=torch.bool)
    region[:, 4:10, 4:10] = True
    a = b * torch.tensor([0.8, 0.9, 1.1])  # a global tone change only
    m = compare(a, b, region, ~region)
    assert m["psnr"] < 30 and m["psnr_gain"] > 60
    a2 = a.clone()
    a2[region] = 0.5  # plus a wrong region: the gain-matched PSNR sees it
    assert compare(a2, b, region, ~region)["psnr_gain"] < 25
    assert "psnr_gain" not in compare(a, b, region)
