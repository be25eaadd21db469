"""`facesculpt benchmark relight`: is the albedo relightable?

Synthetic heads (``synthetic.head``: identity, albedo, pose from a seed) are rendered in *linear
light* under named SH lights (``SCENE_LIGHTS``: white, warm, cool, dim, bright, side) and encoded
to sRGB like a camera would; each photo is reconstructed, and the result is judged the way a user
relighting it would use it: the exported 8-bit ``albedo.png`` (sRGB) is decoded to linear light
and rendered under new lights (``NOVEL_LIGHTS``) on the *true* head geometry, pose and camera (so
only albedo quality is measured, not the shape fit), then compared with the truth rendered under
the same lights, over the pixels of the face part:

* ``relit_psnr`` / ``relit_ssim`` (sRGB images, face pixels), mean over the novel lights; and
  ``relit_psnr_scaled`` after one global scale of the albedo (least squares, linear light);
* ``albedo_mad_pct``: mean |albedo - true| / mean(true) over the face chart's skin texels
  (linear light), without and after one global scale (``_scaled``);
* ``two_light_mad_pct`` (per seed): the same face under two lights gives two albedos; their mean
  absolute difference after one global scale, relative to their mean, per cent (over the skin
  texels both photos saw).

The painted albedo's skin tone is set (per-channel gain) to a measured one: a NIST subject of
``assets/skin_albedo.csv`` drawn by the seed, or with ``--dark`` the mean of the table's rows of ITA
class "dark" (darker than any NIST subject), to check the skin prior does not whiten it.
The real scan (issue 12, ``--scan-poses``, default yaws 0 and 25 degrees): the Lee Perry-Smith head
(``synthetic.scan``; "Infinite, 3D Head Scan by Lee Perry-Smith", CC BY 3.0, based on a work at
www.triplegangers.com) with its own geometry and colour map, photographed under the same lights.
Its UV layout is not the model's, so there is no albedo-vs-truth row: the reconstruction (its own
mesh, pose and camera, the exported albedo) and the scan are both rendered under the novel lights
and compared over the reconstruction's narrow-face pixels where the scan is drawn
(``evaluate_scan``: relit PSNR/SSIM, and PSNR after one global albedo scale); the two-light albedo
difference is taken between the reconstructions as for the synthetic heads (``scan_rows``,
``scan_pairs``, ``summary.scan`` in results.json). Geometry differences count in these rows too.

Hair (``--hair K``, session 26): the synthetic heads' photos get hair painted over the head above a wavy hairline
2 cm below the top of the forehead (a fringe over the upper forehead; ``Subject.paint_hair``, in colour K of the
training renders' six), and each row gets ``hair_mad_pct``: the exported albedo's error on the skin texels under
the hair against the true skin there, after the global scale fitted over all the skin texels (what a user
relighting the face sees where the fringe was). The other metrics keep their definitions (over all the skin).

Shadows (issue 12): the photos and every truth and relit render shade the true head with its own
visibility (``render.visibility``: ambient occlusion in the eye sockets, beside the nose, under the
nose and chin, and the smooth cast shadows an SH light gives, e.g. the nose's under the harsh side
light); ``--no-shadows`` renders without visibility (the benchmark before issue 12's item 2).
"""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from facesculpt.ops.sh import AMBIENT_BASIS, sh_basis
from facesculpt.texture.color import linear_to_srgb, srgb_to_linear, to_display

#: (ambient, direction (x right, y up, z to camera), directional strength, colour) of the photos' lights
SCENE_LIGHTS = {
    "white": (0.9, (0.3, 0.3, 1.0), 0.45, (1.0, 1.0, 1.0)),
    "warm": (0.9, (0.3, 0.3, 1.0), 0.45, (1.25, 0.95, 0.65)),
    "cool": (0.9, (-0.3, 0.2, 1.0), 0.45, (0.75, 0.92, 1.2)),
    "dim": (0.3, (0.3, 0.3, 1.0), 0.15, (1.0, 1.0, 1.0)),
    "bright": (1.6, (0.3, 0.3, 1.0), 0.8, (1.0, 1.0, 1.0)),
    "side": (0.55, (1.0, 0.15, 0.35), 0.5, (1.0, 1.0, 1.0)),
}
#: the lights the reconstructions are relit with (never seen in a photo)
NOVEL_LIGHTS = {
    "novel_left": (0.8, (-0.6, 0.4, 1.0), 0.4, (1.0, 1.0, 1.0)),
    "novel_warm_low": (0.7, (0.5, -0.2, 1.0), 0.5, (1.1, 1.0, 0.85)),
}


