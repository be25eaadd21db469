"""Dataclass configs and named presets.

Every field has a docstring (the string literal under it). Overrides go through
``make_config(preset, **overrides)`` or ``with_overrides``; an unknown field name is a
``ConfigError``, never silently ignored.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from facesculpt.core.config_values import check_value
from facesculpt.core.errors import ConfigError
from facesculpt.detail.config import DetailConfig
from facesculpt.fitting.gates import GateConfig
from facesculpt.detect.turned import TurnedDetectConfig
from facesculpt.fitting.head_landmarks import HeadLandmarkConfig
from facesculpt.fitting.head_shape import HeadPriors
from facesculpt.texture.occlusion import OcclusionConfig
from facesculpt.detect.hands import HandsConfig
from facesculpt.render.visibility_config import VisibilityConfig
from facesculpt.fitting.head_track import TrackConfig
from facesculpt.fitting.regress_init import RegressorInitConfig
from facesculpt.identity.config import IdentityConfig
from facesculpt.texture.skin_prior import SkinPriorConfig
from facesculpt.texture.completion import CompletionConfig
from facesculpt.texture.local_light import LocalLightConfig
from facesculpt.texture.clipping import ClippingConfig
from facesculpt.texture.light_prior import LightPriorConfig



@dataclass(frozen=True)
class LandmarkFitConfig:
    """Stage 1: pose and shape corrections from the 478 mediapipe landmarks."""

    iterations: int = 60
    """Optimiser steps (LBFGS inner iterations count as one step each)."""
    w_landmark: float = 1.0
    """Weight of the squared 2D reprojection error (pixels, normalised by face size)."""
    w_depth: float = 0.05
    """Weight of agreement with mediapipe's relative depth (z) after perspective division."""
    w_laplacian: float = 1e-3
    """Laplacian smoothness of the per-vertex shape corrections (cm^2). Balanced against the
    landmark term, whose gradient per vertex is small (squared pixels / face size^2, averaged
    over 468 points): at 50 (the value until 2026-11-22) the corrections stayed below 1e-5 cm,
    i.e. the shape was mediapipe's frontalised mesh as is, and the perspective projection of
    that weak-perspective mesh missed mediapipe's own 2D points by ~3 px (docs/pipeline.md)."""
    w_offset: float = 1e-4
    """L2 pull of the shape corrections towards zero (cm^2)."""


