"""Type and range checks of config values (``facesculpt.config.with_overrides`` calls them).

A value given on the command line (``--set photometric.iterations=40``, JSON-parsed, else a string)
or through ``make_config(**overrides)`` is converted to the type of the dataclass field it replaces
and checked against the field's allowed range, before any image is processed. A bad value is a
``ConfigError`` with one line naming the field, the value and what is allowed.

The rules (one place, so every stage config gets them without repeating them per field):

- ``bool`` fields take ``true``/``false`` (also the strings "true"/"false"/"1"/"0");
- ``int`` fields take whole numbers only (``1.5`` and ``"abc"`` are refused; ``40.0`` is 40) and are
  >= 0; sizes, step counts of stages that divide by them and ``max_faces`` are >= 1 (``_INT_MIN``);
  a few have an upper bound too (``_RANGES``);
- ``float`` fields take finite numbers; weights (``w_*``) are >= 0, learning rates (``lr_*``) > 0;
- ``str`` fields with a fixed set of values are checked against it (``_CHOICES``);
- ``tuple`` fields take a list of the same length (``tuple[float, ...]``: of numbers, any length;
  ``tuple[str, ...]``: of text, any length);
- a section (``photometric``, ``texture``, ...) takes only a mapping of its own fields.
"""
from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

from facesculpt.core.errors import ConfigError

#: inclusive (low, high) bounds per field name (the last part of a dotted key); None = open
_RANGES: dict[str, tuple[float | None, float | None]] = {
    "size": (16, 4096),
    "polish_prior_scale": (0.0, None),  # regressor
    "identity_features_prior": (0.0, None),  # track
    "expression_l1_motion": (0.0, None),  # head_landmarks, track (a power)
    "render_size": (32, 2048),
    "albedo_size": (2, 512),
    "random_view_size": (32, 1024),
    "detection_max_side": (64, 8192),
    "min_face_size": (8, None),
    "max_faces": (1, 64),
    "subdivision_levels": (0, 3),
    "min_facing": (0.0, 1.0),
    "full_facing": (0.0, 1.0),
    "shading_floor": (0.0, 1.0),
    "k_sigma": (0.0, None),  # texture.occlusion
    "open_frac": (0.0, 0.2),
    "grow_frac": (0.0, 0.2),
    "edge_frac": (0.0, 0.2),  # texture.occlusion
    "threshold": (0.0, 1.0),  # texture.occlusion.background (a probability)
    "grey": (0.0, 1.0),  # texture.occlusion (a fraction of the skin's chromaticity)
    "edge_grey": (0.0, 1.0),  # texture.occlusion (the same, in the outline band)
    "edge_hue": (0.0, 180.0),  # texture.occlusion (degrees)
    "hue_min": (0.0, 1.0),  # texture.occlusion (a fraction of the skin's chromaticity)
    "grey_min_skin": (0.0, None),
    "hair": (0.0, None),  # texture.occlusion (skin standard deviations)
    "hair_band": (0.0, 0.2),  # texture.occlusion (a fraction of the crop side)
    "hair_sep": (0.0, None),  # texture.occlusion
    "max_fraction": (0.0, 1.0),
    "data_blur": (0.0, 4.0),  # detail
    "saturation": (0.0, 2.0),  # detail
    "chroma_alpha": (0.0, None),  # detail
    "keep_from": (0.0, 1.0),  # texture.completion
    "rim": (0.0, 0.1),  # texture.completion
    "chroma_k_sigma": (0.0, None),  # texture.occlusion
    "chroma_floor": (0.0, None),  # texture.occlusion
    "chroma_dark": (0.0, None),  # texture.occlusion
    "high_level": (1, 255),  # texture.clipping
    "still_identity_expression_prior": (0.0, None),  # track (a prior weight)
    "subject_expression_prior": (0.0, None),  # track (a prior weight)
    "low_level": (0, 254),  # texture.clipping
    "min_share": (0.0, 1.0),  # texture.clipping
    "clipped_confidence": (0.0, 1.0),  # texture.clipping
    "max_face_share": (0.0, 1.0),  # texture.clipping
    "min_face_share": (0.0, 1.0),  # texture.clipping
    "censored_margin": (0.0, 0.8),  # texture.skin.sclera: the quantile read stays within [0, 1]
    "censored_min_level": (0.0, 1.0),  # texture.skin.sclera
    "sigma_brightness_censored": (1e-3, None),  # texture.skin.sclera: spreads of a Gaussian
    "sigma_colour_censored": (1e-3, None),  # texture.skin.sclera
    "feature_detail_grow": (0.0, 1.0),  # photometric
    "feature_detail_limit": (1.0, None),  # photometric
    "feature_detail_max_turn": (0.0, 180.0),  # photometric
    "slide_weight": (0.0, 1.0),  # head_landmarks
}
#: int fields that must be at least 1 (they count steps between events or divide by themselves)
_INT_MIN1 = ("iterations", "every", "_every", "random_views", "low_cells", "symmetry_scale", "albedo_blur")
#: str fields with a fixed set of values
_CHOICES: dict[str, tuple[str, ...]] = {
    "face_model": ("ict", "mediapipe468"),
    "light_fit": ("one_sided", "drop", "measured"),  # texture.clipping
    "active_set": ("step", "gradient"),
    "identity_active_set": ("step", "gradient"),
    "albedo_weights": ("albedo", "chroma"),  # detail
    "lr_schedule": ("constant", "cosine"),  # photometric
    "lr_schedule_head": ("constant", "cosine"),  # photometric
}
#: str fields holding a comma list of names from a fixed set ("off" alone: none)
_LIST_CHOICES: dict[str, tuple[str, ...]] = {
    "slide_contours": ("lids", "lips", "brows"),  # head_landmarks (fitting.head_landmarks.SLIDE_GROUPS)
}


