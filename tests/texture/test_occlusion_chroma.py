"""The occluder mask's chromaticity cue (``texture.occlusion.chroma_*``): a coloured patch is found on a
face whose de-lit brightness varies widely (a dark hat, shading the light misses), which widens the
brightness test's threshold past it (grace_hopper's blue patch, docs/results.md session 5)."""
import torch

from facesculpt.texture.occlusion import OcclusionConfig, skin_outliers


def _face(seed=0):
    g = torch.Generator().manual_seed(seed)
    H = W = 160
    yy, xx = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    face = ((xx - 80) ** 2 / 60.0 ** 2 + (yy - 80) ** 2 / 75.0 ** 2) < 1
    skin = torch.tensor([0.45, 0.28, 0.20])
    # brightness: a strong left-right ramp (a factor 6) and a dark band at the top (a hat)
    level = torch.exp(torch.linspace(-1.0, 0.8, W))[None, :].expand(H, W).clone()
    level[:35] *= 0.05
    tex = 1 + 0.05 * torch.randn(H, W, 3, generator=g)
    albedo = skin * level[..., None] * tex
    return albedo, face


def test_coloured_patch_found_when_brightness_spread_is_wide():
    albedo, face = _face()
    patch = torch.zeros_like(face)
    patch[85:115, 95:125] = True
    lev = albedo[85:115, 95:125].mean(-1, keepdim=True)
    albedo[85:115, 95:125] = torch.tensor([0.08, 0.20, 0.70]) * lev / 0.31  # blue, same brightness
    a, f = albedo[None], face[None]
    off = skin_outliers(a, f, None, OcclusionConfig(chroma_k_sigma=0))[0]
    on = skin_outliers(a, f, None, OcclusionConfig())[0]
    assert float(off[patch].float().mean()) < 0.1  # the brightness test alone misses it
    assert float(on[patch].float().mean()) > 0.95
    # and the skin away from the patch (and its grown margin) stays unflagged
    far = face.clone()
    far[70:130, 85:135] = False
    far[:40] = False  # the dark band is flagged by the brightness test, with or without this cue
    assert float(on[far].float().mean()) < 0.02


def test_plain_skin_with_shading_is_not_flagged():
    albedo, face = _face(1)
    off = skin_outliers(albedo[None], face[None], None, OcclusionConfig(chroma_k_sigma=0))[0]
    on = skin_outliers(albedo[None], face[None], None, OcclusionConfig())[0]
    assert float((on & ~off)[face].float().mean()) < 0.01  # the cue adds (almost) nothing on skin


def test_chroma_and_completion_overrides_are_range_checked():
    import pytest

    from facesculpt.config import make_config
    from facesculpt.core.errors import ConfigError

    for key, bad in (("texture.occlusion.chroma_k_sigma", -1), ("texture.occlusion.chroma_floor", -0.1),
                     ("texture.completion.keep_from", 1.5), ("texture.completion.rim", 0.5)):
        with pytest.raises(ConfigError, match=key.split(".")[-1]):
            make_config("default", **{key: bad})
    assert make_config("default", **{"texture.occlusion.chroma_k_sigma": 0}).texture.occlusion.chroma_k_sigma == 0
