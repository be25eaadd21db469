"""facesculpt/topology.py and the asset built by tools/build_topology.py."""
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.ops import mesh
from facesculpt.topology import REGION_EYE, REGION_MOUTH, REGION_SKIN, load_topology

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "facesculpt" / "assets" / "topology.npz"
FLIP = torch.tensor([-1.0, 1.0, 1.0])


@pytest.fixture(scope="module")
def top():
    return load_topology()


def signed_areas(uv: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    return mesh.face_areas(uv[None].double(), faces)[0]


def cyclic_equal(a, b) -> bool:
    a, b = list(a), list(b)
    if len(a) != len(b) or a[0] not in b:
        return False
    k = b.index(a[0])
    return a == b[k:] + b[:k]


def test_cached_and_lazy(top):
    assert load_topology() is top
    assert load_topology(1) is not top
    with pytest.raises(ShapeError, match="levels"):
        load_topology(-1)


def test_coarse_mesh_is_an_oriented_disk_on_all_landmarks(top):
    f = top.faces
    assert f.dtype == torch.long and f.shape[1] == 3 and 850 <= len(f) <= 950
    assert mesh.is_manifold(f)  # edges in 1-2 faces, consistent orientation, vertex fans
    _, counts = mesh.edge_face_counts(f)
    assert set(counts.tolist()) == {1, 2}
    assert mesh.euler_characteristic(f) == 1
    assert torch.equal(torch.unique(f), torch.arange(468))
    loops = mesh.boundary_loops(f)
    assert len(loops) == 1
    assert cyclic_equal(loops[0].tolist(), top.oval.tolist())  # same cycle, same direction
    assert top.oval[0] == 10


def test_normals_face_the_viewer(top):
    n = mesh.face_normals(top.canonical[None], top.faces)[0]
    assert (n[:, 2] > 0).float().mean() > 0.95
    vn = mesh.vertex_normals(top.canonical[None], top.faces)[0]
    assert (vn[:, 2] > 0).float().mean() > 0.95


def test_mirror_is_an_involution_and_reflects_x(top):
    m = top.mirror
    assert torch.equal(m[m], torch.arange(468))
    assert (top.canonical[m] * FLIP - top.canonical).abs().max() < 1e-4
    mid = m == torch.arange(468)
    assert torch.equal(torch.nonzero(mid)[:, 0].sort().values, top.midline.sort().values)
    assert top.canonical[mid, 0].abs().max() == 0
    # the triangulation is symmetric too: mirrored faces (reversed) are faces
    fs = {tuple(sorted(t)) for t in top.faces.tolist()}
    assert {tuple(sorted(t)) for t in m[top.faces].tolist()} == fs
    assert m[33] == 263 and m[61] == 291 and m[1] == 1


def test_scale_origin_and_frame(top):
    c = top.canonical
    assert torch.dist(c[33], c[263]).item() == pytest.approx(9.0, abs=1e-3)
    assert c[[33, 133, 362, 263]].mean(0).abs().max() < 1e-3  # origin: eye-corner centroid
    assert c[263, 0] > 0 and c[33, 0] < 0  # subject's left eye at +X
    assert c[10, 1] > c[1, 1] > c[152, 1]  # forehead above nose tip above chin (+Y up)
    assert int(c[:, 2].argmax()) in (1, 4) and c[1, 2] > 2.0  # the nose sticks out along +Z
    assert abs(c[33, 1] - c[263, 1]) < 1e-6  # eyes level


def test_uvs_one_symmetric_chart_without_flips_or_overlaps(top):
    uv, f = top.uvs, top.faces
    assert uv.dtype == torch.float32 and uv.min() >= 0.02 - 1e-6 and uv.max() <= 0.98 + 1e-6
    a = signed_areas(uv, f)
    assert a.min() > 0  # no flipped or degenerate triangle
    # no overlap: with every triangle positively oriented, the triangles tile the region
    # inside the boundary exactly once iff their total area equals the area enclosed by
    # the (simple) boundary polygon
    b = uv[top.oval].double()
    shoelace = 0.5 * (b[:, 0] * b.roll(-1, 0)[:, 1] - b.roll(-1, 0)[:, 0] * b[:, 1]).sum()
    assert a.sum().item() == pytest.approx(shoelace.item(), rel=1e-9)
    n = len(b)
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue
            p, q, r, s = b[i], b[(i + 1) % n], b[j], b[(j + 1) % n]
            d1 = (q - p)[0] * (r - p)[1] - (q - p)[1] * (r - p)[0]
            d2 = (q - p)[0] * (s - p)[1] - (q - p)[1] * (s - p)[0]
            d3 = (s - r)[0] * (p - r)[1] - (s - r)[1] * (p - r)[0]
            d4 = (s - r)[0] * (q - r)[1] - (s - r)[1] * (q - r)[0]
            assert not (d1 * d2 < 0 and d3 * d4 < 0), f"boundary segments {i} and {j} cross"
    assert a.sum() > 0.8  # texel use: most of the unit square
    # symmetry, exact
    m = top.mirror
    assert torch.equal(uv[m, 0], 1.0 - uv[:, 0]) and torch.equal(uv[m, 1], uv[:, 1])


def test_lmk68_indices_are_consistent(top):
    L = top.lmk68.tolist()
    m = top.mirror.tolist()
    assert len(L) == 68 and len(set(L)) == 68 and max(L) < 468
    pairs = [(i, 16 - i) for i in range(8)] + [(17 + i, 26 - i) for i in range(5)]
    pairs += [(31, 35), (32, 34), (36, 45), (37, 44), (38, 43), (39, 42), (40, 47), (41, 46)]
    pairs += [(48, 54), (49, 53), (50, 52), (55, 59), (56, 58), (60, 64), (61, 63), (65, 67)]
    for a, b in pairs:
        assert m[L[a]] == L[b], f"iBUG {a} and {b} are not mirror partners"
    for a in (8, 27, 28, 29, 30, 33, 51, 57, 62, 66):
        assert m[L[a]] == L[a], f"iBUG {a} is not on the midline"
    c = top.canonical
    right = list(range(0, 8)) + list(range(17, 22)) + list(range(36, 42)) + [31, 32, 48, 49, 50, 58, 59, 60, 61, 67]
    assert all(c[L[i], 0] < 0 for i in right)  # subject's right = -X
    assert set(L[0:17]) <= set(top.oval.tolist())
    assert set(L[36:42]) <= set(top.eye_right_loop.tolist())
    assert set(L[42:48]) <= set(top.eye_left_loop.tolist())
    assert set(L[60:68]) <= set(top.mouth_loop.tolist())
    assert set(L[48:60]) <= set(top.lips_outer_loop.tolist())
    # the jaw runs from the subject's right (-X) over the chin to the left (+X)
    x = c[L[0:17], 0]
    assert x[0] < x[8] < x[16] and c[L[8], 1] == c[L[0:17], 1].min()
    # eye corners: 36 outer right, 39 inner right, 42 inner left, 45 outer left
    assert c[L[36], 0] < c[L[39], 0] < 0 < c[L[42], 0] < c[L[45], 0]
    assert c[L[37], 1] > c[L[41], 1]  # upper lid above lower lid
    assert c[L[51], 1] > c[L[62], 1] > c[L[66], 1] > c[L[57], 1]  # lips top to bottom


def test_hole_regions(top):
    f, reg = top.faces, top.face_region
    assert reg.dtype == torch.int8 and len(reg) == len(f)
    assert set(reg.unique().tolist()) == {REGION_SKIN, REGION_EYE, REGION_MOUTH}
    for faces_idx, loop in ((top.eye_left, top.eye_left_loop), (top.eye_right, top.eye_right_loop),
                            (top.mouth, top.mouth_loop)):
        # a polygon of k vertices with no inner vertex is closed by k - 2 triangles
        assert len(faces_idx) == len(loop) - 2
        assert set(f[faces_idx].unique().tolist()) == set(loop.tolist())
    assert (top.canonical[f[top.eye_left]][..., 0] > 0).all()
    assert (top.canonical[f[top.eye_right]][..., 0] < 0).all()
    assert torch.equal(torch.nonzero(reg == REGION_MOUTH)[:, 0], top.mouth)
    # loops are counter-clockwise seen from +Z
    for loop in (top.eye_left_loop, top.eye_right_loop, top.mouth_loop, top.oval):
        p = top.canonical[loop, :2].double()
        assert (p[:, 0] * p.roll(-1, 0)[:, 1] - p.roll(-1, 0)[:, 0] * p[:, 1]).sum() > 0


def test_dense_mesh(top):
    V2 = top.num_dense_verts
    assert V2 >= 7000 and top.dense_S.shape == (V2, 468)
    assert top.dense_faces.shape == (16 * len(top.faces), 3)
    assert mesh.is_manifold(top.dense_faces) and mesh.euler_characteristic(top.dense_faces) == 1
    assert torch.equal(top.dense_face_region, top.face_region.repeat_interleave(16))
    assert top.dense_uvs.shape == (V2, 2) and signed_areas(top.dense_uvs, top.dense_faces).min() > 0
    assert torch.equal(top.dense_uvs[:468], top.uvs)
    m = top.dense_mirror
    assert torch.equal(m[m], torch.arange(V2)) and torch.equal(m[:468], top.mirror)
    assert (top.dense_canonical[m] * FLIP - top.dense_canonical).abs().max() < 1e-4
    assert torch.equal(top.dense_uvs[m, 0], 1.0 - top.dense_uvs[:, 0])
    ones = torch.ones(1, 468, 1)
    assert torch.allclose(top.densify(ones), torch.ones(1, V2, 1), atol=1e-6)


def test_densify_is_differentiable(top):
    x = (top.canonical[None].double().repeat(2, 1, 1) + 0.01).requires_grad_()
    y = top.densify(x)
    assert y.shape == (2, top.num_dense_verts, 3) and y.dtype == torch.float64
    assert torch.allclose(y[0].float() - 0.01, top.dense_canonical, atol=1e-4)
    g = torch.randn_like(y)
    (y * g).sum().backward()
    S = top.dense_S.to_dense().double()
    assert torch.allclose(x.grad, torch.einsum("vw,bvc->bwc", S, g), atol=1e-8)
    with pytest.raises(ShapeError):
        top.densify(top.canonical)  # missing batch dim


def test_build_script_is_deterministic(tmp_path):
    """Regenerates the asset from the photos (mediapipe; ~10 s) and compares bytes."""
    out = tmp_path / "topology.npz"
    env = dict(os.environ, GLOG_minloglevel="3", TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_topology.py"), "--out", str(out), "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    new = hashlib.sha256(out.read_bytes()).hexdigest()
    old = hashlib.sha256(ASSET.read_bytes()).hexdigest()
    if new != old:
        a, b = np.load(out), np.load(ASSET)
        diff = [k for k in b.files if k not in a.files or not np.array_equal(a[k], b[k])]
        pytest.fail(f"regenerated topology.npz differs from the committed one in {diff}")


def test_missing_or_corrupt_asset_fails(tmp_path, monkeypatch):
    import importlib.resources as real

    import facesculpt.topology as T
    from facesculpt.core.errors import AssetError

    class FakeResources:
        files = staticmethod(lambda pkg: tmp_path)
        as_file = staticmethod(real.as_file)

    monkeypatch.setattr(T, "resources", FakeResources)
    with pytest.raises(AssetError, match="missing"):
        T._read_npz()
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "topology.npz").write_bytes(ASSET.read_bytes()[:1000])
    with pytest.raises(AssetError, match="unreadable"):
        T._read_npz()
    good = dict(np.load(ASSET))
    good["faces"] = good["faces"].astype(np.int32)
    np.savez(tmp_path / "assets" / "topology.npz", **good)
    with pytest.raises(AssetError, match="faces"):
        T._read_npz()
