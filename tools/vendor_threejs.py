"""Vendor three.js (MIT) into ``facesculpt/report/vendor/`` for the offline HTML report.

    python tools/vendor_threejs.py [--version 0.147.0]

Fetches the ``three`` package from the npm registry with ``npm pack`` (the ordinary npm
client; needs ``npm`` on PATH), and copies the two classic (non-module) scripts the report
viewer needs: ``build/three.min.js`` (UMD, defines ``window.THREE``) and
``examples/js/controls/OrbitControls.js``. Classic scripts, because browsers refuse ES-module
imports from ``file://`` pages; 0.147.0 is the last release that still ships
``examples/js/`` (removed in r148). Writes the licence beside them and ``VENDOR.json`` with the
version and the tarball's and files' sha256, so the copy can be checked and regenerated.
Run by hand when upgrading; the package never fetches anything at run time.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

FILES = {
    "package/build/three.min.js": "three.min.js",
    "package/examples/js/controls/OrbitControls.js": "OrbitControls.js",
    "package/LICENSE": "THREE_LICENSE",
}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--version", default="0.147.0", help="three.js npm version (must still ship examples/js/)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "facesculpt" / "report" / "vendor"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["npm", "pack", f"three@{args.version}", "--silent"], cwd=tmp, check=True,
                       stdout=subprocess.DEVNULL)
        tgz = next(Path(tmp).glob("three-*.tgz"))
        with tarfile.open(tgz) as tf:
            for member, name in FILES.items():
                src = tf.extractfile(member)
                if src is None:
                    raise SystemExit(f"three@{args.version} has no {member} (use a version <= 0.147.0)")
                with open(out / name, "wb") as f:
                    shutil.copyfileobj(src, f)
        record = {
            "package": "three",
            "version": args.version,
            "registry": "https://registry.npmjs.org (npm pack)",
            "licence": "MIT (THREE_LICENSE)",
            "tarball_sha256": _sha256(tgz),
            "files": {name: {"from": member.removeprefix("package/"), "sha256": _sha256(out / name)}
                      for member, name in FILES.items()},
        }
    (out / "VENDOR.json").write_text(json.dumps(record, indent=2) + "\n")
    print(f"three.js {args.version} vendored into {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
