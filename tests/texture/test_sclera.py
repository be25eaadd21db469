"""The whites of the eyes as a reading of the light (``texture.sclera``, issue 12)."""
import numpy as np
import pytest
import torch

from facesculpt.texture.sclera import ScleraConfig, sclera_colour, sclera_pixels
from facesculpt.texture.skin_prior import SkinPriorConfig, ita_class, load_skin_table, map_skin_albedo

ON = SkinPriorConfig(sclera=ScleraConfig(enabled=True))


def _lum(rgb):
    return float(np.asarray(rgb) @ np.array([0.2126, 0.7152, 0.0722]))


@pytest.fixture(scope="module")
def rendered_eyes():
    """The relight benchmark's head 0 under its white, warm and dim lights, with mediapipe's points."""
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.detect.mediapipe_landmarker import detect_faces

    subject = Subject(0, size=512, uv_size=128)
    out = {}
    for name in ("white", "warm", "dim"):
        photo = subject.photo(sh_light(*SCENE_LIGHTS[name]), seed=0)
        out[name] = (photo, detect_faces(photo)[0].points.numpy())
    return out


def test_the_whites_read_the_lights_colour_and_level(rendered_eyes):
    """Warm / white and dim / white ratios of the reading are the lights' own: (1.25, 0.95, 0.65) in colour,
    1/3 in level (the scenes' ambient and directional terms are 0.9 / 0.45 and 0.3 / 0.15)."""
    reads = {k: sclera_colour(*v)[0] for k, v in rendered_eyes.items()}
    assert all(r is not None for r in reads.values())
    warm = reads["warm"] / reads["white"]
    np.testing.assert_allclose(warm, [1.25, 0.95, 0.65], rtol=0.06)
    np.testing.assert_allclose(reads["dim"] / reads["white"], 1 / 3, rtol=0.08)
    # and the picked pixels are the sclera's, not the skin's: near-white in the white light
    chroma = reads["white"] / reads["white"].mean()
    assert chroma.max() - chroma.min() < 0.25


def test_closed_or_tiny_eyes_give_no_reading(rendered_eyes):
    """Eye-opening loops squashed flat (closed lids) leave no sclera: no reading, and why."""
    from facesculpt.texture.head import _MP_EYE_LOOPS

    photo, pts = rendered_eyes["white"]
    closed = pts.copy()
    for loop in _MP_EYE_LOOPS:
        ids = list(loop)
        closed[ids, 1] = closed[ids, 1].mean()
    assert sclera_pixels(photo, closed) == []
    colour, info = sclera_colour(photo, closed)
    assert colour is None and info["refused"] == "too few sclera pixels"


def _exposed(photo, k):
    """The photo k times brighter in linear light, encoded and quantised again (clipping at 255)."""
    from facesculpt.texture.color import linear_to_srgb, srgb_to_linear

    x = srgb_to_linear(torch.from_numpy(photo / 255.0)) * k
    return np.round(linear_to_srgb(x.clamp(0, 1)).numpy() * 255).astype(np.uint8)


FLOOR_ONLY = ScleraConfig(enabled=True, censored_quantiles=False)  # sessions 30-41: clipped channels only bound


def test_clipped_whites_are_read_only_where_they_are_not(rendered_eyes):
    """Without the reading below the clipping: over-exposed x 1.5 the whites read 1.5 times brighter; x 1.7 red
    and green clip on them (a bound, not a value) and only blue is read (NaN elsewhere); x 1.9 every channel
    clips: no reading."""
    photo, pts = rendered_eyes["white"]
    ref, _ = sclera_colour(photo, pts)
    c15, _ = sclera_colour(_exposed(photo, 1.5), pts, FLOOR_ONLY)
    np.testing.assert_allclose(c15 / ref, 1.5, rtol=0.03)
    c17, info = sclera_colour(_exposed(photo, 1.7), pts, FLOOR_ONLY)
    assert info["clipped_channels"] == [0, 1] and np.isnan(c17[:2]).all()
    assert abs(c17[2] / ref[2] - 1.7) < 0.05
    c19, info = sclera_colour(_exposed(photo, 1.9), pts, FLOOR_ONLY)
    assert c19 is None and info["refused"] == "clipped"
    # the split takes the channels it has: finite, and not the full reading's
    seen = torch.tensor([0.3, 0.18, 0.12])
    full = map_skin_albedo(seen, ON, np.zeros(3)).numpy()
    part = map_skin_albedo(seen, ON, np.array([np.nan, np.nan, 0.0])).numpy()
    assert np.all(np.isfinite(part)) and not np.allclose(part, full)


