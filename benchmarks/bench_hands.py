"""Hand landmarker (``detect.hands``, issue 12 item 3 session 5): false hands on clean photos, pasted hands
found, and its time.

For each photo: the face (``detect_faces``), then ``detect_hands`` (``HandsConfig`` with
``--expand``, ``--confidence``) on the clean photo and on the photo with each of the occlusion
benchmark's hand occluders pasted (``bench.occlusion.occluder``: ``hand``, ``skin_hand``). Prints per
photo: hands found on the clean photo and the share of the face box their mask covers (false
positives over the face), and per pasted hand the share of its pixels the mask covers; the time of one
``detect_hands`` call (mean over the photos after a first warm-up call; the first call loads the models).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/bench_hands.py facesculpt/assets/grace_hopper.jpg \\
        astronaut.png ../shared/aflw2000-sample   # aflw: research-only, measure, never commit
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("paths", nargs="+", help="photos or folders of photos")
    ap.add_argument("--expand", type=float, default=None, help="HandsConfig.crop_expand (default: the config's)")
    ap.add_argument("--confidence", type=float, default=None, help="HandsConfig.min_confidence")
    args = ap.parse_args()

    from dataclasses import replace

    from facesculpt.bench.occlusion import occluder
    from facesculpt.detect import detect_faces
    from facesculpt.detect.hands import HandsConfig, detect_hands, hand_mask
    from facesculpt.io.image import load_image

    cfg = HandsConfig()
    if args.expand is not None:
        cfg = replace(cfg, crop_expand=args.expand)
    if args.confidence is not None:
        cfg = replace(cfg, min_confidence=args.confidence)
    files = []
    for p in map(Path, args.paths):
        files += sorted(q for q in p.iterdir() if q.suffix.lower() in (".jpg", ".jpeg", ".png")) if p.is_dir() else [p]
    times, fp_photos, found = [], 0, {"hand": [], "skin_hand": []}
    warm = False
    print(f"{'photo':<22}{'clean: hands':>13}{'face box masked':>16}{'hand: covered':>14}{'skin_hand: covered':>19}")
    for f in files:
        img = load_image(f)
        try:
            lmk = detect_faces(img, max_faces=1)[0]
        except Exception as e:  # noqa: BLE001 - a photo without a face is skipped
            print(f"{f.name[:21]:<22}skipped ({str(e).splitlines()[0][:60]})")
            continue
        box = lmk.bbox.tolist()
        if not warm:
            detect_hands(img, box, cfg)
            warm = True
        t = time.perf_counter()
        hands = detect_hands(img, box, cfg)
        times.append(time.perf_counter() - t)
        x0, y0, x1, y1 = [int(round(v)) for v in box]
        m = hand_mask(hands, img.shape[:2], cfg)
        face_share = float(m[max(0, y0):y1, max(0, x0):x1].mean())
        fp_photos += face_share > 0
        cov = {}
        for kind in found:
            occ, pasted = occluder(img, lmk, kind)
            mk = hand_mask(detect_hands(occ, box, cfg), img.shape[:2], cfg)
            cov[kind] = float((mk & pasted).sum() / max(1, pasted.sum()))
            found[kind].append(cov[kind])
        print(f"{f.name[:21]:<22}{len(hands):>13}{face_share:>16.3f}{cov['hand']:>14.3f}{cov['skin_hand']:>19.3f}",
              flush=True)
    n = len(times)
    print(f"{n} photos: clean photos with a hand mask over the face box: {fp_photos}; "
          + "; ".join(f"{k} found (>= 50 % covered) on {sum(c >= 0.5 for c in v)}/{n}, mean covered {np.mean(v):.3f}"
                      for k, v in found.items())
          + f"; detect_hands {np.mean(times) * 1000:.0f} ms a photo (mean, after warm-up)")


if __name__ == "__main__":
    main()
