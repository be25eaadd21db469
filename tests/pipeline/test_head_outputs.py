"""The morphable head's outputs on a real photo: the animatable GLB (53 morph targets, fitted
weights), the OBJs, landmarks.json, params.json's head block and the filled head/neck tile."""
import json
import struct

import numpy as np
import pygltflib
import pytest
import trimesh
from PIL import Image

import facesculpt
from facesculpt.io.results import write_result


@pytest.fixture(scope="module")
def head_out(tmp_path_factory, astronaut):
    rec = facesculpt.reconstruct(astronaut, preset="fast")
    folder = tmp_path_factory.mktemp("head") / "astronaut"
    write_result(folder, astronaut, rec)
    return rec, folder


def test_head_fit_is_a_smile(head_out):
    rec, _ = head_out
    names = rec.model.expression_names
    w = dict(zip(names, rec.head.expression[0].tolist()))
    # the astronaut photo smiles: both smile weights clearly on, the weights stay sparse
    assert w["mouthSmile_L"] > 0.3 and w["mouthSmile_R"] > 0.3
    assert sum(v > 0.05 for v in w.values()) < 15
    assert all(0.0 <= v <= 1.0 for v in w.values())
    assert rec.head_verts.shape == (1, rec.model.num_verts, 3)


def test_glb_has_the_53_blendshapes_with_fitted_weights(head_out):
    rec, folder = head_out
    g = pygltflib.GLTF2().load(str(folder / "mesh.glb"))
    assert len(g.meshes) == 1
    mesh = g.meshes[0]
    names = mesh.extras["targetNames"]
    assert names == list(rec.model.expression_names) and len(names) == 53
    np.testing.assert_allclose(mesh.weights, rec.head.expression[0].numpy(), atol=1e-6)
    mats = [g.materials[p.material].name for p in mesh.primitives]
    assert mats == ["skin_face", "skin_head", "eye_left", "eye_right", "gums_tongue", "teeth"]
    for p in mesh.primitives:
        assert len(p.targets) == 53
    # the jawOpen target of the face primitive moves vertices (sparse accessor with entries)
    jaw = rec.model.expression_names.index("jawOpen")
    acc = g.accessors[mesh.primitives[0].targets[jaw]["POSITION"] if isinstance(mesh.primitives[0].targets[jaw], dict)
                      else mesh.primitives[0].targets[jaw].POSITION]
    assert acc.sparse is not None and acc.sparse.count > 500
    scene = trimesh.load(folder / "mesh.glb", force="scene")
    nverts = sum(len(m.vertices) for m in scene.geometry.values())
    assert nverts > rec.model.num_verts  # split at UV seams, all parts present
    b = scene.bounds
    assert 0.15 < b[1][1] - b[0][1] < 0.45  # a head and neck, in metres, +Y up


def test_objs_and_landmarks(head_out):
    rec, folder = head_out
    for name in ("mesh.obj", "mesh_neutral.obj"):
        sc = trimesh.load(folder / name, force="scene", process=False)
        assert len(sc.geometry) == 6
    mtl = (folder / "mesh.mtl").read_text()
    for tex in ("albedo.png", "albedo_head.png", "eye_left.png", "eye_right.png"):
        assert f"map_Kd {tex}" in mtl
    lm = json.loads((folder / "landmarks.json").read_text())
    assert np.array(lm["ibug68_px"]).shape == (68, 2)
    assert np.array(lm["ibug68_model_cm"]).shape == (68, 3)
    assert np.array(lm["mediapipe478_px"]).shape == (478, 2)
    # the fitted head's points land near the detected ones (pixels, astronaut face ~110 px)
    d = np.linalg.norm(np.array(lm["mediapipe478_px"])[:468] - np.array(lm["detected_mediapipe478_px"])[:468], axis=1)
    assert np.median(d) < 3.0
    params = json.loads((folder / "params.json").read_text())
    assert len(params["head"]["identity"]) == 100 and len(params["head"]["expression"]) == 53


def test_head_tile_is_filled(head_out):
    _, folder = head_out
    a = np.asarray(Image.open(folder / "albedo_head.png").convert("RGB")).astype(float)
    assert a.shape[0] == a.shape[1] == 512
    # no black and no flat grey texel anywhere: skin-like (red >= blue) everywhere
    assert a.min(axis=2).max() > 20 and a.max(axis=2).min() > 10
    grey = (np.abs(a[..., 0] - a[..., 1]) < 2) & (np.abs(a[..., 1] - a[..., 2]) < 2)
    assert grey.mean() < 0.01
    assert (a[..., 0] >= a[..., 2] - 5).mean() > 0.99


def test_quality_gate_compares_what_the_fit_matched_with_the_response(head_out, astronaut):
    """``pipeline.evaluate``'s landmark error with ``response`` adds the detector's measured response at the fitted
    head to the projected points (as the fit does under ``head_landmarks.detector_response``): the error moves,
    by less than the response itself, and "off" reproduces the stored metric."""
    import torch

    from facesculpt.face_model import fit_view
    from facesculpt.pipeline import evaluate

    rec, _ = head_out
    topo = fit_view(rec.model)
    off = evaluate(astronaut, rec, topo, identity=False, view_bias=True)["landmark_error_iod"]
    both = evaluate(astronaut, rec, topo, identity=False, view_bias=True, response="both")["landmark_error_iod"]
    assert abs(off - rec.metrics["landmark_error_iod"]) < 1e-6
    assert both != off
    with torch.no_grad():
        shift = rec.model.detector_offsets(rec.head).norm(dim=-1).mean()  # cm, model frame
    assert float(shift) > 0.01 and abs(both - off) < 0.05
