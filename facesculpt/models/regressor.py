"""A landmark regressor (Fast-GANFIT-style one-pass estimate): mediapipe's 478 3D landmarks ->
identity (100), expression (53), gaze (2 x 2) and head rotation of the morphable head.

Input normalisation (``frontalise``): a similarity Procrustes fit of the template's embedded
points to the detected ones (468 mesh points) gives a rough rotation ``R0`` and the pixels per cm;
undoing it turns the detections into a frontal, metric (cm) point set in the model frame. The
network sees that point set minus the template's (B, 478 x 3), plus ``R0``'s first two columns
(the view, which decides which points mediapipe had to guess), and predicts the parameters and a
rotation correction ``d`` (axis-angle, model frame): ``R = R0 @ exp(d)``. Translation is not
predicted: ``regress_pose`` places the head from the landmarks' centroid and scale, and the
pipeline polishes pose and parameters with a few landmark iterations.

The network is a plain MLP (3 hidden layers of 384 with SiLU, 0.91 M parameters, 3.6 MB float32):
frontalisation and forward pass take about 1 ms for one face on one CPU core
(``benchmarks/bench_regressor_speed.py``).
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from importlib import resources
from typing import Optional

import torch
from torch import nn

from facesculpt.core.checks import check_shape
from facesculpt.core.errors import AssetError

#: packaged weights (``facesculpt train regressor``; provenance in assets/REGRESSOR.md)
ASSET = "regressor.pt"


@dataclass(frozen=True)
class RegressorSpec:
    """Shape of the network (stored with its weights)."""

    num_points: int = 478
    """Landmarks in the input (mediapipe with iris refinement)."""
    num_identity: int = 100
    """Identity coefficients out."""
    num_expression: int = 53
    """Expression weights out (sigmoid: in [0, 1])."""
    hidden: int = 384
    """Width of the hidden layers."""
    depth: int = 3
    """Number of hidden layers."""


@dataclass(frozen=True)
class RegressorOutput:
    """identity (B, K); expression (B, E) in [0, 1]; gaze (B, 2, 2) rad; rotation (B, 3, 3) model ->
    camera (``R0 @ exp(delta)``); delta (B, 3) the predicted correction (axis-angle, rad)."""

    identity: torch.Tensor
    expression: torch.Tensor
    gaze: torch.Tensor
    rotation: torch.Tensor
    delta: torch.Tensor


@dataclass(frozen=True)
class Frontalised:
    """features (B, F) network input; R0 (B, 3, 3) Procrustes rotation model -> camera; scale (B,)
    pixels per cm; t (B, 3) the similarity's translation (pixels)."""

    features: torch.Tensor
    R0: torch.Tensor
    scale: torch.Tensor
    t: torch.Tensor


def batch_procrustes(src: torch.Tensor, dst: torch.Tensor):
    """Least-squares similarity dst ~= s * src @ R.T + t per batch item (Umeyama).
    src: (N, 3) or (B, N, 3); dst: (B, N, 3). Returns s (B,), R (B, 3, 3), t (B, 3), float64."""
    dst = dst.double()
    src = src.double().expand_as(dst)
    ms, md = src.mean(1, keepdim=True), dst.mean(1, keepdim=True)
    a, b = src - ms, dst - md
    cov = b.transpose(1, 2) @ a / src.shape[1]
    U, S, Vt = torch.linalg.svd(cov)
    d = torch.sign(torch.det(U @ Vt))
    D = torch.ones(dst.shape[0], 3, dtype=torch.float64)
    D[:, 2] = d
    R = U @ torch.diag_embed(D) @ Vt
    var = a.pow(2).sum((1, 2)) / src.shape[1]
    s = (S * D).sum(1) / var
    t = md[:, 0] - s[:, None] * (R @ ms[:, 0, :, None])[..., 0]
    return s, R, t


def frontalise(points: torch.Tensor, reference: torch.Tensor) -> Frontalised:
    """Network input from detected landmarks ``points`` (B, 478, 3) pixels (mediapipe's convention)
    and the template's embedded points ``reference`` (478, 3) cm, centred (``training.data.mean_frontal``)."""
    check_shape("points", points, ("B", reference.shape[0], 3))
    s, R, t = batch_procrustes(reference[:468], points[:, :468])
    base = ((points.double() - t[:, None]) @ R) / s[:, None, None]  # R^T (p - t) / s
    rel = (base - reference.double()[None]).float()
    feats = torch.cat([rel.reshape(rel.shape[0], -1), R[:, :, :2].reshape(-1, 6).float()], 1)
    return Frontalised(feats, R.float(), s.float(), t.float())


