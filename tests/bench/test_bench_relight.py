"""The relight benchmark's pieces (the full run is `facesculpt benchmark relight`)."""
import torch

from facesculpt.bench.relight import albedo_mad_pct, global_scale, sh_light
from facesculpt.ops.sh import sh_shade


def test_sh_light_reference_values():
    L = sh_light(0.9, (0.0, 0.0, 1.0), 0.45, (1.0, 0.5, 2.0))
    n = torch.tensor([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])
    s = sh_shade(n[None], L)[0]
    # facing the light: ambient + strength; side-on: ambient only; tinted per channel
    assert torch.allclose(s[0], torch.tensor([1.35, 0.675, 2.7]), atol=1e-4)
    assert torch.allclose(s[1], torch.tensor([0.9, 0.45, 1.8]), atol=1e-4)


def test_albedo_mad_reference_values():
    g = torch.Generator().manual_seed(0)
    true = 0.1 + torch.rand(1, 8, 8, 3, generator=g) * 0.3
    mask = torch.ones(1, 8, 8, dtype=torch.bool)
    assert abs(albedo_mad_pct(2 * true, true, mask, scaled=False) - 100.0) < 1e-3
    assert albedo_mad_pct(2 * true, true, mask, scaled=True) < 1e-3
    assert abs(global_scale(2 * true[mask], true[mask]) - 0.5) < 1e-6
    noisy = true + 0.05 * torch.randn(true.shape, generator=g)
    assert albedo_mad_pct(noisy, true, mask, scaled=True) > 5.0


def test_relight_unknown_light_fails(tmp_path, capsys):
    from facesculpt.cli import main

    assert main(["benchmark", "relight", "--lights", "white,purple", "-o", str(tmp_path / "o")]) == 2
    assert "unknown light(s) purple" in capsys.readouterr().err


def test_relight_scan_rows_end_to_end(tmp_path):
    """One photo of the Lee Perry-Smith scan (fast preset, small image): a scan row with a sane relit
    PSNR and the credit in results.json."""
    import json

    from facesculpt.cli import main

    out = tmp_path / "o"
    assert main(["benchmark", "relight", "--n", "0", "--lights", "white", "--scan-poses", "0", "--size", "256",
                 "--preset", "fast", "-o", str(out)]) == 0
    res = json.loads((out / "results.json").read_text())
    (row,) = res["scan_rows"]
    assert row["light"] == "white" and row["face_pixels"] > 2000
    assert 12.0 < row["relit_psnr"] < 60.0 and row["relit_psnr_scaled"] >= row["relit_psnr"] - 0.5
    assert "Lee Perry-Smith" in res["scan_credit"] and res["settings"]["shadows"] is True


def test_painted_hair_covers_the_forehead_top_and_its_texels_are_found():
    """``--hair``: ``Subject.paint_hair`` paints the head above a hairline 1.5-2.5 cm below the forehead's top (the
    photo changes only there, in the hair's colour); ``hair_texels`` are skin texels of the face chart's top (above
    the brows) that the hair covers."""
    import numpy as np

    from facesculpt.bench.relight import Subject
    from facesculpt.training.rendered import HAIR_COLOURS

    sub = Subject(0, size=256, uv_size=64, shadows=False)
    hair = sub.hair_pixels()
    img, mask = sub.render(sub.albedo, sh_light(0.9, (0.3, 0.3, 1.0), 0.45, (1.0, 1.0, 1.0)))
    img = img[0].numpy()
    painted = sub.paint_hair(img, 4)
    assert 0.03 < hair.mean() < 0.3
    assert np.array_equal(painted[~hair], img[~hair]) and not np.allclose(painted[hair], img[hair])
    ratio = np.median(painted[hair], 0) / np.median(painted[hair], 0).sum()  # the blond's hue, whatever its shade
    assert np.allclose(ratio, np.asarray(HAIR_COLOURS[4]) / sum(HAIR_COLOURS[4]), atol=0.02)
    ys = np.nonzero(hair & mask[0].numpy())[0]
    assert ys.min() < 0.35 * 256 and ys.max() < 0.5 * 256  # over the top of the head and the upper forehead
    under = sub.hair_texels()
    assert under.shape == sub.skin.shape and bool((under <= sub.skin).all())
    rows = torch.nonzero(under[0])[:, 0]
    assert 20 < len(rows) < 0.3 * int(sub.skin.sum())
    brows = torch.nonzero(sub.skin[0])[:, 0].float().quantile(0.2)  # the chart's v grows down the face
    assert float(rows.float().max()) < float(brows)
