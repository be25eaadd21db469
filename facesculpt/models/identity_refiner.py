"""The regressed identity refined with the photo's face-recognition embedding (Fast-GANFIT's identity features).

The landmark regressor (``models.regressor``) sees only mediapipe's 478 points; Fast-GANFIT also feeds the
network identity features of the photo. Here the dlib embedding of the face chip (``metrics.identity.
photo_embedding``, 128 numbers, computed once a photo in about 15 ms on this CPU) and the regressor's 100
identity coefficients go through one ridge regression to the true identity, fitted in closed form on rendered
heads whose truth is known (``facesculpt train identity-refiner``; the photos and their detections from
``facesculpt train render-landmarks --embed``). A linear map: it cannot bend far from what it was fitted on, its
fit is deterministic and in closed form, and it has 22,900 weights (183 KB in float64).

Measured before it was built (docs/results.md, "Issue 14: the identity from the photo's embedding", session 19):
on 500 held-out rendered heads the face-region vertex error of the regressed identity after similarity alignment
fell from 2.40 mm to 2.16 mm with a ridge map of 1,500 heads, and the embedding alone (2.21 mm) did better than
the landmarks alone.

The features: the photo's recogniser features and the regressed identity, each standardised by the training set's
mean and spread, and a constant; the target: the true identity coefficients (prior N(0, 1)). The packaged map
(session 21) reads the mean of the photo's embedding and the mirrored photo's (``fitting.regress_init.
identity_features``; ``meta["features"]`` "mean"; session 19's read the photo's alone, "photo"). A map fitted with
``--features map`` reads the recogniser's last feature map instead (the 256 channels on the 2 x 2 cells that the
embedding pools and projects, 1024 numbers; ``identity_features(..., feature_map=True)``): better on rendered heads,
worse on the real scanned face, so not packaged (docs/results.md, session 25). The pipeline feeds each map what its
meta says.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources

import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.errors import AssetError

#: packaged weights (``facesculpt train identity-refiner``; provenance in assets/REGRESSOR.md)
ASSET = "identity_refiner.pt"


@dataclass(frozen=True)
class IdentityRefiner:
    """mean, scale: (F,) float64 the features' standardisation (F = embedding + identity); weight: (F + 1, K)
    float64 the ridge map (the last row the constant); meta: training settings and validation errors."""

    mean: torch.Tensor
    scale: torch.Tensor
    weight: torch.Tensor
    meta: dict

    @property
    def num_embedding(self) -> int:
        return int(self.mean.shape[0] - self.weight.shape[1])

    def __call__(self, identity: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        """(B, K) the refined identity of the regressed ``identity`` (B, K) and the photos' ``embedding`` (B, D)."""
        K, D = self.weight.shape[1], self.num_embedding
        check_shape("identity", identity, ("B", K))
        check_shape("embedding", embedding, (identity.shape[0], D))
        x = torch.cat([embedding.double(), identity.double()], -1)
        z = (x - self.mean) / self.scale
        out = z @ self.weight[:-1] + self.weight[-1]
        return out.to(identity.dtype)


def fit_identity_refiner(embedding: torch.Tensor, identity: torch.Tensor, truth: torch.Tensor, ridge: float,
                         meta: dict | None = None) -> IdentityRefiner:
    """The ridge map (penalty ``ridge`` on the standardised features' weights, none on the constant) from the
    photos' ``embedding`` (N, D) and the regressed ``identity`` (N, K) to the ``truth`` (N, K), in float64."""
    N = embedding.shape[0]
    check_shape("identity", identity, (N, "K"))
    check_shape("truth", truth, (N, identity.shape[1]))
    if N < 2:
        raise ValueError(f"fit_identity_refiner: need at least 2 samples, got {N}")
    x = torch.cat([embedding.double(), identity.double()], -1)
    mean, scale = x.mean(0), x.std(0).clamp(min=1e-8)
    z = torch.cat([(x - mean) / scale, torch.ones(N, 1, dtype=torch.float64)], -1)
    pen = torch.full((z.shape[1],), float(ridge), dtype=torch.float64)
    pen[-1] = 0.0
    weight = torch.linalg.solve(z.T @ z + torch.diag(pen), z.T @ truth.double())
    return IdentityRefiner(mean, scale, weight, dict(meta or {}))


def save_identity_refiner(path, refiner: IdentityRefiner) -> None:
    """Write the refiner (float64 tensors and its meta) to ``path``."""
    torch.save({"mean": refiner.mean, "scale": refiner.scale, "weight": refiner.weight, "meta": refiner.meta}, path)


def read_identity_refiner(path) -> IdentityRefiner:
    """The refiner in a file written by ``save_identity_refiner``."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    return IdentityRefiner(blob["mean"].double(), blob["scale"].double(), blob["weight"].double(), blob["meta"])


@functools.lru_cache(maxsize=4)
def get_identity_refiner(weights: str = "") -> IdentityRefiner:
    """The packaged refiner (``weights`` "") or the file ``weights``, each read once."""
    try:
        if weights:
            return read_identity_refiner(str(weights))
        with resources.as_file(resources.files("facesculpt") / "assets" / ASSET) as path:
            return read_identity_refiner(path)
    except FileNotFoundError as e:
        raise AssetError(f"identity refiner {weights or ASSET}: no such file" + ("" if weights else "; reinstall facesculpt")) from e
    except Exception as e:  # torch's unpickling message is pages long; whatever fails, the file is not ours
        raise AssetError(f"identity refiner {weights or ASSET}: not a file written by 'facesculpt train identity-refiner' "
                         f"({type(e).__name__}); " + ("give another file" if weights else "reinstall facesculpt")) from e


__all__ = ["IdentityRefiner", "fit_identity_refiner", "save_identity_refiner", "read_identity_refiner",
           "get_identity_refiner", "ASSET"]
