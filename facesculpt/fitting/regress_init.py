"""Regress, then refine: the head's landmark stage started from the packaged regressor.

``regress_head`` runs ``models.regressor`` on the detected landmarks (identity, expression, gaze,
rotation) and places the head by a linear least-squares translation (the perspective projection
equations ``(u - c) * z = f * x`` are linear in the translation once the rotation and shape are
fixed). ``fit_head_from_regressor`` then runs ``polish_iterations`` Levenberg-Marquardt iterations
of ``fit_head_landmarks`` from there (0: the regressor's head as it is).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Optional

import torch

from facesculpt.face_model import FaceModel, HeadParams
from facesculpt.ops.rotations import matrix_to_rotvec
from facesculpt.structures import Camera, Landmarks, Pose


@dataclass(frozen=True)
class RegressorInitConfig:
    """Where the head's landmark stage starts."""

    enabled: bool = True
    """Start from the packaged landmark regressor's estimate (False: the mean head and the
    Procrustes pose, with ``head_landmarks.iterations`` iterations)."""
    polish_iterations: int = 2
    """Landmark (LM) iterations of pose, identity, expression and gaze run from the regressor's
    estimate (0: its head as it is). With the render-registered embedding (issue 10) two of them
    lower the shape error on held-out synthetic heads from 3.05 to 2.64 mm (docs/results.md);
    with the earlier embedding they made it worse (the LM fit followed mediapipe's systematic
    offsets from the embedded points)."""
    polish_shape: bool = True
    """The LM polish fits identity and expression too (False: pose and gaze only; the regressor's
    identity and expression are kept)."""
    debias_input: bool = True
    """With ``head_landmarks.view_bias`` and weights trained on unbiased points: regress a second
    time from the detections minus mediapipe's view-dependent offset at the first regressed pose.
    Weights trained on biased points (``LandmarkNoise.view_bias``, not the packaged ones) skip it
    (``trained_on_biased_points``). Measured in docs/results.md
    (issues 10/11/14/16, view-dependent bias; issue 14, session 5)."""
    expression_floor: float = 0.1
    """Expression weights the regressor puts below this are set to 0: its sigmoid outputs are never
    exactly 0 (a smiling photo gets ~25 weights over 0.05, mostly 0.05-0.1, where the landmark fit's
    L1 prior gives a handful); the rig stays sparse. 0 keeps them all."""
    polish_identity: bool = True
    """The LM polish fits the identity (False: it keeps the regressor's identity and fits pose,
    expression and gaze)."""
    polish_expression: bool = True
    """The LM polish fits the expression (False: it keeps the regressor's expression weights and fits pose,
    identity and gaze)."""
    pose_iterations: int = 5
    """Gauss-Newton iterations of the pose alone (6 parameters) on the regressor's head, before any
    polish: cheap (milliseconds), and the regressor's rotation and the linear translation are only
    approximate (0: skip)."""
    weights: str = ""
    """A weights file of ``facesculpt train regressor`` (``OUT/regressor.pt``) to use instead of the
    packaged ones ("")."""
    identity_features: bool = True
    """Refine the regressed identity with the photo's face-recognition embedding (``models.identity_refiner``,
    Fast-GANFIT's identity features; 15-17 ms a photo): the single photo (``fit_head_from_regressor``'s
    ``image``), each photo of a multi-photo fit, and a clip's identity prior (``TrackConfig.identity_features_prior``).
    On by default since session 19. On rendered heads like the refiner's training photos (held-out synthetic heads,
    regressor alone 2.31 -> 2.09 mm, `fast` 2.51 -> 2.23, `default` 2.10 -> 1.93, 18 heads 2.40 -> 2.26; three-photo
    scenes 1.44 -> 1.39; clips 0-7 0.99 -> 0.95) and on the one real scanned face (``benchmarks/bench_scan_shape.py``:
    `fast` 1.64 -> 1.41 mm, better on 6 of 6 photos; `default` 1.64 -> 1.40, 6 of 6, with the ICP run to convergence in
    session 21); the real photos' proxies
    lean slightly the other way (AFLW 5.87 -> 5.89 % `fast`, 3D 8.37 -> 8.42; the ten photos' agreement with
    mediapipe's points 0.0185 -> 0.0204 IOD; docs/results.md, sessions 19-20). A refiner fitted with ``--features
    map`` is fed the recogniser's last feature map instead (``identity_features``, ``refiner_reads_map``; not the
    packaged one: docs/results.md, session 25). False: the landmarks-only start (the outputs before session 19)."""
    refiner_weights: str = ""
    """An ``identity_refiner.pt`` of ``facesculpt train identity-refiner`` instead of the packaged one (""). The
    refiner must have been fitted for the regressor in use (``weights``; ``--regressor-weights`` of the training
    command): a named file fitted for other weights is a ConfigError; with other ``weights`` and the packaged
    refiner the refinement is skipped (the packaged refiner was fitted for the packaged regressor)."""
    identity_features_flip: bool = True
    """With ``identity_features``: the refiner reads the mean of the photo's embedding and the mirrored photo's
    (``identity_features``: the photo flipped left-right, the chip cut at the mirrored points; both chips go through
    the recogniser in one batch: 15 -> 17 ms a photo; one more pass, 12-15 ms, where the photo's embedding was made
    already). The recogniser's two readings of one face differ (distance 0.1-0.3 on rendered heads) and their mean
    is a steadier input: regressor alone 2.089 -> 2.038 mm on held-out rendered heads with the refiner refitted on
    the mean, the real scan `fast` 1.41 -> 1.38, `default` 1.40 -> 1.38 (docs/results.md, session 21). False: the
    photo's embedding alone (with a ``--features photo`` refiner: the outputs of sessions 19-20)."""
    polish_prior_at_start: bool = True
    """With ``identity_features``: the LM polish's identity prior is centred on the refined identity (weight
    ``polish_prior_scale`` x ``head_landmarks.w_identity``) instead of on the mean head. Without it the two
    landmark iterations undo the refinement (held-out synthetic heads 2.73 mm with or without the embedding);
    ``polish_identity=false`` keeps it whole but costs the real photos' landmarks more (AFLW `fast` 5.97 %)."""
    polish_prior_scale: float = 3.0
    """The weight of that prior, in units of ``head_landmarks.w_identity`` (1: synthetic `fast` 2.34 mm, AFLW 5.88 %;
    3: 2.23, 5.89; 10: 2.13, 5.93)."""


