"""Run under torchrun by tests/training/test_training.py: a tiny training run; each rank saves its
final weights to OUT/rank<r>.pt. Not collected by pytest (no test_ prefix)."""
import os
import sys

import torch

from facesculpt.face_model import load_face_model
from facesculpt.training.regressor import train_regressor
from training_tiny import tiny_config

out = sys.argv[1]
res = train_regressor(load_face_model(), tiny_config(), out, resume=False)
torch.save(res.net.state_dict(), os.path.join(out, f"rank{os.environ['RANK']}.pt"))