@dataclass(frozen=True)
class PhotometricFitConfig:
    """Stage 2: analysis-by-synthesis fit of pose, shape corrections, SH light and a low-res albedo."""

    enabled: bool = True
    """Run the photometric stage at all (the ``fast`` preset turns it off)."""
    iterations: int = 60
    """Adam steps (80 until 2026-12-03; on the head 60 gives the same in-view PSNR, landmark error and
    identity distances on grace_hopper and astronaut, 2 s faster: docs/results.md)."""
    joint_iterations: int = 200
    """Adam steps of the multi-photo fit's joint stage (``reconstruct --subject``; 0: ``iterations``). 200:
    on three rendered photos at yaw -45 / 0 / +45 the joint identity's error fell 1.89 -> 1.72 mm (mean of 3
    seeds; 120 steps: 1.76) and went below the best single photo's on 2 of 3 seeds (60 steps: 0 of 3), for
    about three times the stage's time (docs/results.md, session 10)."""
    render_size: int = 192
    """Side of the square face crop the fit renders and compares, in pixels."""
    albedo_size: int = 32
    """Side of the low-frequency UV albedo optimised in this stage (upsampled bilinearly). Finer grids fit the
    synthetic heads' shapes worse (64: 2.42 mm against 2.07); 24 fitted them better (1.76) but lost on the turned
    multi-photo views and the astronaut, and its neighbours 22 / 26 did not; 48 improved the real photos'
    landmark agreement and lost 0.16 mm on the synthetic heads (docs/results.md, session 12)."""
    lr_pose: float = 2e-3
    """Adam step for rotation (rad) and translation (scaled by depth)."""
    lr_shape: float = 5e-3
    """Adam step for the per-vertex shape corrections (cm)."""
    lr_identity: float = 0.1
    """Adam step for the morphable head's identity coefficients (prior standard deviations; the
    shape models without identity coefficients ignore it). 5e-3 (= ``lr_shape``) until session 8: the
    coefficients then barely moved and the stage refined nothing of the head's shape; with 0.1, the
    cosine schedule (``lr_schedule_head``) and the weaker identity priors (``HeadPriors``) the shading
    refines it (synthetic heads, one thread: 2.70 -> 2.07 mm on 6 faces, 2.83 -> 2.38 on 18; docs/results.md,
    session 8)."""
    lr_expression: float = 5e-3
    """Adam step for the morphable head's expression weights (in [0, 1]; the shape models without
    expression weights ignore it)."""
    lr_light: float = 1e-2
    """Adam step for the SH coefficients."""
    lr_schedule: str = "constant"
    """How the Adam steps change over the iterations: "constant", or "cosine" (every step size falls
    from its value to 0 along half a cosine, so the fit settles instead of wandering by about one step
    around its minimum). The 468-point mask's fit uses this one; the morphable head's ``lr_schedule_head``."""
    lr_schedule_head: str = "cosine"
    """``lr_schedule`` on the morphable head ("ict"). Synthetic heads started at the truth with the true
    light and albedo held (identity step 0.05, session 7's identity prior) ended 1.04 mm from it after 60
    constant steps, 0.92 mm with the cosine fall; 0.20 mm with the cosine fall and the weak prior
    (docs/results.md, session 8)."""
    lr_albedo: float = 2e-2
    """Adam step for the low-res albedo texels."""
    w_photo: float = 1.0
    """Weight of the robust L1 photometric loss over the face region."""
    w_landmark: float = 2e-3
    """Weight of the landmark reprojection term (squared, normalised by face size)."""
    w_laplacian: float = 50.0
    """Laplacian smoothness of the shape corrections."""
    w_offset: float = 0.5
    """L2 pull of the shape corrections towards the stage-1 result."""
    w_albedo_smooth: float = 0.05
    """Smoothness (squared finite differences) of the low-res albedo."""
    w_albedo_sym: float = 0.05
    """Left/right symmetry of the low-res albedo (mirror u -> 1 - u)."""
    w_light_reg: float = 1e-3
    """Pull of the SH coefficients (relative to the ambient term) towards the initial estimate
    from the skin's shading (``pipeline.initial_light_and_albedo``); it used to pull the
    non-ambient bands towards zero, i.e. towards a flat light the free albedo then imitates."""
    outlier_sigma: float = 3.0
    """Pixels whose residual exceeds this many robust standard deviations are rejected as occluders."""
    outlier_every: int = 10
    """Re-estimate the outlier mask every this many steps."""
    antialias: bool = True
    """Use antialiased (edge-gradient) rendering of the face silhouette."""
    hold_pose_head: bool = True
    """On the morphable head ("ict"), keep the landmark stage's pose (rotation and translation) and
    refine shape, light and albedo only: the photometric term moved the pose away from the truth
    (the ``default`` preset's 68-point error was worse than ``fast``'s; docs/large_poses.md)."""
    w_landmark_head: float = 0.5
    """``w_landmark`` on the morphable head ("ict"): strong enough that the shape keeps the landmarks
    (at 2e-3 the photometric term moved them; docs/results.md, issue 11)."""
    feature_detail: bool = True
    """On the morphable head's single photo, the stage's coarse albedo (``albedo_size``) times a fixed detail layer
    on the face's own texture features (``feature_detail_parts``), taken from the initial unwrap
    (``fitting.photometric_stage.feature_detail``), when the face is near frontal (``feature_detail_max_turn``).
    The coarse grid cannot draw a lip's edge, so without it the shape moved to put the lips' colour where the photo
    has it: on real photos the mouth's points slid down, away from mediapipe's lips and from AFLW2000-3D's (False:
    as before session 31; docs/large_poses.md). The multi-photo and clip joint stages do not use it."""
    feature_detail_grow: float = 0.05
    """How far beyond the features' landmark hulls the detail layer reaches, as a share of the texture's side
    (then a linear fall-off over as much again). On the lips, on every photo (no turn limit): 0.05 kept the six
    synthetic heads' shape (1.94 mm against 1.93) and took the AFLW sample's frontal bin 4.05 -> 3.96 %; 0.1: 2.00
    mm, 3.96 % (docs/results.md, session 31)."""
    feature_detail_limit: float = 4.0
    """The detail layer's ratio is clamped to [1 / limit, limit]."""
    feature_detail_max_turn: float = 25.0
    """The layer is used only when stage 1's head turns at most this many degrees from the camera (yaw and pitch
    together): on a turned face stage 1 places the lips less well, and the stage's freedom to move them is worth
    more than the layer (three rendered photos at +-45 deg: the single photos 0.12-0.15 mm worse with it;
    docs/results.md, session 31). ``params.json`` records the turn and whether the layer was used
    (``losses.photometric.feature_detail``)."""
    feature_detail_seen: bool = False
    """Fade the detail layer by how squarely the initial unwrap saw each texel (its confidence): on a turned photo
    the far half of the lips is seen at a grazing angle or not at all, and its detail is stretched pixels or the
    completion's."""
    feature_detail_parts: tuple[str, ...] = ("lips",)
    """The features the detail layer holds (of ``fitting.photometric_stage.FEATURE_PARTS``: brows, eyes, lips,
    nose). The lips alone by default: on every photo, with the eyes too (lids and lash lines) the AFLW sample gained
    a little more (5.52 % against 5.54; with the brows and the nose tip as well 5.51) but the synthetic heads lost
    0.13 mm (2.06 mm): their painted brows and the lids' shading at stage 1's shape are a cue there
    (docs/results.md, session 31)."""


