"""Labelled training data for the landmark regressor, generated from the morphable head.

Each sample draws a head (identity ~ N(0, 1), a sparse expression, a small gaze), a pose (yaw,
pitch, roll) and a camera (focal length, distance, position in the image), and projects the
model's embedded mediapipe points (``FaceModel.landmarks["mediapipe"]``) the way
``facesculpt.detect`` reports mediapipe's: (478, 3) pixels, x right, y down, z the relative depth
in the same pixel scale (``z_cam * focal / depth``).

What makes it look like mediapipe's output rather than the model's own points
(``LandmarkNoise``):

* per-point noise, a fraction of the inter-ocular distance (real detections sit 2.5-4 % of it
  away from the embedded points, docs/results.md), larger on the face outline (10-17 % there)
  and on points the head hides, and a smooth per-face offset field (the part of the gap that is
  the same for neighbouring points);
* at large yaw, mediapipe puts the far-side outline on the visible silhouette: the points of the
  face oval whose normals turn away from the camera are pushed outwards (away from the face
  centre in the image) by a random share of how far they are hidden.

Everything is a deterministic function of (seed, key): ``sample_chunk`` takes its own
``torch.Generator`` and ``numpy.random.Generator``; the global random state is neither read nor
changed. Batches are made of fixed-size chunks, each keyed by (seed, step, chunk), so a global
batch is the same whatever the number of training processes.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import torch

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT, FaceModel, HeadParams, gaze_matrix
from facesculpt.fitting.head_landmarks import FACE_OVAL, IRIS_LEFT, IRIS_RIGHT

#: samples per chunk: the unit of data generation (and of sharding across processes)
CHUNK = 32


@dataclass(frozen=True)
class LandmarkNoise:
    """How far generated landmarks stray from the model's embedded points (fractions of the
    inter-ocular distance, IOD, in the image)."""

    point: float = 0.03
    """Standard deviation of the independent per-point noise (x, y and z)."""
    oval: float = 0.10
    """Standard deviation on mediapipe's 36 face-oval points (instead of ``point``)."""
    hidden: float = 0.06
    """Standard deviation on points whose normal faces away from the camera."""
    smooth: float = 0.02
    """Standard deviation of a smooth per-face offset field (a random affine map of the
    frontal layout plus a low-order warp), shared by neighbouring points."""
    silhouette: float = 0.25
    """Largest outward push (IOD) of hidden face-oval points towards the visible silhouette."""
    measured: bool = False
    """Visible points get the per-point spread measured on renders of the model (the embedding's
    ``sigma``: ``sqrt(s0^2 + s1^2 (1 - cos)^2)`` of the face size, split evenly over x and y; z the
    same) instead of ``point`` / ``oval``; hidden points keep ``hidden``. Ignored when the
    embedding has no sigmas."""
    view_bias: bool = False
    """Add mediapipe's measured view-dependent offset of each point (the embedding's ``bias``,
    ``tools/measure_landmark_bias.py``) at the sample's pose before the noise, so the regressor
    learns from points placed where the detector puts them on a turned head (and needs no
    ``regressor.debias_input`` pass). Ignored when the embedding has no bias. Off by default: weights
    trained with it regress better alone but gave a worse ``default`` fit (docs/results.md, issue 14
    session 5), so the shipped weights are trained without it."""
    detector_response: str = "off"
    """Move the points by mediapipe's measured response to the sample's identity and expression (the
    embedding's ``response_*``, ``tools/measure_landmark_response.py``): "off", "expression" or "both"
    (``FaceModel.landmark_model``'s ``response``), so the regressor learns where the detector puts the
    points of this face. Off for the shipped weights (docs/results.md, session 10)."""


