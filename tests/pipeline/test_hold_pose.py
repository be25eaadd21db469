"""The head's photometric stage keeps the landmark stage's pose (``photometric.hold_pose_head``)."""
import torch

import facesculpt
from facesculpt.config import make_config


def test_photometric_stage_holds_the_head_pose(grace_hopper):
    over = {"photometric.iterations": 4, "identity.enabled": False}
    fast = facesculpt.reconstruct(grace_hopper, config=make_config("fast"))
    held = facesculpt.reconstruct(grace_hopper, config=make_config("default", **over))
    free = facesculpt.reconstruct(grace_hopper, config=make_config("default", **over, **{"photometric.hold_pose_head": False}))
    for a, b in ((fast, held),):
        assert torch.allclose(a.params.pose.rotvec, b.params.pose.rotvec, atol=1e-6)
        assert torch.allclose(a.params.pose.translation, b.params.pose.translation, atol=1e-5)
    assert held.losses["photometric"]["photo_final"] < held.losses["photometric"]["photo_initial"]  # still fits
    assert not torch.allclose(fast.params.pose.rotvec, free.params.pose.rotvec, atol=1e-6)  # the switch acts
