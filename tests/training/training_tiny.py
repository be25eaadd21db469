"""A tiny training configuration shared by the training tests (seconds on one CPU core)."""
from dataclasses import replace

from facesculpt.models.regressor import RegressorSpec
from facesculpt.training.regressor import TrainConfig


def tiny_config(**kw) -> TrainConfig:
    base = replace(TrainConfig(), steps=6, batch_chunks=2, warmup=2, val_size=32, val_every=1000,
                   checkpoint_every=3, spec=RegressorSpec(hidden=32, depth=1))
    return replace(base, **kw)
