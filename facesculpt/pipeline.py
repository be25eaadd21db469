"""Composition of the stages: detect -> fit (landmarks, photometric) -> texture -> metrics.

Stages are plain functions over typed values; this module wires them together and is
the only place that knows their order. File work lives in ``facesculpt.io`` and the
command line; nothing here reads or writes files (except ``reconstruct`` accepting a
path for convenience, through ``facesculpt.io``).
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Optional, Union

import numpy as np
import torch

from facesculpt.config import Config, make_config
from facesculpt.core.errors import FaceSculptError
from facesculpt.detect import detect_faces
from facesculpt.fitting.initialize import initialize
from facesculpt.fitting.landmark_stage import fit_landmarks
from facesculpt.fitting.photometric_stage import fit_photometric
from facesculpt.fitting.shape_models import LandmarkMeshModel
from facesculpt.metrics.image import l1, psnr, ssim
from facesculpt.metrics.landmarks import normalised_landmark_error
from facesculpt.ops.image import crop_resize, square_box, to_tensor
from facesculpt.ops.mesh import laplacian
from facesculpt.ops.sh import AMBIENT_BASIS, fit_sh_robust
from facesculpt.render.face import render_face
from facesculpt.structures import Camera, FaceMesh, FaceParams, Landmarks, Pose, SHLighting, UVMaps
from facesculpt.texture.unwrap import unwrap, view_geometry
from facesculpt.topology import load_topology

Progress = Optional[Callable[[str, int, int], None]]

#: crop (relative to the landmark box) the photometric fit compares against
FIT_CROP_EXPAND = 1.25
#: crop the texture is unwrapped from (wider, so the whole mesh lands inside)
TEXTURE_CROP_EXPAND = 1.6
#: largest side of the texture crop (enough for a 512^2 UV map)
TEXTURE_CROP_MAX = 1024
#: largest side of the crop the in-view metrics are computed on
METRIC_CROP_MAX = 512


@dataclass
class Reconstruction:
    """One reconstructed face.

    mesh:        FaceMesh — the dense mesh (model frame, cm) that is rendered and exported.
    coarse:      (1, 468, 3) — the fitted coarse mesh.
    params:      FaceParams — pose, shape parameters, SH light, camera (full image).
    maps:        UVMaps — albedo, texture (as seen), visibility, shading.
    landmarks:   Landmarks — mediapipe detections it was fitted to.
    losses:      per-stage losses, e.g. {"landmarks": {...}, "photometric": {...}}.
    metrics:     in-view L1/PSNR/SSIM and landmark error (see ``evaluate``).
    timings:     seconds per stage.
    config:      the Config used.
    crop:        (x0, y0, side) of the square crop the metrics and overlays use.
    detail:      the detail stage's result (``facesculpt.detail``) or None.
    head:        HeadParams or None — identity, expression, gaze and corrections of the morphable
                 head (``config.face_model == "ict"``); then ``mesh`` is its face part (UV tile 0),
                 ``coarse`` the 478 embedded mediapipe points (1, 478, 3) and:
    head_verts:  (1, V, 3) the whole head in the fitted expression (cm, model frame).
    textures:    {"head": (1, S, S, 3) head/neck tile, "eye_left", "eye_right": (1, s, s, 3) eyeball
                 textures, "iris_rgb": (3,)} for the exports.
    occluded:    None, or (x0, y0, side, mask (S, S) bool): the pixels of a square photo crop that
                 ``texture.occlusion`` took for occluders (kept out of the albedo and the in-view metrics).
    vis_transfer: None, or (1, V, 9) the head's occluded SH transfer for ``mesh``'s vertices in the view
                 frame (``render.visibility``, ``texture.visibility``): the fit and the de-lighting shade
                 with it, so the in-view metrics' renders do too.
    """

    mesh: FaceMesh
    coarse: torch.Tensor
    params: FaceParams
    maps: UVMaps
    landmarks: Landmarks
    losses: dict
    metrics: dict
    timings: dict
    config: Config
    crop: tuple[float, float, float] = field(default=(0.0, 0.0, 0.0))
    detail: Optional[object] = None
    head: Optional[object] = None
    head_verts: Optional[torch.Tensor] = None
    textures: dict = field(default_factory=dict)
    occluded: Optional[tuple] = None
    vis_transfer: Optional[torch.Tensor] = None

    @property
    def model(self):
        """The FaceModel of a head reconstruction (None for the legacy mask)."""
        if self.head is None:
            return None
        from facesculpt.face_model import load_face_model

        return load_face_model()

    @property
    def fit_topology(self):
        """The face surface the stages used: the head's ``FitView`` or the legacy ``Topology``."""
        if self.head is not None:
            from facesculpt.face_model import fit_view

            return fit_view(self.model)
        return load_topology(self.config.subdivision_levels)


def _face_weights(topo) -> torch.Tensor:
    """1 for skin faces, 0 for the eye and mouth fillers (kept out of the photometric loss)."""
    return (topo.dense_face_region == 0).float()


