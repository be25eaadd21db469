"""How much of the eyeballs the model's closed lids leave visible (session 36's diagnosis of the weak blink channels).

    .venv/bin/python benchmarks/eyelid_cover.py

The head with eyeBlink_L = eyeBlink_R = 1, gaze ahead, seen from the front (f 2000 px, 400 px, 60 cm away): the
eyeball pixels the rasteriser shows, against the open eyes', for the mean identity and 40 N(0, 1) identities
(seeded), and how many separate pieces they form. Never collected by pytest."""
import numpy as np, torch
from scipy import ndimage
from facesculpt.face_model import load_face_model, HeadParams, PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT
from facesculpt.render.rasterize import rasterize
m = load_face_model(); names = list(m.expression_names)
fp = m.vert_part[m.faces[:, 0]]
isEye = (fp == PART_EYEBALL_LEFT) | (fp == PART_EYEBALL_RIGHT)
f, S = 2000.0, 400
def eye_px(v):
    X = v.clone(); X[:, 2] = 60.0 - X[:, 2]; X[:, 1] = -X[:, 1] + 3.6
    scr = torch.cat([X[:, :2] / X[:, 2:3] * f + S / 2, X[:, 2:3]], 1)
    p2f = rasterize(scr[None].float(), m.faces, (S, S), backend="cpu").pix_to_face[0]
    vis = (p2f >= 0) & isEye[p2f.clamp(min=0)]
    return vis.numpy()
g = torch.Generator().manual_seed(0)
rows = []
for i in range(41):
    ident = torch.zeros(1, 100) if i == 0 else torch.randn(1, 100, generator=g)
    e0 = torch.zeros(1, 53)
    e1 = e0.clone(); e1[0, names.index("eyeBlink_L")] = 1; e1[0, names.index("eyeBlink_R")] = 1
    open_ = eye_px(m.vertices(HeadParams(ident, e0, torch.zeros(1, 2, 2)))[0]).sum()
    vis = eye_px(m.vertices(HeadParams(ident, e1, torch.zeros(1, 2, 2)))[0])
    lab, n = ndimage.label(vis)
    rows.append((open_, vis.sum(), n))
rows = np.array(rows)
print("mean identity: open %d px, closed %d px visible in %d pieces" % tuple(rows[0]))
r = rows[1:]
print("40 random identities: closed/open visible share median %.3f, 90th pct %.3f, max %.3f; pieces median %d, max %d"
      % (np.median(r[:, 1] / r[:, 0]), np.percentile(r[:, 1] / r[:, 0], 90), (r[:, 1] / r[:, 0]).max(),
         int(np.median(r[:, 2])), int(r[:, 2].max())))