def test_clipped_whites_are_read_below_the_clipping(rendered_eyes):
    """By default whites clipped beyond ``max_clipped_share`` are read from the quantile below the clipping
    (``censored_reading``): over-exposed x 1.7 / 1.9 / 2.2 (red clipped on 26-46 % of the pixels) every channel
    reads k times the unexposed reading within 10 % (the band's median, which the clipped pixels pull down, reads
    its most clipped channel lower, and from x 1.9 the level: it only bounded the light), the colour within 3 %,
    with the wider spread of such a reading; x 2.6
    (72 % of red clipped, below ``censored_min_level``) falls back to the bound."""
    photo, pts = rendered_eyes["white"]
    ref, _ = sclera_colour(photo, pts)
    cfg = ScleraConfig()
    for k in (1.7, 1.9, 2.2):
        c, info = sclera_colour(_exposed(photo, k), pts)
        assert c is not None and np.all(np.isfinite(c)) and "clipped_channels" not in info, (k, info)
        assert cfg.censored_min_level <= info["censored_level"] < 0.7
        assert info["sigma_brightness"] == cfg.sigma_brightness_censored
        assert info["sigma_colour"] == cfg.sigma_colour_censored
        r = c / ref / k
        assert np.all(np.abs(np.log(r)) < np.log(1.1)), (k, r)
        assert np.ptp(np.log(r)) < 0.03, (k, r)
        band, _ = sclera_colour(_exposed(photo, k), pts, ScleraConfig(max_clipped_share=1.0))  # the band, clipped
        assert np.log(band / ref / k).min() < np.log(r).min() - 0.02  # its most clipped channel reads lower
        if k >= 1.9:
            assert np.log(band / ref / k).mean() < np.log(r).mean() - 0.05
        # the eyes' opening corrects it as it does an unclipped reading (the same offset; its spread its own)
        off = info["openness_offset"]
        raw, _ = sclera_colour(_exposed(photo, k), pts, ScleraConfig(openness_correction=False))
        np.testing.assert_allclose(c, raw / np.exp(off), rtol=1e-9)
    c, info = sclera_colour(_exposed(photo, 2.6), pts)
    assert c is None and info["refused"] == "clipped" and len(info["clipped_channels"]) == 3


def test_the_censored_ratio_is_the_bands_over_the_quantile(rendered_eyes):
    """On unclipped whites the reading below the clipping, taken at any level, is the band's reading within the
    calibration's spread between heads (0.18 in log at the lowest levels)."""
    from facesculpt.texture.sclera import CENSORED_LEVELS, censored_reading

    cfg = ScleraConfig()
    assert len(cfg.censored_ratio) == len(CENSORED_LEVELS)
    assert np.all(np.diff(cfg.censored_ratio) < 0)  # a higher quantile lies nearer the band
    for name in ("white", "warm", "dim"):
        photo, pts = rendered_eyes[name]
        band, _ = sclera_colour(photo, pts)
        eyes = sclera_pixels(photo, pts)
        for level in (0.2, 0.43, 0.6, 0.85):
            got = censored_reading(eyes, level, cfg)
            assert np.all(np.abs(np.log(got / band)) < 0.2), (name, level, got / band)