def initial_light_and_albedo(image: torch.Tensor, dense: torch.Tensor, topo, pose: Pose, camera: Camera,
                             tex_cfg, size: int = 64, valid: Optional[torch.Tensor] = None):
    """White-balanced SH light (unit ambient per channel) fitted to the seen skin texels, and the
    albedo it implies. Colour and exposure go into the albedo; the light keeps direction and
    relative strength (the albedo/light scale ambiguity resolved this way).

    The fit assumes one albedo per channel over the skin (eye and mouth fillers left out) and
    is robust to where that fails (brows, lips, freckles: ``fit_sh_robust``); band 1 is not
    shrunk towards zero, so the directional part of the light is not traded into the ambient
    term (see docs/detail.md, "Light")."""
    from facesculpt.texture.light import seen_skin_texels

    cfg_lo, maps, n, _, w, keep = seen_skin_texels(image, dense, topo, pose, camera, tex_cfg, size, valid)
    col = maps.texture.reshape(-1, 3)
    coeffs = fit_sh_robust(n[keep].double(), col[keep].double(), w[keep].double()).float()
    dc = (coeffs[0] * AMBIENT_BASIS).clamp(min=1e-3)
    light = (coeffs / dc)[None]
    maps = unwrap(image, dense, topo.dense_faces, topo.dense_uvs, pose, camera, light, cfg_lo, valid)
    return light, maps.albedo


def _occluded_on(occluded: tuple, x0: float, y0: float, side: float, R: int) -> torch.Tensor:
    """(R, R) bool: ``Reconstruction.occluded`` (a mask over another square crop) sampled at the pixel
    centres of the crop (x0, y0, side) resized to R (nearest pixel; outside its crop: not occluded)."""
    from facesculpt.texture.occlusion import occluded_on_grid

    return occluded_on_grid(occluded, x0, y0, side / R, (R, R))


def evaluate(image: np.ndarray, rec: "Reconstruction", topo, identity: bool = True, view_bias: bool = False,
             response: str = "off") -> dict:
    """In-view metrics: the exported albedo rendered with the fitted light and camera vs the photo,
    over the rendered skin region of a square face crop; the normalised landmark error; with
    ``identity``, the identity distances of ``facesculpt.metrics.identity.identity_metrics``.
    ``view_bias``: the landmark error compares the detections with the projected points plus the
    detector's expected offset at the fitted pose (``head_landmarks.view_bias``, head model only),
    i.e. with what the fit matched; ``response`` (``head_landmarks.detector_response``): likewise plus the
    detector's measured response to the fitted head's identity and expression."""
    x0, y0, side = rec.crop
    R = int(min(METRIC_CROP_MAX, max(64, round(side))))
    target = to_tensor(crop_resize(image, x0, y0, side, R))
    cam = rec.params.camera.crop(x0, y0, R / side, (R, R))
    with torch.no_grad():
        albedo = torch.round(rec.maps.albedo.clamp(0, 1) * 255) / 255  # as exported (8-bit)
        if getattr(rec.maps, "light_ratio", None) is not None:  # the photo's per-texel light (texture.local_light)
            albedo = albedo * rec.maps.light_ratio
        rend = render_face(rec.mesh.verts, rec.mesh.faces, rec.mesh.uvs, rec.params.pose, cam,
                           albedo, rec.params.light.coeffs, background=target, occluded=rec.vis_transfer)
        skin = _face_weights(topo)[rend.frags.pix_to_face.clamp(min=0)] > 0
        mask = rend.mask & skin
        if rec.occluded is not None:  # occluder pixels are not face skin: the albedo leaves them out
            mask = mask & ~_occluded_on(rec.occluded, x0, y0, side, R).to(mask.device)[None]
        from facesculpt.texture.color import to_display

        pred = to_display(rend.image, rec.maps.linear).clamp(0, 1)
        full_cam = rec.params.camera
        coarse = rec.coarse
        if response != "off" and rec.head is not None and coarse.shape[1] == len(topo.model.landmarks["mediapipe"]):
            coarse = coarse + topo.model.detector_offsets(rec.head, response=response).to(coarse.dtype)
        uv_all = full_cam.project(rec.params.pose.apply(coarse))[0]
        emb = topo.model.landmarks["mediapipe"] if (view_bias and hasattr(topo, "model")) else None
        if emb is not None and emb.bias is not None and uv_all.shape[0] == emb.bias.shape[0]:
            from facesculpt.fitting.landmark_bias import embedding_offsets

            off = embedding_offsets(emb, rec.params.pose.matrix()[0].double(), rec.params.pose.apply(rec.coarse)[0])
            uv_all = uv_all + (off * float(rec.landmarks.size)).to(uv_all.dtype)
        uv68 = uv_all[topo.lmk68]
    lm_err = normalised_landmark_error(uv68, rec.landmarks.points[topo.lmk68, :2])
    out = {
        "inview_l1": l1(pred, target, mask),
        "inview_psnr": psnr(pred, target, mask),
        "inview_ssim": ssim(pred, target, mask),
        "inview_pixels": int(mask.sum()),
        "landmark_error_iod": lm_err,
    }
    if identity:
        from facesculpt.metrics.identity import identity_metrics

        out.update(identity_metrics(image, rec, topo))
    return out


