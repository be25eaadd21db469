"""What Blender sees when it opens a result folder's files: run with Blender's own Python module.

    python3.11 -m venv /tmp/bpyenv && /tmp/bpyenv/bin/pip install bpy==4.2.0     # ~350 MB, PyPI
    /tmp/bpyenv/bin/python benchmarks/blender_import.py OUT/grace_hopper [OUT/clip ...]

For each folder: ``mesh.obj`` through Blender's OBJ importer (objects, vertex counts, and per material the
image nodes with their colour space and what they feed), and every ``*.glb`` through its glTF importer
(images and colour spaces, normal-map nodes, shape keys, actions). Not part of the package or the tests
(bpy is a large download and pins its own Python); docs/results.md records a run. Never collected by pytest.
"""
from __future__ import annotations

import sys
from pathlib import Path


def _materials(bpy) -> list[str]:
    out = []
    for m in bpy.data.materials:
        if not m.use_nodes:
            continue
        parts = []
        for n in m.node_tree.nodes:
            if n.type == "TEX_IMAGE" and n.image is not None:
                to = [f"{link.to_node.type}.{link.to_socket.name}" for link in n.outputs[0].links]
                parts.append(f"{n.image.name} ({n.image.colorspace_settings.name}) -> {', '.join(to) or '-'}")
            elif n.type == "NORMAL_MAP":
                parts.append(f"normal map ({n.space})")
        out.append(f"  material {m.name}: {'; '.join(parts) or 'no textures'}")
    return out


def _meshes(bpy) -> list[str]:
    out = []
    for o in bpy.data.objects:
        if o.type == "MESH":
            keys = o.data.shape_keys
            out.append(f"  object {o.name}: {len(o.data.vertices)} vertices, "
                       f"{len(keys.key_blocks) if keys else 0} shape keys")
    return out


def main() -> int:
    try:
        import bpy
    except ImportError:
        print("blender_import: needs Blender's Python module (pip install bpy==4.2.0 in a Python 3.11 venv)",
              file=sys.stderr)
        return 2
    args = [a for a in sys.argv[1:] if a != "--"]
    if not args:
        print(__doc__)
        return 2
    for folder in map(Path, args):
        files = ([folder / "mesh.obj"] if (folder / "mesh.obj").is_file() else []) + sorted(folder.glob("*.glb"))
        for f in files:
            bpy.ops.wm.read_factory_settings(use_empty=True)
            if f.suffix == ".obj":
                bpy.ops.wm.obj_import(filepath=str(f))
            else:
                bpy.ops.import_scene.gltf(filepath=str(f))
            print(f"{f} (Blender {bpy.app.version_string}):")
            print("\n".join(_meshes(bpy) + _materials(bpy)))
            if bpy.data.actions:
                print(f"  actions: {', '.join(a.name for a in bpy.data.actions)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
