"""The detail stage's files (``full``): written beside the head, and its normal map on the animatable head."""
import io

import numpy as np
import pygltflib
from PIL import Image


def test_full_result_carries_the_normal_map_on_the_head_glb(tmp_path, grace_hopper):
    """normal.png, displacement.png, detail.json and the detail meshes are written, and mesh.glb's face material
    has normal.png as its normalTexture (what detail.json says it pairs with), byte for byte."""
    from facesculpt.config import make_config
    from facesculpt.io.results import write_result
    from facesculpt.pipeline import reconstruct

    cfg = make_config("full", **{"photometric.iterations": 8, "detail.iterations": 8, "detail.fine_iterations": 4,
                                 "identity_metrics": False})
    rec = reconstruct(grace_hopper, config=cfg)
    out = write_result(tmp_path / "gh", grace_hopper, rec)
    for name in ("normal.png", "displacement.png", "detail.json", "mesh_detail.obj", "mesh_detail.glb",
                 "mesh_normalmap.glb", "mesh.glb", "mesh.obj"):
        assert (out / name).is_file(), name
    g = pygltflib.GLTF2().load(str(out / "mesh.glb"))
    blob = g.binary_blob()
    mats = {m.name: m for m in g.materials}
    assert mats["skin_face"].normalTexture is not None
    assert all(m.normalTexture is None for n, m in mats.items() if n != "skin_face")
    view = g.bufferViews[g.images[g.textures[mats["skin_face"].normalTexture.index].source].bufferView]
    embedded = np.asarray(Image.open(io.BytesIO(blob[view.byteOffset:view.byteOffset + view.byteLength])).convert("RGB"))
    assert np.array_equal(embedded, np.asarray(Image.open(out / "normal.png").convert("RGB")))
    assert "normal" not in (out / "mesh.mtl").read_text()