def _crop_mask(valid: Optional[np.ndarray], x0: float, y0: float, side: float, size: int):
    """(1, size, size) bool crop of an (H, W) validity mask, or None."""
    if valid is None:
        return None
    # only the box's window of the mask (a 12 MP photo's whole mask as 3 x uint8 took ~65 ms a crop);
    # shifting the box by whole pixels leaves crop_resize's result as it was
    valid = np.asarray(valid)
    xs, ys = max(0, int(np.floor(x0))), max(0, int(np.floor(y0)))
    sub = valid[ys:max(ys, int(np.ceil(y0 + side))), xs:max(xs, int(np.ceil(x0 + side)))]
    m = crop_resize((sub > 0).astype(np.uint8) * 255, x0 - xs, y0 - ys, side, size)  # one band (PIL "L")
    return torch.from_numpy(m > 127)[None]


@dataclass(frozen=True)
class _Crop:
    """A square crop of the photo around the face: box (x0, y0, side) in photo pixels, the crop
    resized to ``size`` (image (1, size, size, 3) float), its camera and its share of a valid mask."""

    x0: float
    y0: float
    side: float
    size: int
    image: torch.Tensor
    camera: Camera
    valid: Optional[torch.Tensor]


def _face_crop(image: np.ndarray, landmarks: Landmarks, cam: Camera, expand: float, size: Optional[int],
               valid_mask: Optional[np.ndarray]) -> _Crop:
    """The crop ``expand`` x the landmark box, at ``size`` pixels (None: the texture crop's size rule,
    the box's own size clamped to [128, TEXTURE_CROP_MAX])."""
    x0, y0, side = square_box(landmarks.bbox.tolist(), expand)
    R = int(min(TEXTURE_CROP_MAX, max(128, round(side)))) if size is None else int(size)
    return _Crop(x0, y0, side, R, to_tensor(crop_resize(image, x0, y0, side, R)), cam.crop(x0, y0, R / side, (R, R)),
                 _crop_mask(valid_mask, x0, y0, side, R))


def _detail_and_metrics(image: np.ndarray, rec: "Reconstruction", surface, cfg: Config,
                        progress: Progress) -> "Reconstruction":
    """The closing stages of both surfaces: the detail stage (if enabled), then the metrics."""
    if cfg.detail.enabled:
        from facesculpt.detail import refine_detail

        t = time.perf_counter()
        rec.detail = refine_detail(image, rec, surface, cfg.detail, progress)
        rec.timings["detail"] = time.perf_counter() - t
    t = time.perf_counter()
    rec.metrics = evaluate(image, rec, surface, identity=cfg.identity_metrics,
                           view_bias=cfg.head_landmarks.view_bias, response=cfg.head_landmarks.detector_response)
    rec.timings["metrics"] = time.perf_counter() - t
    return rec


def reconstruct_face(image: np.ndarray, landmarks: Landmarks, cfg: Config, progress: Progress = None,
                     valid_mask: Optional[np.ndarray] = None) -> Reconstruction:
    """Fit one detected face of ``image`` (H, W, 3) uint8.

    ``valid_mask`` (H, W) bool, optional: False marks pixels the fit and the texture must not
    use (a known occluder, or a region hidden on purpose by the hold-out benchmark).
    """
    if cfg.face_model == "ict":
        return reconstruct_head(image, landmarks, cfg, progress, valid_mask)
    if cfg.face_model != "mediapipe468":
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"unknown face_model '{cfg.face_model}' (choose from: ict, mediapipe468)")
    torch.manual_seed(cfg.seed)
    timings: dict[str, float] = {}
    t = time.perf_counter()
    topo = load_topology(cfg.subdivision_levels)
    base, pose, cam = initialize(landmarks, topo.canonical)
    model = LandmarkMeshModel(base, laplacian(topo.faces, base.shape[0], kind="uniform"))
    pose, shape, lm_losses = fit_landmarks(landmarks, model, pose, cam, cfg.landmarks, progress)
    losses = {"landmarks": lm_losses}
    timings["landmarks"] = time.perf_counter() - t

    # the face crop the photometric fit and the metrics use
    t = time.perf_counter()
    pc = cfg.photometric
    fit = _face_crop(image, landmarks, cam, FIT_CROP_EXPAND, pc.render_size, valid_mask)
    x0, y0, side, R, target, cam_fit = fit.x0, fit.y0, fit.side, fit.size, fit.image, fit.camera
    dense = topo.densify(model.vertices(shape))
    light, albedo_init = initial_light_and_albedo(target, dense, topo, pose, cam_fit, cfg.texture,
                                                  valid=fit.valid)
    timings["light_init"] = time.perf_counter() - t
    if pc.enabled:
        t = time.perf_counter()
        lm_xy, low, extra = _photometric_inputs(target, landmarks, 468, (x0, y0, side, R), albedo_init, topo, cfg)
        pose, shape, light, _, ph_losses = fit_photometric(
            target, lm_xy, landmarks.size * R / side, model, shape, topo.densify, topo.dense_faces,
            topo.dense_uvs, _face_weights(topo), pose, cam_fit, light, low, pc, progress, extra_terms=extra,
            valid=fit.valid,
        )
        losses["photometric"] = ph_losses
        timings["photometric"] = time.perf_counter() - t

    t = time.perf_counter()
    coarse = model.vertices(shape)
    dense = topo.densify(coarse)
    tex = _face_crop(image, landmarks, cam, TEXTURE_CROP_EXPAND, None, valid_mask)
    maps = unwrap(tex.image, dense, topo.dense_faces, topo.dense_uvs, pose, tex.camera, light, cfg.texture,
                  valid=tex.valid)
    timings["texture"] = time.perf_counter() - t

    mesh = FaceMesh(dense, topo.dense_faces, topo.dense_uvs)
    params = FaceParams(pose, shape, SHLighting(light), cam)
    rec = Reconstruction(mesh, coarse, params, maps, landmarks, losses, {}, timings, cfg, (x0, y0, side))
    return _detail_and_metrics(image, rec, topo, cfg, progress)