def test_with_the_sclera_an_exposure_change_scales_the_albedo():
    """The same skin at two exposures (x 1 and x 1/3, the sclera's reading moving with it): without the
    sclera the darker photo gets a redder albedo; with it the two albedos are nearly one factor apart,
    and the level follows the reading instead of the prior's exposure."""
    t = load_skin_table()
    skin = t.rgb[[s == "nist" for s in t.source]].mean(0)

    def albedos(cfg, with_sclera):
        return [map_skin_albedo(torch.tensor(skin * k), cfg, np.full(3, np.log(k)) if with_sclera else None).numpy()
                for k in (1.0, 1 / 3)]

    def chroma_spread(a, b):
        r = np.log(a / b)
        return float(r.max() - r.min())
    off = albedos(SkinPriorConfig(), False)
    on = albedos(ON, True)
    assert chroma_spread(*off) > 0.15
    assert chroma_spread(*on) < 0.25 * chroma_spread(*off)
    # the reading says "a third of the light": the dim photo's albedo keeps most of its level
    assert _lum(on[1]) > 0.7 * _lum(on[0])
    assert _lum(off[1]) < 0.7 * _lum(off[0])


def test_dark_skin_stays_dark_when_the_whites_say_the_light_is_normal():
    """The table's dark class seen at the nominal exposure, the sclera reading a nominal light: the albedo
    stays dark (the prior must not whiten dark skin), and light skin stays light."""
    t = load_skin_table()
    dark = t.rgb[ita_class(t.ita) == 5].mean(0)
    light = t.rgb[[s == "nist" for s in t.source]].mean(0)
    a_dark = map_skin_albedo(torch.tensor(dark), ON, np.zeros(3)).numpy()
    a_light = map_skin_albedo(torch.tensor(light), ON, np.zeros(3)).numpy()
    assert abs(_lum(a_dark) / _lum(dark) - 1) < 0.25
    assert abs(_lum(a_light) / _lum(light) - 1) < 0.25
    assert _lum(a_dark) < 0.4 * _lum(a_light)


def test_the_reading_pins_the_lights_colour():
    """Skin seen under a warm light with the whites reading that warm light: the albedo's colour is the
    skin's (the light's colour goes to the light), where the prior alone leaves much of it in the albedo."""
    t = load_skin_table()
    skin = t.rgb[[s == "nist" for s in t.source]].mean(0)
    warm = np.array([1.25, 0.95, 0.65])
    a_on = map_skin_albedo(torch.tensor(skin * warm), ON, np.log(warm)).numpy()
    a_off = map_skin_albedo(torch.tensor(skin * warm), SkinPriorConfig()).numpy()

    def chroma_err(a):
        r = np.log(a / skin)
        return float(r.max() - r.min())
    assert chroma_err(a_on) < 0.05
    assert chroma_err(a_off) > 2 * chroma_err(a_on)


def test_clipped_whites_bound_the_light_from_below(rendered_eyes):
    """Whites clipped in every channel (x 2.2) give no reading but a lower bound per channel (clipped pixels
    read darker than they are): below the true 2.2 x and above the unclipped x 1.5. In the split the bound
    raises a light the prior put below it, on all channels alike (the albedo's colour is kept), and leaves a
    light above it alone."""
    photo, pts = rendered_eyes["white"]
    ref, _ = sclera_colour(photo, pts)
    colour, info = sclera_colour(_exposed(photo, 2.2), pts, FLOOR_ONLY)
    assert colour is None and info["refused"] == "clipped"
    floor = np.asarray(info["floor"])
    assert np.all(floor < 2.2 * ref) and np.all(floor > 1.5 * ref)

    t = load_skin_table()
    skin = t.rgb[ita_class(t.ita) == 3].mean(0)  # an intermediate skin: x 2.2 stays inside the table's range
    seen = torch.tensor(skin * 2.2)
    free = map_skin_albedo(seen, ON).numpy()
    log_floor = np.log(floor / ref)  # the bound relative to the nominal light the skin is seen under x 1
    bound = map_skin_albedo(seen, ON, None, None, log_floor).numpy()
    light = np.log(skin * 2.2 / bound)
    assert light.min() >= log_floor.max() - ON.sclera.floor_slack - 1e-9
    assert _lum(bound) < 0.9 * _lum(free)
    ratio = np.log(bound / free)
    assert ratio.max() - ratio.min() < 1e-6
    # a bound the prior's light already clears changes nothing
    np.testing.assert_allclose(map_skin_albedo(seen, ON, None, None, np.full(3, -3.0)).numpy(), free)
    # one bounded channel (NaN: unbounded) moves the whole light
    one = map_skin_albedo(seen, ON, None, None, np.where(log_floor == log_floor.max(), log_floor, np.nan)).numpy()
    assert _lum(one) < _lum(free) and np.ptp(np.log(one / free)) < 1e-6


