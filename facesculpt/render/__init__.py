"""Differentiable rasteriser primitives: rasterize -> interpolate -> texture -> shade
(-> antialias). See ``rasterize.py`` for the pixel, depth and winding conventions."""
from facesculpt.render.antialias import antialias
from facesculpt.render.interpolate import interpolate
from facesculpt.render.rasterize import NEAR_Z, Fragments, rasterize
from facesculpt.render.shade import composite, lambertian_sh
from facesculpt.render.texture import texture

__all__ = ["Fragments", "rasterize", "interpolate", "texture", "antialias", "lambertian_sh",
           "composite", "NEAR_Z"]