@dataclass(frozen=True)
class SampleConfig:
    """The distribution of generated faces, poses and cameras."""

    yaw_max: float = 70.0
    """Head yaw drawn uniformly in +-this (degrees); the benchmark goes to 60."""
    pitch_max: float = 25.0
    """Head pitch drawn uniformly in +-this (degrees)."""
    roll_max: float = 25.0
    """Head roll drawn uniformly in +-this (degrees)."""
    image_size: int = 512
    """Side of the (square) image the points are projected into, pixels."""
    focal_factor: tuple = (0.9, 2.5)
    """Focal length range as a multiple of the image side (the pipeline assumes 1.4)."""
    face_fraction: tuple = (0.2, 0.7)
    """Cheek-to-cheek width of the face as a share of the image side."""
    identity_scale: float = 1.0
    """Standard deviation of the identity coefficients (the prior is N(0, 1))."""
    random_expression: float = 0.3
    """Share of faces with 1-6 random blendshapes at uniform weights (the rest: the synthetic
    generator's 0-3 realistic actions, ``synthetic.head.sample_expression``)."""
    gaze_std: tuple = (0.15, 0.1)
    """Standard deviation of the conjugate gaze (yaw, pitch), radians."""
    noise: LandmarkNoise = LandmarkNoise(measured=True)
    """Landmark noise (``LandmarkNoise``)."""


@dataclass(frozen=True)
class LandmarkBatch:
    """Generated landmarks and their truth.

    points:     (B, 478, 3) float32 — pixels, mediapipe's convention (``structures.Landmarks``).
    identity:   (B, K) float32; expression: (B, E) float32 in [0, 1]; gaze: (B, 2, 2) float32 rad.
    rotation:   (B, 3, 3) float32 — model -> camera (``Pose.matrix()``).
    translation:(B, 3) float32 — cm, camera frame; focal: (B,) float32 pixels.
    """

    points: torch.Tensor
    identity: torch.Tensor
    expression: torch.Tensor
    gaze: torch.Tensor
    rotation: torch.Tensor
    translation: torch.Tensor
    focal: torch.Tensor

    def __len__(self) -> int:
        return int(self.points.shape[0])

    def slice(self, sl: slice) -> "LandmarkBatch":
        return LandmarkBatch(*(getattr(self, f)[sl] for f in self.__dataclass_fields__))

    @staticmethod
    def cat(parts: list) -> "LandmarkBatch":
        return LandmarkBatch(*(torch.cat([getattr(p, f) for p in parts]) for f in LandmarkBatch.__dataclass_fields__))


def chunk_seed(*key: int) -> int:
    """A 63-bit seed for a chunk keyed by integers (numpy's SeedSequence hashing)."""
    return int(np.random.SeedSequence([int(k) for k in key]).generate_state(2, np.uint64)[0] >> np.uint64(1))


@functools.lru_cache(maxsize=2)
def _landmark_tables(model: FaceModel):
    """Linear model of the 478 points, the eyeball centres' identity motion and the template
    normals at the points (all float32)."""
    mean, idb, exb = model.landmark_model("mediapipe")
    eye_c0 = model.eye_centres.float()
    eye_cb = torch.stack([model.identity_basis[:, torch.nonzero(model.vert_part == p)[:, 0]].mean(1)
                          for p in (PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)], 1)  # (K, 2, 3)
    emb = model.landmarks["mediapipe"]
    tri = model.template[model.faces[emb.faces]]
    n = torch.nn.functional.normalize(torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1), dim=-1)
    return mean.float(), idb.float(), exb.float(), eye_c0, eye_cb.float(), n.float()


def landmark_points(model: FaceModel, identity: torch.Tensor, expression: torch.Tensor,
                    gaze: torch.Tensor) -> torch.Tensor:
    """(B, 478, 3) embedded mediapipe points (cm, model frame), the iris points turned by ``gaze``
    about the eyeball centres (the same as ``model.points(model.vertices(p), "mediapipe")``)."""
    mean, idb, exb, eye_c0, eye_cb, _ = _landmark_tables(model)
    B = identity.shape[0]
    N = mean.shape[0]
    P = mean[None] + (identity @ idb.reshape(idb.shape[0], -1)).reshape(B, N, 3) \
        + (expression @ exb.reshape(exb.shape[0], -1)).reshape(B, N, 3)
    cen = eye_c0[None] + torch.einsum("bk,kjc->bjc", identity, eye_cb)
    for j, ids in enumerate((torch.tensor(IRIS_LEFT), torch.tensor(IRIS_RIGHT))):
        R = gaze_matrix(gaze[:, j])
        q = (P[:, ids] - cen[:, j, None]) @ R.transpose(1, 2) + cen[:, j, None]
        P = P.index_copy(1, ids, q)
    return P


