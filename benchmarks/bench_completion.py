"""Completion of unseen face-tile texels (issue 12, item 4): before/after on turned synthetic heads.

For synthetic heads (``synthetic.head.generate_head_face``, neutral expression) whose yaw lies in
[--yaw-min, --yaw-max] degrees, each photo is reconstructed twice (``--preset``, default ``fast``:
completion off = mirror + push-pull blur, as before; on = ``texture.completion``). Two comparisons:

* **oracle**: the true albedo is given as the "seen" albedo with the reconstruction's own texel
  confidence (``maps.visibility``), and completed by the old and the new method; the completed
  texels are compared with the truth. This isolates the completion from de-lighting errors.
* **pipeline**: the exported albedo (``to_display``, 8-bit) of each run, after one per-channel gain
  fitted on the seen skin texels, against the truth.

Regions (texel classes of ``texture.completion.texel_classes``): *plain skin* = skin or outer-face
texels at least 8 texels from any other class and the chart border; *completed* = plain skin with
neither the texel nor its mirror image seen (confidence of both < 0.05) in its whole 9 x 9
neighbourhood (no isolated specks); *seen* = plain skin of the
narrow face with confidence 1. Metrics: PSNR (dB, [0, 1] range) on the completed texels;
the detail ratio = std of the high-pass of log luminance (minus its Gaussian blur, sigma 2 texels:
"fine"; sigma 8: "mid") over completed texels / the same over seen texels (the truth's own ratio is
given for reference: 1 would be "as detailed as the seen skin"); PSNR on the *mirrored* texels (plain
skin not seen whose mirror image was: what the mirror step and its colour match fill); the time of the completion alone
on the oracle input (mean of 3, one thread). Writes before/after PNGs to --out.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_completion.py --faces 4 --out /tmp/completion
"""
from __future__ import annotations

import argparse
import json
import os
import time

import numpy as np
import torch


def _hp_std(x: torch.Tensor, sel: torch.Tensor, sigma: float) -> float:
    from facesculpt.texture.completion import _blur

    lum = (x[0] @ torch.tensor([0.299, 0.587, 0.114])).clamp(min=1e-3).log()[None, None]
    hp = (lum - _blur(lum, sigma) / _blur(torch.ones_like(lum), sigma))[0, 0]  # no dark rim at the map border
    return float(hp[sel].std()) if int(sel.sum()) > 1 else float("nan")


def _psnr(a: torch.Tensor, b: torch.Tensor, sel: torch.Tensor) -> float:
    mse = float(((a[0] - b[0])[sel] ** 2).mean())
    return 10 * np.log10(1.0 / max(mse, 1e-12))


