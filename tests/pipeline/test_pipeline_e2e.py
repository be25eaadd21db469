"""End-to-end reconstruction of real photos, through the Python API and the result writer."""
import json

import numpy as np
import pytest
import torch
import trimesh

import facesculpt
from facesculpt.config import make_config
from facesculpt.io.results import write_result


@pytest.fixture(scope="module")
def rec_default(grace_hopper):
    return facesculpt.reconstruct(grace_hopper, preset="default")


@pytest.fixture(scope="module")
def rec_fast_astronaut(astronaut):
    # the fast preset leaves the identity metrics out; they are asked for here
    return facesculpt.reconstruct(astronaut, config=make_config("fast", identity_metrics=True))


def test_default_fit_beats_its_initialisation(rec_default):
    ph = rec_default.losses["photometric"]
    # same region, no outlier rejection, before vs after the photometric stage
    assert ph["photo_final_unmasked"] < 0.95 * ph["photo_initial_unmasked"]
    assert ph["photo_final"] < ph["photo_initial"]
    assert 0.6 < ph["inlier_fraction"] <= 1.0


def test_metrics_in_sane_range(rec_default, rec_fast_astronaut):
    for rec in (rec_default, rec_fast_astronaut):
        m = rec.metrics
        assert 22.0 < m["inview_psnr"] < 60.0
        assert 0.7 < m["inview_ssim"] <= 1.0
        assert 0.0 <= m["inview_l1"] < 0.06
        assert m["landmark_error_iod"] < 0.08
        assert m["inview_pixels"] > 5000
        # the reconstruction is recognised as the person (dlib threshold 0.6), in view and turned
        assert m["identity_distance_inview"] < 0.45
        assert max(m["identity_distance_yaw_minus30"], m["identity_distance_yaw_plus30"]) < 0.6
        assert m["identity_same_person_inview"] is True


def test_mesh_is_dense_upright_and_facing_the_viewer(rec_default):
    v = rec_default.mesh.verts[0]
    assert v.shape[0] == rec_default.fit_topology.dense_uvs.shape[0] >= 9000
    assert rec_default.head_verts.shape[1] == rec_default.model.num_verts
    # model frame: forehead above chin (+Y up), nose tip in front (+Z); the 478 embedded mediapipe
    # points: 10 forehead, 152 chin, 1 nose tip
    p = rec_default.coarse[0]
    top, chin, nose = p[10], p[152], p[1]
    assert top[1] > chin[1] + 10.0
    assert nose[2] > v[:, 2].mean() + 2.0
    # head pose of a near-frontal photo: the face looks at the camera (camera z is forward)
    R = rec_default.params.pose.matrix()[0]
    assert float((R @ torch.tensor([0.0, 0.0, 1.0]))[2]) < -0.8


def test_albedo_complete_and_light_free(rec_default):
    a = rec_default.maps.albedo[0]
    vis = rec_default.maps.visibility[0]
    assert a.shape == (512, 512, 3)
    assert torch.isfinite(a).all() and float(a.min()) >= 0.0 and float(a.max()) <= 1.0
    # the unseen sides are filled with skin-like colour, not black (as exported: sRGB)
    from facesculpt.texture.color import to_display

    unseen = vis < 0.05
    assert unseen.any()
    assert float(to_display(a, rec_default.maps.linear)[unseen].mean()) > 0.2


def test_writes_all_outputs_that_load(tmp_path, grace_hopper, rec_default):
    out = write_result(tmp_path / "gh", grace_hopper, rec_default)
    names = {p.name for p in out.iterdir()}
    expected = {"mesh.obj", "mesh.mtl", "albedo.png", "albedo_head.png", "eye_left.png", "eye_right.png", "mesh.glb",
                "mesh_neutral.obj", "landmarks.json", "texture.png", "visibility.png", "overlay.png", "render.png", "params.json",
                "metrics.json", "occluders.png"}
    assert expected <= names
    nfaces = rec_default.model.faces.shape[0]  # the whole head, every part
    obj = trimesh.load(out / "mesh.obj", force="scene", process=False)
    assert sum(g.faces.shape[0] for g in obj.geometry.values()) == nfaces
    face = obj.geometry["skin_face"] if "skin_face" in obj.geometry else max(obj.geometry.values(), key=len)
    assert face.visual.uv is not None and face.visual.uv.shape[0] == face.vertices.shape[0]
    glb = trimesh.load(out / "mesh.glb", force="mesh", process=False)
    assert glb.faces.shape[0] == nfaces
    # metres, upright
    ext = glb.vertices.max(0) - glb.vertices.min(0)
    assert 0.15 < ext[1] < 0.45 and ext[1] > ext[0]
    params = json.loads((out / "params.json").read_text())
    assert len(params["light"]["sh_coeffs"]) == 9
    assert params["config"]["name"] == "default"
    assert "torch" in params["versions"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["inview_psnr"] == pytest.approx(rec_default.metrics["inview_psnr"])
    # nothing half-written: no temp folders next to the result
    assert [p.name for p in tmp_path.iterdir()] == ["gh"]


def test_several_faces_largest_first(grace_hopper):
    small = np.asarray(__import__("PIL.Image", fromlist=["Image"]).fromarray(grace_hopper).resize((256, 300)))
    canvas = np.full((620, 900, 3), 200, np.uint8)
    canvas[10:610, 10:522] = grace_hopper
    canvas[150:450, 600:856] = small
    recs = facesculpt.reconstruct_all(canvas, preset="fast", max_faces=2)
    assert len(recs) == 2
    assert recs[0].landmarks.size > recs[1].landmarks.size
    assert float(recs[1].landmarks.points[:, 0].mean()) > 600
    one = facesculpt.reconstruct_all(canvas, preset="fast")
    assert len(one) == 1