@dataclass(frozen=True)
class TextureConfig:
    """UV unwrap, de-lighting and completion."""

    size: int = 512
    """Side of the UV maps (albedo, texture, visibility), in texels."""
    min_facing: float = 0.15
    """Texels whose normal faces the camera with cos below this get zero confidence."""
    full_facing: float = 0.5
    """Cosine at and above which the facing confidence is 1."""
    depth_tolerance: float = 0.3
    """A texel is occluded when it lies this far (cm) behind the z-buffer."""
    mirror: bool = True
    """Fill unseen texels from the mirrored texel where that was seen."""
    shading_floor: float = 0.15
    """Lower clamp of the shading used to de-light (avoids blowing up dark texels)."""
    linear_light: bool = True
    """Morphable head: fit and de-light in linear light (the sRGB photo decoded), the light
    carrying exposure and colour; False: shade the sRGB values directly with a white light (as
    before issue 12)."""
    skin_prior: bool = True
    """With ``linear_light``: split the skin's mean colour into albedo and light colour/exposure
    with the measured skin reflectance prior (``texture.skin_prior``)."""
    skin: SkinPriorConfig = field(default_factory=SkinPriorConfig)
    """The skin prior's exposure and light-colour spreads (``texture.skin_prior.SkinPriorConfig``)."""
    occlusion: OcclusionConfig = field(default_factory=OcclusionConfig)
    """Morphable head: pixels whose de-lit colour is far from the face's own skin (occluders: bars,
    frames, hair, patches) kept out of the albedo (``texture.occlusion.OcclusionConfig``;
    ``enabled=False``: as before)."""
    visibility: VisibilityConfig = field(default_factory=VisibilityConfig)
    """Morphable head: the fitted head's ambient occlusion and cast shadows in the photometric
    fit's shading, the de-lighting and the in-view metrics (``render.visibility.VisibilityConfig``; off
    by default, ``enabled=True`` turns it on)."""
    completion: CompletionConfig = field(default_factory=CompletionConfig)
    """Morphable head: unseen face-tile texels completed like skin (``texture.completion.
    CompletionConfig``; ``enabled=False``: mirrored texel, then a push-pull blur, as before)."""
    local_light: LocalLightConfig = field(default_factory=LocalLightConfig)
    """Morphable head: a smooth per-texel light ratio on top of the global SH light (and the
    visibility), solved with the albedo's weighted smoothness and symmetry, so cast shadows and
    creases go into the light, not the albedo (``texture.local_light.LocalLightConfig``)."""
    clipping: ClippingConfig = field(default_factory=ClippingConfig)
    """Morphable head: clipped photo channels (255 or 0) as bounds, not values, in the light fit and
    the unwrap (``texture.clipping.ClippingConfig``; ``enabled=False``: as measured, as before)."""
    light_prior: LightPriorConfig = field(default_factory=LightPriorConfig)
    """With ``linear_light``: the initial light fit's prior on the light's shape, learnt from plausible
    lights, instead of the band-1 ridge (``texture.light_prior.LightPriorConfig``)."""


