"""Open an exported ``mesh.glb`` in Blender (the ``bpy`` module from PyPI) and print what a user sees:
objects, vertex count, materials and their textures, shape keys with their values, and world bounds
(upright = tallest along Blender's Z). A developer's check, not a test (bpy is ~400 MB)::

    python3.11 -m venv /tmp/bpyenv && /tmp/bpyenv/bin/pip install bpy==4.2.0
    /tmp/bpyenv/bin/python tools/check_glb_blender.py OUT/photo/mesh.glb

Result recorded in docs/face_model.md. (bpy may crash on interpreter exit after printing; the
printout is complete by then.)
"""
import sys

import bpy


def main(path: str) -> None:
    bpy.ops.wm.read_factory_settings(use_empty=True)
    bpy.ops.import_scene.gltf(filepath=path)
    meshes = [o for o in bpy.context.scene.objects if o.type == "MESH"]
    print("objects", [o.name for o in meshes])
    for o in meshes:
        me = o.data
        keys = me.shape_keys.key_blocks if me.shape_keys else []
        print("mesh", o.name, "verts", len(me.vertices), "materials", [m.name for m in me.materials],
              "shape keys", len(keys))
        if keys:
            named = {k.name: round(k.value, 3) for k in keys}
            on = {k: v for k, v in named.items() if v > 0.05}
            print(" keys", list(named)[:4], "...", "non-zero:", on)
        pts = [o.matrix_world @ v.co for v in me.vertices]
        lo = [min(p[i] for p in pts) for i in range(3)]
        hi = [max(p[i] for p in pts) for i in range(3)]
        print(" bounds x %.3f..%.3f y %.3f..%.3f z %.3f..%.3f (m)" % (lo[0], hi[0], lo[1], hi[1], lo[2], hi[2]))
        for m in me.materials:
            tex = [n.image.name for n in m.node_tree.nodes if n.type == "TEX_IMAGE" and n.image] if m.use_nodes else []
            print(" material", m.name, "textures", tex)


if __name__ == "__main__":
    main(sys.argv[-1])
