"""dlib .dat parsing: the real file parses fully; truncated/corrupt copies raise AssetError."""
import importlib.metadata
import importlib.util

import numpy as np
import pytest

from facesculpt.core.errors import AssetError
from facesculpt.identity import dlib_format, weights
from facesculpt.identity.dlib_format import _Reader, load_resnet_file, parse_resnet

try:
    _PATH = weights.resnet_model_path()
except AssetError:  # pragma: no cover - the package is a hard dependency
    _PATH = None

needs_model = pytest.mark.skipif(_PATH is None, reason="face-recognition-models not installed")


@pytest.fixture(scope="module")
def raw() -> bytes:
    return _PATH.read_bytes()


def test_int_and_float_encoding_reference():
    # 0 -> 01 00; -300 -> 82 2c 01; 0.6f as dlib writes it: mantissa 0x99999a, exponent -24.
    r = _Reader(bytes([0x01, 0x00, 0x82, 0x2C, 0x01, 0x03, 0x9A, 0x99, 0x99, 0x81, 0x18]))
    assert r.int() == 0
    assert r.int() == -300
    assert r.float() == pytest.approx(0.6, abs=1e-7)
    assert r.pos == 11


def test_int_with_reserved_bits_fails():
    with pytest.raises(Exception):
        _Reader(bytes([0x31, 0x00])).int()


@needs_model
def test_real_file_parses_completely(raw):
    f = parse_resnet(raw)
    assert np.allclose(f.input_mean, (122.782, 117.001, 104.298), atol=1e-4)
    assert f.input_size == 150
    assert f.loss_distance_threshold == pytest.approx(0.6, abs=1e-6)
    assert len(f.convs) == 29 and len(f.affines) == 29
    assert f.convs[0].weight.shape == (32, 3, 7, 7) and f.convs[0].stride == 2 and f.convs[0].padding == 0
    assert f.convs[-1].weight.shape == (256, 256, 3, 3)
    assert f.fc_weight.shape == (256, 128)
    assert all(np.isfinite(c.weight).all() for c in f.convs)


@needs_model
def test_truncated_file_fails(raw, tmp_path):
    for cut in (10, 300, len(raw) // 2, len(raw) - 1):
        p = tmp_path / f"trunc{cut}.dat"
        p.write_bytes(raw[:cut])
        with pytest.raises(AssetError, match="truncated or corrupt"):
            load_resnet_file(p)


@needs_model
def test_byte_flipped_file_fails(raw, tmp_path):
    # Flip bytes in the structure: the loss name, a wrapper version, the first conv's
    # tensor dims, and the fc layer's num_inputs near the end.
    fc = raw.rfind(b"fc_2")
    for pos in (5, 40, raw.find(b"con_4") + 8, fc + 6):
        bad = bytearray(raw)
        bad[pos] ^= 0xFF
        p = tmp_path / f"flip{pos}.dat"
        p.write_bytes(bytes(bad))
        with pytest.raises(AssetError, match="truncated or corrupt"):
            load_resnet_file(p)


@needs_model
def test_trailing_bytes_and_nan_weights_fail(raw, tmp_path):
    p = tmp_path / "trailing.dat"
    p.write_bytes(raw + b"\x00")
    with pytest.raises(AssetError, match="trailing"):
        load_resnet_file(p)
    bad = bytearray(raw)
    start = raw.find(b"con_4") + 5 + 11   # first float of the first conv's params
    bad[start:start + 4] = np.array([np.nan], "<f4").tobytes()
    with pytest.raises(AssetError, match="non-finite"):
        parse_resnet(bytes(bad))


def test_missing_file_fails(tmp_path):
    with pytest.raises(AssetError, match="cannot read"):
        load_resnet_file(tmp_path / "nope.dat")


def test_missing_package_fails_with_hint(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)

    def no_dist(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(importlib.metadata, "distribution", no_dist)
    with pytest.raises(AssetError, match="pip install face-recognition-models"):
        weights.resnet_model_path()


def test_architecture_counts():
    arch = dlib_format.architecture()
    kinds = [a[0] for a in arch]
    assert kinds.count("con") == 29 and kinds.count("add_prev") == 14
    assert kinds.count("avg_pool") == 5 and kinds.count("max_pool") == 1