def test_small_whites_of_a_small_photo_are_read():
    """The relight benchmark's head photographed at 160 pixels shows about 30 pixels of white: enough for a reading
    (``min_pixels`` 24; at 36 they were refused and a dim photo's exposure went into the albedo), and the reading
    still finds the dim light a third of the white one."""
    from facesculpt.bench.relight import SCENE_LIGHTS, Subject, sh_light
    from facesculpt.detect.mediapipe_landmarker import detect_faces

    subject = Subject(0, size=160, uv_size=64)
    reads = {}
    for name in ("white", "dim"):
        photo = subject.photo(sh_light(*SCENE_LIGHTS[name]), seed=0)
        colour, info = sclera_colour(photo, detect_faces(photo)[0].points.numpy())
        assert colour is not None, info
        assert ScleraConfig().min_pixels <= info["pixels"] < 36
        reads[name] = colour
    np.testing.assert_allclose(reads["dim"] / reads["white"], 1 / 3, rtol=0.2)


def test_the_reading_s_irradiance_is_the_best_lit_normal_near_the_view():
    """``sclera_irradiance``: at 0 degrees the light's irradiance at the view direction; within a cone the best-lit
    normal's, which a side light raises above the view direction's and a frontal light leaves near it."""
    from facesculpt.bench.relight import SCENE_LIGHTS, sh_light
    from facesculpt.ops.sh import sh_basis
    from facesculpt.texture.sclera import _cap_normals, sclera_irradiance

    view = torch.tensor([[0.0, 0.0, 1.0]])
    for name in ("white", "side"):
        light = sh_light(*SCENE_LIGHTS[name])
        at_view = (sh_basis(view)[0][:, None] * light[0]).sum(0).double().numpy()
        np.testing.assert_allclose(sclera_irradiance(light, 0.0), at_view, rtol=1e-6)
        cone = sclera_irradiance(light, 12.0)
        assert _lum(cone) >= _lum(at_view)
        if name == "side":  # the light from the side: the cone's best normal leans towards it
            assert _lum(cone) > 1.05 * _lum(at_view)
        else:
            assert _lum(cone) < 1.03 * _lum(at_view)
    n = _cap_normals(12.0)
    assert np.allclose(np.linalg.norm(n, axis=1), 1.0) and n[:, 2].min() >= np.cos(np.radians(12.0)) - 1e-9
    assert ScleraConfig().cone_deg == 12.0


def test_the_censored_readings_settings_are_range_checked():
    """A margin or level outside [0, 1] would ask numpy for a quantile it refuses mid-fit: refused up front, with
    one line naming the field."""
    from facesculpt.config import make_config
    from facesculpt.core.errors import ConfigError

    for key, value in (("censored_margin", -0.5), ("censored_margin", 0.9), ("censored_min_level", -1.0),
                       ("censored_min_level", 1.5), ("sigma_brightness_censored", 0.0), ("sigma_colour_censored", -1.0),
                       ("censored_ratio", [0.1, 0.2])):
        with pytest.raises(ConfigError, match=f"texture.skin.sclera.{key}"):
            make_config("fast", **{f"texture.skin.sclera.{key}": value})
    cfg = make_config("fast", **{"texture.skin.sclera.censored_margin": 0.2})
    assert cfg.texture.skin.sclera.censored_margin == 0.2


