"""Build ``facesculpt/assets/scan_lps.npz`` + ``scan_lps_colour.jpg`` from the Lee Perry-Smith head scan.

Source: ``../shared/lee-perry-smith/`` ("Infinite, 3D Head Scan by Lee Perry-Smith", CC BY 3.0,
based on a work at www.triplegangers.com; the three.js example copy). The package never reads
``/work/shared``; this script derives the committed asset once:

* the mesh (9,279 vertices, 17,684 triangles) is kept whole (it is already small: about 0.3 MB
  compressed; decimating it would only blur the nose and lips the benchmark's shadows come from),
  moved to the model frame's conventions (+Y up, face looking along +Z, centimetres: scaled so the
  head, the part above 55 % of the bust's height, is 15.5 cm wide across the ears, a typical adult
  head; the scan itself has no metric scale), origin at the head's bounding-box centre;
* the 1024^2 colour map is downsampled to 512^2 (area filter) and saved as a JPEG (quality 92);
* the licence and credit go to ``assets/SCAN_LPS_LICENSE`` and ``assets/SCAN_LPS.md``.

Run: ``python tools/build_scan_asset.py [--src ../shared/lee-perry-smith] [--out facesculpt/assets]``.
"""
from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import trimesh
from PIL import Image

HEAD_WIDTH_CM = 15.5


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    here = Path(__file__).resolve().parent.parent
    ap.add_argument("--src", default=str(here.parent / "shared" / "lee-perry-smith"))
    ap.add_argument("--out", default=str(here / "facesculpt" / "assets"))
    ap.add_argument("--tex", type=int, default=512, help="side of the colour map written")
    a = ap.parse_args()
    src, out = Path(a.src), Path(a.out)
    scene = trimesh.load(src / "LeePerrySmith.glb", process=False)
    (mesh,) = scene.geometry.values()
    v = np.asarray(mesh.vertices, dtype=np.float64)
    f = np.asarray(mesh.faces, dtype=np.int64)
    uv = np.asarray(mesh.visual.uv, dtype=np.float64)
    # the glTF file is already +Y up with the face along +Z (three.js's convention, ours too)
    y0, y1 = v[:, 1].min(), v[:, 1].max()
    head = v[v[:, 1] > y0 + 0.55 * (y1 - y0)]
    v = (v - 0.5 * (head.min(0) + head.max(0))) * (HEAD_WIDTH_CM / float(head[:, 0].max() - head[:, 0].min()))
    # trimesh hands these UVs over with v down; the renderer's are v up (checked by rendering the
    # scan with its colour map: the flip puts the eyes and lips where the geometry has them)
    uv = np.stack([uv[:, 0], 1.0 - uv[:, 1]], 1)
    np.savez_compressed(out / "scan_lps.npz", verts=v.astype(np.float32), faces=f.astype(np.int32),
                        uvs=uv.astype(np.float32))
    img = Image.open(src / "Map-COL.jpg").convert("RGB").resize((a.tex, a.tex), Image.Resampling.BOX)
    img.save(out / "scan_lps_colour.jpg", quality=92)
    shutil.copyfile(src / "LeePerrySmith_License.txt", out / "SCAN_LPS_LICENSE")
    print(f"wrote {out / 'scan_lps.npz'} ({len(v)} vertices, {len(f)} faces) and {out / 'scan_lps_colour.jpg'}")


if __name__ == "__main__":
    main()