def openings_mask(landmarks: Landmarks, image_size: tuple[int, int]) -> np.ndarray:
    """(H, W) bool, False inside the photo's mouth opening and eye openings (mediapipe's inner-lip
    and eyelid contours): teeth, tongue and eyeballs there are not skin, and the head has its own
    surfaces for them, so neither the fit nor the face texture may take those pixels."""
    from PIL import Image, ImageDraw

    topo = load_topology(0)
    H, W = image_size
    im = Image.new("L", (W, H), 1)
    draw = ImageDraw.Draw(im)
    pts = landmarks.points[:, :2].numpy()
    for loop in (topo.mouth_loop, topo.eye_left_loop, topo.eye_right_loop):
        poly = [tuple(map(float, pts[int(i)])) for i in loop]
        draw.polygon(poly, fill=0)
    return np.asarray(im, dtype=bool)


def _photometric_inputs(target, landmarks: Landmarks, n_pts: int, crop: tuple, albedo_init, topo, cfg: Config):
    """What the photometric stage starts from, on either surface: the first ``n_pts`` landmarks in the fit
    crop's pixels (1, n_pts, 2), the initial albedo at ``photometric.albedo_size`` (area-averaged), and the
    identity terms (None when ``identity`` is off). ``crop`` = (x0, y0, side, R)."""
    x0, y0, side, R = crop
    lm_xy = (landmarks.points[None, :n_pts, :2] - torch.tensor([x0, y0])) * (R / side)
    size = (cfg.photometric.albedo_size,) * 2
    low = torch.nn.functional.interpolate(albedo_init.permute(0, 3, 1, 2), size=size, mode="area").permute(0, 2, 3, 1)
    extra = None
    if cfg.identity.enabled:
        from facesculpt.identity.fitting import make_identity_terms

        extra = make_identity_terms(target, lm_xy[:, topo.lmk68], cfg.identity, topo, cfg.seed)
    return lm_xy, low, extra


def _landmark_targets(landmarks: Landmarks, model, pose, head, camera, crop: tuple, n_pts: int,
                      cfg: Config) -> torch.Tensor:
    """(1, n_pts, 2) the morphable head's photometric landmark targets in the fit crop's pixels (``crop`` = (x0, y0,
    side, R)): the detections, minus mediapipe's view-dependent offset at stage 1's ``pose`` and ``head`` when
    ``head_landmarks.view_bias`` (``regress_init.debiased_landmarks``), so the stage's landmark term compares the
    embedded points with where they should project, as stage 1 does. Shared by the single-photo stage and the
    joint stage of several photos or a clip's views (``subject.joint_photometric``)."""
    x0, y0, side, R = crop
    if cfg.head_landmarks.view_bias and model.landmarks["mediapipe"].bias is not None:
        from facesculpt.fitting.regress_init import debiased_landmarks

        landmarks = debiased_landmarks(landmarks, model, pose, head, camera, cfg.head_landmarks.detector_response)
    return (landmarks.points[None, :n_pts, :2] - torch.tensor([x0, y0])) * (R / side)


def _filler_texels(view, size: int, exempt: bool) -> Optional[torch.Tensor]:
    """(1, S, S) bool texels of the head's eye and mouth fillers (None if ``exempt`` is False: a
    user's valid mask applies to every texel)."""
    if not exempt:
        return None
    from facesculpt.texture.unwrap import uv_raster

    p2f = uv_raster(view.dense_uvs, view.dense_faces, size).frags.pix_to_face[0]
    region = view.dense_face_region[p2f.clamp(min=0)].long()
    return ((p2f >= 0) & ((region == 1) | (region == 2)))[None]


def _mask_occluders(tex: _Crop, dense, view, pose, light, landmarks: Landmarks, cfg: Config, linear: bool,
                    person: Optional[np.ndarray] = None, frags=None):
    """``tex`` with the occluder pixels (``texture.occlusion.occluder_mask``) made invalid, and
    {"fraction": share of the crop flagged, "face_fraction": share of the crop flagged inside the narrow face
    (without the outer ring, ``OcclusionConfig.outer``), "background": share of the crop the person segmentation
    took for background (with ``person``, the photo's (H, W) person probability, ``detect.person``)}. ``frags``: the
    head's rasterisation at ``tex.camera`` if made already."""
    from dataclasses import replace as dc_replace

    from facesculpt.face_model import REGION_OUTER
    from facesculpt.texture.occlusion import occluder_mask

    pts = (landmarks.points[:, :2].numpy() - np.array([tex.x0, tex.y0])) * (tex.size / tex.side)
    judge = None
    if cfg.texture.occlusion.outer:  # the outer ring judged too, against the narrow face's skin
        region = view.dense_face_region
        judge = ((region == 0) | (region == REGION_OUTER)).float()
    bg = None
    if person is not None:  # the photo's background (person segmentation, detect.person)
        bg = _crop_mask(person < cfg.texture.occlusion.background.threshold, tex.x0, tex.y0, tex.side, tex.size)
    report: dict = {}
    occ, face = occluder_mask(tex.image, dense, view.dense_faces, view.dense_uvs, pose, tex.camera, light,
                              cfg.texture.occlusion, points_xy=pts, face_weight=_face_weights(view), valid=tex.valid,
                              linear=linear, judge_weight=judge, return_face=True, background=bg,
                              eyes_uv=view.eye_uvs, report=report, frags=frags)
    valid = ~occ if tex.valid is None else tex.valid & ~occ
    info = {"fraction": float(occ.float().mean()), "face_fraction": float((occ & face).float().mean())}
    info.update(report)
    if bg is not None:
        info["background"] = float(bg.float().mean())
    return dc_replace(tex, valid=valid), info, occ


