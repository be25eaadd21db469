"""Why a channel's correlation changes under the tracker's photometric pass (channels clip, seed 1, from the cache
of ``bench_track_photometric.py --kind channels --seeds 1``, which must have run first). Not collected by pytest.

    PYTHONPATH=. .venv/bin/python benchmarks/bench_track_photometric_diag.py

Per channel: the correlation with the truth, the mean weight over the channel's own bump (truth > 0.4) from the
landmark track and after the pass, and the other channels' bumps during which it fires most (mean over that
bump minus its median over the clip: pass / landmarks).
"""
import torch, numpy as np
from facesculpt.bench.clip import clip_photometric_pass
from facesculpt.config import make_config
cfg = make_config("fast", **{"track.photometric.enabled": True})
clip, track = torch.load("/tmp/facesculpt_track_photometric/channels_1_crop128_1.25.pt", weights_only=False)
ref = clip_photometric_pass(clip, 1, track, cfg.track, cfg)
names = list(__import__("facesculpt.face_model", fromlist=["x"]).load_face_model().expression_names)
E = clip.expression.numpy()
for ch in ["eyeBlink_L", "eyeBlink_R", "mouthFunnel"]:
    j = names.index(ch)
    a, b, t = track.expression[:, j].numpy(), ref.expression[:, j].numpy(), E[:, j]
    print(ch, "corr landmarks %.2f pass %.2f" % (np.corrcoef(a, t)[0, 1], np.corrcoef(b, t)[0, 1]))
    on = t > 0.4
    print("  at its own bump: truth %.2f landmarks %.2f pass %.2f" % (t[on].mean(), a[on].mean(), b[on].mean()))
    # which other channel's bump makes it fire
    rows = []
    for k, n in enumerate(names):
        if k == j: continue
        m = E[:, k] > 0.4
        rows.append((b[m].mean() - np.median(b), a[m].mean() - np.median(a), n))
    rows.sort(reverse=True)
    print("  fires during (pass excess, landmark excess):", ", ".join(f"{n} {p:.2f}/{q:.2f}" for p, q, n in rows[:5]))
