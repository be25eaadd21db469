"""The committed Lee Perry-Smith scan asset (issue 12): it loads, is the right shape and carries its credit."""
from importlib import resources

import torch

from facesculpt.ops.sh import ambient_coeffs
from facesculpt.render.face import render_face
from facesculpt.synthetic.scan import CREDIT, load_scan, scan_view


def test_scan_asset_loads_with_its_licence():
    s = load_scan()
    assert s.verts.shape == (1, 9279, 3) and s.faces.shape == (17684, 3) and s.uvs.shape == (9279, 2)
    assert int(s.faces.min()) == 0 and int(s.faces.max()) == 9278
    assert s.albedo.shape == (1, 512, 512, 3) and 0.0 <= float(s.albedo.min()) and float(s.albedo.max()) <= 1.0
    # cm: a head about 15.5 cm wide above the bust
    head = s.verts[0][s.verts[0, :, 1] > s.verts[0, :, 1].min() + 0.55 * (s.verts[0, :, 1].max() - s.verts[0, :, 1].min())]
    assert abs(float(head[:, 0].max() - head[:, 0].min()) - 15.5) < 0.1
    assets = resources.files("facesculpt").joinpath("assets")
    lic = assets.joinpath("SCAN_LPS_LICENSE").read_text()
    assert "Lee Perry-Smith" in lic and "Attribution 3.0" in lic
    assert "Lee Perry-Smith" in assets.joinpath("SCAN_LPS.md").read_text() and "CC BY 3.0" in CREDIT


def test_scan_renders_a_skin_coloured_face_in_the_middle():
    s = load_scan()
    pose, cam = scan_view(0.0, size=128)
    with torch.no_grad():
        r = render_face(s.verts, s.faces, s.uvs, pose, cam, s.albedo, ambient_coeffs(1))
    assert bool(r.mask[0, 64, 64]) and float(r.mask.float().mean()) > 0.2
    # the face centre's colour is skin (red > green > blue, linear)
    c = r.image[0, 50:80, 50:78].reshape(-1, 3).mean(0)
    assert float(c[0]) > float(c[1]) > float(c[2]) and 0.15 < float(c[0]) < 0.9