def _bad(key: str, value: Any, allowed: str) -> ConfigError:
    return ConfigError(f"bad value {value!r} for config field '{key}': {allowed}")


def _as_int(key: str, value: Any) -> int:
    if isinstance(value, bool):
        raise _bad(key, value, "expected a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise _bad(key, value, "expected a whole number")


def _as_float(key: str, value: Any) -> float:
    if isinstance(value, bool):
        raise _bad(key, value, "expected a number")
    if isinstance(value, (int, float)):
        v = float(value)
    elif isinstance(value, str):
        try:
            v = float(value.strip())
        except ValueError:
            raise _bad(key, value, "expected a number") from None
    else:
        raise _bad(key, value, "expected a number")
    if not math.isfinite(v):
        raise _bad(key, value, "expected a finite number")
    return v


def _as_bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    raise _bad(key, value, "expected true or false")


def _check_range(key: str, name: str, value: float, kind: type) -> None:
    low, high = _RANGES.get(name, (None, None))
    if low is None:
        if kind is int:
            low = 1 if any(name == s or (s.startswith("_") and name.endswith(s)) for s in _INT_MIN1) else 0
        elif name.startswith("w_"):
            low = 0.0
    if name.startswith("lr_") and value <= 0:
        raise _bad(key, value, "expected a number > 0")
    if (low is not None and value < low) or (high is not None and value > high):
        what = "an integer" if kind is int else "a number"
        if high is None:
            raise _bad(key, value, f"expected {what} >= {low}")
        raise _bad(key, value, f"expected {what} in [{low}, {high}]")


def check_value(cfg: Any, name: str, value: Any, key: str | None = None) -> Any:
    """``value`` converted to the type of field ``name`` of dataclass ``cfg`` and range-checked.

    key: the dotted name shown in errors (default ``name``). Raises ConfigError.
    """
    key = key or name
    hints = typing.get_type_hints(type(cfg))
    kind = hints.get(name)
    current = getattr(cfg, name)
    if dataclasses.is_dataclass(current):
        fields = ", ".join(f.name for f in dataclasses.fields(current))
        raise _bad(key, value, f"'{key}' is a section; set one of its fields, e.g. {key}.{fields.split(', ')[0]} "
                               f"(fields: {fields})")
    origin = typing.get_origin(kind) or kind
    if kind is bool:
        return _as_bool(key, value)
    if kind is int:
        v = _as_int(key, value)
        _check_range(key, name, v, int)
        return v
    if kind is float:
        v = _as_float(key, value)
        _check_range(key, name, v, float)
        return v
    if kind is str:
        if not isinstance(value, str):
            raise _bad(key, value, "expected text")
        choices = _CHOICES.get(name)
        if choices and value not in choices:
            raise _bad(key, value, f"choose from {', '.join(choices)}")
        names = _LIST_CHOICES.get(name)
        if names and value.strip() not in ("off", ""):
            if any(part.strip() not in names for part in value.split(",")):
                raise _bad(key, value, f"'off' or a comma list of {', '.join(names)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)) or (isinstance(current, tuple) and len(value) != len(current)
                                                     and ... not in typing.get_args(kind)):
            raise _bad(key, value, f"expected a list like {list(current)}")
        if typing.get_args(kind) == (float, ...):  # a list of numbers of any length
            return tuple(_as_float(key, v) for v in value)
        if typing.get_args(kind) == (str, ...):  # a list of words of any length
            if not all(isinstance(v, str) for v in value):
                raise _bad(key, value, "expected a list of text")
            return tuple(value)
        return tuple(value)
    return value


__all__ = ["check_value"]