def solve_translation(points: torch.Tensor, R: torch.Tensor, target: torch.Tensor, camera: Camera,
                      weights: Optional[torch.Tensor] = None) -> torch.Tensor:
    """(3,) translation (cm) that best projects model points ``points`` (N, 3) cm, turned by ``R``
    (3, 3), onto pixels ``target`` (N, 2) through ``camera`` (linear least squares)."""
    f = float(camera.focal[0])
    c = camera.principal[0].double()
    Y = points.double() @ R.double().T
    d = target.double() - c
    w = torch.ones(len(points), dtype=torch.float64) if weights is None else weights.double()
    zero = torch.zeros_like(d[:, 0])
    fcol = torch.full_like(zero, f)
    A = torch.cat([torch.stack([fcol, zero, -d[:, 0]], 1), torch.stack([zero, fcol, -d[:, 1]], 1)])
    b = torch.cat([d[:, 0] * Y[:, 2] - f * Y[:, 0], d[:, 1] * Y[:, 2] - f * Y[:, 1]])
    ww = torch.cat([w, w]).sqrt()
    T = torch.linalg.lstsq(A * ww[:, None], (b * ww)[:, None]).solution[:, 0]
    return T.float()


def refine_pose(points: torch.Tensor, R: torch.Tensor, T: torch.Tensor, target: torch.Tensor, camera: Camera,
                weights: torch.Tensor, iterations: int, huber: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Gauss-Newton on the rigid pose alone: model points ``points`` (N, 3) cm onto pixels ``target``
    (N, 2), per-point ``weights`` (N,), Huber threshold ``huber`` pixels. Returns (R, T)."""
    from facesculpt.ops.rotations import rotvec_to_matrix

    dt = torch.float64
    P, tgt, w0 = points.to(dt), target.to(dt), weights.to(dt)
    f = float(camera.focal[0])
    c = camera.principal[0].to(dt)
    R, T = R.to(dt), T.to(dt)
    for _ in range(int(iterations)):
        v = P @ R.T
        X = v + T
        x, y, z = X[:, 0], X[:, 1], X[:, 2]
        uv = X[:, :2] / z[:, None] * f + c
        r = uv - tgt
        err = r.norm(dim=-1)
        w = w0 * torch.where(err <= huber, torch.ones_like(err), huber / err.clamp(min=1e-12))
        # dX/d(rotation increment, translation): [-[v]x, I]
        D = torch.zeros(len(P), 3, 6, dtype=dt)
        D[:, 0, 1], D[:, 0, 2] = v[:, 2], -v[:, 1]
        D[:, 1, 0], D[:, 1, 2] = -v[:, 2], v[:, 0]
        D[:, 2, 0], D[:, 2, 1] = v[:, 1], -v[:, 0]
        D[:, 0, 3] = D[:, 1, 4] = D[:, 2, 5] = 1.0
        fz = f / z
        J = torch.stack([fz[:, None] * (D[:, 0] - (x / z)[:, None] * D[:, 2]),
                         fz[:, None] * (D[:, 1] - (y / z)[:, None] * D[:, 2])], 1)  # (N, 2, 6)
        sw = w.sqrt()[:, None, None]
        Jw = (J * sw).reshape(-1, 6)
        rw = (r[..., None] * sw).reshape(-1)
        H = Jw.T @ Jw
        step = torch.linalg.solve(H + 1e-6 * torch.diag(H.diagonal()), -(Jw.T @ rw))
        R = rotvec_to_matrix(step[:3]) @ R
        T = T + step[3:]
        if float(step.abs().max()) < 1e-7:
            break
    return R.float(), T.float()


def _visible_weights(model: FaceModel, R: torch.Tensor, X: torch.Tensor) -> torch.Tensor:
    """(N,) weights of the embedded points: 0 where the template normal, turned by ``R``, faces away
    from the camera (camera-frame points ``X`` (N, 3)), 1 where it faces it; the face oval at 0.3."""
    from facesculpt.fitting.head_landmarks import FACE_OVAL, _landmark_normals

    n = _landmark_normals(model, model.template) @ R.T
    cos = (n * torch.nn.functional.normalize(-X, dim=-1)).sum(-1)
    w = ((cos + 0.05) / 0.3).clamp(0, 1)
    w[list(FACE_OVAL)] *= 0.3
    w[468:] = 1.0
    return w


def matching_refiner(refiner_weights: str, regressor_weights: str):
    """The identity refiner ``refiner_weights`` ("" packaged) if it was fitted on the outputs of the regressor
    ``regressor_weights`` (its meta records that regressor's validation error), else None for the packaged
    refiner (other regressor weights run without the refinement) and ConfigError (one line) for a named file:
    a refiner fitted for other weights maps their identities wrongly."""
    from facesculpt.models.identity_refiner import get_identity_refiner
    from facesculpt.models.regressor import get_regressor

    refiner = get_identity_refiner(refiner_weights)
    made_for = refiner.meta.get("regressor_val_error_mm")
    _, reg_meta = get_regressor(regressor_weights)
    if made_for is not None and reg_meta.get("val_error_mm") is not None \
            and abs(float(made_for) - float(reg_meta["val_error_mm"])) > 1e-9:
        if not refiner_weights:
            return None
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"the identity refiner {refiner_weights} was fitted for other regressor weights "
                          f"than {regressor_weights or 'the packaged ones'}: give regressor.refiner_weights from "
                          "'facesculpt train identity-refiner --regressor-weights ...' or set "
                          "regressor.identity_features=false")
    return refiner


def regress_head(landmarks: Landmarks, model: FaceModel, camera: Camera, pose_iterations: int = 0,
                 expression_floor: float = 0.0, stats: Optional[dict] = None,
                 weights: str = "", embedding: Optional[torch.Tensor] = None,
                 refiner_weights: str = "") -> tuple[Pose, HeadParams]:
    """(pose, HeadParams) of the packaged regressor for one face's landmarks (478, pixels);
    ``pose_iterations``: then refine the pose alone on the regressed head (``refine_pose``);
    ``expression_floor``: expression weights below it set to 0; ``stats``: a dict that gets the
    final reprojection loss ("landmark_final") and "visible_landmarks"; ``weights``: a weights file
    instead of the packaged regressor (``RegressorInitConfig.weights``); ``embedding``: (128,) the photo's
    face-recognition embedding (``metrics.identity.photo_embedding``) or None: with it the regressed identity is
    refined (``models.identity_refiner``; ``refiner_weights``: a file instead of the packaged refiner)."""
    from facesculpt.models.regressor import get_regressor, regress
    from facesculpt.training.data import landmark_points, mean_frontal

    net, _ = get_regressor(weights)
    with torch.no_grad():
        out, _ = regress(net, landmarks.points[None].float(), mean_frontal(model))
        expression = torch.where(out.expression < expression_floor, torch.zeros_like(out.expression), out.expression)
        identity = out.identity
        refiner = matching_refiner(refiner_weights, weights) if embedding is not None else None
        if refiner is not None:
            identity = refiner(identity, embedding.reshape(1, -1))
        head = HeadParams(identity, expression, out.gaze)
        P = landmark_points(model, identity, expression, out.gaze)[0]
    R = out.rotation[0]
    T = solve_translation(P[:468], R, landmarks.points[:468, :2], camera)
    w = _visible_weights(model, R, P @ R.T + T)
    if pose_iterations > 0:
        R, T = refine_pose(P, R, T, landmarks.points[:, :2], camera, w, pose_iterations,
                           huber=0.03 * float(landmarks.size))
    if stats is not None:  # the landmark stage's loss: weighted mean squared error / face size^2
        X = P @ R.T + T
        uv = X[:, :2] / X[:, 2:3] * camera.focal[0] + camera.principal[0]
        e = ((uv - landmarks.points[:, :2]) / float(landmarks.size)).pow(2).sum(-1)
        stats["landmark_final"] = float((e * w).sum() / w.sum())
        stats["visible_landmarks"] = float((w > 0.5).sum())
    return Pose(matrix_to_rotvec(R[None].detach()).float(), T[None]), head


def trained_on_biased_points(weights: str = "") -> bool:
    """Whether the packaged regressor was trained on points with mediapipe's view-dependent offset
    in them (``LandmarkNoise.view_bias``, or mediapipe's own detections of rendered heads:
    ``TrainConfig.rendered``, in its recorded training settings): then its input needs no
    ``debias_input`` pass."""
    from facesculpt.models.regressor import get_regressor

    _, meta = get_regressor(weights)
    tc = meta.get("train_config", {})
    noise = tc.get("data", {}).get("noise", {})
    return bool(noise.get("view_bias", False)) or bool(tc.get("rendered", ""))


def debiased_landmarks(landmarks: Landmarks, model: FaceModel, pose: Pose, head: HeadParams,
                       camera: Optional[Camera] = None, response: str = "off") -> Landmarks:
    """``landmarks`` with mediapipe's view-dependent offset (the embedding's ``bias``) at ``pose`` and
    ``head`` subtracted from the 478 points' x, y (depth and box kept). With ``camera`` and ``response``
    ("expression" or "both", ``head_landmarks.detector_response``), also the detector's measured response
    to ``head``'s expression (and identity), projected: what is left is where the embedded surface points
    should project."""
    from facesculpt.fitting.landmark_bias import embedding_offsets

    emb = model.landmarks["mediapipe"]
    with torch.no_grad():
        X = pose.apply(model.points(model.vertices(head), "mediapipe"))[0]
        off = embedding_offsets(emb, pose.matrix()[0].double(), X) * float(landmarks.size)
        if camera is not None and response != "off":
            d = model.detector_offsets(head, response=response)  # (1, N, 3) model frame
            Xd = X + (d[0].to(X.dtype) @ pose.matrix()[0].to(X.dtype).T)
            off = off + (camera.project(Xd[None])[0] - camera.project(X[None])[0]).to(off.dtype)
    p = landmarks.points.clone()
    n = min(p.shape[0], off.shape[0])
    p[:n, :2] = p[:n, :2] - off[:n].to(p.dtype)
    return replace(landmarks, points=p)


def _chip_points(image, landmarks: Landmarks, model: FaceModel, mirrored: bool):
    """(image, (68, 2) points) the recogniser's chip is cut from: the photo and its detected iBUG-68 points, or the
    photo flipped left-right and the points mirrored (``detect.turned.mirror_back``)."""
    import numpy as np

    from facesculpt.face_model import fit_view

    lmk68 = fit_view(model).lmk68
    if not mirrored:
        return image, landmarks.points[lmk68, :2]
    from facesculpt.detect.turned import mirror_back
    from facesculpt.topology import load_topology

    img = np.asarray(image)
    pts = mirror_back(landmarks.points.double().numpy(), img.shape[1], load_topology().mirror.numpy())
    return img[:, ::-1], torch.from_numpy(pts[lmk68.numpy(), :2])


#: what an identity refiner reads (``meta["features"]`` of its file; ``training.identity_refiner``): "map" the
#: recogniser's last feature map (1024 numbers), else ("mean", "photo", older files) its 128-d embedding
REFINER_MAP_FEATURES = "map"


def refiner_reads_map(refiner) -> bool:
    """True if ``refiner`` (``models.identity_refiner.IdentityRefiner``) reads the recogniser's feature map."""
    return refiner is not None and refiner.meta.get("features") == REFINER_MAP_FEATURES


def config_reads_map(cfg: "RegressorInitConfig") -> bool:
    """True if the refiner ``cfg`` runs (``matching_refiner`` of its weights) reads the recogniser's feature map."""
    return refiner_reads_map(matching_refiner(cfg.refiner_weights, cfg.weights))


def _recogniser_outputs(image, landmarks: Landmarks, model: FaceModel,
                        mirrored: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """((n, 128) embeddings, (n, 1024) last feature maps) of the chips ``photo_identity_features`` cuts, one per
    entry of ``mirrored`` (False: the photo's, True: the mirrored photo's), in one pass of the recogniser."""
    from facesculpt.identity import embed_with_map
    from facesculpt.metrics.identity import photo_chip

    with torch.no_grad():
        emb, fmap = embed_with_map(torch.cat([photo_chip(*_chip_points(image, landmarks, model, m)) for m in mirrored]))
    return emb.float(), fmap.float()


def photo_identity_outputs(image, landmarks: Landmarks, model: FaceModel,
                           mirrored: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """((128,) embedding, (1024,) last feature map) of the recogniser on the chip ``photo_identity_features`` cuts
    (one pass): what ``training.rendered`` stores for the refiner."""
    emb, fmap = _recogniser_outputs(image, landmarks, model, (mirrored,))
    return emb[0], fmap[0]


def photo_identity_features(image, landmarks: Landmarks, model: FaceModel, mirrored: bool = False) -> torch.Tensor:
    """(128,) the face-recognition embedding of ``image`` (H, W, 3) uint8, its chip cut at the detected points'
    iBUG-68 subset (``metrics.identity.photo_embedding``), as ``training.rendered`` stores it for the refiner.
    ``mirrored``: the embedding of the photo flipped left-right, its chip cut at the detected points mirrored
    (``detect.turned.mirror_back``: x -> width - x, each point swapped with its left/right partner) — the same face
    seen as its mirror image, a second reading of the recogniser (``identity_features``)."""
    from facesculpt.metrics.identity import photo_embedding

    with torch.no_grad():
        return photo_embedding(*_chip_points(image, landmarks, model, mirrored)).float().reshape(-1)


def identity_features(image, landmarks: Landmarks, model: FaceModel, flip: bool,
                      embedding: Optional[torch.Tensor] = None, feature_map: bool = False) -> torch.Tensor:
    """(128,) the refiner's input for one photo: its embedding (``embedding`` if computed already, else
    ``photo_identity_features``) and, with ``flip``, the mean of it and the mirrored photo's
    (``RegressorInitConfig.identity_features_flip``; both chips in one pass of the recogniser when neither is given).
    ``feature_map`` (a refiner that reads it, ``refiner_reads_map``): (1024,) the recogniser's last feature map
    instead, of the photo's chip or, with ``flip``, the mean of the two chips' maps (``embedding`` is not used)."""
    if feature_map:
        return _recogniser_outputs(image, landmarks, model, (False, True) if flip else (False,))[1].mean(0)
    if not flip:
        return photo_identity_features(image, landmarks, model) if embedding is None else embedding.float().reshape(-1)
    if embedding is not None:
        return 0.5 * (embedding.float().reshape(-1) + photo_identity_features(image, landmarks, model, mirrored=True))
    from facesculpt.identity import embed
    from facesculpt.metrics.identity import photo_chip

    with torch.no_grad():
        chips = torch.cat([photo_chip(*_chip_points(image, landmarks, model, m)) for m in (False, True)])
        return embed(chips).float().mean(0)


def refiner_inputs(images, landmarks, model: FaceModel, cfg: RegressorInitConfig,
                   embeddings: Optional[torch.Tensor]) -> Optional[torch.Tensor]:
    """(n, 128) the refiner's inputs of several photos (``images`` (H, W, 3) uint8 and their ``landmarks``) from their
    ``embeddings`` (n, 128; ``identity.retrieval.photo_embeddings``): with ``cfg.identity_features_flip`` each the mean
    with the mirrored photo's (``identity_features``), else the embeddings as they are (None stays None). A refiner
    that reads the recogniser's feature map (``refiner_reads_map``) gets those, (n, 1024), made here."""
    if embeddings is None or not cfg.identity_features:
        return embeddings
    if config_reads_map(cfg):  # the recogniser's maps, not these
        return torch.stack([identity_features(im, lm, model, cfg.identity_features_flip, feature_map=True)
                            for im, lm in zip(images, landmarks)])
    if not cfg.identity_features_flip:
        return embeddings
    return torch.stack([identity_features(im, lm, model, True, e) for im, lm, e in zip(images, landmarks, embeddings)])


def fit_head_from_regressor(landmarks: Landmarks, model: FaceModel, camera: Camera, lm_cfg,
                            cfg: RegressorInitConfig, progress=None, image=None,
                            embedding: Optional[torch.Tensor] = None):
    """``fit_head_landmarks``'s result (pose, HeadParams, losses) started from ``regress_head`` (the
    losses hold no timings, so equal runs give equal params.json; the stage's time is in its timings).
    ``image``: the photo (H, W, 3) uint8 the landmarks are of, for ``cfg.identity_features``; ``embedding``: its
    ``photo_identity_features`` if computed already (then ``image`` is not needed)."""
    from facesculpt.fitting.head_landmarks import fit_head_landmarks

    stats: dict = {}
    refiner = matching_refiner(cfg.refiner_weights, cfg.weights) if cfg.identity_features else None
    if refiner is None:
        embedding = None  # (other regressor weights than the packaged refiner's: no refinement, no prior at it)
    elif embedding is None and image is not None:
        embedding = identity_features(image, landmarks, model, cfg.identity_features_flip,
                                      feature_map=refiner_reads_map(refiner))
    pose, head = regress_head(landmarks, model, camera, cfg.pose_iterations, cfg.expression_floor, stats,
                              cfg.weights, embedding, cfg.refiner_weights)
    emb = model.landmarks["mediapipe"]
    if (cfg.debias_input and getattr(lm_cfg, "view_bias", False) and emb.bias is not None
            and not trained_on_biased_points(cfg.weights)):
        # the regressor was trained on unbiased points: regress again from the detections minus
        # mediapipe's view-dependent offset at its first pose (``head_landmarks.view_bias``)
        landmarks_in = debiased_landmarks(landmarks, model, pose, head, camera,
                                          getattr(lm_cfg, "detector_response", "off"))
        pose, head = regress_head(landmarks_in, model, camera, cfg.pose_iterations, cfg.expression_floor, stats,
                                  cfg.weights, embedding, cfg.refiner_weights)
    if cfg.polish_iterations <= 0:
        return pose, head, {**stats, "iterations": 0}
    polish = replace(lm_cfg, iterations=int(cfg.polish_iterations), expression_first=0,
                     fit_identity=lm_cfg.fit_identity and cfg.polish_shape and cfg.polish_identity,
                     fit_expression=lm_cfg.fit_expression and cfg.polish_shape and cfg.polish_expression)
    prior = head.identity if (embedding is not None and cfg.polish_prior_at_start) else None
    pose, out, losses = fit_head_landmarks(landmarks, model, pose, camera, polish, progress, init=head,
                                           identity_prior=prior,
                                           identity_prior_scale=cfg.polish_prior_scale if prior is not None else 1.0)
    return pose, out, losses


__all__ = ["RegressorInitConfig", "regress_head", "fit_head_from_regressor", "photo_identity_features", "matching_refiner",
           "identity_features", "refiner_inputs", "photo_identity_outputs", "refiner_reads_map", "config_reads_map",
           "REFINER_MAP_FEATURES",
           "solve_translation", "refine_pose"]
