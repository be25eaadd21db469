"""Training loop of the landmark regressor (``facesculpt train regressor``).

* Data: generated on the fly (``training.data``); a global batch is ``batch_chunks`` chunks keyed by
  (seed, step, chunk), so a run is a deterministic function of its config, whatever the number of
  processes; the validation faces come from their own keys (``val_seed``) and are never trained on.
* Loss (cm, all terms in the units of the benchmark's vertex error): the mean distance between
  predicted and true neutral-pose vertices (identity + expression) over a fixed subset of the
  narrow face region and the 478 landmark points; the rotation error as the mean distance the
  predicted rotation moves the true face's points from where the true one puts them; the gaze
  error times the eyeball radius (1.2 cm).
* Validation error (``val_error_mm``): the mean vertex error (mm) over the whole narrow face region
  of the predicted head (identity + expression, model frame, no alignment) on the validation faces.
* Checkpoints: ``out/checkpoint.pt`` every ``checkpoint_every`` steps (network, optimiser,
  schedule, step, history), written atomically; a run with the same ``out`` resumes from it and
  ends with the same weights as an uninterrupted run. The result is ``out/regressor.pt``
  (``models.regressor.save_regressor``).
* Distributed: under ``torchrun`` (``WORLD_SIZE`` > 1) the processes join a gloo process group and
  train one ``DistributedDataParallel`` network; each takes every ``world``-th chunk of a batch, so
  the averaged gradient is that of the whole batch. Only rank 0 validates and writes files.

Determinism: weights initialised from a local ``torch.Generator``; data keyed as above; one
thread or several give the same data, and the same weights up to float summation order.
"""
from __future__ import annotations

import dataclasses
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import torch

from facesculpt.face_model import FaceModel
from facesculpt.models.regressor import LandmarkRegressor, RegressorSpec, frontalise, regress, save_regressor
from facesculpt.training.data import (CHUNK, LandmarkBatch, SampleConfig, chunk_seed, mean_frontal, sample_batch,
                                      validation_set)

#: (step, total steps, training loss, validation error mm or None)
TrainProgress = Optional[Callable[[int, int, float, Optional[float]], None]]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of one training run (stored in the checkpoint and with the weights)."""

    steps: int = 2000
    """Optimiser steps."""
    batch_chunks: int = 8
    """Chunks of ``training.data.CHUNK`` (32) faces per step (global batch, split over processes;
    the number of processes must divide it)."""
    lr: float = 1e-3
    """Peak AdamW learning rate (linear warm-up over ``warmup`` steps, cosine decay to 0)."""
    warmup: int = 100
    """Warm-up steps."""
    weight_decay: float = 1e-4
    """AdamW weight decay."""
    seed: int = 0
    """Seed of the initial weights and of the training data."""
    val_seed: int = 1000
    """Seed of the validation faces (independent of ``seed``)."""
    val_size: int = 512
    """Number of validation faces."""
    val_every: int = 500
    """Validate every this many steps (and at the end)."""
    checkpoint_every: int = 250
    """Write a checkpoint every this many steps (and at the end)."""
    spec: RegressorSpec = field(default_factory=RegressorSpec)
    """Network shape."""
    data: SampleConfig = field(default_factory=SampleConfig)
    """Distribution of the generated faces."""
    rendered: str = ""
    """A file of mediapipe's landmarks on rendered heads (``training.rendered``, ``facesculpt train
    render-landmarks``), or several joined by commas; "" trains on generated points only."""
    rendered_chunks: int = 4
    """Chunks of each batch drawn from ``rendered`` (the others generated); ignored without it."""
    rendered_val: int = 500
    """Samples of ``rendered`` (the highest indices) held out to validate on, never trained on."""
    rendered_roll: float = 15.0
    """Augmentation of a rendered sample: the image turned by up to +-this (degrees; the rotation
    label turns with it) and scaled by 0.85-1.15 about the points' centre."""


@dataclass
class TrainResult:
    """step reached; history [(step, train loss, val error mm or None)]; val_error_mm at the end
    (rank 0; nan on the others); weights: the written ``regressor.pt`` (None unless finished, and on
    ranks other than 0); net: the trained network (every rank)."""

    step: int
    history: list
    val_error_mm: float
    weights: Optional[Path]
    net: Optional[LandmarkRegressor] = None


