"""All file work: image loading and validation, mesh/texture export, atomic result writing."""
from facesculpt.io.atomic import atomic_output_dir, encode_png, to_jsonable, write_json, write_png, write_png16
from facesculpt.io.discover import FoundImage, find_images, is_image_name
from facesculpt.io.export import write_glb, write_obj
from facesculpt.io.image import (
    IMAGE_EXTENSIONS,
    MAX_PIXELS,
    array_to_rgb,
    downscale_for_detection,
    load_image,
    load_image_any,
)

__all__ = [
    "IMAGE_EXTENSIONS",
    "MAX_PIXELS",
    "FoundImage",
    "array_to_rgb",
    "atomic_output_dir",
    "downscale_for_detection",
    "encode_png",
    "find_images",
    "is_image_name",
    "load_image",
    "load_image_any",
    "to_jsonable",
    "write_glb",
    "write_json",
    "write_obj",
    "write_png",
    "write_png16",
]