def _glasses_before_fit(image: np.ndarray, landmarks: Landmarks, cam, dense, view, pose, valid_mask, cfg: Config):
    """((H, W) bool photo pixels of the glasses frames found on the landmark stage's head, or None; the search's
    report, ``GlassesFound.info``)."""
    from facesculpt.texture.occlusion import glasses_pixels, occluded_on_grid

    tex = _face_crop(image, landmarks, cam, TEXTURE_CROP_EXPAND, None, valid_mask)
    report: dict = {}
    with torch.no_grad():
        m = glasses_pixels(tex.image, dense.detach(), view.dense_faces, view.dense_uvs, pose, tex.camera, view.eye_uvs,
                           cfg.texture.occlusion.glasses, valid=tex.valid, report=report)
    info = report.get("glasses", {"found": False})
    if not info["found"] or not bool(m.any()):
        return None, info
    H, W = image.shape[:2]
    bx0, by0 = max(0, int(np.floor(tex.x0))), max(0, int(np.floor(tex.y0)))
    bx1, by1 = min(W, int(np.ceil(tex.x0 + tex.side))), min(H, int(np.ceil(tex.y0 + tex.side)))
    out = np.zeros((H, W), bool)
    if bx1 > bx0 and by1 > by0:
        out[by0:by1, bx0:bx1] = occluded_on_grid((tex.x0, tex.y0, tex.side, m[0]), bx0, by0, 1.0,
                                                 (by1 - by0, bx1 - bx0)).numpy()
    return out, info


def _hands(image: np.ndarray, landmarks: Landmarks, cfg: Config, timings: dict):
    """((H, W) bool pixels of the hands mediapipe's hand landmarker finds, or None; {"count", "fraction"} or
    None when it did not run). A mask over more than ``texture.occlusion.max_fraction`` of the face box is
    not trusted (the face taken for a hand): none."""
    occ_cfg = cfg.texture.occlusion
    if not (occ_cfg.enabled and occ_cfg.hands.enabled):
        return None, None
    from facesculpt.detect.hands import detect_hands, hand_mask

    t = time.perf_counter()
    found = detect_hands(image, landmarks.bbox.tolist(), occ_cfg.hands)
    mask, frac = None, 0.0
    if found:
        mask = hand_mask(found, image.shape[:2], occ_cfg.hands)
        x0, y0, x1, y1 = [int(round(float(v))) for v in landmarks.bbox.tolist()]
        box = mask[max(0, y0):max(0, y1), max(0, x0):max(0, x1)]
        frac = float(box.mean()) if box.size else 0.0
        if frac > occ_cfg.max_fraction:
            mask = None
    timings["hands"] = time.perf_counter() - t
    return mask, {"count": len(found), "fraction": frac, "used": mask is not None}


def _completion_classes(view, cfg: Config):
    """The face tile's texel classes for the completion (``texture.completion``) and the local light
    (``texture.local_light``), None when both are off."""
    if not cfg.texture.completion.enabled and not cfg.texture.local_light.enabled:
        return None
    from facesculpt.texture.completion import texel_classes

    return texel_classes(view, cfg.texture.size)


