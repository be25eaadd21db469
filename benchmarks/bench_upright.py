"""Turned-photo benchmark: does the pipeline find which way is up? Not collected by pytest.

    .venv/bin/python benchmarks/bench_upright.py [--seeds 0-29] [--yaw-max 60] [--profiles 121,286,228,100,37,109]
        [--out FILE.json]

Photos: grace_hopper, astronaut and the synthetic heads ``--seeds`` (facesculpt.synthetic.head, yaw up
to ``--yaw-max``), each given as is and turned by 90, 180 and 270 degrees. For every case it runs
``facesculpt.fitting.gates.upright_faces`` with the real detector (what ``reconstruct`` does before
fitting) and prints whether the turn it chose makes the photo upright, which detector found the face,
and the wall time. Also, per photo, the landmark model's face-presence logit of each turn's detection
(``detect.fallback.face_presence``; "-" where a turn has no upright face), to show the margin between
the right turn and the wrong ones. Runs with any tree on PYTHONPATH that has ``upright_faces``
(the presence column needs ``face_presence``).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def _seeds(text: str) -> list[int]:
    out: list[int] = []
    for part in filter(None, text.split(",")):
        a, _, b = part.partition("-")
        out.extend(range(int(a), int(b) + 1) if b else [int(a)])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", default="0-29")
    ap.add_argument("--yaw-max", type=float, default=60.0)
    ap.add_argument("--profiles", default="121,286,228,100,37,109")
    ap.add_argument("--out", default=None, help="write the per-case rows as JSON")
    args = ap.parse_args()

    from skimage import data

    from facesculpt.cli import _bundled_photo
    from facesculpt.core.errors import FaceNotFoundError, FaceTooSmallError
    from facesculpt.detect import detect_faces
    from facesculpt.fitting.gates import GateConfig, face_roll_deg, upright_faces
    from facesculpt.io.image import load_image
    from facesculpt.synthetic.head import generate_head_face, head_config

    try:
        from facesculpt.detect.fallback import face_presence
    except ImportError:  # an older tree
        face_presence = None

    photos = [("grace_hopper", load_image(_bundled_photo())), ("astronaut", data.astronaut())]
    photos += [(f"head_{s:04d}", generate_head_face(s, head_config(yaw_max=args.yaw_max)).image)
               for s in _seeds(args.seeds)]
    photos += [(f"profile_{s:04d}", generate_head_face(s, head_config(yaw_max=90.0, size=384)).image)
               for s in _seeds(args.profiles)]
    gates = GateConfig()
    rows = []
    upright, n = 0, 0
    print(f"{'photo':14} {'given':>5} {'chose':>5} {'ok':>3} {'detector':26} {'s':>6}   presence k=0/1/2/3")
    for name, photo in photos:
        presence = []
        if face_presence is not None:
            for k in range(4):
                img = np.ascontiguousarray(np.rot90(photo, k))
                try:
                    f = detect_faces(img)[0]
                    ok = abs(face_roll_deg(f)) <= gates.max_roll_deg
                    presence.append(face_presence(img, tuple(float(v) for v in f.bbox)) if ok else None)
                except (FaceNotFoundError, FaceTooSmallError):
                    presence.append(None)
        for given in range(4):
            img = np.ascontiguousarray(np.rot90(photo, given))
            t = time.perf_counter()
            try:
                _, faces, k = upright_faces(img, lambda im: detect_faces(im), gates)
                det = faces[0].detector
            except (FaceNotFoundError, FaceTooSmallError):
                k, det = None, "not found"
            sec = time.perf_counter() - t
            ok = k is not None and (given + k) % 4 == 0
            upright += ok
            n += 1
            # presence of the turns as seen from this case: turn j of the given photo is turn (given + j) of the photo
            pres = [presence[(given + j) % 4] if presence else None for j in range(4)]
            rows.append(dict(photo=name, given_deg=90 * given, chose_deg=None if k is None else 90 * k, upright=ok,
                             detector=det, seconds=sec, presence=pres))
            ptxt = " / ".join("-" if p is None else f"{p:.1f}" for p in pres)
            print(f"{name:14} {90 * given:5d} {'-' if k is None else 90 * k:>5} {'yes' if ok else 'NO':>3} {det:26} "
                  f"{sec:6.2f}   {ptxt}", flush=True)
    right = [r["presence"][(-int(r["given_deg"]) // 90) % 4] for r in rows if r["given_deg"] == 0]
    wrong = [p for r in rows if r["given_deg"] == 0 for j, p in enumerate(r["presence"]) if j and p is not None]
    print(f"upright: {upright}/{n} cases")
    if presence:
        rv = [p for p in right if p is not None]
        print(f"presence of the right turn: min {min(rv):.1f} (of {len(rv)} with an upright face); "
              f"of wrong turns with an 'upright' face: max {max(wrong):.1f} (of {len(wrong)})")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump(rows, fh, indent=1)


if __name__ == "__main__":
    main()