def sh_light(ambient: float, direction, strength: float, colour) -> torch.Tensor:
    """(1, 9, 3) linear SH light: ``ambient`` level plus a band-1 light of ``strength`` from
    ``direction`` (view frame), tinted per channel by ``colour``."""
    a1 = float(sh_basis(torch.tensor([[0.0, 1.0, 0.0]]))[0, 1])
    d = np.asarray(direction, dtype=np.float64)
    d = d / np.linalg.norm(d)
    c = np.zeros((9, 3))
    c[0] = ambient / AMBIENT_BASIS
    c[1], c[2], c[3] = strength * d[1] / a1, strength * d[2] / a1, strength * d[0] / a1
    return torch.tensor(c * np.asarray(colour)[None], dtype=torch.float32)[None]


def dark_skin_rgb() -> np.ndarray:
    """(3,) linear mean of the skin table's "dark" ITA class rows."""
    from facesculpt.texture.skin_prior import ita_class, load_skin_table

    t = load_skin_table()
    return t.rgb[ita_class(t.ita) == 5].mean(0)


class Subject:
    """One synthetic head: true linear face albedo (1, S, S, 3), head mesh, pose and camera."""

    def __init__(self, seed: int, size: int = 512, uv_size: int = 256, dark: bool = False, shadows: bool = True):
        from facesculpt.face_model import HeadParams, load_face_model
        from facesculpt.synthetic.head import (
            IRIS_COLOURS, face_pose, head_config, head_mesh, make_head_albedo, sample_expression, sample_gaze)

        self.cfg = head_config(size=size, uv_size=uv_size, detail=False, yaw_max=30.0)
        r_shape, r_albedo, _, r_scene = (np.random.default_rng(s) for s in np.random.SeedSequence(int(seed)).spawn(4))
        model = load_face_model()
        self.model = model
        ident = r_shape.standard_normal(model.num_identity)
        sample_expression(r_shape, model.expression_names)
        sample_gaze(r_shape)
        head = HeadParams(torch.tensor(ident, dtype=torch.float32)[None], torch.zeros(1, model.num_expression),
                          torch.zeros(1, 2, 2))
        with torch.no_grad():
            self.head_verts = model.vertices(head)
        # the painted albedo is a display colour: its decode is the true (linear) reflectance
        lin = srgb_to_linear(torch.as_tensor(make_head_albedo(r_albedo, model, uv_size, self.cfg.freckles))[None])
        # the painted skin tone is hand-picked (and more saturated than any measured skin): the
        # face is recoloured per channel to a measured subject of the skin table (a NIST subject
        # drawn by the seed; with ``dark``, the mean of the table's dark ITA class)
        from facesculpt.texture.skin_prior import load_skin_table, robust_skin_mean

        table = load_skin_table()
        nist = [i for i, s in enumerate(table.source) if s == "nist"]
        tone = dark_skin_rgb() if dark else table.rgb[nist[int(r_albedo.integers(len(nist)))]]
        gain = torch.as_tensor(tone, dtype=torch.float32) / robust_skin_mean(lin, self._chart(uv_size))
        lin = (lin * gain).clamp(0, 1)
        self.albedo = lin.float()
        self.iris = IRIS_COLOURS[int(r_albedo.integers(len(IRIS_COLOURS)))]
        yaw = float(r_scene.uniform(-self.cfg.yaw_max, self.cfg.yaw_max))
        pitch, roll = (float(x) for x in r_scene.uniform(-self.cfg.yaw_max / 3, self.cfg.yaw_max / 3, 2))
        self.pose, self.camera, _ = face_pose(model, self.head_verts, yaw, pitch, roll, np.zeros(2), self.cfg)
        self.verts, self.faces, self.uvs, self.vn, self.n_face = head_mesh(model, self.head_verts, None,
                                                                        self.cfg.head_levels)
        self.skin = self._skin_texels(uv_size)
        self.occluded = None
        if shadows:  # the true head's visibility (view frame of its pose), for every render
            from facesculpt.render.visibility import VisibilityConfig, occluded_transfer_view

            self.occluded = occluded_transfer_view(self.verts, self.faces, self.vn, self.pose,
                                                   VisibilityConfig(directions=96, resolution=256))

    def _chart(self, S: int) -> torch.Tensor:
        from facesculpt.face_model import fit_view
        from facesculpt.texture.unwrap import uv_raster

        view = fit_view(self.model)
        return uv_raster(view.dense_uvs, view.dense_faces, S).inside[None].float()

    def _skin_texels(self, S: int) -> torch.Tensor:
        """(1, S, S) bool texels of the face chart's skin (eye and mouth fillers left out)."""
        from facesculpt.face_model import fit_view
        from facesculpt.texture.unwrap import uv_raster

        view = fit_view(self.model)
        p2f = uv_raster(view.dense_uvs, view.dense_faces, S).frags.pix_to_face[0]
        return ((p2f >= 0) & (view.dense_face_region[p2f.clamp(min=0)] == 0))[None]

    def render(self, face_albedo_linear: torch.Tensor, light: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """sRGB image (1, H, W, 3) of the true head with this linear face albedo under ``light``,
        and the face-part pixel mask (1, H, W)."""
        from facesculpt.render.antialias import antialias
        from facesculpt.render.face import render_face
        from facesculpt.synthetic.head import atlas

        S = self.albedo.shape[1]
        if face_albedo_linear.shape[1] != S:
            face_albedo_linear = F.interpolate(face_albedo_linear.permute(0, 3, 1, 2), size=(S, S),
                                               mode="area").permute(0, 2, 3, 1)
        # the atlas's other tiles are built from display colours: build it in sRGB, decode it
        tex = srgb_to_linear(atlas(self.model, linear_to_srgb(face_albedo_linear), self.iris))
        bg = torch.tensor(self.cfg.background).pow(2.2).expand(1, self.cfg.size, self.cfg.size, 3).contiguous()
        with torch.no_grad():
            rend = render_face(self.verts, self.faces, self.uvs, self.pose, self.camera, tex, light, background=bg,
                               normals_model=self.vn, occluded=self.occluded)
            img = antialias(rend.image, rend.frags, rend.screen, self.faces)
        p2f = rend.frags.pix_to_face
        return linear_to_srgb(img), (p2f >= 0) & (p2f < self.n_face)

    def photo(self, light: torch.Tensor, noise: float = 0.01, seed: int = 0, hair: int | None = None) -> np.ndarray:
        """(H, W, 3) uint8 sRGB photo under ``light`` with a little sensor noise; with ``hair`` (an index into
        ``training.rendered.HAIR_COLOURS``) the head's hair painted over it (``hair_pixels``)."""
        img, _ = self.render(self.albedo, light)
        img = img[0].numpy()
        if hair is not None:
            img = self.paint_hair(img, hair)
        rng = np.random.default_rng(seed)
        out = img + rng.normal(0, noise, img.shape)
        return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)

    def hair_pixels(self) -> np.ndarray:
        """(H, W) bool pixels of the head whose model-frame point lies above a wavy hairline 1.5-2.5 cm below the
        top of the forehead (mediapipe's point 10): the scalp and a fringe over the upper forehead (made once)."""
        if getattr(self, "_hair", None) is None:
            from facesculpt.render.face import project_vertices
            from facesculpt.render.interpolate import interpolate
            from facesculpt.render.rasterize import rasterize

            P = self.model.points(self.head_verts, "mediapipe")[0].double()
            with torch.no_grad():
                frags = rasterize(project_vertices(self.verts, self.pose, self.camera), self.faces,
                                  self.camera.image_size)
                xyz = interpolate(self.verts.float(), frags, self.faces)[0].numpy().astype(np.float64)
            self._on = frags.pix_to_face[0].numpy() >= 0
            line = float(P[10, 1]) - 2.0 + 0.5 * np.sin(1.7 * xyz[..., 0] + 1.0)
            self._hair = self._on & (xyz[..., 1] > line)
        return self._hair

    def paint_hair(self, img: np.ndarray, colour: int) -> np.ndarray:
        """``img`` (H, W, 3) float sRGB with ``hair_pixels`` painted in ``HAIR_COLOURS[colour]`` by the training
        renders' painter (``training.rendered.paint_hair_pixels``: shaded by the photo's brightness, with vertical
        strands; the strands' noise drawn from seed ``colour``)."""
        from facesculpt.training.rendered import HAIR_COLOURS, _smooth, paint_hair_pixels

        hair = self.hair_pixels()
        W = hair.shape[1]
        streaks = _smooth(np.random.default_rng(colour), W, max(W // 4, 2))[0]
        return paint_hair_pixels(img, hair, self._on, np.asarray(HAIR_COLOURS[colour]), streaks)

    def hair_texels(self) -> torch.Tensor:
        """(1, S, S) bool skin texels (``skin``) the painted hair covers: their true surface point, facing the
        camera, projects into ``hair_pixels``."""
        from facesculpt.face_model import fit_view
        from facesculpt.ops.image import sample_pixels
        from facesculpt.texture.unwrap import texel_geometry

        view = fit_view(self.model)
        S = self.albedo.shape[1]
        geo = texel_geometry(view.render_verts(self.head_verts), view.dense_faces, view.dense_uvs, self.pose,
                             self.camera, S)
        hair = torch.from_numpy(self.hair_pixels().astype(np.float32))[None, ..., None]
        cov = sample_pixels(hair, geo.xy)[..., 0] > 0.5
        # the view frame's normals point along +z towards the camera while the camera-frame points lie at +z:
        # a texel facing the camera has n . (p / |p|) > 0 in these two frames' numbers (checked on frontal skin)
        facing = (geo.normal_view * F.normalize(geo.pos_cam, dim=-1)).sum(-1) > 0.2
        return self.skin & cov & geo.inside & facing


class ScanSubject:
    """The Lee Perry-Smith scan (``synthetic.scan``; CC BY 3.0, credit in ``synthetic.scan.CREDIT``)
    at one pose: photos under the scene lights, truths under the novel lights, both with the scan's
    own visibility (``shadows``), in linear light encoded to sRGB."""

    def __init__(self, yaw: float, size: int = 512, shadows: bool = True):
        from facesculpt.ops.mesh import vertex_normals
        from facesculpt.synthetic.scan import load_scan, scan_view

        self.scan = load_scan()
        self.yaw = float(yaw)
        self.pose, self.camera = scan_view(yaw, size=size)
        self.size = size
        self.vn = vertex_normals(self.scan.verts, self.scan.faces)
        self.occluded = None
        if shadows:
            from facesculpt.render.visibility import VisibilityConfig, occluded_transfer_view

            self.occluded = occluded_transfer_view(self.scan.verts, self.scan.faces, self.vn, self.pose,
                                                   VisibilityConfig(directions=96, resolution=256))
        self.background = torch.tensor((0.55, 0.57, 0.6)).pow(2.2).expand(1, size, size, 3).contiguous()

    def render_linear(self, light: torch.Tensor):
        """(linear image (1, H, W, 3), covered (1, H, W) bool) of the scan under ``light``."""
        from facesculpt.render.face import render_face

        with torch.no_grad():
            r = render_face(self.scan.verts, self.scan.faces, self.scan.uvs, self.pose, self.camera,
                            self.scan.albedo, light, background=self.background, normals_model=self.vn,
                            occluded=self.occluded)
        return r.image, r.mask

    def photo(self, light: torch.Tensor, noise: float = 0.01, seed: int = 0) -> np.ndarray:
        img, _ = self.render_linear(light)
        rng = np.random.default_rng(seed)
        out = linear_to_srgb(img)[0].numpy() + rng.normal(0, noise, img.shape[1:])
        return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


def evaluate_scan(subject: ScanSubject, rec, shadows: bool = True) -> dict:
    """Relit scan metrics: the reconstruction (its own mesh, pose, camera and exported albedo, with
    its own visibility when ``shadows``) and the scan rendered under each novel light, compared over
    the face pixels (the reconstruction's narrow face skin, where the scan is also drawn): PSNR and
    SSIM of the sRGB images, and PSNR after one global scale of the albedo (least squares on the
    linear images)."""
    from facesculpt.face_model import fit_view
    from facesculpt.metrics.image import psnr, ssim
    from facesculpt.render.face import render_face

    from facesculpt.face_model import load_face_model

    view = fit_view(load_face_model())
    alb = exported_albedo(rec)
    verts, faces, uvs = rec.mesh.verts, rec.mesh.faces, rec.mesh.uvs
    occ = None
    if shadows:
        from facesculpt.render.visibility import VisibilityConfig, head_occluded_transfer

        occ = head_occluded_transfer(verts, faces, rec.params.pose, VisibilityConfig())
    preds, truths, masks = [], [], []
    for spec in NOVEL_LIGHTS.values():
        light = sh_light(*spec)
        truth, covered = subject.render_linear(light)
        with torch.no_grad():
            r = render_face(verts, faces, uvs, rec.params.pose, rec.params.camera, alb, light,
                            background=subject.background, occluded=occ)
        p2f = r.frags.pix_to_face
        region = view.dense_face_region[p2f.clamp(min=0)] == 0
        masks.append(r.mask & region & covered)
        preds.append(r.image)
        truths.append(truth)
    P, T, M = torch.cat(preds), torch.cat(truths), torch.cat(masks)
    s = global_scale(P[M], T[M]) if int(M.sum()) > 0 else float("nan")
    ps, ss, pss = [], [], []
    for k in range(P.shape[0]):
        m = M[k:k + 1]
        pi, ti = linear_to_srgb(P[k:k + 1].clamp(0, 1)), linear_to_srgb(T[k:k + 1].clamp(0, 1))
        ps.append(psnr(pi, ti, m))
        ss.append(ssim(pi, ti, m))
        pss.append(psnr(linear_to_srgb((P[k:k + 1] * s).clamp(0, 1)), ti, m))
    return {"relit_psnr": float(np.mean(ps)), "relit_ssim": float(np.mean(ss)), "relit_psnr_scaled": float(np.mean(pss)),
            "albedo_scale": s, "face_pixels": int(M[0].sum())}


def exported_albedo(rec) -> torch.Tensor:
    """(1, S, S, 3) linear albedo as a user gets it: the 8-bit albedo.png decoded."""
    q = torch.round(to_display(rec.maps.albedo, rec.maps.linear).clamp(0, 1) * 255) / 255
    return srgb_to_linear(q)


def _resize(a: torch.Tensor, S: int) -> torch.Tensor:
    if a.shape[1] == S:
        return a
    return F.interpolate(a.permute(0, 3, 1, 2), size=(S, S), mode="area").permute(0, 2, 3, 1)


def global_scale(pred: torch.Tensor, true: torch.Tensor) -> float:
    """Least-squares s minimising |s pred - true|^2 over the given values."""
    return float((pred * true).sum() / pred.pow(2).sum().clamp(min=1e-12))


def albedo_mad_pct(pred: torch.Tensor, true: torch.Tensor, mask: torch.Tensor, scaled: bool) -> float:
    """Mean |pred - true| / mean(true) over ``mask`` texels, per cent (``scaled``: one global scale first)."""
    p, t = pred[mask], true[mask]
    if scaled:
        p = p * global_scale(p, t)
    return float(100 * (p - t).abs().mean() / t.mean().clamp(min=1e-8))


def evaluate_relight(subject: Subject, rec, hair: bool = False) -> dict:
    """The per-photo metrics of the module docstring; with ``hair`` (the photo had ``Subject.paint_hair``) also
    ``hair_mad_pct``: the albedo's error on the skin texels under the hair (``Subject.hair_texels``), after the
    global scale fitted on all the skin texels, per cent of the true mean there."""
    from facesculpt.metrics.image import psnr, ssim

    S = subject.albedo.shape[1]
    pred = _resize(exported_albedo(rec), S)
    skin = subject.skin
    s = global_scale(pred[skin], subject.albedo[skin])
    out = {}
    if hair:
        under = subject.hair_texels()
        out["hair_mad_pct"] = albedo_mad_pct(pred * s, subject.albedo, under, False)
        out["hair_texels"] = int(under.sum())
    out.update({"albedo_mad_pct": albedo_mad_pct(pred, subject.albedo, skin, False),
           "albedo_mad_pct_scaled": albedo_mad_pct(pred, subject.albedo, skin, True), "albedo_scale": s,
           "albedo_skin_mean": pred[skin].mean(0).tolist(), "true_skin_mean": subject.albedo[skin].mean(0).tolist()})
    ps, ss, pss = [], [], []
    for name, spec in NOVEL_LIGHTS.items():
        light = sh_light(*spec)
        truth, mask = subject.render(subject.albedo, light)
        img, _ = subject.render(pred, light)
        img_s, _ = subject.render((pred * s).clamp(0, 1), light)
        ps.append(psnr(img, truth, mask))
        ss.append(ssim(img, truth, mask))
        pss.append(psnr(img_s, truth, mask))
    out.update(relit_psnr=float(np.mean(ps)), relit_ssim=float(np.mean(ss)), relit_psnr_scaled=float(np.mean(pss)))
    return out


def face_skin_texels(S: int) -> torch.Tensor:
    """(1, S, S) bool texels of the ICT face chart's narrow-face skin (eye and mouth fillers out)."""
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.texture.unwrap import uv_raster

    view = fit_view(load_face_model())
    p2f = uv_raster(view.dense_uvs, view.dense_faces, S).frags.pix_to_face[0]
    return ((p2f >= 0) & (view.dense_face_region[p2f.clamp(min=0)] == 0))[None]


def two_light_mad_pct(rec_a, rec_b, skin: torch.Tensor) -> float:
    """Albedo difference of one face under two lights, after one global scale, per cent."""
    S = skin.shape[1]
    a, b = _resize(exported_albedo(rec_a), S), _resize(exported_albedo(rec_b), S)
    from facesculpt.texture.clipping import seen_confidence

    # texels both photos saw, clipped or not (the clipping rule lowers a clipped texel's visibility)
    va = _resize(seen_confidence(rec_a.maps)[..., None], S)[..., 0] > 0.5
    vb = _resize(seen_confidence(rec_b.maps)[..., None], S)[..., 0] > 0.5
    m = skin & va & vb
    if int(m.sum()) < 100:
        m = skin
    pa, pb = a[m], b[m]
    pa = pa * global_scale(pa, pb)
    return float(100 * (pa - pb).abs().mean() / (0.5 * (pa + pb)).mean().clamp(min=1e-8))


def cmd_relight(args) -> int:
    from facesculpt.bench.cli import _config_or_report, _fmt
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.io.atomic import write_json
    from facesculpt.pipeline import reconstruct_all

    cfg = _config_or_report(args)
    if cfg is None:
        return 2
    lights = [x.strip() for x in args.lights.split(",") if x.strip()]
    bad = [x for x in lights if x not in SCENE_LIGHTS]
    if bad or len(lights) < 1:
        print(f"error: unknown light(s) {', '.join(bad) or '(none)'} (choose from: {', '.join(SCENE_LIGHTS)})",
              file=sys.stderr)
        return 2
    out = Path(args.output)
    rows, pairs, failures = [], [], []
    print(f"{'seed':>5} {'light':<8}{'relit dB':>9}{'scaled':>8}{'SSIM':>7}{'MAD %':>8}{'scaled':>8}{'time s':>8}")
    for i in range(args.n):
        seed = args.seed + i
        subject = Subject(seed, size=args.size, dark=args.dark, shadows=not args.no_shadows)
        recs = {}
        for light_name in lights:
            t0 = time.perf_counter()
            try:
                photo = subject.photo(sh_light(*SCENE_LIGHTS[light_name]), seed=seed, hair=args.hair)
                rec = reconstruct_all(photo, config=cfg, max_faces=1, name=f"seed{seed}_{light_name}")[0]
            except FaceSculptError as e:
                failures.append(f"seed {seed} {light_name}: {str(e).splitlines()[0]}")
                print(f"error: {failures[-1]}", file=sys.stderr)
                continue
            m = evaluate_relight(subject, rec, hair=args.hair is not None)
            m.update(seed=seed, light=light_name, seconds=time.perf_counter() - t0)
            rows.append(m)
            recs[light_name] = rec
            print(f"{seed:>5} {light_name:<8}{_fmt(m['relit_psnr']):>9}{_fmt(m['relit_psnr_scaled']):>8}"
                  f"{_fmt(m['relit_ssim'], '.3f'):>7}{_fmt(m['albedo_mad_pct'], '.1f'):>8}"
                  f"{_fmt(m['albedo_mad_pct_scaled'], '.1f'):>8}{m['seconds']:>8.1f}"
                  + (f"   under the hair {_fmt(m['hair_mad_pct'], '.1f')} % ({m['hair_texels']} texels)"
                     if "hair_mad_pct" in m else ""), flush=True)
            torch.set_grad_enabled(True)
        names = list(recs)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                d = two_light_mad_pct(recs[names[a]], recs[names[b]], subject.skin)
                pairs.append({"seed": seed, "lights": [names[a], names[b]], "mad_pct": d})
    scan_rows, scan_pairs = [], []
    yaws = [float(x) for x in args.scan_poses.split(",") if x.strip()]
    if yaws:
        print(f"scan (Lee Perry-Smith, CC BY 3.0)\n{'yaw':>5} {'light':<8}{'relit dB':>9}{'scaled':>8}{'SSIM':>7}"
              f"{'':>16}{'time s':>8}")
    for yaw in yaws:
        subject = ScanSubject(yaw, size=args.size, shadows=not args.no_shadows)
        recs = {}
        for light_name in lights:
            t0 = time.perf_counter()
            try:
                photo = subject.photo(sh_light(*SCENE_LIGHTS[light_name]), seed=int(yaw) % 1000)
                rec = reconstruct_all(photo, config=cfg, max_faces=1, name=f"scan_yaw{yaw:g}_{light_name}")[0]
            except FaceSculptError as e:
                failures.append(f"scan yaw {yaw:g} {light_name}: {str(e).splitlines()[0]}")
                print(f"error: {failures[-1]}", file=sys.stderr)
                continue
            m = evaluate_scan(subject, rec, shadows=not args.no_shadows)
            m.update(yaw=yaw, light=light_name, seconds=time.perf_counter() - t0)
            scan_rows.append(m)
            recs[light_name] = rec
            print(f"{yaw:>5g} {light_name:<8}{_fmt(m['relit_psnr']):>9}{_fmt(m['relit_psnr_scaled']):>8}"
                  f"{_fmt(m['relit_ssim'], '.3f'):>7}{'':>16}{m['seconds']:>8.1f}", flush=True)
            torch.set_grad_enabled(True)
        names = list(recs)
        skin = face_skin_texels(256)
        for a in range(len(names)):
            for b in range(a + 1, len(names)):
                d = two_light_mad_pct(recs[names[a]], recs[names[b]], skin)
                scan_pairs.append({"yaw": yaw, "lights": [names[a], names[b]], "mad_pct": d})
    keys = ("relit_psnr", "relit_psnr_scaled", "relit_ssim", "albedo_mad_pct", "albedo_mad_pct_scaled", "seconds")
    summary = {k: float(np.mean([r[k] for r in rows])) if rows else math.nan for k in keys}
    summary["per_light"] = {ln: {k: float(np.mean([r[k] for r in rows if r["light"] == ln])) for k in keys[:5]}
                            for ln in lights if any(r["light"] == ln for r in rows)}
    if args.hair is not None and rows:
        summary["hair_mad_pct"] = float(np.mean([r["hair_mad_pct"] for r in rows]))
    summary["two_light_mad_pct"] = float(np.mean([p["mad_pct"] for p in pairs])) if pairs else math.nan
    summary["two_light_mad_pct_max"] = float(np.max([p["mad_pct"] for p in pairs])) if pairs else math.nan
    sk = ("relit_psnr", "relit_psnr_scaled", "relit_ssim")
    scan_summary = {k: float(np.mean([r[k] for r in scan_rows])) if scan_rows else math.nan for k in sk}
    scan_summary["per_light"] = {ln: {k: float(np.mean([r[k] for r in scan_rows if r["light"] == ln])) for k in sk}
                                 for ln in lights if any(r["light"] == ln for r in scan_rows)}
    scan_summary["two_light_mad_pct"] = float(np.mean([p["mad_pct"] for p in scan_pairs])) if scan_pairs else math.nan
    summary["scan"] = scan_summary
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", {"summary": summary, "rows": rows, "pairs": pairs, "failures": failures,
                                      "scan_rows": scan_rows, "scan_pairs": scan_pairs,
                                      "scan_credit": "Infinite, 3D Head Scan by Lee Perry-Smith (CC BY 3.0), "
                                                     "based on a work at www.triplegangers.com",
                                      "settings": {"preset": cfg.name, "n": args.n, "seed": args.seed,
                                                   "lights": lights, "dark": bool(args.dark), "size": args.size,
                                                   "shadows": not args.no_shadows, "hair": args.hair,
                                                   "linear_light": bool(cfg.texture.linear_light)}})
    print(f"{'mean':>5} {'':<8}{_fmt(summary['relit_psnr']):>9}{_fmt(summary['relit_psnr_scaled']):>8}"
          f"{_fmt(summary['relit_ssim'], '.3f'):>7}{_fmt(summary['albedo_mad_pct'], '.1f'):>8}"
          f"{_fmt(summary['albedo_mad_pct_scaled'], '.1f'):>8}")
    if "hair_mad_pct" in summary:
        print(f"under the painted hair: albedo MAD after the global scale {_fmt(summary['hair_mad_pct'], '.1f')} %")
    print(f"same face, two lights: albedo MAD after one scale {_fmt(summary['two_light_mad_pct'], '.1f')} % "
          f"(max {_fmt(summary['two_light_mad_pct_max'], '.1f')} %)")
    if scan_rows:
        print(f"scan mean relit {_fmt(scan_summary['relit_psnr'])} dB (scaled {_fmt(scan_summary['relit_psnr_scaled'])}),"
              f" SSIM {_fmt(scan_summary['relit_ssim'], '.3f')}; two lights: albedo MAD after one scale "
              f"{_fmt(scan_summary['two_light_mad_pct'], '.1f')} %")
    print(f"results: {out / 'results.json'}" + (f"; {len(failures)} photo(s) failed" if failures else ""))
    return 1 if failures or not (rows or scan_rows) else 0