def reconstruct_head(image: np.ndarray, landmarks: Landmarks, cfg: Config, progress: Progress = None,
                     valid_mask: Optional[np.ndarray] = None, fixed: Optional[tuple] = None) -> Reconstruction:
    """``reconstruct_face`` on the ICT morphable head (``cfg.face_model == "ict"``).

    The photo's mouth and eye openings are kept out of the photometric fit and the face texture
    (``openings_mask``). ``fixed`` (Pose, HeadParams): use them instead of the landmark stage (the
    video tracker's frame, ``facesculpt.track``); (Pose, HeadParams, light (1, 9, 3)): also that light
    instead of estimating one, and the head's ``offsets`` kept (the multi-photo fit, ``facesculpt.subject``)."""
    from facesculpt.face_model import fit_view, load_face_model
    from facesculpt.fitting.head_landmarks import fit_head_landmarks
    from facesculpt.fitting.head_shape import HeadShapeFit
    from facesculpt.texture.head import eye_texture, fill_head_tile, iris_colour, texel_mirror_grid

    timings: dict[str, float] = {}
    t = time.perf_counter()
    model = load_face_model()
    view = fit_view(model)
    openings = openings_mask(landmarks, image.shape[:2])
    user_mask = valid_mask
    valid_mask = openings if valid_mask is None else (np.asarray(valid_mask) > 0) & openings
    hands_px, hands_info = _hands(image, landmarks, cfg, timings)
    if hands_px is not None:  # hands are no skin: out of the photometric fit and the albedo
        valid_mask = valid_mask & ~hands_px
    person = None
    bg_cfg = cfg.texture.occlusion.background
    if cfg.texture.occlusion.enabled and cfg.texture.occlusion.outer and bg_cfg.enabled:  # background (detect.person)
        from facesculpt.detect.person import person_probability

        t_bg = time.perf_counter()
        person = person_probability(image)
        timings["person"] = time.perf_counter() - t_bg
    _, pose, cam = initialize(landmarks, view.canonical)
    if fixed is not None:  # given (video tracking, several photos): no landmark stage
        pose, head = fixed[0], fixed[1]
        lm_losses = {"given": True}
    elif cfg.regressor.enabled:  # regress, then refine (facesculpt.fitting.regress_init)
        from facesculpt.fitting.regress_init import fit_head_from_regressor

        pose, head, lm_losses = fit_head_from_regressor(landmarks, model, cam, cfg.head_landmarks, cfg.regressor,
                                                        progress, image=image)
    else:
        pose, head, lm_losses = fit_head_landmarks(landmarks, model, pose, cam, cfg.head_landmarks, progress)
    losses = {"landmarks": lm_losses}
    timings["landmarks"] = time.perf_counter() - t
    if hands_info is not None:
        losses["hands"] = hands_info

    t = time.perf_counter()
    pc = cfg.photometric
    shape_fit = HeadShapeFit(model, view, head, cfg.head_priors)
    shape = shape_fit.init_params()
    occ_cfg = cfg.texture.occlusion
    glasses_px = None
    if pc.enabled and occ_cfg.enabled and occ_cfg.glasses.enabled and occ_cfg.glasses.before_fit:
        # glasses frames on stage 1's head: out of the light fit and the photometric fit, as hands are
        glasses_px, losses["glasses_fit"] = _glasses_before_fit(image, landmarks, cam, shape_fit.render_vertices(shape),
                                                                view, pose, valid_mask, cfg)
        if glasses_px is not None:
            valid_mask = valid_mask & ~glasses_px
        timings["glasses_fit"] = time.perf_counter() - t
    fit = _face_crop(image, landmarks, cam, FIT_CROP_EXPAND, pc.render_size, valid_mask)
    x0, y0, side, R, target, cam_fit = fit.x0, fit.y0, fit.side, fit.size, fit.image, fit.camera
    linear = bool(getattr(cfg.texture, "linear_light", False))
    target_light = target
    clip_fit, clip_use = None, False
    if linear and cfg.texture.clipping.enabled:  # clipped channels as bounds, not values (texture.clipping)
        from facesculpt.texture.clipping import clipped_face_share, crop_clipped

        share = clipped_face_share(image, landmarks.points[:, :2].numpy(), cfg.texture.clipping)
        clip_use = cfg.texture.clipping.min_face_share <= share <= cfg.texture.clipping.max_face_share
        losses["clipping"] = {"face_share": share, "applied": clip_use}
        clip_fit = crop_clipped(image, x0, y0, side, R, cfg.texture.clipping) if clip_use else None
    if linear:  # shade in linear light: decode the sRGB photo (issue 12)
        from facesculpt.texture.color import srgb_to_linear

        target_light = srgb_to_linear(target)
    init_seen: dict = {}  # the initial unwrap's confidence per texel (the photometric stage's feature detail)
    if linear:
        from facesculpt.texture.light import initial_linear_light

        light, albedo_init, seen_skin = initial_linear_light(target_light, shape_fit.render_vertices(shape), view,
                                                             pose, cam_fit, cfg.texture, valid=fit.valid,
                                                             clipped=clip_fit, record=init_seen)
        if cfg.texture.skin_prior:
            from facesculpt.texture.skin_prior import anchor_light_photo

            light, albedo_init, losses["skin_prior"] = anchor_light_photo(light, albedo_init, seen_skin,
                                                                             cfg.texture.skin, image,
                                                                             landmarks.points)
    else:
        light, albedo_init = initial_light_and_albedo(target, shape_fit.render_vertices(shape), view, pose, cam_fit,
                                                      cfg.texture, valid=fit.valid)
    if fixed is not None and len(fixed) > 2:  # the light fitted jointly over several photos
        light = fixed[2]
    timings["light_init"] = time.perf_counter() - t
    vis_transfer = None
    if cfg.texture.visibility.enabled:
        t = time.perf_counter()  # the head's AO and cast shadows in the shading (render.visibility)
        from facesculpt.render.visibility import head_occluded_transfer

        vis_transfer = head_occluded_transfer(shape_fit.render_vertices(shape), view.dense_faces, pose,
                                              cfg.texture.visibility)
        timings["visibility"] = time.perf_counter() - t
    if pc.enabled:
        t = time.perf_counter()
        n_pts = int(model.landmarks["mediapipe"].faces.shape[0])
        _, low, extra = _photometric_inputs(target, landmarks, n_pts, (x0, y0, side, R), albedo_init, view, cfg)
        lm_xy = _landmark_targets(landmarks, model, pose, head, cam, (x0, y0, side, R), n_pts, cfg)
        from dataclasses import replace as dc_replace

        detail, turn = None, None
        if pc.feature_detail:  # the lips' edges held in the albedo, not drawn by the shape, on a frontal face
            from facesculpt.track import head_turn

            turn = math.degrees(math.acos(float(head_turn(pose.rotvec)[0, 2, 2].clamp(-1.0, 1.0))))
        if turn is not None and turn <= pc.feature_detail_max_turn:
            from facesculpt.fitting.photometric_stage import feature_detail

            detail = feature_detail(albedo_init, model, pc.albedo_size, max(64, pc.albedo_size * 4),
                                    pc.feature_detail_grow, pc.feature_detail_limit, pc.feature_detail_parts,
                                    seen=init_seen.get("visibility") if pc.feature_detail_seen else None)
        pose, shape, light, _, ph_losses = fit_photometric(
            target, lm_xy, landmarks.size * R / side, shape_fit, shape, None, view.dense_faces,
            view.dense_uvs, _face_weights(view), pose, cam_fit, light, low,
            dc_replace(pc, lr_pose=0.0 if pc.hold_pose_head else pc.lr_pose, w_landmark=pc.w_landmark_head,
                       lr_schedule=pc.lr_schedule_head),
            progress, extra_terms=extra,
            valid=fit.valid, linear=linear, occluded=vis_transfer,
            clipped=clip_fit if cfg.texture.clipping.photometric else None, albedo_detail=detail,
        )
        if turn is not None:
            ph_losses["feature_detail"] = {"turn_deg": turn, "applied": detail is not None}
        losses["photometric"] = ph_losses
        timings["photometric"] = time.perf_counter() - t

    t = time.perf_counter()
    head = shape_fit.head_params(shape).detach()
    if fixed is not None and len(fixed) > 2 and not pc.enabled:  # keep the joint fit's corrections
        head = fixed[1].detach()
    with torch.no_grad():
        head_verts = model.vertices(head)
        points = model.points(head_verts, "mediapipe")
        dense = view.render_verts(head_verts)
    if linear and pc.enabled and cfg.texture.light_prior.refit and not (fixed is not None and len(fixed) > 2):
        # the light fitted again on the final head, as the initial light (texture.light_prior.refit)
        from dataclasses import replace as dc_replace

        from facesculpt.texture.light import initial_linear_light

        light, albedo_re, seen_re = initial_linear_light(target_light, dense, view, pose, cam_fit, cfg.texture,
                                                         valid=fit.valid, clipped=clip_fit)
        if cfg.texture.skin_prior:
            from facesculpt.texture.skin_prior import anchor_light

            skin_cfg = cfg.texture.skin
            if cfg.texture.light_prior.refit_chroma_from_colour:
                skin_cfg = dc_replace(skin_cfg, chroma_from_colour=True)
            light, _, losses["skin_prior_refit"] = anchor_light(light, albedo_re, seen_re, skin_cfg)
    tex = _face_crop(image, landmarks, cam, TEXTURE_CROP_EXPAND, None, valid_mask)
    with torch.no_grad():  # the head seen in the texture crop: for the occluder mask and the unwrap alike
        tex_view = view_geometry(dense, view.dense_faces, view.dense_uvs, pose, tex.camera, cfg.texture.size)
    occluded = None
    if cfg.texture.occlusion.enabled:  # occluders out of the albedo (texture.occlusion)
        t_occ = time.perf_counter()
        tex, losses["occlusion"], occ = _mask_occluders(tex, dense, view, pose, light, landmarks, cfg, linear, person,
                                                        frags=tex_view.frags)
        for px in (hands_px, glasses_px):  # the record has the hands and the frames found before the fit too
            if px is not None:  # (the valid mask kept them out already)
                occ = occ | _crop_mask(px, tex.x0, tex.y0, tex.side, tex.size).to(occ.device)
                losses["occlusion"]["fraction"] = float(occ.float().mean())
        occluded = (tex.x0, tex.y0, tex.side, occ.reshape(occ.shape[-2:]).cpu())
        timings["occlusion"] = time.perf_counter() - t_occ
    if linear:
        from dataclasses import replace as dc_replace

        from facesculpt.texture.color import srgb_to_linear

        tex = dc_replace(tex, image=srgb_to_linear(tex.image))
    grid = texel_mirror_grid(view.fill, cfg.texture.size)
    # the eye and mouth fillers take the photo's eyes and mouth (the openings mask keeps those
    # pixels off the lids and lips, not off the fillers)
    clip_tex = None
    if clip_use:  # clipped channels as bounds (texture.clipping)
        from facesculpt.texture.clipping import crop_clipped

        clip_tex = crop_clipped(image, tex.x0, tex.y0, tex.side, tex.size, cfg.texture.clipping)
    maps = unwrap(tex.image, dense, view.dense_faces, view.dense_uvs, pose, tex.camera, light, cfg.texture,
                  valid=tex.valid, mirror_grid=grid,
                  valid_exempt=_filler_texels(view, cfg.texture.size, user_mask is None), occluded=vis_transfer,
                  classes=_completion_classes(view, cfg), clipped=clip_tex, geometry=tex_view)
    if linear:
        from dataclasses import replace as dc_replace

        maps = dc_replace(maps, linear=True)
    from facesculpt.face_model import PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT, PART_HEAD_NECK, PART_MOUTH_SOCKET

    head_rm = model.render_mesh((PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT))
    head_tile = fill_head_tile(model, view.rmesh, head_rm, maps.albedo, cfg.texture.size)
    iris = iris_colour(image, landmarks.points.numpy())
    from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT

    # one map per eye: the two eyeballs' UV layouts are mirror images whose front poles do not
    # meet at one texel (a shared map would put both pupils ~1 mm off centre)
    textures = {"head": head_tile, "eye_left": eye_texture(model, iris, eye=PART_EYEBALL_LEFT),
                "eye_right": eye_texture(model, iris, eye=PART_EYEBALL_RIGHT), "iris_rgb": iris}
    timings["texture"] = time.perf_counter() - t

    mesh = FaceMesh(dense, view.dense_faces, view.dense_uvs)
    params = FaceParams(pose, shape, SHLighting(light), cam)
    rec = Reconstruction(mesh, points, params, maps, landmarks, losses, {}, timings, cfg, (x0, y0, side),
                         head=head, head_verts=head_verts, textures=textures, occluded=occluded,
                         vis_transfer=vis_transfer)
    return _detail_and_metrics(image, rec, view, cfg, progress)