def _euler_batch(yaw: torch.Tensor, pitch: torch.Tensor, roll: torch.Tensor) -> torch.Tensor:
    """(B, 3, 3) = Rz(roll) Rx(pitch) Ry(yaw) (``ops.rotations.euler_yxz_to_matrix``, batched)."""
    o, z = torch.ones_like(yaw), torch.zeros_like(yaw)
    cy, sy, cp, sp, cr, sr = yaw.cos(), yaw.sin(), pitch.cos(), pitch.sin(), roll.cos(), roll.sin()
    Ry = torch.stack([cy, z, sy, z, o, z, -sy, z, cy], -1).reshape(-1, 3, 3)
    Rx = torch.stack([o, z, z, z, cp, -sp, z, sp, cp], -1).reshape(-1, 3, 3)
    Rz = torch.stack([cr, -sr, z, sr, cr, z, z, z, o], -1).reshape(-1, 3, 3)
    return Rz @ Rx @ Ry


def _expressions(model: FaceModel, n: int, cfg: SampleConfig, rng: np.random.Generator,
                 g: torch.Generator) -> torch.Tensor:
    from facesculpt.synthetic.head import sample_expression

    E = model.num_expression
    out = torch.zeros(n, E)
    rand = torch.rand(n, generator=g) < cfg.random_expression
    for i in range(n):
        if bool(rand[i]):
            k = int(torch.randint(1, 7, (1,), generator=g))
            idx = torch.randperm(E, generator=g)[:k]
            out[i, idx] = torch.rand(k, generator=g)
        else:
            out[i] = torch.from_numpy(sample_expression(rng, model.expression_names)[0]).float()
    return out


def sample_chunk(model: FaceModel, cfg: SampleConfig, seed: int, n: int = CHUNK) -> LandmarkBatch:
    """``n`` generated faces, a deterministic function of (``seed``, ``cfg``) (see the module doc)."""
    g = torch.Generator().manual_seed(int(seed))
    rng = np.random.default_rng(int(seed))
    K = model.num_identity
    _, _, _, _, _, normals = _landmark_tables(model)

    def uni(lo, hi, size=(n,)):
        return lo + (hi - lo) * torch.rand(size, generator=g)

    identity = torch.randn(n, K, generator=g) * cfg.identity_scale
    expression = _expressions(model, n, cfg, rng, g)
    gy = torch.randn(n, generator=g) * cfg.gaze_std[0]
    gp = torch.randn(n, generator=g) * cfg.gaze_std[1]
    verg = uni(0.0, 0.03)
    gaze = torch.stack([torch.stack([gy - verg, gp], -1), torch.stack([gy + verg, gp], -1)], 1)
    P = landmark_points(model, identity, expression, gaze)
    if cfg.noise.detector_response != "off":
        P = P + model.detector_offsets(HeadParams(identity, expression, gaze), response=cfg.noise.detector_response)

    d2r = math.pi / 180
    R = MODEL_TO_CV[None] @ _euler_batch(uni(-cfg.yaw_max, cfg.yaw_max) * d2r, uni(-cfg.pitch_max, cfg.pitch_max) * d2r,
                                         uni(-cfg.roll_max, cfg.roll_max) * d2r)
    S = float(cfg.image_size)
    focal = uni(*cfg.focal_factor) * S
    width_cm = P[:, :468, 0].amax(1) - P[:, :468, 0].amin(1)
    depth = focal * width_cm / (uni(*cfg.face_fraction) * S)
    shift = uni(-0.1, 0.1, (n, 2)) * S
    centre = P[:, :468].mean(1)
    target = torch.cat([shift * (depth / focal)[:, None], depth[:, None]], 1)
    T = target - (R @ centre[:, :, None])[..., 0]
    X = P @ R.transpose(1, 2) + T[:, None]
    c = S / 2
    uv = X[..., :2] / X[..., 2:3] * focal[:, None, None] + c
    z = X[..., 2] * (focal / depth)[:, None]
    z = z - z.mean(1, keepdim=True)
    pts = torch.cat([uv, z[..., None]], -1)

    # mediapipe-like behaviour and noise, in units of the inter-ocular distance
    nz = cfg.noise
    emb = model.landmarks["mediapipe"]
    if nz.view_bias and emb.bias is not None:
        uv = uv + _detector_offsets(emb, R, X, uv)
        pts = torch.cat([uv, pts[..., 2:]], -1)
    iod = (uv[:, IRIS_LEFT[0]] - uv[:, IRIS_RIGHT[0]]).norm(dim=-1).clamp(min=1.0)  # (B,)
    ncam = normals[None] @ R.transpose(1, 2)
    cos = (ncam * torch.nn.functional.normalize(-X, dim=-1)).sum(-1)  # (B, N)
    hidden = cos < 0.0
    oval = torch.zeros(P.shape[1], dtype=torch.bool)
    oval[list(FACE_OVAL)] = True
    sigma = torch.full(cos.shape, nz.point)
    sigma = torch.where(oval[None], torch.full_like(sigma, nz.oval), sigma)
    meas = model.landmarks["mediapipe"].sigma
    if nz.measured and meas is not None:
        # measured spread (fraction of the face size, 2D) -> per-axis, in IODs
        size = (uv.amax(1) - uv.amin(1)).amax(-1)  # (B,) the larger side of the points' box
        s0, s1 = meas[:, 0].float(), meas[:, 1].float()
        sm = torch.sqrt(s0 ** 2 + (s1 * (1 - cos.clamp(-1, 1))) ** 2) / math.sqrt(2.0)
        sigma = sm * (size / iod)[:, None]
    sigma = torch.where(hidden, torch.full_like(sigma, nz.hidden), sigma)
    level = uni(0.5, 1.5)[:, None]  # some faces are detected better than others
    pts = pts + torch.randn(pts.shape, generator=g) * (sigma * level * iod[:, None])[..., None]
    # smooth field: a random affine map of the frontal layout plus a quadratic warp
    lay = (mean_frontal(model)[None] / 7.0).expand(n, -1, -1)  # about [-1, 1] over the face
    A = torch.randn(n, 3, 3, generator=g) * nz.smooth
    Q = torch.randn(n, 3, 3, generator=g) * nz.smooth * 0.5
    field = lay @ A.transpose(1, 2) + (lay ** 2) @ Q.transpose(1, 2)
    pts = pts + field * iod[:, None, None]
    # hidden outline points slide out to the visible silhouette
    img_dir = uv - uv[:, :468].mean(1, keepdim=True)
    img_dir = torch.nn.functional.normalize(img_dir * torch.tensor([1.0, 0.3]), dim=-1)
    push = (-cos).clamp(0, 1) * oval[None] * uni(0.0, 1.0, (n, 1)) * nz.silhouette * iod[:, None]
    pts[..., :2] = pts[..., :2] + img_dir * push[..., None]
    return LandmarkBatch(pts.float(), identity, expression, gaze, R.float(), T.float(), focal.float())