def _reshaped_eyes(pts, height_over_width, iris_radius):
    """``pts`` with each eye's lid loop an ellipse of the given height-to-width ratio about its centre (its width
    kept) and the nearest iris ring a circle of ``iris_radius`` px about the iris centre; and the ellipses' half
    widths."""
    from facesculpt.texture.head import _MP_EYE_LOOPS, _MP_IRISES

    out, halves = pts.copy(), []
    for loop in _MP_EYE_LOOPS:
        ids = list(loop)
        xy = pts[ids, :2]
        c, a = xy.mean(0), 0.5 * float(xy[:, 0].max() - xy[:, 0].min())
        halves.append(a)
        t = np.linspace(0.0, 2 * np.pi, len(ids), endpoint=False)
        out[ids, 0] = c[0] + a * np.cos(t)
        out[ids, 1] = c[1] + height_over_width * a * np.sin(t)
        centre, ring = min(_MP_IRISES, key=lambda ir: float(np.linalg.norm(pts[ir[0], :2] - c)))
        ring = list(ring)
        u = np.linspace(0.0, 2 * np.pi, len(ring), endpoint=False)
        out[ring, 0] = pts[centre, 0] + iris_radius * np.cos(u)
        out[ring, 1] = pts[centre, 1] + iris_radius * np.sin(u)
    return out, halves


def test_eye_openness_is_the_lids_mean_height_over_the_iris_diameter(rendered_eyes):
    from facesculpt.texture.sclera import eye_openness

    _, pts = rendered_eyes["white"]
    for ratio in (0.2, 0.35):
        shaped, halves = _reshaped_eyes(pts, ratio, 8.0)
        K = 16  # the loop's points: a K-gon's area is K/(2 pi) sin(2 pi / K) of its ellipse's
        expect = np.mean([np.pi * a * (ratio * a) / (2 * a) / 16.0 * (K / (2 * np.pi)) * np.sin(2 * np.pi / K)
                          for a in halves])
        assert eye_openness(shaped) == pytest.approx(expect, rel=1e-3)
    flat = pts.copy()
    from facesculpt.texture.head import _MP_EYE_LOOPS
    for loop in _MP_EYE_LOOPS:
        flat[list(loop), 1] = flat[list(loop), 1].mean()
    assert eye_openness(flat) is None  # closed lids: no opening to measure


def test_a_narrowly_open_eyes_whites_are_read_against_their_shade(rendered_eyes):
    """The reading is divided by exp(the calibrated offset at the eyes' opening) and its level spread scaled by the
    opening's calibrated spread; the offset is lower (the whites shaded more) for a narrower opening, and off with
    ``openness_correction=False``."""
    from facesculpt.texture.sclera import eye_openness

    photo, pts = rendered_eyes["white"]
    cfg = ScleraConfig(enabled=True)
    raw, raw_info = sclera_colour(photo, pts, ScleraConfig(enabled=True, openness_correction=False))
    got, info = sclera_colour(photo, pts, cfg)
    o = eye_openness(pts)
    assert info["openness"] == pytest.approx(o)
    xs, ys = zip(*cfg.openness_offset)
    off = float(np.interp(o, xs, ys))
    np.testing.assert_allclose(got, raw / np.exp(off), rtol=1e-9)
    sx, sy = zip(*cfg.openness_spread)
    assert info["sigma_brightness"] == pytest.approx(cfg.sigma_brightness * np.interp(o, sx, sy) / cfg.openness_spread_ref)
    assert "openness" not in raw_info and raw_info["sigma_brightness"] == cfg.sigma_brightness
    # the knots: a narrow opening reads darker than a wide one, and is the less certain
    assert np.interp(0.45, xs, ys) < np.interp(0.75, xs, ys) - 0.2
    assert np.interp(0.45, sx, sy) > np.interp(0.75, sx, sy)
