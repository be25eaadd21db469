"""Several photos of one person: one identity and one albedo, per-photo pose, expression, gaze and light.

``reconstruct_subject(images)``:

1. detect the largest face of every photo; refuse (``DifferentPeopleError``, one line) when two of
   them are further apart than ``SAME_PERSON_THRESHOLD`` (0.6, dlib's face-recognition distance,
   as ``facesculpt compare``) unless ``force``;
2. one identity for all photos (``fitting.head_track.fit_joint_identity``: per-photo landmark fits,
   the mean identity, then rounds of per-photo pose/expression/gaze with the identity held and
   Gauss-Newton steps on the identity against every photo's landmarks together);
3. per photo, the texture stage on its own pose, expression and gaze (``pipeline.reconstruct_head``
   with that geometry given and the photometric stage off: its own SH light, its own unwrap);
4. the albedos fused texel by texel, weighted by each photo's visibility squared (a texel seen
   square-on in one photo and at a grazing angle in another takes the first); texels no photo saw
   take the mean of the photos' completions. A left and a right profile thus give both halves
   from real pixels, not a mirrored copy.

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


def identity_distances(images: Sequence[np.ndarray], landmarks: Sequence) -> np.ndarray:
    """(n, n) dlib face-recognition distances between the photos' faces."""
    from facesculpt.metrics.identity import photo_embedding
    from facesculpt.topology import load_topology

    topo = load_topology(0)
    emb = torch.stack([photo_embedding(im, lm.points[topo.lmk68, :2]) for im, lm in zip(images, landmarks)])
    return torch.cdist(emb[None].double(), emb[None].double())[0].numpy()


def fuse_albedos(albedos: Sequence[torch.Tensor], visibilities: Sequence[torch.Tensor]) -> torch.Tensor:
    """(1, S, S, 3) albedo from per-photo albedos (1, S, S, 3) and visibilities (1, S, S) in [0, 1]:
    the visibility^2-weighted mean where some photo saw the texel, the plain mean elsewhere."""
    A = torch.cat(list(albedos))  # (n, S, S, 3)
    V = torch.cat(list(visibilities)).clamp(0, 1) ** 2  # (n, S, S)
    seen = V.sum(0, keepdim=True)
    w = torch.where(seen > 1e-6, V / seen.clamp(min=1e-12), torch.full_like(V, 1.0 / len(A)))
    return (A * w[..., None]).sum(0, keepdim=True)


def reconstruct_subject(images: Sequence[np.ndarray], cfg: Config, names: Optional[Sequence[str]] = None,
                        force: bool = False, progress: Progress = None) -> SubjectReconstruction:
    """Fit one person to ``images`` ((H, W, 3) uint8 each, two or more; module docstring).

    Raises FaceNotFoundError / FaceTooSmallError naming the photo, DifferentPeopleError when two
    photos' identity distance exceeds ``SAME_PERSON_THRESHOLD`` (and not ``force``)."""
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
    from facesculpt.fitting.head_track import fit_joint_identity
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
    lms = [detect_faces(im, max_faces=1, min_face_size=cfg.min_face_size, detection_max_side=cfg.detection_max_side,
                        name=n)[0] for im, n in zip(images, names)]
    timings["detect"] = time.perf_counter() - t0
    dist = None
    if not force:
        t0 = time.perf_counter()
        dist = identity_distances(images, lms)
        timings["identity_check"] = time.perf_counter() - t0
        i, j = np.unravel_index(int(np.argmax(dist)), dist.shape)
        if dist[i, j] > SAME_PERSON_THRESHOLD:
            raise DifferentPeopleError(
                f"{names[i]} and {names[j]} do not look like the same person (identity distance {dist[i, j]:.2f} > "
                f"{SAME_PERSON_THRESHOLD:.2f}; --force fits them together anyway)")
    model = load_face_model()
    canon = fit_view(model).canonical
    cams = [initialize(lm, canon)[2] for lm in lms]
    t0 = time.perf_counter()
    ident, per = fit_joint_identity(lms, model, cams, cfg.head_landmarks, cfg.track, progress)
    timings["identity"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    still_cfg = dataclasses.replace(cfg, photometric=dataclasses.replace(cfg.photometric, enabled=False))
    recs = [reconstruct_head(im, lm, still_cfg, fixed=(pose, HeadParams(ident, h.expression, h.gaze)))
            for im, lm, (pose, h) in zip(images, lms, per)]
    turns = [float(torch.linalg.matrix_norm(head_turn(p.rotvec)[0] - torch.eye(3, dtype=torch.float64)))
             for p, _ in per]
    front = int(np.argmin(turns))
    albedo = fuse_albedos([r.maps.albedo for r in recs], [r.maps.visibility for r in recs])
    vis = torch.stack([r.maps.visibility for r in recs]).amax(0)
    base = recs[front]
    view = fit_view(model)
    head_rm = model.render_mesh((PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT))
    textures = dict(base.textures, head=fill_head_tile(model, view.rmesh, head_rm, albedo, cfg.texture.size))
    maps = UVMaps(albedo, base.maps.texture, vis, base.maps.shading)
    fused = dataclasses.replace(base, maps=maps, textures=textures, timings=dict(base.timings))
    timings["texture"] = time.perf_counter() - t0
    return SubjectReconstruction(fused, recs, names, front, dist, timings)


__all__ = ["SubjectReconstruction", "DifferentPeopleError", "reconstruct_subject", "fuse_albedos",
           "identity_distances"]