def _eval_vertices(model: FaceModel):
    """Fixed vertex subsets: (loss subset (M,), narrow face (Vn,)) indices."""
    narrow = torch.nonzero(model.narrow_face)[:, 0]
    return narrow[:: max(1, len(narrow) // 800)], narrow


class _Geometry:
    """The linear model restricted to some vertices plus the 478 landmark points."""

    def __init__(self, model: FaceModel, idx: torch.Tensor, with_landmarks: bool):
        mean, idb, exb = model.landmark_model("mediapipe")
        t = model.template[idx]
        ib = model.identity_basis[:, idx]
        eb = model.expression_basis[:, idx]
        if with_landmarks:
            t, ib, eb = torch.cat([t, mean]), torch.cat([ib, idb], 1), torch.cat([eb, exb], 1)
        self.template = t.float()
        self.K, self.E = ib.shape[0], eb.shape[0]
        self.id = ib.reshape(self.K, -1).float()
        self.ex = eb.reshape(self.E, -1).float()

    def __call__(self, identity: torch.Tensor, expression: torch.Tensor) -> torch.Tensor:
        B = identity.shape[0]
        return self.template[None] + (identity @ self.id + expression @ self.ex).reshape(B, -1, 3)


def regressor_loss(out, batch: LandmarkBatch, geo: _Geometry) -> tuple[torch.Tensor, dict]:
    """(loss, parts) of one batch (see the module doc)."""
    vp = geo(out.identity, out.expression)
    vt = geo(batch.identity, batch.expression)
    shape = (vp - vt).norm(dim=-1).mean()
    pts = vt - vt.mean(1, keepdim=True)
    rot = (pts @ (out.rotation - batch.rotation).transpose(1, 2)).norm(dim=-1).mean()
    gaze = (out.gaze - batch.gaze).abs().mean() * 1.2
    return shape + rot + gaze, {"shape": float(shape.detach()), "rotation": float(rot.detach()), "gaze": float(gaze.detach())}


@torch.no_grad()
def validation_error_mm(net: LandmarkRegressor, model: FaceModel, val: LandmarkBatch) -> float:
    """Mean narrow-face vertex error (mm) of the regressed heads (identity + expression) on ``val``."""
    was = net.training
    net.eval()
    geo = _Geometry(model, _eval_vertices(model)[1], False)
    ref = mean_frontal(model)
    tot, n = 0.0, 0
    for i in range(0, len(val), 64):
        b = val.slice(slice(i, i + 64))
        out, _ = regress(net, b.points, ref)
        tot += float((geo(out.identity, out.expression) - geo(b.identity, b.expression)).norm(dim=-1).mean(1).sum())
        n += len(b)
    net.train(was)
    return 10.0 * tot / max(n, 1)


def _rendered_split(cfg: TrainConfig):
    """(train batch, validation batch, the files' content digests joined by commas) of ``cfg.rendered``
    (one file, or several joined by commas: each holds out its last ``rendered_val / number of files``
    samples), or (None, None, "")."""
    if not cfg.rendered:
        return None, None, ""
    from facesculpt.training.rendered import load_rendered

    paths = [p for p in cfg.rendered.split(",") if p]
    k = cfg.rendered_val // len(paths)
    train, val, shas = [], [], []
    for path in paths:
        rs = load_rendered(path)
        b = rs.batch
        shas.append(rs.meta["sha"])
        n = len(b)
        if n <= k:
            raise ValueError(f"{path}: {n} samples, too few to hold out {k} and train on the rest")
        train.append(b.slice(slice(0, n - k)))
        val.append(b.slice(slice(n - k, n)))
    return LandmarkBatch.cat(train), LandmarkBatch.cat(val), ",".join(shas)


def rendered_chunk(data: LandmarkBatch, key: int, roll_deg: float, n: int = CHUNK) -> LandmarkBatch:
    """``n`` samples of ``data`` drawn (with replacement) and augmented, a deterministic function of
    ``key``: each image turned by up to +-``roll_deg`` about its points' centre (the rotation label
    turns with it: an image rotation about the optical axis is a camera roll) and scaled by 0.85-1.15."""
    g = torch.Generator().manual_seed(int(key))
    idx = torch.randint(0, len(data), (n,), generator=g)
    b = LandmarkBatch(*(getattr(data, f)[idx] for f in LandmarkBatch.__dataclass_fields__))
    th = (torch.rand(n, generator=g) * 2 - 1) * math.radians(roll_deg)
    sc = 0.85 + 0.3 * torch.rand(n, generator=g)
    c, s_ = th.cos(), th.sin()
    o, z = torch.ones_like(th), torch.zeros_like(th)
    Rz = torch.stack([c, -s_, z, s_, c, z, z, z, o], -1).reshape(n, 3, 3)
    p = b.points
    cen = p.mean(1, keepdim=True)
    q = (p - cen) @ Rz.transpose(1, 2)
    q = q * sc[:, None, None] + cen
    return LandmarkBatch(q, b.identity, b.expression, b.gaze, Rz @ b.rotation,
                         (Rz @ b.translation[:, :, None])[..., 0], b.focal)


def _lr(cfg: TrainConfig, step: int) -> float:
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    p = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * 0.5 * (1 + math.cos(math.pi * min(1.0, p)))


def _dist():
    """(rank, world, initialised here) — joins a gloo group under torchrun."""
    import torch.distributed as dist

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return 0, 1, False
    if dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), False
    dist.init_process_group("gloo")
    return dist.get_rank(), dist.get_world_size(), True


def _save_atomic(obj, path: Path) -> None:
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def config_to_dict(cfg: TrainConfig) -> dict:
    return dataclasses.asdict(cfg)


def config_from_dict(d: dict) -> TrainConfig:
    from facesculpt.training.data import LandmarkNoise

    d = dict(d)
    data = dict(d.pop("data"))
    data["noise"] = LandmarkNoise(**data["noise"])
    for k in ("focal_factor", "face_fraction", "gaze_std"):
        data[k] = tuple(data[k])
    return TrainConfig(spec=RegressorSpec(**d.pop("spec")), data=SampleConfig(**data), **d)


def train_regressor(model: FaceModel, cfg: TrainConfig, out: Path, progress: TrainProgress = None,
                    resume: bool = True, stop_after: Optional[int] = None) -> TrainResult:
    """Train (or resume) the regressor into folder ``out`` (see the module doc).

    ``stop_after``: stop at this step (a checkpoint is written there) without finishing the
    schedule, as an interrupted run would (tests of resuming)."""
    import torch.distributed as dist

    rank, world, own_group = _dist()
    if cfg.batch_chunks % world:
        raise ValueError(f"batch_chunks ({cfg.batch_chunks}) must be a multiple of the process count ({world})")
    out = Path(out)
    if rank == 0:
        out.mkdir(parents=True, exist_ok=True)
    net = LandmarkRegressor(cfg.spec, generator=torch.Generator().manual_seed(cfg.seed))
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, history = 0, []
    ckpt = out / "checkpoint.pt"
    if world > 1:
        dist.barrier()
    if resume and ckpt.exists():
        blob = torch.load(ckpt, map_location="cpu", weights_only=False)
        if blob["config"] != config_to_dict(cfg):
            raise ValueError(f"{ckpt} was written with other settings; use another output folder or --no-resume")
        net.load_state_dict(blob["net"])
        opt.load_state_dict(blob["opt"])
        step, history = int(blob["step"]), list(blob["history"])
    ddp = net
    if world > 1:
        ddp = torch.nn.parallel.DistributedDataParallel(net)
    geo = _Geometry(model, _eval_vertices(model)[0], True)
    ref = mean_frontal(model)
    val = validation_set(model, cfg.data, cfg.val_seed, cfg.val_size) if rank == 0 else None
    r_train, r_val, r_sha = _rendered_split(cfg)
    n_rend = min(cfg.rendered_chunks, cfg.batch_chunks) if r_train is not None else 0
    mine = list(range(rank, cfg.batch_chunks, world))
    gen_chunks = [k for k in mine if k >= n_rend]
    rend_chunks = [k for k in mine if k < n_rend]
    end = cfg.steps if stop_after is None else min(cfg.steps, stop_after)

    def checkpoint(s):
        if rank == 0:
            _save_atomic({"net": net.state_dict(), "opt": opt.state_dict(), "step": s, "history": history,
                          "config": config_to_dict(cfg)}, ckpt)

    net.train()
    val_err = None
    while step < end:
        parts = [rendered_chunk(r_train, chunk_seed(cfg.seed, 2, step, k), cfg.rendered_roll) for k in rend_chunks]
        if gen_chunks:
            parts.append(sample_batch(model, cfg.data, cfg.seed, step, gen_chunks))
        batch = LandmarkBatch.cat(parts)
        for grp in opt.param_groups:
            grp["lr"] = _lr(cfg, step)
        fr = frontalise(batch.points, ref)
        o = ddp(fr.features, fr.R0)
        loss, _ = regressor_loss(o, batch, geo)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        lval = float(loss.detach())
        if world > 1:
            t = torch.tensor([lval])
            dist.all_reduce(t)
            lval = float(t) / world
        val_err = None
        if rank == 0 and (step % cfg.val_every == 0 or step == cfg.steps):
            val_err = validation_error_mm(net, model, val if r_val is None else r_val)
        history.append((step, lval, val_err))
        if step % cfg.checkpoint_every == 0 or step == end:
            checkpoint(step)
        if progress is not None and rank == 0:
            progress(step, cfg.steps, lval, val_err)
    weights = None
    final = float("nan")
    if rank == 0:
        final = validation_error_mm(net, model, val if r_val is None else r_val)
        if step >= cfg.steps:
            weights = out / "regressor.pt"
            meta = {"val_error_mm": final, "train_config": config_to_dict(cfg), "world_size": world, "steps": step}
            if r_val is not None:
                meta["val_generated_mm"] = validation_error_mm(net, model, val)
                meta["rendered_sha"] = r_sha
            save_regressor(weights, net, meta)
    if world > 1:
        dist.barrier()
        if own_group:
            dist.destroy_process_group()
    return TrainResult(step, history, final, weights, net)


def evaluate_weights(model: FaceModel, net: LandmarkRegressor, meta: dict) -> float:
    """The validation error (mm) of ``net`` on the validation faces its ``meta`` names (the generated
    ones: ``meta["val_generated_mm"]`` for weights trained with rendered landmarks, ``val_error_mm``
    otherwise)."""
    cfg = config_from_dict(meta["train_config"])
    return validation_error_mm(net, model, validation_set(model, cfg.data, cfg.val_seed, cfg.val_size))


__all__ = ["TrainConfig", "TrainResult", "train_regressor", "validation_error_mm", "regressor_loss",
           "evaluate_weights", "config_from_dict", "config_to_dict", "CHUNK"]
