"""Against dlib itself (a test-only dependency): embeddings, chips, identity distances."""
import numpy as np
import pytest
import torch

dlib = pytest.importorskip("dlib")
cbook = pytest.importorskip("matplotlib.cbook")
skdata = pytest.importorskip("skimage.data")
from PIL import Image  # noqa: E402

from facesculpt.identity import cut_chips, embed, embed_chips, identity_distance, load_identity_network  # noqa: E402
from facesculpt.identity.align import _level_and_box, chip_transform  # noqa: E402
from facesculpt.identity.weights import resnet_model_path, shape_predictor_68_path  # noqa: E402


def _photo(name: str) -> np.ndarray:
    if name == "grace_hopper":
        with cbook.get_sample_data("grace_hopper.jpg") as f:
            return np.asarray(Image.open(f).convert("RGB")).copy()
    return np.ascontiguousarray(skdata.astronaut())


@pytest.fixture(scope="module")
def dl():
    return {
        "det": dlib.get_frontal_face_detector(),
        "sp": dlib.shape_predictor(str(shape_predictor_68_path())),
        "fr": dlib.face_recognition_model_v1(str(resnet_model_path())),
    }


def _shape(dl, img):
    dets = dl["det"](img, 1)
    assert len(dets) >= 1, "dlib found no face in a test photo"
    d = max(dets, key=lambda r: r.area())
    return dl["sp"](img, d)


def _jitter(shape, rng, sigma):
    pts = [dlib.point(int(round(shape.part(i).x + rng.normal(0, sigma))),
                      int(round(shape.part(i).y + rng.normal(0, sigma)))) for i in range(68)]
    return dlib.full_object_detection(shape.rect, pts)


def _landmarks(shape) -> torch.Tensor:
    return torch.tensor([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=torch.float64)


@pytest.fixture(scope="module")
def cases(dl):
    """(image, dlib shape) pairs: two photos, random crops, a 2x upscale (pyramid path), jitter."""
    rng = np.random.default_rng(0)
    gh, ast = _photo("grace_hopper"), _photo("astronaut")
    out = []
    out.append(("gh_full", gh, _shape(dl, gh)))
    out.append(("ast_full", ast, _shape(dl, ast)))
    for k in range(2):
        y0, x0 = rng.integers(0, 60, size=2)
        crop = np.ascontiguousarray(gh[y0:y0 + 420, x0:x0 + 420])
        out.append((f"gh_crop{k}", crop, _shape(dl, crop)))
    y0, x0 = rng.integers(0, 40, size=2)
    crop = np.ascontiguousarray(ast[y0:y0 + 300, 100 + x0:400 + x0])
    out.append(("ast_crop", crop, _shape(dl, crop)))
    big = np.asarray(Image.fromarray(gh).resize((gh.shape[1] * 2, gh.shape[0] * 2), Image.BILINEAR)).copy()
    out.append(("gh_2x", big, _shape(dl, big)))
    out.append(("gh_jitter", gh, _jitter(out[0][2], rng, 3.0)))
    out.append(("ast_jitter", ast, _jitter(out[1][2], rng, 3.0)))
    return out


def test_embeddings_match_dlib(dl, cases):
    chips = np.stack([dlib.get_face_chip(img, s, size=150, padding=0.25) for _, img, s in cases])
    ref = np.stack([np.array(dl["fr"].compute_face_descriptor(c)) for c in chips])
    ours = embed_chips(chips)
    assert ours.shape == (len(cases), 128) and ours.dtype == np.float32
    diff = np.abs(ours - ref).max()
    assert diff <= 1e-3, f"max |torch - dlib| = {diff}"
    # dlib does not normalise: norms are not 1.
    assert not np.allclose(np.linalg.norm(ref, axis=1), 1.0, atol=1e-2)


def test_chips_match_dlib(cases):
    levels = set()
    for name, img, s in cases:
        ref = dlib.get_face_chip(img, s, size=150, padding=0.25).astype(np.float64) / 255
        x = torch.from_numpy(img).permute(2, 0, 1)[None].double() / 255
        ours = cut_chips(x, _landmarks(s)[None])[0].permute(1, 2, 0).numpy()
        mad = np.abs(ours - ref).mean()
        assert mad <= 2 / 255, f"{name}: chip mean |diff| = {mad * 255:.3f}/255"
        levels.add(_level_and_box(chip_transform(_landmarks(s)[None])[0], 150, *img.shape[:2])[0])
    assert -1 in levels and max(levels) >= 0, "both the direct and the pyramid path must be tested"


def test_identity_same_and_different_person(dl, cases):
    by_name = {n: (img, s) for n, img, s in cases}
    chips = {n: dlib.get_face_chip(img, s, size=150, padding=0.25) for n, (img, s) in by_name.items()}
    e = {n: torch.from_numpy(v) for n, v in zip(chips, embed_chips(np.stack(list(chips.values()))))}
    same = [("gh_full", "gh_crop0"), ("gh_crop0", "gh_crop1"), ("gh_full", "gh_2x"),
            ("gh_full", "gh_jitter"), ("ast_full", "ast_crop"), ("ast_full", "ast_jitter")]
    for a, b in same:
        d = identity_distance(e[a][None], e[b][None]).item()
        assert d < 0.6, f"{a} vs {b}: {d}"
    for a, b in (("gh_full", "ast_full"), ("gh_crop0", "ast_crop"), ("gh_jitter", "ast_jitter")):
        d = identity_distance(e[a][None], e[b][None]).item()
        assert d > 0.6, f"{a} vs {b}: {d}"


def test_gradients_flow_from_embedding_to_image(cases):
    _, img, s = cases[1]
    x = (torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255).requires_grad_(True)
    lm = _landmarks(s)[None].float().requires_grad_(True)
    chips = cut_chips(x, lm)
    emb = embed(chips)
    target = emb.detach() + 0.1
    loss = (emb - target).pow(2).sum()
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    assert lm.grad is not None and torch.isfinite(lm.grad).all() and lm.grad.abs().sum() > 0
    net = load_identity_network()
    assert all(not p.requires_grad for p in net.parameters())