def _detector_offsets(emb, R: torch.Tensor, X: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """(B, N, 2) pixels: the embedding's view-dependent detector offset of each sample's points (its
    rotation ``R`` (B, 3, 3), camera-frame points ``X`` (B, N, 3), projections ``uv`` (B, N, 2))."""
    from facesculpt.fitting.landmark_bias import embedding_offsets_px

    out = torch.zeros_like(uv)
    n = min(uv.shape[1], emb.bias.shape[0])
    for i in range(uv.shape[0]):
        out[i, :n] = embedding_offsets_px(emb, R[i].double(), X[i, :n].double(), uv[i, :n])
    return out


@functools.lru_cache(maxsize=2)
def mean_frontal(model: FaceModel) -> torch.Tensor:
    """(478, 3) the template's embedded points, centred (cm)."""
    m = _landmark_tables(model)[0]
    return m - m[:468].mean(0)


def sample_batch(model: FaceModel, cfg: SampleConfig, seed: int, step: int, chunks: list) -> LandmarkBatch:
    """The chunks ``chunks`` (indices) of training step ``step`` (keys (seed, 0, step, chunk))."""
    return LandmarkBatch.cat([sample_chunk(model, cfg, chunk_seed(seed, 0, step, k)) for k in chunks])


def validation_set(model: FaceModel, cfg: SampleConfig, seed: int, n: int) -> LandmarkBatch:
    """``n`` validation faces (keys (seed, 1, chunk)): never drawn by ``sample_batch``."""
    k = (n + CHUNK - 1) // CHUNK
    return LandmarkBatch.cat([sample_chunk(model, cfg, chunk_seed(seed, 1, i)) for i in range(k)]).slice(slice(0, n))


__all__ = ["LandmarkNoise", "SampleConfig", "LandmarkBatch", "sample_chunk", "sample_batch", "validation_set",
           "landmark_points", "chunk_seed", "mean_frontal", "CHUNK"]
