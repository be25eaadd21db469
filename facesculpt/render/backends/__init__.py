"""Rasteriser backends: each maps screen-space triangles to a per-pixel face id.

A backend is ``fn(verts (B,V,3) float64 detached, faces (F,3) long, H, W, cull, near) ->
pix_to_face (B,H,W) long`` and does no autodiff: ``facesculpt.render.rasterize``
recomputes the barycentrics in torch from the chosen face so gradients flow.

- ``cpu_numba``: the default on CPU (numba, compiled on first call).
- ``torch_ref``: slow pure-torch reference with the exact same arithmetic; for tests.
- ``cuda_nvdiffrast``: optional, only when ``nvdiffrast`` is importable and the
  tensors are on CUDA.

Backends are imported lazily by ``rasterize`` so that importing facesculpt does not
import numba.
"""