def _scores(out, truth, fill, seen):
    r = {"psnr": _psnr(out, truth, fill)}
    for name, sig in (("fine", 2.0), ("mid", 8.0)):
        r[f"detail_{name}"] = _hp_std(out, fill, sig) / _hp_std(out, seen, sig)
    return r


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--faces", type=int, default=4)
    ap.add_argument("--yaw-min", type=float, default=30.0)
    ap.add_argument("--yaw-max", type=float, default=60.0)
    ap.add_argument("--preset", default="fast")
    ap.add_argument("--out", default="/tmp/completion_bench")
    ap.add_argument("--max-seed", type=int, default=60)
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a texture.completion field for the new runs, e.g. --set mirror_match=false")
    args = ap.parse_args(argv)
    sets = {}
    for kv in args.set:
        k, _, v = kv.partition("=")
        sets[k.strip()] = json.loads(v.lower()) if v.lower() in ("true", "false") or v.replace(".", "", 1).lstrip("-").isdigit() else v
    torch.set_num_threads(1)
    from PIL import Image

    from facesculpt.config import make_config
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.pipeline import reconstruct
    from facesculpt.synthetic.head import generate_head_face, head_config
    from facesculpt.texture.color import to_display
    from facesculpt.texture.completion import CLASS_OUTER, CLASS_SKIN, CompletionConfig, texel_classes
    from facesculpt.texture.head import texel_mirror_grid
    from facesculpt.texture.unwrap import _sample_mirror, complete_albedo

    os.makedirs(args.out, exist_ok=True)
    model = load_face_model()
    view = fit_view(model)
    rows = []
    for seed in range(args.max_seed):
        if len(rows) >= args.faces:
            break
        base = make_config(args.preset)
        S = base.texture.size
        face = generate_head_face(seed, head_config(uv_size=S), expression=False)
        if not args.yaw_min <= abs(face.info["yaw_deg"]) <= args.yaw_max:
            continue
        truth = face.albedo.float()
        recs = {}
        for on in (False, True):
            cfg = make_config(args.preset, **{"texture.completion.enabled": on},
                              **({f"texture.completion.{k}": v for k, v in sets.items()} if on else {}))
            recs[on] = reconstruct(face.image, config=cfg)
        conf = recs[True].maps.visibility.float()
        cls = texel_classes(view, S)
        grid = texel_mirror_grid(view.fill, S)
        _, wm = _sample_mirror(truth, conf, grid)
        # texels of plain skin (skin or outer face) at least 8 texels from any other class or the
        # chart border: the detail measures see skin texture, not the brow, lip or chart edges
        plain = ((cls == CLASS_SKIN) | (cls == CLASS_OUTER)).float()[None, None]
        plain = torch.nn.functional.avg_pool2d(plain, 17, 1, 8, count_include_pad=True)[0, 0] >= 1
        fill = plain & (conf[0] < 0.05) & (wm[0] < 0.05)
        fill = torch.nn.functional.avg_pool2d(fill.float()[None, None], 9, 1, 4)[0, 0] >= 1  # no specks
        seen = plain & (cls == CLASS_SKIN) & (conf[0] >= 1)
        mirrored = plain & (conf[0] < 0.05) & (wm[0] >= 0.95)  # taken from the mirror image
        row = {"seed": seed, "yaw_deg": round(face.info["yaw_deg"], 1), "completed_texels": int(fill.sum()),
               "truth": _scores(truth, truth, fill, seen)}
        # oracle: the truth as the seen albedo, completed by each method
        outs = {}
        for name, comp in (("old", None), ("new", CompletionConfig(**sets))):
            times = []
            for _ in range(3):
                t = time.perf_counter()
                outs[name] = complete_albedo(truth, conf, mirror_grid=grid, completion=comp, classes=cls)
                times.append(time.perf_counter() - t)
            row[f"oracle_{name}"] = {**_scores(outs[name], truth, fill, seen), "time_s": float(np.mean(times)),
                                     "psnr_mirrored": _psnr(outs[name], truth, mirrored)}
        # pipeline: exported 8-bit albedo, one per-channel gain on the seen skin texels
        disp = {}
        for on, name in ((False, "old"), (True, "new")):
            a = torch.from_numpy(np.rint(to_display(recs[on].maps.albedo, True)[0].numpy() * 255) / 255.0)[None].float()
            g = (a[0][seen] * truth[0][seen]).sum(0) / (a[0][seen] ** 2).sum(0).clamp(min=1e-8)
            disp[name] = (a * g).clamp(0, 1)
            row[f"pipeline_{name}"] = {**_scores(disp[name], truth, fill, seen),
                                       "psnr_mirrored": _psnr(disp[name], truth, mirrored)}
        rows.append(row)
        print(json.dumps(row), flush=True)
        tiles = [truth, outs["old"], outs["new"], disp["old"], disp["new"]]
        img = torch.cat([t[0] for t in tiles], 1).clamp(0, 1).numpy()
        Image.fromarray(np.rint(img * 255).astype(np.uint8)).save(
            os.path.join(args.out, f"seed{seed}_truth_oracle-old-new_pipeline-old-new.png"))
        Image.fromarray(face.image).save(os.path.join(args.out, f"seed{seed}_photo.png"))
    if not rows:
        print("no face in the yaw range")
        return 1
    print("\nmean over", len(rows), "faces (yaw", args.yaw_min, "-", args.yaw_max, "deg, preset", args.preset + ")")
    print(f"{'':16s} {'PSNR dB':>8s} {'median':>7s} {'detail fine':>12s} {'detail mid':>11s} {'PSNR mirrored':>14s}")
    for key in ("truth", "oracle_old", "oracle_new", "pipeline_old", "pipeline_new"):
        m = {k: float(np.mean([r[key][k] for r in rows])) for k in ("psnr", "detail_fine", "detail_mid")}
        med = float(np.median([r[key]["psnr"] for r in rows]))
        pm = "-" if key == "truth" else f"{np.mean([r[key]['psnr_mirrored'] for r in rows]):.2f}"
        psnr, med = ("-", "-") if key == "truth" else (f"{m['psnr']:.2f}", f"{med:.2f}")
        print(f"{key:16s} {psnr:>8s} {med:>7s} {m['detail_fine']:12.2f} {m['detail_mid']:11.2f} {pm:>14s}")
    print("completion time (oracle input, s): old %.3f new %.3f" % (
        np.mean([r["oracle_old"]["time_s"] for r in rows]), np.mean([r["oracle_new"]["time_s"] for r in rows])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
