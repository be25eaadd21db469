"""The one place for coordinate conventions (see docs/conventions.md).

Image pixels
    x to the right, y down, origin at the top-left corner of the top-left pixel;
    pixel (row i, column j) has its centre at (x, y) = (j + 0.5, i + 0.5).

Model frame (also the export frame, glTF convention)
    +X to the viewer's right when looking at the face (the subject's left),
    +Y up, +Z out of the face towards the viewer. Units: centimetres internally;
    exports are written in metres (glTF) with ``EXPORT_SCALE``.

Camera frame (OpenCV)
    +x right, +y down, +z forward (depth is positive in front of the camera).
    A model point X maps to the camera as ``x_cam = R @ X + t`` and projects to
    pixels as ``u = fx * x/z + cx``, ``v = fy * y/z + cy``.

UV
    u to the right, v up, both in [0, 1]; texel (row i, column j) of an S x S
    texture image has centre uv = ((j + 0.5)/S, 1 - (i + 0.5)/S) — the OBJ/glTF
    image convention after the vertical flip that glTF applies (glTF stores
    1 - v; exporters handle that).
"""
import torch

#: centimetres -> metres, applied when writing OBJ/GLB files.
EXPORT_SCALE = 0.01

#: rotation taking the model frame (+Y up, +Z to viewer) to an OpenCV camera that
#: looks at the face from the front: x stays, y and z flip.
MODEL_TO_CV = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]])

#: default focal length in units of the larger image side (about a 50 mm lens on
#: a full-frame sensor: 50 / 36).
DEFAULT_FOCAL_FACTOR = 1.4