def reconstruct_all(
    image: Union[np.ndarray, str],
    preset: str = "default",
    config: Optional[Config] = None,
    *,
    max_faces: Optional[int] = None,
    name: str = "image",
    progress: Progress = None,
    valid_mask: Optional[np.ndarray] = None,
    box: Optional[tuple] = None,
) -> list[Reconstruction]:
    """Reconstruct up to ``max_faces`` faces (largest first) of an image: a path, a PIL image, or a numpy
    array / torch tensor in a form ``facesculpt.io.image.load_image_any`` accepts.

    Raises InvalidImageError (not an image, or a form refused), FaceNotFoundError, FaceTooSmallError,
    FitFailedError (every quality gate failed; ``facesculpt.fitting.gates``), ConfigError.

    ``valid_mask`` (H, W) bool, optional: pixels the fit may use (see ``reconstruct_face``).
    ``box`` (x0, y0, x1, y1) pixels, optional: the face's box, given instead of detecting it (one face;
    an inverted box or one outside the image raises ``InvalidBoxError``).
    """
    from facesculpt.io.image import load_image_any

    if isinstance(image, (str, bytes)) or hasattr(image, "__fspath__"):
        name = str(image)
    # every accepted form (path, PIL image, numpy/torch array) becomes (H, W, 3) uint8; anything else is
    # an InvalidImageError naming what was passed (docs/reliability.md lists the forms)
    image = load_image_any(image)
    cfg = config if config is not None else make_config(preset)
    from facesculpt.core.determinism import repeatable_fit

    with repeatable_fit(cfg.threads, cfg.repeatable):  # repeatable results (docs/reliability.md, "Determinism")
        return _reconstruct_all(image, cfg, cfg.max_faces if max_faces is None else max_faces, name, progress,
                                valid_mask, box)