def register(bs, common) -> None:
    """Add ``benchmark relight`` to the benchmark sub-parsers ``bs``."""
    r = bs.add_parser("relight", help="synthetic heads under varied lights: relight the albedo, compare with truth")
    r.add_argument("--n", type=int, default=2, help="heads (head i uses seed + i)")
    r.add_argument("--seed", type=int, default=0, help="seed of the first head")
    r.add_argument("--lights", default=",".join(SCENE_LIGHTS),
                   help=f"comma list of photo lights (from: {', '.join(SCENE_LIGHTS)})")
    r.add_argument("--size", type=int, default=512, help="photo side, pixels")
    r.add_argument("--dark", action="store_true", help="dark skin: scale the albedo to the skin table's dark class")
    r.add_argument("--scan-poses", default="0,25",
                   help="comma list of yaws (degrees) of the Lee Perry-Smith scan's photos (empty: no scan)")
    r.add_argument("--hair", type=int, default=None, choices=range(6), metavar="K",
                   help="paint hair with a fringe over the synthetic heads' foreheads, in colour K of "
                        "training.rendered.HAIR_COLOURS (0 black, 1 dark brown, 2 brown, 3 auburn, 4 blond, 5 grey), "
                        "and report the albedo's error under it (hair_mad_pct)")
    r.add_argument("--no-shadows", action="store_true",
                   help="render photos and truth without the head's visibility (no AO, no cast shadows)")
    common(r)
    r.set_defaults(func=cmd_relight)


__all__ = ["SCENE_LIGHTS", "NOVEL_LIGHTS", "sh_light", "Subject", "evaluate_relight", "two_light_mad_pct",
           "exported_albedo", "albedo_mad_pct", "ScanSubject", "evaluate_scan", "face_skin_texels",
           "global_scale", "dark_skin_rgb", "register"]
