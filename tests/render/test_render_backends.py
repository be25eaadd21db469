"""The numba CPU kernel agrees with the pure-torch reference."""
import pytest
import torch

from facesculpt.render import rasterize


def _random_mesh(seed, B=2, V=40, F=50, H=32, W=40):
    g = torch.Generator().manual_seed(seed)
    xy = torch.rand(B, V, 2, generator=g, dtype=torch.float64) * torch.tensor([W + 10.0, H + 10.0],
                                                                              dtype=torch.float64) - 5.0
    # snap a third of the vertices onto pixel centres / pixel corners to exercise ties
    snap = torch.rand(B, V, 1, generator=g) < 0.33
    xy = torch.where(snap, torch.round(xy * 2.0) / 2.0, xy)
    z = torch.rand(B, V, 1, generator=g, dtype=torch.float64) * 9.0 + 1.0
    z[:, :2] = -1.0  # some faces behind the camera
    faces = torch.stack([torch.randperm(V, generator=g)[:3] for _ in range(F)])
    return torch.cat([xy, z], -1), faces


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("cull", [False, True])
def test_cpu_matches_torch_reference(seed, cull):
    verts, faces = _random_mesh(seed)
    a = rasterize(verts, faces, (32, 40), backend="cpu", cull_backfaces=cull)
    b = rasterize(verts, faces, (32, 40), backend="torch", cull_backfaces=cull)
    assert (a.pix_to_face >= 0).float().mean() > 0.3
    assert len(a.pix_to_face.unique()) > 20
    assert torch.equal(a.pix_to_face, b.pix_to_face)
    torch.testing.assert_close(a.bary, b.bary, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.zbuf, b.zbuf, atol=1e-5, rtol=0)


def test_cpu_matches_torch_float32_large_triangles():
    # triangles larger than the kernel's row bands and partly off-screen
    verts, faces = _random_mesh(5, B=1, V=12, F=10, H=70, W=50)
    verts = (verts - 20.0) * torch.tensor([3.0, 3.0, 0.0], dtype=torch.float64) + torch.tensor([20.0, 20.0, 0.0],
                                                                                                dtype=torch.float64)
    verts[..., 2] = torch.linspace(1.0, 5.0, 12, dtype=torch.float64)
    v32 = verts.float()
    a = rasterize(v32, faces, (70, 50), backend="cpu")
    b = rasterize(v32, faces, (70, 50), backend="torch")
    assert (a.pix_to_face >= 0).float().mean() > 0.5
    assert torch.equal(a.pix_to_face, b.pix_to_face)
    torch.testing.assert_close(a.bary, b.bary, atol=1e-5, rtol=0)


def test_auto_backend_is_cpu_on_cpu_tensors():
    verts, faces = _random_mesh(7, B=1)
    a = rasterize(verts, faces, (32, 40))
    b = rasterize(verts, faces, (32, 40), backend="cpu")
    assert torch.equal(a.pix_to_face, b.pix_to_face)


def test_unknown_backend_fails():
    verts, faces = _random_mesh(7, B=1)
    with pytest.raises(ValueError, match="unknown backend"):
        rasterize(verts, faces, (8, 8), backend="opengl")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="nvdiffrast"):
            rasterize(verts, faces, (8, 8), backend="cuda")


def test_cpu_backend_keeps_torch_thread_count():
    # numba's OpenMP layer resets the process-wide OpenMP thread count on start-up
    verts, faces = _random_mesh(8, B=1)
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        rasterize(verts, faces, (32, 40), backend="cpu")
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
