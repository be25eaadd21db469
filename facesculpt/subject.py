"""Several photos of one person: one identity and one albedo, per-photo pose, expression, gaze and light.

``reconstruct_subject(images)``:

1. detect the largest face of every photo; refuse (``DifferentPeopleError``, one line) when two of
   them are further apart than ``SAME_PERSON_THRESHOLD`` (0.6, dlib's face-recognition distance,
   as ``facesculpt compare``) unless ``force``;
2. one identity for all photos, each photo with its own pose, expression and gaze: with the landmark
   regressor on (every preset) and weights that learnt from mediapipe's detections (the shipped ones since
   session 17; ``track.subject_identity``) ``fitting.head_track.fit_regressed_identity`` (the regressor's
   identity of each photo, refined by its face-recognition embedding (``regressor.identity_features``; the
   embeddings of step 1's check), averaged with weights cos(turn)^4, then each photo's pose, expression and gaze
   fitted with it held); with other weights ``fitting.head_track.fit_subject_identity`` (solved against every
   photo's landmarks together: each photo started as the single photo is, then a round
   of per-photo pose/expression/gaze with the identity held and a Gauss-Newton step on the identity,
   each photo weighted by cos(turn)^2 over its own landmark residual: side views' mediapipe points
   are off more, and systematically; ``track.subject_*``); without, ``fitting.head_track.fit_joint_identity`` (the same
   from plain landmark fits, every photo weighted equally);
3. where the preset has a photometric stage (``default``, ``full``): the joint photometric stage
   (``fitting.joint_photometric``, GANFIT eq. 14): the shared identity, corrections and one low-res
   albedo fitted to every photo's render at once, per-photo expression and SH light (pose held),
   the identity terms comparing each render with its own photo; ``fast`` keeps step 2's result;
4. per photo, the texture stage on its own pose, expression and gaze (``pipeline.reconstruct_head``
   with that geometry given and the photometric stage off), de-lit by that photo's own light (the
   joint stage's where it ran);
5. the albedos fused texel by texel, weighted by each photo's visibility squared times its
   registration confidence (``registration_confidence``: how well its albedo's detail agrees with the
   most frontal photo's where both saw the skin; a photo whose landmarks, hence its fitted head, are
   off unwraps the skin to the wrong texels and is down-weighted); texels no photo saw take the mean
   of the photos' completions. A left and a right profile thus give both halves from real pixels,
   not a mirrored copy.

The result is the most frontal photo's ``Reconstruction`` with the fused albedo (and the head tile
refilled from it), plus every photo's own one.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence

import numpy as np
import torch

from facesculpt.config import Config
from facesculpt.core.errors import FaceSculptError

Progress = Optional[Callable[[str, int, int], None]]


class DifferentPeopleError(FaceSculptError):
    """The photos given as one subject do not look like the same person."""


@dataclass
class SubjectReconstruction:
    """One person from several photos.

    fused:     Reconstruction of the most frontal photo with the fused albedo (``maps.albedo``,
               ``textures["head"]``); its ``head.identity`` is the shared identity.
    photos:    per photo its own Reconstruction (same identity; own pose, expression, gaze, light).
    names:     the photos' names; front: index of the photo ``fused`` is based on.
    distances: (n, n) identity distances between the photos (dlib), or None when not checked.
    """

    fused: object
    photos: list
    names: list
    front: int
    distances: Optional[np.ndarray] = None
    timings: dict = field(default_factory=dict)


def identity_distances(images: Sequence[np.ndarray], landmarks: Sequence,
                       embeddings: Optional[torch.Tensor] = None) -> np.ndarray:
    """(n, n) dlib face-recognition distances between the photos' faces (``embeddings``: their (n, 128)
    ``identity.retrieval.photo_embeddings`` if computed already)."""
    from facesculpt.identity.retrieval import photo_embeddings

    emb = torch.from_numpy(photo_embeddings(images, landmarks)) if embeddings is None else embeddings
    return torch.cdist(emb[None].double(), emb[None].double())[0].numpy()


def fuse_albedos(albedos: Sequence[torch.Tensor], visibilities: Sequence[torch.Tensor],
                 confidences: Optional[Sequence[float]] = None) -> torch.Tensor:
    """(1, S, S, 3) albedo from per-photo albedos (1, S, S, 3) and visibilities (1, S, S) in [0, 1]:
    the (visibility^2 x confidence)-weighted mean where some photo saw the texel, the plain mean
    elsewhere. ``confidences``: one per photo in (0, 1] (``registration_confidence``; None: all 1)."""
    A = torch.cat(list(albedos))  # (n, S, S, 3)
    V = torch.cat(list(visibilities)).clamp(0, 1) ** 2  # (n, S, S)
    if confidences is not None:
        V = V * torch.tensor([float(c) for c in confidences], dtype=V.dtype)[:, None, None]
    seen = V.sum(0, keepdim=True)
    w = torch.where(seen > 1e-6, V / seen.clamp(min=1e-12), torch.full_like(V, 1.0 / len(A)))
    return (A * w[..., None]).sum(0, keepdim=True)


#: band of the luminance detail the registration confidence compares (box blurs, texels of a 512 map)
CONFIDENCE_BAND = (3, 25)
#: a photo whose detail correlates with the reference photo's at or below ``lo`` gets the floor
#: confidence, at or above ``hi`` full confidence (linear between); measured: docs/results.md, issue 16
CONFIDENCE_NCC = (0.1, 0.4)
#: the smallest confidence: a photo still fills texels no better photo saw
CONFIDENCE_FLOOR = 0.02


def _detail(albedo: torch.Tensor, band: tuple) -> torch.Tensor:
    """(S, S) band-pass luminance of a (1, S, S, 3) albedo (``band`` box sizes at 512 texels, scaled)."""
    import torch.nn.functional as F

    S = albedo.shape[1]
    k0, k1 = (max(1, int(round(k * S / 512)) | 1) for k in band)
    lum = (albedo.permute(0, 3, 1, 2).float() * torch.tensor([0.299, 0.587, 0.114])[None, :, None, None]).sum(1, True)
    fine = F.avg_pool2d(lum, k0, 1, k0 // 2, count_include_pad=False)
    return (fine - F.avg_pool2d(lum, k1, 1, k1 // 2, count_include_pad=False))[0, 0]


def registration_ncc(albedos: Sequence[torch.Tensor], visibilities: Sequence[torch.Tensor], ref: int,
                     min_vis: float = 0.3) -> list:
    """Per photo the correlation of its albedo's detail (luminance, ``CONFIDENCE_BAND``) with the
    reference photo's, on the texels both saw (visibility > ``min_vis``); the reference gets 1.0, a photo
    sharing fewer than 500 texels with it NaN. A photo whose fitted head does not lie where its face is
    (wrong landmarks) unwraps the skin to the wrong texels and correlates ~0."""
    dref = _detail(albedos[ref], CONFIDENCE_BAND)
    out = []
    for i, (a, v) in enumerate(zip(albedos, visibilities)):
        if i == ref:
            out.append(1.0)
            continue
        m = (v[0] > min_vis) & (visibilities[ref][0] > min_vis)
        if int(m.sum()) < 500:
            out.append(float("nan"))
            continue
        x, y = _detail(a, CONFIDENCE_BAND)[m], dref[m]
        x, y = x - x.mean(), y - y.mean()
        out.append(float((x * y).sum() / (x.norm() * y.norm()).clamp(min=1e-12)))
    return out


def registration_confidence(albedos: Sequence[torch.Tensor], visibilities: Sequence[torch.Tensor],
                            ref: int) -> list:
    """Per photo a fusion weight in [``CONFIDENCE_FLOOR``, 1] from ``registration_ncc`` against the
    reference (most frontal) photo: ``CONFIDENCE_NCC`` mapped linearly to [floor, 1]; a photo that shares
    too few texels with the reference to be checked keeps 1."""
    lo, hi = CONFIDENCE_NCC
    out = []
    for c in registration_ncc(albedos, visibilities, ref):
        if not np.isfinite(c):
            out.append(1.0)
        else:
            out.append(float(CONFIDENCE_FLOOR + (1 - CONFIDENCE_FLOOR) * min(1.0, max(0.0, (c - lo) / (hi - lo)))))
    return out


def joint_photometric(images, lms, per, model, cfg: Config, progress: Progress = None, free_identity: bool = False,
                      shared_light: bool = False):
    """The joint photometric stage over every photo (``fitting.joint_photometric``), prepared as the
    single-photo head path prepares its own (``pipeline.reconstruct_head``: openings masked, crop,
    light and albedo initialised, identity terms). ``free_identity``: the identity steps as in the single-photo
    stage on the head (``photometric.lr_identity``, ``lr_schedule_head``). ``shared_light``: the photos are
    frames of one scene (a clip's views): the first photo's light shape, fitted as a single photo's, starts
    every photo's light (each keeps its own gain), instead of a shape fitted on each photo's skin. Returns
    ([(Pose, HeadParams, light)], losses)."""
    from facesculpt.face_model import fit_view
    from facesculpt.fitting.head_shape import HeadShapeFit
    from facesculpt.fitting.initialize import initialize
    from facesculpt.fitting.joint_photometric import JointView, fit_joint_photometric
    from facesculpt.pipeline import (FIT_CROP_EXPAND, _face_crop, _face_weights, _landmark_targets,
                                     _photometric_inputs, openings_mask)
    from facesculpt.texture.color import srgb_to_linear
    from facesculpt.pipeline import initial_light_and_albedo
    from facesculpt.texture.light import initial_linear_light

    view = fit_view(model)
    pc = cfg.photometric
    linear = bool(getattr(cfg.texture, "linear_light", False))
    n_pts = int(model.landmarks["mediapipe"].faces.shape[0])
    jviews, lows, seen = [], [], []
    shape0 = None  # the first photo's unit-ambient light (shared_light)
    for im, lm, (pose, head) in zip(images, lms, per):
        _, _, cam = initialize(lm, view.canonical)
        fit = _face_crop(im, lm, cam, FIT_CROP_EXPAND, pc.render_size, openings_mask(lm, im.shape[:2]))
        shape_fit = HeadShapeFit(model, view, head, cfg.head_priors)
        with torch.no_grad():
            dense = shape_fit.render_vertices(shape_fit.init_params())
        if linear:
            light, albedo_init, skin = initial_linear_light(srgb_to_linear(fit.image), dense, view, pose, fit.camera,
                                                            cfg.texture, valid=fit.valid,
                                                            shape=shape0 if shared_light else None)
            if shape0 is None:
                shape0 = light
            if cfg.texture.skin_prior:
                from facesculpt.texture.skin_prior import anchor_light_photo

                light, albedo_init, _ = anchor_light_photo(light, albedo_init, skin, cfg.texture.skin, im,
                                                           lm.points)
        else:
            light, albedo_init = initial_light_and_albedo(fit.image, dense, view, pose, fit.camera, cfg.texture,
                                                          valid=fit.valid)
            skin = torch.ones(albedo_init.shape[:3])
        crop = (fit.x0, fit.y0, fit.side, fit.size)
        _, low, extra = _photometric_inputs(fit.image, lm, n_pts, crop, albedo_init, view, cfg)
        # the detections minus mediapipe's view bias at this photo's stage-1 pose, as the single-photo stage
        lm_xy = _landmark_targets(lm, model, pose, head, cam, crop, n_pts, cfg)
        lows.append(low)
        seen.append(torch.nn.functional.interpolate(skin[:, None].float(), size=low.shape[1:3], mode="area")[:, 0])
        jviews.append(JointView(fit.image, fit.camera, lm_xy, lm.size * fit.size / fit.side, pose, head, light,
                                fit.valid, extra))
    # one albedo: each photo's light is initialised on its own (exposure and colour split by the skin
    # prior per photo), so the photos' implied albedos differ by a per-channel scale; rescale every light
    # so they agree on the skin all photos saw (their geometric mean kept), then start the shared
    # albedo from the photos' own, weighted by how much skin each saw at each texel
    both = torch.stack(seen).prod(0)[..., None]  # (1, s, s, 1)
    if float(both.sum()) > 1.0:
        means = torch.stack([(lw * both).sum((0, 1, 2)) / both.sum() for lw in lows]).clamp(min=1e-4)  # (n, 3)
        scale = means / means.log().mean(0).exp()
        for jv, low, sc in zip(jviews, lows, scale):
            jv.light = jv.light * sc
            low /= sc
    W = torch.stack(seen)[..., None] + 1e-3
    albedo0 = (torch.stack(lows) * W).sum(0) / W.sum(0)
    if free_identity:
        pc = dataclasses.replace(pc, lr_schedule=pc.lr_schedule_head)
    res = fit_joint_photometric(jviews, model, view, albedo0, _face_weights(view), pc, cfg.head_priors, linear,
                                progress, free_identity=free_identity)
    return [(p, h, lt) for p, h, lt in zip(res.poses, res.heads, res.lights)], res.losses


def subject_identity_start(cfg: Config) -> str:
    """"regressed" or "landmarks": where the shared identity of several photos starts
    (``TrackConfig.subject_identity``; "auto" reads the regressor's weights: "regressed" when they learnt
    from mediapipe's detections)."""
    choice = cfg.track.subject_identity
    if choice not in ("auto", "regressed", "landmarks"):
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"track.subject_identity must be 'auto', 'regressed' or 'landmarks', got {choice!r}")
    if choice != "auto":
        return choice
    from facesculpt.fitting.regress_init import trained_on_biased_points

    return "regressed" if trained_on_biased_points(cfg.regressor.weights) else "landmarks"


def reconstruct_subject(images: Sequence[np.ndarray], cfg: Config, names: Optional[Sequence[str]] = None,
                        force: bool = False, progress: Progress = None) -> SubjectReconstruction:
    """Fit one person to ``images`` ((H, W, 3) uint8 each, two or more; module docstring).

    Raises FaceNotFoundError / FaceTooSmallError naming the photo, DifferentPeopleError when two
    photos' identity distance exceeds ``SAME_PERSON_THRESHOLD`` (and not ``force``). Runs inside
    ``core.determinism.repeatable_fit`` as ``reconstruct`` does (two runs give the same result)."""
    from facesculpt.core.determinism import repeatable_fit

    with torch.enable_grad(), repeatable_fit(cfg.threads, cfg.repeatable):
        return _reconstruct_subject(images, cfg, names, force, progress)


def _reconstruct_subject(images: Sequence[np.ndarray], cfg: Config, names: Optional[Sequence[str]],
                         force: bool, progress: Progress) -> SubjectReconstruction:
    import time

    from facesculpt.detect import detect_faces
    from facesculpt.face_model import (
        PART_EYE_SOCKET_LEFT,
        PART_EYE_SOCKET_RIGHT,
        PART_HEAD_NECK,
        PART_MOUTH_SOCKET,
        HeadParams,
        fit_view,
        load_face_model,
    )
    from facesculpt.fitting.head_track import fit_joint_identity, fit_regressed_identity, fit_subject_identity
    from facesculpt.fitting.initialize import initialize
    from facesculpt.identity import SAME_PERSON_THRESHOLD
    from facesculpt.pipeline import reconstruct_head
    from facesculpt.structures import UVMaps
    from facesculpt.texture.head import fill_head_tile
    from facesculpt.track import head_turn

    if len(images) < 2:
        raise ValueError("reconstruct_subject: give at least two photos of the person")
    if cfg.face_model != "ict":
        from facesculpt.core.errors import ConfigError

        raise ConfigError("a multi-photo fit needs face_model 'ict' (the morphable head)")
    names = list(names) if names is not None else [f"photo {i + 1}" for i in range(len(images))]
    timings = {}
    t0 = time.perf_counter()
    from facesculpt.detect.turned import detect_with_mirror

    def detect_one(im, n):  # as reconstruct detects: the mirrored photo's detection too (Config.turned)
        def once(img):
            return detect_faces(img, max_faces=1, min_face_size=cfg.min_face_size,
                                detection_max_side=cfg.detection_max_side, name=n)

        return detect_with_mirror(im, once, getattr(cfg, "turned", None))[0]

    lms = [detect_one(im, n) for im, n in zip(images, names)]
    timings["detect"] = time.perf_counter() - t0
    dist = emb = None
    if not force or (cfg.regressor.enabled and cfg.regressor.identity_features):
        # the same-person check and the regressor's identity refiner (regress_init) read the same embeddings
        t0 = time.perf_counter()
        from facesculpt.identity.retrieval import photo_embeddings

        emb = torch.from_numpy(photo_embeddings(images, lms))
        timings["identity_check"] = time.perf_counter() - t0
    if not force:
        dist = identity_distances(images, lms, emb)
        i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if dist[i, j] > SAME_PERSON_THRESHOLD:
            raise DifferentPeopleError(
                f"{names[i]} and {names[j]} do not look like the same person (identity distance {dist[i, j]:.2f} > "
                f"{SAME_PERSON_THRESHOLD:.2f}; --force fits them together anyway)")
    model = load_face_model()
    canon = fit_view(model).canonical
    cams = [initialize(lm, canon)[2] for lm in lms]
    t0 = time.perf_counter()
    from facesculpt.fitting.regress_init import refiner_inputs

    feats = refiner_inputs(images, lms, model, cfg.regressor, emb) if cfg.regressor.enabled else None
    if cfg.regressor.enabled and subject_identity_start(cfg) == "regressed":
        # the regressor's identities of the photos, averaged by facing (fitting.head_track)
        ident, per = fit_regressed_identity(lms, model, cams, cfg.head_landmarks, cfg.regressor, cfg.track, progress,
                                            embeddings=feats)
    elif cfg.regressor.enabled:  # as the single photo starts: from the regressor, then a joint landmark solve
        ident, per, _ = fit_subject_identity(lms, model, cams, cfg.head_landmarks, cfg.regressor, cfg.track,
                                             progress, embeddings=feats)
    else:
        ident, per = fit_joint_identity(lms, model, cams, cfg.head_landmarks, cfg.track, progress)
    per = [(pose, HeadParams(ident, h.expression, h.gaze)) for pose, h in per]
    timings["identity"] = time.perf_counter() - t0
    joint_losses = None
    if cfg.photometric.enabled:  # the joint photometric stage (fitting.joint_photometric)
        t0 = time.perf_counter()
        jcfg = dataclasses.replace(cfg, head_priors=dataclasses.replace(
            cfg.head_priors, w_expression_stage1=cfg.track.subject_expression_prior),
            photometric=dataclasses.replace(cfg.photometric, hold_pose_head=cfg.track.subject_hold_pose))
        if cfg.photometric.joint_iterations > 0:
            jcfg = dataclasses.replace(jcfg, photometric=dataclasses.replace(
                jcfg.photometric, iterations=cfg.photometric.joint_iterations))
        per, joint_losses = joint_photometric(images, lms, per, model, jcfg, progress)
        timings["joint_photometric"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    still_cfg = dataclasses.replace(cfg, photometric=dataclasses.replace(cfg.photometric, enabled=False))
    recs = [reconstruct_head(im, lm, still_cfg, fixed=fx) for im, lm, fx in zip(images, lms, per)]
    ident = recs[0].head.identity
    if joint_losses is not None:
        for r in recs:
            r.losses["joint_photometric"] = joint_losses
    turns = [float(torch.linalg.matrix_norm(head_turn(fx[0].rotvec)[0] - torch.eye(3, dtype=torch.float64)))
             for fx in per]
    front = int(np.argmin(turns))
    conf = registration_confidence([r.maps.albedo for r in recs], [r.maps.visibility for r in recs], front)
    for r, c in zip(recs, conf):
        r.metrics["registration_confidence"] = c
    albedo = fuse_albedos([r.maps.albedo for r in recs], [r.maps.visibility for r in recs], conf)
    vis = torch.stack([r.maps.visibility for r in recs]).amax(0)
    base = recs[front]
    view = fit_view(model)
    head_rm = model.render_mesh((PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT))
    textures = dict(base.textures, head=fill_head_tile(model, view.rmesh, head_rm, albedo, cfg.texture.size))
    maps = UVMaps(albedo, base.maps.texture, vis, base.maps.shading)
    fused = dataclasses.replace(base, maps=maps, textures=textures, timings=dict(base.timings))
    timings["texture"] = time.perf_counter() - t0
    return SubjectReconstruction(fused, recs, names, front, dist, timings)


__all__ = ["SubjectReconstruction", "DifferentPeopleError", "reconstruct_subject", "fuse_albedos", "joint_photometric",
           "identity_distances"]
