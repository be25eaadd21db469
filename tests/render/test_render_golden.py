"""Golden image: a bumpy textured icosphere, SH-lit, antialiased, 64x64.

Rewrite the golden with ``pytest --update-golden`` (or FACESCULPT_UPDATE_GOLDEN=1) and
look at the PNG before committing it.
"""
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.ops.rotations import rotvec_to_matrix
from facesculpt.ops.sh import ambient_coeffs
from facesculpt.render import antialias, composite, interpolate, lambertian_sh, rasterize, texture

GOLDEN = Path(__file__).parent / "golden" / "bumpy_sphere_sh_64.png"
D = torch.float64


def icosphere(level: int):
    t = (1.0 + 5 ** 0.5) / 2
    verts = [[-1, t, 0], [1, t, 0], [-1, -t, 0], [1, -t, 0], [0, -1, t], [0, 1, t], [0, -1, -t], [0, 1, -t],
             [t, 0, -1], [t, 0, 1], [-t, 0, -1], [-t, 0, 1]]
    faces = [[0, 11, 5], [0, 5, 1], [0, 1, 7], [0, 7, 10], [0, 10, 11], [1, 5, 9], [5, 11, 4], [11, 10, 2],
             [10, 7, 6], [7, 1, 8], [3, 9, 4], [3, 4, 2], [3, 2, 6], [3, 6, 8], [3, 8, 9], [4, 9, 5],
             [2, 4, 11], [6, 2, 10], [8, 6, 7], [9, 8, 1]]
    verts = [list(np.array(v, dtype=np.float64) / np.linalg.norm(v)) for v in verts]
    for _ in range(level):
        mid, out = {}, []

        def m(a, b):
            key = (min(a, b), max(a, b))
            if key not in mid:
                p = (np.array(verts[a]) + np.array(verts[b])) / 2
                verts.append(list(p / np.linalg.norm(p)))
                mid[key] = len(verts) - 1
            return mid[key]

        for a, b, c in faces:
            ab, bc, ca = m(a, b), m(b, c), m(c, a)
            out += [[a, ab, ca], [b, bc, ab], [c, ca, bc], [ab, bc, ca]]
        faces = out
    return torch.tensor(verts, dtype=D), torch.tensor(faces)


def vertex_normals(v, f):
    n = torch.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]], dim=-1)
    acc = torch.zeros_like(v).index_add(0, f.reshape(-1), n.repeat_interleave(3, 0))
    return torch.nn.functional.normalize(acc, dim=-1)


def render_scene() -> torch.Tensor:
    """(64, 64, 3) float image in [0, 1]."""
    S = 64
    v, f = icosphere(2)
    x, y, z = v.unbind(-1)
    v = v * (1.0 + 0.08 * torch.sin(5 * x) * torch.sin(4 * y) * torch.cos(3 * z))[:, None]
    uv = torch.stack([torch.atan2(x, z) / (2 * math.pi) + 0.5, 0.5 + torch.asin(y.clamp(-1, 1)) / math.pi], -1)
    n_model = vertex_normals(v, f)
    # check the mesh really is CCW seen from outside: normals point away from the centre
    if not ((n_model * v).sum(-1) > 0).all():
        raise AssertionError("icosphere winding is not counter-clockwise from outside")
    R = rotvec_to_matrix(torch.tensor([0.2, 0.45, 0.05], dtype=D))
    cam = (v @ R.T) @ MODEL_TO_CV.to(D).T + torch.tensor([0.0, 0.0, 4.0], dtype=D)
    focal = 1.4 * S
    scr = torch.cat([cam[:, :2] / cam[:, 2:] * focal + S / 2, cam[:, 2:]], -1)[None]
    frags = rasterize(scr, f, (S, S), cull_backfaces=True)
    attrs = torch.cat([uv, n_model @ R.T], -1)  # normals in the view frame (+Y up, +Z to viewer)
    pix = interpolate(attrs, frags, f)
    ii, jj = torch.meshgrid(torch.arange(8), torch.arange(16), indexing="ij")
    checker = ((ii + jj) % 2).to(D)
    tex = torch.stack([0.6 + 0.3 * checker, 0.5 + 0.25 * ii / 7, 0.4 + 0.4 * (1 - checker) * jj / 15], -1)[None]
    albedo = texture(tex, pix[..., :2])
    coeffs = ambient_coeffs(1, 0.6, D)
    coeffs[0, 1] = torch.tensor([0.4, 0.38, 0.35], dtype=D)   # from above (+y)
    coeffs[0, 3] = torch.tensor([-0.3, -0.3, -0.25], dtype=D)  # from the viewer's left (-x)
    coeffs[0, 2] = torch.tensor([0.25, 0.25, 0.3], dtype=D)   # from the front (+z)
    coeffs[0, 6] = torch.tensor([0.03, 0.02, 0.0], dtype=D)
    color = lambertian_sh(albedo, pix[..., 2:], coeffs)
    color = composite(color, frags.mask, torch.tensor([0.12, 0.15, 0.22], dtype=D))
    return antialias(color, frags, scr, f)[0].clamp(0, 1)


def _update(request) -> bool:
    return bool(request.config.getoption("--update-golden", default=False)) or \
        os.environ.get("FACESCULPT_UPDATE_GOLDEN") == "1"


def test_golden_bumpy_sphere(request):
    img = (render_scene() * 255).round().to(torch.uint8).numpy()
    if _update(request):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(GOLDEN)
        pytest.skip(f"rewrote {GOLDEN.name}; look at it before committing")
    if not GOLDEN.exists():
        pytest.fail(f"missing golden {GOLDEN} (run pytest --update-golden and review it)")
    want = np.asarray(Image.open(GOLDEN).convert("RGB"))
    assert want.shape == img.shape
    bad = (np.abs(want.astype(np.int16) - img.astype(np.int16)) > 1).any(-1)
    assert bad.mean() <= 0.001, f"{int(bad.sum())} of {bad.size} pixels differ by more than 1/255"
    # sanity that the golden is not blank: the sphere covers a good part of the image
    assert (np.abs(want.astype(np.int16) - want[0, 0].astype(np.int16)).sum(-1) > 10).mean() > 0.3