class LandmarkRegressor(nn.Module):
    """MLP from ``frontalise``'s features to ``RegressorOutput`` (see the module doc)."""

    def __init__(self, spec: RegressorSpec = RegressorSpec(), generator: Optional[torch.Generator] = None):
        super().__init__()
        self.spec = spec
        n_in = spec.num_points * 3 + 6
        layers, w = [], n_in
        for _ in range(spec.depth):
            layers += [nn.Linear(w, spec.hidden), nn.SiLU()]
            w = spec.hidden
        self.body = nn.Sequential(*layers)
        self.head = nn.Linear(w, spec.num_identity + spec.num_expression + 4 + 3)
        # input scale: the frontal offsets are a few mm (fractions of a cm); normalised in forward
        self.register_buffer("in_scale", torch.tensor(3.0))
        if generator is not None:
            self.reset_parameters(generator)

    @torch.no_grad()
    def reset_parameters(self, generator: torch.Generator) -> None:
        """Deterministic initialisation from ``generator`` (no global random state)."""
        for m in self.modules():
            if isinstance(m, nn.Linear):
                bound = (6.0 / (m.in_features + m.out_features)) ** 0.5
                m.weight.copy_((torch.rand(m.weight.shape, generator=generator) * 2 - 1) * bound)
                m.bias.zero_()
        self.head.weight.mul_(0.1)
        K, E = self.spec.num_identity, self.spec.num_expression
        self.head.bias[K:K + E] = -3.0  # expressions start near 0 (most weights of a face are 0)

    def forward(self, features: torch.Tensor, R0: torch.Tensor) -> RegressorOutput:
        from facesculpt.ops.rotations import rotvec_to_matrix

        K, E = self.spec.num_identity, self.spec.num_expression
        x = torch.cat([features[:, :-6] * self.in_scale, features[:, -6:]], 1)
        y = self.head(self.body(x))
        identity = y[:, :K]
        expression = torch.sigmoid(y[:, K:K + E])
        gaze = 0.2 * y[:, K + E:K + E + 4].reshape(-1, 2, 2)
        delta = 0.2 * y[:, K + E + 4:]
        return RegressorOutput(identity, expression, gaze, R0 @ rotvec_to_matrix(delta), delta)


def regress(net: LandmarkRegressor, points: torch.Tensor, reference: torch.Tensor) -> tuple[RegressorOutput, Frontalised]:
    """Run the regressor on landmarks ``points`` (B, 478, 3) pixels; ``reference`` as in ``frontalise``."""
    fr = frontalise(points, reference)
    return net(fr.features, fr.R0), fr


def save_regressor(path, net: LandmarkRegressor, meta: dict) -> None:
    """Write weights (float32), spec and ``meta`` (training settings, validation error) to ``path``."""
    torch.save({"spec": asdict(net.spec), "state_dict": {k: v.detach().float().clone() for k, v in net.state_dict().items()},
                "meta": meta}, path)


def read_regressor(path) -> tuple[LandmarkRegressor, dict]:
    """(net in eval mode, meta) from a file written by ``save_regressor``."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    net = LandmarkRegressor(RegressorSpec(**blob["spec"]))
    net.load_state_dict(blob["state_dict"])
    net.eval()
    return net, blob["meta"]


@functools.lru_cache(maxsize=1)
def load_regressor() -> tuple[LandmarkRegressor, dict]:
    """The packaged regressor (read once, cached) and its meta."""
    try:
        ref = resources.files("facesculpt") / "assets" / ASSET
        with resources.as_file(ref) as path:
            return read_regressor(path)
    except (OSError, KeyError, RuntimeError, TypeError) as e:
        raise AssetError(f"regressor weights {ASSET} missing or unreadable ({e}); reinstall facesculpt "
                         "or retrain with 'facesculpt train regressor'") from e


@functools.lru_cache(maxsize=4)
def _read_cached(path: str):
    return read_regressor(path)


def get_regressor(weights: str = "") -> tuple[LandmarkRegressor, dict]:
    """(net, meta): the packaged regressor (``weights`` "") or the weights file ``weights`` (a
    ``regressor.pt`` of ``facesculpt train regressor``), each read once."""
    if not weights:
        return load_regressor()
    try:
        return _read_cached(str(weights))
    except FileNotFoundError as e:
        raise AssetError(f"regressor weights {weights}: no such file") from e
    except Exception as e:  # torch's unpickling message is pages long; whatever fails, the file is not ours
        raise AssetError(f"regressor weights {weights}: not a weights file written by 'facesculpt train regressor' "
                         f"({type(e).__name__})") from e


__all__ = ["RegressorSpec", "RegressorOutput", "Frontalised", "LandmarkRegressor", "frontalise", "regress",
           "batch_procrustes", "save_regressor", "read_regressor", "load_regressor", "get_regressor"]