def _reconstruct_all(image: np.ndarray, cfg: Config, n: int, name: str, progress: Progress,
                     valid_mask: Optional[np.ndarray], box: Optional[tuple] = None) -> list[Reconstruction]:
    torch.set_grad_enabled(True)
    t = time.perf_counter()
    from facesculpt.fitting.gates import fit_with_gates, upright_faces

    def detect_once(img):
        return detect_faces(img, max_faces=n, min_face_size=cfg.min_face_size,
                            detection_max_side=cfg.detection_max_side, name=name, box=box)

    def detect(img):
        faces = detect_once(img)
        if box is not None or cfg.face_model != "ict":
            return faces
        from facesculpt.detect.turned import with_mirrored_detection  # the mirrored photo's detection too

        return with_mirrored_detection(img, faces, detect_once, getattr(cfg, "turned", None))

    if box is not None:  # a user's box refers to the photo as given: no turning
        faces, turns = detect(image), 0
    else:  # a sideways or upside-down face is turned upright (by quarter turns) before fitting
        image, faces, turns = upright_faces(image, detect, cfg.gates, cfg.detection_max_side)
    if turns and valid_mask is not None:
        valid_mask = np.rot90(np.asarray(valid_mask), turns)
    notes = [f"the photo was turned {90 * turns} degrees counter-clockwise so the face is upright; "
             "pose, camera and overlay refer to the turned photo"] if turns else []
    t_detect = time.perf_counter() - t
    out = []
    for lmk in faces:
        rec = fit_with_gates(lambda c: reconstruct_face(image, lmk, c, progress, valid_mask), image, lmk, cfg,
                             name, notes)
        rec.metrics["input_turned_deg"] = 90 * turns
        rec.timings = {"detect": t_detect, **rec.timings}
        out.append(rec)
    return out


def reconstruct(image: Union[np.ndarray, str], preset: str = "default", config: Optional[Config] = None,
                progress: Progress = None, box: Optional[tuple] = None) -> Reconstruction:
    """Reconstruct the largest face of ``image`` ((H, W, 3) uint8 RGB array or a path), or the face in
    ``box`` (x0, y0, x1, y1) pixels.

    Raises FaceNotFoundError / FaceTooSmallError / InvalidImageError / InvalidBoxError with one-line messages.
    """
    return reconstruct_all(image, preset, config, max_faces=1, progress=progress, box=box)[0]


__all__ = ["Reconstruction", "reconstruct", "reconstruct_all", "reconstruct_face", "evaluate", "FaceSculptError"]