@dataclass(frozen=True)
class Config:
    """The whole pipeline's configuration."""

    name: str = "default"
    """Preset name, recorded in params.json."""
    face_model: str = "ict"
    """The face surface fitted: "ict" (the ICT FaceKit morphable head with ARKit expressions, a full
    head; ``facesculpt.face_model``) or "mediapipe468" (the earlier face mask on mediapipe's 468
    points, kept as a second implementation for the synthetic detail benchmark until it moves)."""
    head_landmarks: HeadLandmarkConfig = field(default_factory=HeadLandmarkConfig)
    """Stage 1 on the morphable head ("ict")."""
    head_priors: HeadPriors = field(default_factory=HeadPriors)
    """Priors of the head's identity and expression in the photometric stage ("ict")."""
    track: TrackConfig = field(default_factory=TrackConfig)
    """Video tracking (``facesculpt reconstruct clip.mp4``, ``facesculpt.track``)."""
    regressor: RegressorInitConfig = field(default_factory=RegressorInitConfig)
    """Start of the head's landmark stage: the packaged landmark regressor's estimate with a pose-only
    refinement ("ict"; ``enabled=False``: the mean head, as before issue 14)."""
    landmarks: LandmarkFitConfig = field(default_factory=LandmarkFitConfig)
    """Stage 1 settings."""
    photometric: PhotometricFitConfig = field(default_factory=PhotometricFitConfig)
    """Stage 2 settings."""
    texture: TextureConfig = field(default_factory=TextureConfig)
    """UV texture settings."""
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    """Face-recognition losses in the photometric fit."""
    detail: DetailConfig = field(default_factory=DetailConfig)
    """Displacement detail stage."""
    subdivision_levels: int = 2
    """Loop subdivision levels of the coarse 468-vertex mesh (2 gives the dense export mesh)."""
    min_face_size: int = 64
    """Faces smaller than this many pixels (bounding-box side) are refused."""
    max_faces: int = 1
    """How many faces per image to reconstruct (largest first)."""
    detection_max_side: int = 1280
    """Images are downscaled to at most this side for face detection."""
    seed: int = 0
    """Seed of every random choice in the fit."""
    identity_metrics: bool = True
    """Write identity distances (photo vs in-view and +-30 deg renders, dlib embedding) to
    metrics.json; costs about four renders and five embeddings per face (0.12-0.17 s, a quarter of
    the ``fast`` preset's time, so ``fast`` leaves them out; ``--set identity_metrics=true`` adds them)."""
    threads: int = 0
    """torch threads of the fit; 0 keeps torch's default (the machine's cores). Set for the fit and
    restored afterwards."""
    repeatable: bool = True
    """The optimisers' backward passes (MKL's convolution backward and the renderer's scatter-adds sum in
    thread order) run on one thread, the forward passes on ``threads``, so that repeat runs of the same
    photo, preset and seed agree on several threads (docs/reliability.md, "Determinism"; two short fits in
    one process are byte-identical, ``tests/pipeline/test_determinism.py``; fresh processes too since the
    sparse products sum in a fixed order, ``core.determinism.sparse_mm``, ``benchmarks/bench_run_spread.py``).
    False: faster with several threads, the fits drift apart in the last bits from run to run."""
    gates: GateConfig = field(default_factory=GateConfig)
    """Quality gates around each face's fit: roll undone, too-dark faces refused, diverged fits
    retried or failed (``facesculpt.fitting.gates``)."""
    turned: TurnedDetectConfig = field(default_factory=TurnedDetectConfig)
    """Turned faces detected a second time on the mirrored photo and combined
    (``facesculpt.detect.turned``)."""


