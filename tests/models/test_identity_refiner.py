"""The identity refiner (``models.identity_refiner``): the ridge map, its file, its training command's data
(rendered heads with their photos' embeddings) and its use in the regressor's start."""
import numpy as np
import pytest
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.models.identity_refiner import (fit_identity_refiner, read_identity_refiner,
                                                save_identity_refiner)


def _linear_data(n=400, d=16, k=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    emb = torch.randn(n, d, generator=g, dtype=torch.float64)
    ident = torch.randn(n, k, generator=g, dtype=torch.float64)
    A = torch.randn(d, k, generator=g, dtype=torch.float64)
    truth = 0.5 * ident + emb @ A * 0.3 + 0.1
    return emb, ident, truth


def test_the_ridge_map_recovers_a_linear_truth_and_shrinks_with_the_penalty():
    emb, ident, truth = _linear_data()
    exact = fit_identity_refiner(emb[:300], ident[:300], truth[:300], ridge=0.0)
    assert torch.allclose(exact(ident[300:], emb[300:]).double(), truth[300:], atol=1e-8)
    strong = fit_identity_refiner(emb[:300], ident[:300], truth[:300], ridge=1e6)
    out = strong(ident[300:], emb[300:]).double()
    # a huge penalty leaves the constant: every head gets the training truth's mean
    assert torch.allclose(out, truth[:300].mean(0).expand_as(out), atol=1e-2)
    assert float((out - truth[300:]).abs().mean()) > 10 * float((exact(ident[300:], emb[300:]).double() -
                                                                  truth[300:]).abs().mean())


def test_the_file_round_trip_and_shape_errors(tmp_path):
    emb, ident, truth = _linear_data(n=50)
    r = fit_identity_refiner(emb, ident, truth, ridge=10.0, meta={"note": "test"})
    save_identity_refiner(tmp_path / "r.pt", r)
    q = read_identity_refiner(tmp_path / "r.pt")
    assert q.meta == {"note": "test"} and q.num_embedding == 16
    assert torch.equal(q(ident.float(), emb.float()), r(ident.float(), emb.float()))
    with pytest.raises(ShapeError):
        r(ident, emb[:, :8])  # an embedding of the wrong size
    with pytest.raises(ShapeError):
        r(ident[:3], emb)  # batch sizes differ


def test_the_packaged_refiner_fits_the_packaged_regressor_and_records_its_validation():
    from facesculpt.models.identity_refiner import get_identity_refiner
    from facesculpt.models.regressor import get_regressor

    r = get_identity_refiner("")
    _, reg_meta = get_regressor("")
    assert r.num_embedding == 128 and r.weight.shape == (229, 100)
    assert r.meta["regressor"] == "packaged"
    assert r.meta["regressor_val_error_mm"] == pytest.approx(reg_meta["val_error_mm"])  # made for these weights
    assert r.meta["val_aligned_mm"] < r.meta["val_regressor_aligned_mm"]  # it helped on its held-out heads


def test_rendered_heads_with_embeddings_train_a_refiner(tmp_path):
    """``render-landmarks --embed`` stores each photo's embedding as the pipeline computes it; the training
    command fits on them and writes a refiner that ``regress_head`` uses."""
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.regress_init import (RegressorInitConfig, identity_features, photo_identity_features,
                                                 photo_identity_outputs, refiner_inputs, regress_head)
    from facesculpt.fitting.initialize import initialize
    from facesculpt.face_model import fit_view
    from facesculpt.detect import detect_faces
    from facesculpt.training.identity_refiner import train_identity_refiner
    from facesculpt.training.rendered import RenderedConfig, build_rendered, load_rendered, render_sample

    model = load_face_model()
    path = tmp_path / "h.npz"
    build_rendered(path, 5, seed=3, embed=True)
    rs = load_rendered(path)
    assert rs.embedding is not None and rs.embedding.shape == (len(rs.index), 128)
    img, _ = render_sample(model, 3, int(rs.index[0]), RenderedConfig())
    lm = detect_faces(img, max_faces=1)[0]
    assert np.allclose(photo_identity_features(img, lm, model).numpy(), rs.embedding[0], atol=1e-6)
    assert rs.embedding_mirrored is not None and rs.embedding_mirrored.shape == rs.embedding.shape
    assert np.allclose(photo_identity_features(img, lm, model, mirrored=True).numpy(), rs.embedding_mirrored[0],
                       atol=1e-6)
    meta = train_identity_refiner(str(path), tmp_path / "run", ridge=100.0, val=1)
    assert meta["train"] == len(rs.index) - 1 and np.isfinite(meta["val_error_mm"]) and meta["features"] == "mean"
    photo = train_identity_refiner(str(path), tmp_path / "run_photo", ridge=100.0, val=1, features="photo")
    assert photo["features"] == "photo" and photo["val_error_mm"] != meta["val_error_mm"]
    _, _, cam = initialize(lm, fit_view(model).canonical)
    _, plain = regress_head(lm, model, cam)
    _, refined = regress_head(lm, model, cam, embedding=torch.from_numpy(rs.embedding[0]),
                              refiner_weights=str(tmp_path / "run" / "identity_refiner.pt"))
    assert not torch.equal(plain.identity, refined.identity)
    assert torch.equal(plain.expression, refined.expression)  # only the identity is refined
    # the recogniser's last feature map of the same two chips (the same pass), and a refiner that reads it
    assert rs.feature_map.shape == rs.feature_map_mirrored.shape == (len(rs.index), 1024)
    for mirrored, stored in ((False, rs.feature_map[0]), (True, rs.feature_map_mirrored[0])):
        emb, fmap = photo_identity_outputs(img, lm, model, mirrored=mirrored)
        assert np.allclose(fmap.numpy(), stored, atol=1e-5)
        assert np.allclose(emb.numpy(), photo_identity_features(img, lm, model, mirrored=mirrored).numpy(), atol=1e-6)
    by_map = train_identity_refiner(str(path), tmp_path / "run_map", ridge=100.0, val=1, features="map")
    assert by_map["features"] == "map" and np.isfinite(by_map["val_error_mm"])
    map_file = str(tmp_path / "run_map" / "identity_refiner.pt")
    both = identity_features(img, lm, model, True, feature_map=True)
    assert torch.allclose(both, torch.from_numpy(0.5 * (rs.feature_map[0] + rs.feature_map_mirrored[0])), atol=1e-5)
    # several photos (the multi-photo fit): a map-reading refiner gets the maps, made from the photos
    cfg = RegressorInitConfig(refiner_weights=map_file)
    fed = refiner_inputs([img], [lm], model, cfg, torch.from_numpy(rs.embedding[:1]))
    assert fed.shape == (1, 1024) and torch.allclose(fed[0], both, atol=1e-6)
    _, mapped = regress_head(lm, model, cam, embedding=both, refiner_weights=map_file)
    assert not torch.equal(mapped.identity, refined.identity)


def test_the_joint_identity_steps_pull_to_the_prior_centre_they_are_given():
    """``head_track._identity_steps``' prior: with the views' terms weighted 0 one step lands on its centre (0
    without one; up to the solve's tiny ridge); with the views counted, a stronger prior stays nearer the centre."""
    from facesculpt.bench.clip import make_views
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.head_landmarks import HeadLandmarkConfig, fit_head_landmarks
    from facesculpt.fitting.head_track import _identity_steps
    from facesculpt.fitting.initialize import initialize

    model = load_face_model()
    lms, cams, truth = make_views(0, (0.0, 30.0), noise_px=0.5)
    cfg = HeadLandmarkConfig()
    canon = model.points(model.template[None], "mediapipe")[0, :468]
    frames = []
    for lm, cam in zip(lms, cams):
        pose, head, _ = fit_head_landmarks(lm, model, initialize(lm, canon)[1], cam, cfg)
        frames.append((lm, pose, head))
    start = frames[0][2].identity[0].double()
    centre = torch.linspace(-1, 1, model.num_identity, dtype=torch.float64)
    muted = _identity_steps(model, frames, start, list(cams), cfg, 1, view_weights=[0.0, 0.0], prior=centre)
    assert torch.allclose(muted, centre, atol=2e-3)  # (the solve's 1e-9 ridge against the prior's small weight)
    assert torch.allclose(_identity_steps(model, frames, start, list(cams), cfg, 1, view_weights=[0.0, 0.0]),
                          torch.zeros_like(centre), atol=2e-3)
    weak = _identity_steps(model, frames, start, list(cams), cfg, 2, prior=centre, prior_scale=1.0)
    strong = _identity_steps(model, frames, start, list(cams), cfg, 2, prior=centre, prior_scale=100.0)
    assert float((strong - centre).norm()) < float((weak - centre).norm())


def test_several_views_refine_their_regressed_identities_with_their_embeddings():
    """``head_track.regressed_identity`` (the multi-photo start and the clip's prior) refines each view's
    regressed identity with its embedding before averaging; one view: exactly ``regress_head``'s refined one."""
    from facesculpt.detect import detect_faces
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.fitting.head_track import regressed_identity
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.regress_init import RegressorInitConfig, photo_identity_features, regress_head
    from facesculpt.identity.retrieval import photo_embeddings
    from skimage import data

    model = load_face_model()
    img = data.astronaut()
    lm = detect_faces(img, max_faces=1)[0]
    cam = initialize(lm, fit_view(model).canonical)[2]
    emb = torch.from_numpy(photo_embeddings([img], [lm]))
    assert torch.allclose(emb[0], photo_identity_features(img, lm, model), atol=1e-6)
    cfg = RegressorInitConfig(identity_features=True)
    ident, _ = regressed_identity([lm], model, [cam], cfg, 4.0, emb)
    _, refined = regress_head(lm, model, cam, cfg.pose_iterations, cfg.expression_floor, embedding=emb[0])
    assert torch.allclose(ident, refined.identity, atol=1e-6)
    plain, _ = regressed_identity([lm], model, [cam], cfg, 4.0, None)
    off, _ = regressed_identity([lm], model, [cam], RegressorInitConfig(identity_features=False), 4.0, emb)
    assert torch.equal(plain, off) and not torch.allclose(plain, ident, atol=1e-3)


def test_a_refiner_for_other_regressor_weights_is_refused_or_skipped(tmp_path):
    """``regress_init.matching_refiner``: a named refiner fitted for other regressor weights is a one-line
    ConfigError; the packaged refiner with other regressor weights is skipped (the landmarks' identity)."""
    import dataclasses

    from facesculpt.core.errors import ConfigError
    from facesculpt.fitting.regress_init import matching_refiner
    from facesculpt.models.identity_refiner import get_identity_refiner
    from facesculpt.models.regressor import get_regressor, save_regressor

    assert matching_refiner("", "") is get_identity_refiner("")
    other = dataclasses.replace(get_identity_refiner(""), meta={"regressor_val_error_mm": 99.0})
    save_identity_refiner(tmp_path / "other.pt", other)
    with pytest.raises(ConfigError, match="other regressor weights"):
        matching_refiner(str(tmp_path / "other.pt"), "")
    net, meta = get_regressor("")
    save_regressor(tmp_path / "reg.pt", net, {**meta, "val_error_mm": 5.0})  # "other" weights: another record
    assert matching_refiner("", str(tmp_path / "reg.pt")) is None


def test_the_mirrored_photo_gives_a_second_reading_of_the_same_face():
    """``photo_identity_features(mirrored=True)`` is the embedding of the photo flipped left-right at the mirrored
    points: flipping the flipped photo gives the photo's own embedding back; the two readings differ a little
    (the recogniser is not mirror-symmetric) and ``identity_features`` averages them with ``flip``."""
    import dataclasses

    from facesculpt.detect import detect_faces
    from facesculpt.detect.turned import mirror_back
    from facesculpt.face_model import load_face_model
    from facesculpt.fitting.regress_init import RegressorInitConfig, identity_features, photo_identity_features, refiner_inputs
    from facesculpt.io.image import load_image
    from facesculpt.topology import load_topology
    import facesculpt, os

    model = load_face_model()
    img = load_image(os.path.join(os.path.dirname(facesculpt.__file__), "assets", "grace_hopper.jpg"))
    lm = detect_faces(img, max_faces=1)[0]
    plain = photo_identity_features(img, lm, model)
    mirrored = photo_identity_features(img, lm, model, mirrored=True)
    flipped = np.ascontiguousarray(img[:, ::-1])
    lm_f = dataclasses.replace(lm, points=torch.from_numpy(
        mirror_back(lm.points.double().numpy(), img.shape[1], load_topology().mirror.numpy())).to(lm.points.dtype))
    back = photo_identity_features(flipped, lm_f, model, mirrored=True)
    assert torch.allclose(back, plain, atol=2e-4)  # the flip undone
    d = float((mirrored - plain).norm())
    assert 0.01 < d < 0.4, d  # another reading, the same person (dlib's threshold 0.6)
    assert torch.equal(identity_features(img, lm, model, False), plain)
    # (the two chips go through the recogniser in one batch: equal to float rounding)
    assert torch.allclose(identity_features(img, lm, model, True), 0.5 * (plain + mirrored), atol=1e-6)
    assert torch.allclose(identity_features(img, lm, model, True, embedding=plain), 0.5 * (plain + mirrored), atol=1e-6)
    emb = plain[None]
    assert refiner_inputs([img], [lm], model, RegressorInitConfig(identity_features_flip=False), emb) is emb
    assert refiner_inputs([img], [lm], model, RegressorInitConfig(), None) is None
    assert torch.allclose(refiner_inputs([img], [lm], model, RegressorInitConfig(), emb)[0], 0.5 * (plain + mirrored),
                          atol=1e-6)
