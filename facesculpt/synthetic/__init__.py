"""Synthetic faces with known shape, detail, albedo, light and camera (for benchmarks and tests)."""
from facesculpt.synthetic.generator import SyntheticConfig, SyntheticFace, displaced_mesh, generate_face

__all__ = ["SyntheticConfig", "SyntheticFace", "generate_face", "displaced_mesh"]