def _presets() -> dict[str, Config]:
    return {
        # fast: no photometric stage and no identity metrics (0.12-0.17 s, a quarter of its time:
        # docs/results.md "Speed and defaults, session 3"); `--set identity_metrics=true` adds them
        # fast also leaves the skin-like completion out (0.1-0.3 s, over its ~20 ms budget: docs/results.md,
        # issue 12 section "completion that looks like skin"); `--set texture.completion.enabled=true` adds it
        # fast also skips the hand landmarker (~0.1 s under load, a third of its time; docs/results.md
        # issue 12 session 5); `--set texture.occlusion.hands.enabled=true` adds it
        "fast": Config(name="fast", photometric=PhotometricFitConfig(enabled=False), identity_metrics=False,
                       texture=TextureConfig(completion=CompletionConfig(enabled=False),
                                             occlusion=OcclusionConfig(hands=HandsConfig(enabled=False)))),
        # default and full: no face-recognition term in the photometric fit since session 8. With the identity
        # coefficients free it pulled the shape off the truth (synthetic heads 2.07 -> 3.4-3.5 mm even at a
        # thirtieth of its weight); without it the AFLW landmarks, the in-view PSNR and the landmark error are
        # better, the in-view identity distance equal and the +-30 degree one worse (docs/results.md, session 8).
        # `--set identity.enabled=true` puts it back.
        "default": Config(name="default"),
        "full": Config(name="full", detail=DetailConfig(enabled=True)),
    }


PRESETS = tuple(_presets())


def with_overrides(cfg: Any, _key_prefix: str = "", **overrides: Any) -> Any:
    """A copy of dataclass ``cfg`` with fields replaced; nested fields via ``"photometric.iterations"``
    keys or ``photometric={"iterations": 10}``. Unknown names raise ConfigError; values are converted to
    the field's type and range-checked (``facesculpt.core.config_values``), a bad one is a ConfigError."""
    names = {f.name for f in dataclasses.fields(cfg)}
    direct: dict[str, Any] = {}
    nested: dict[str, dict[str, Any]] = {}
    for key, value in overrides.items():
        head, _, rest = key.partition(".")
        if head not in names:
            raise ConfigError(
                f"unknown config field '{_key_prefix}{key}' for {type(cfg).__name__} (known: {', '.join(sorted(names))})"
            )
        if rest:
            if not dataclasses.is_dataclass(getattr(cfg, head)):
                raise ConfigError(f"unknown config field '{key}': '{head}' has no fields")
            nested.setdefault(head, {})[rest] = value
        elif isinstance(value, dict) and dataclasses.is_dataclass(getattr(cfg, head)):
            nested.setdefault(head, {}).update(value)
        else:  # converted to the field's type and range-checked (facesculpt.core.config_values)
            direct[head] = check_value(cfg, head, value, _key_prefix + head)
    for head, sub in nested.items():
        direct[head] = with_overrides(getattr(cfg, head), _key_prefix=f"{_key_prefix}{head}.", **sub)
    return dataclasses.replace(cfg, **direct)


def make_config(preset: str = "default", **overrides: Any) -> Config:
    """The named preset with overrides applied."""
    presets = _presets()
    if preset not in presets:
        raise ConfigError(f"unknown preset '{preset}' (choose from: {', '.join(presets)})")
    return with_overrides(presets[preset], **overrides)


def config_to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)
