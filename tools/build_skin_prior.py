"""Build ``facesculpt/assets/skin_albedo.csv``: linear-sRGB skin albedos for the skin-colour prior.

Source: ``../shared/skin-reflectance/NIST_M38597_skin_reflectance.csv`` (NIST Reference Data Set of
Human Skin Reflectance, Cooksey, Allen, Tsai, J. Res. NIST 122:26, 2017, doi:10.18434/M38597; US
government data). Each subject's average spectrum is integrated with the CIE 1931 2-degree observer
under D65 (``colour-science``'s tables), normalised so a perfect white diffuser has Y = 1, and
converted to linear sRGB (the D65 white of sRGB, so no chromatic adaptation). The result is checked
against ``NIST_skin_linear_sRGB_D65.csv`` (made outside the project).

Darker skin than the sample (NIST has no subject of the "dark" ITA class, L* >= 43): the 10 darkest
NIST subjects are moved further along the sample's own skin-tone axis, the first principal
component of the 100 log-albedos (light-to-dark skin is mostly melanin; in log space its
absorption is one direction), in ``EXTEND_STEPS`` steps of that axis's log-units, down to L* ~ 22
(ITA well below -30). The rows are marked ``tone+t``. (A spectral melanin model, Jacques'
mu_mel ~ lambda^-3.33 through a 60 um epidermis, was tried first: it strips blue far faster than
measured dark skin shows, B/G 0.27 at L* 32 against 0.56-0.85 in the NIST sample, so it is not used.)

Run: ``python tools/build_skin_prior.py`` (needs ``colour-science``; only this script does).
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT.parent / "shared" / "skin-reflectance"
OUT = ROOT / "facesculpt" / "assets" / "skin_albedo.csv"
EXTEND_STEPS = (0.5, 1.0, 1.5, 2.0, 2.5)
N_DARKEST = 10


def read_spectra(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(wavelengths (W,), average reflectance (N, W)) of the NIST file."""
    with open(path, encoding="latin-1") as f:
        rows = list(csv.reader(f))
    head = next(i for i, r in enumerate(rows) if r and r[0].startswith("Wavelength"))
    cols = [j for j, name in enumerate(rows[head]) if name.strip() == "Average"]
    data = [r for r in rows[head + 1:] if r and r[0].strip()]
    wl = np.array([float(r[0]) for r in data])
    refl = np.array([[float(r[j]) for r in data] for j in cols])
    return wl, refl


def to_linear_srgb(wl: np.ndarray, refl: np.ndarray) -> np.ndarray:
    import colour

    cmfs = colour.MSDS_CMFS["CIE 1931 2 Degree Standard Observer"]
    grid = np.arange(360, 781, 1.0)
    xyz_bar = cmfs[grid]
    illum = colour.SDS_ILLUMINANTS["D65"][grid]
    r = np.stack([np.interp(grid, wl, s) for s in refl])
    k = 1.0 / np.sum(illum * xyz_bar[:, 1])
    XYZ = k * (r * illum) @ xyz_bar
    M = colour.models.RGB_COLOURSPACE_sRGB.matrix_XYZ_to_RGB
    return XYZ @ M.T


def lab_ita(rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    import colour

    M = colour.models.RGB_COLOURSPACE_sRGB.matrix_RGB_to_XYZ
    wp = colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"]
    lab = colour.XYZ_to_Lab(rgb @ M.T, wp)
    ita = np.degrees(np.arctan2(lab[:, 0] - 50, lab[:, 2]))
    return lab, ita


def main() -> None:
    wl, refl = read_spectra(SRC / "NIST_M38597_skin_reflectance.csv")
    rgb = to_linear_srgb(wl, refl)
    with open(SRC / "NIST_skin_linear_sRGB_D65.csv") as f:
        ref = np.array([[float(x) for x in r[1:4]] for r in csv.reader(f) if r and not r[0].startswith("#")])
    err = np.abs(rgb - ref).max()
    print(f"{len(rgb)} NIST subjects; max |ours - reference table| = {err:.4f} (linear sRGB)")
    if err > 0.01:
        raise SystemExit("conversion disagrees with the reference table by more than 0.01")
    lab, ita = lab_ita(rgb)
    rows = [("nist", *c, *l, t) for c, l, t in zip(rgb, lab, ita)]
    dark = np.argsort(lab[:, 0])[:N_DARKEST]
    logs = np.log(rgb)
    _, _, vt = np.linalg.svd(logs - logs.mean(0), full_matrices=False)
    axis = vt[0] * np.sign(vt[0].sum())  # towards lighter skin
    print(f"skin-tone axis (log R, G, B per unit): {np.round(axis, 3).tolist()}")
    for t in EXTEND_STEPS:
        e_rgb = rgb[dark] * np.exp(-t * axis)[None]
        e_lab, e_ita = lab_ita(e_rgb)
        rows += [(f"tone+{t:g}", *c, *l, i) for c, l, i in zip(e_rgb, e_lab, e_ita)]
        print(f"tone +{t:g}: L* {e_lab[:, 0].min():.1f}-{e_lab[:, 0].max():.1f}, "
              f"ITA {e_ita.min():.0f}..{e_ita.max():.0f}, G {e_rgb[:, 1].min():.3f}-{e_rgb[:, 1].max():.3f}, "
              f"B/G {np.min(e_rgb[:, 2] / e_rgb[:, 1]):.2f}")
    with open(OUT, "w", newline="") as f:
        f.write("# linear-sRGB (D65) skin albedo; tools/build_skin_prior.py from NIST doi:10.18434/M38597"
                " (+ dark-skin extension); see SKIN_ALBEDO.md\n")
        w = csv.writer(f)
        w.writerow(["source", "R_lin", "G_lin", "B_lin", "L", "a", "b", "ITA_deg"])
        for r in rows:
            w.writerow([r[0]] + [f"{x:.4f}" for x in r[1:]])
    print(f"wrote {len(rows)} rows to {OUT.relative_to(ROOT)}; NIST L* {lab[:, 0].min():.1f}-{lab[:, 0].max():.1f}")


if __name__ == "__main__":
    main()
