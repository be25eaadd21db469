"""Image evidence in the tracker's per-frame fit (issue 16, "no dead channels").

On frames detected by mediapipe the landmark fit explains the points' motion with the wrong channels
(docs/results.md, session 6: a blink fitted as eye-look weights). This pass compares, per frame, a
low-resolution crop of the frame with a render of the head — the clip's identity, the frame's pose and
expression, the albedo and light of the texture frame's reconstruction (``ClipAppearance``) — and refines
the expression weights (and, held back as a nuisance, the pose) by a few Gauss-Newton steps, with the
frame's landmark residual kept in the objective.

The Jacobian is assembled by hand rather than by autograd over the 53 weights (53 backward passes a
step): every compared pixel's colour depends on the screen positions of its triangle's three corners
only, so one backward pass per colour channel gives each pixel's derivative by its own corners
(``_pixel_corner_grads``), and the corners' screen positions are linear-then-projective in the weights
(``_screen_jacobian``). Pixels keep the triangle they fell in during a step (the rasteriser's face ids
are held, as in any differentiable rasteriser without antialiasing), so the evidence comes from the
texture sliding inside the face (a lid over the eye's filler, lips over the mouth's), not the outline.

The rendered surface is ``FitView``'s face part with its eye and mouth fillers (textured from the
texture frame's eyes and mouth); the region labelled ``REGION_OUTER`` (ears, hairline) is left out.
Gaze does not change this surface and is held.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from facesculpt.core.conventions import MODEL_TO_CV
from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT, REGION_OUTER, FaceModel, HeadParams, fit_view
from facesculpt.fitting.track_photometric_config import TrackPhotometricConfig
from facesculpt.ops.image import crop_resize, square_box
from facesculpt.ops.mesh import vertex_normals
from facesculpt.ops.rotations import rotvec_to_matrix, matrix_to_rotvec
from facesculpt.ops.sh import sh_shade
from facesculpt.render.rasterize import rasterize
from facesculpt.render.texture import uv_to_grid
from facesculpt.structures import Camera, Landmarks, Pose
from facesculpt.texture.color import linear_to_srgb, srgb_to_linear
from facesculpt.topology import REGION_EYE

Progress = Optional[Callable[[str, int, int], None]]


@dataclass(frozen=True)
class FrameCrop:
    """A square crop of one frame around its face: ``image`` (R, R, 3) uint8, the box (x0, y0, side) in the
    frame's pixels it was cut from."""

    image: np.ndarray
    x0: float
    y0: float
    side: float


def crop_frame(image: np.ndarray, landmarks: Landmarks, cfg: TrackPhotometricConfig) -> FrameCrop:
    """The crop of ``image`` (H, W, 3) uint8 the pass compares with (``cfg.crop_expand`` x the landmark box,
    ``cfg.crop_size`` pixels)."""
    x0, y0, side = square_box(landmarks.bbox.tolist(), cfg.crop_expand)
    return FrameCrop(np.ascontiguousarray(crop_resize(image, x0, y0, side, cfg.crop_size)), x0, y0, side)


@dataclass(frozen=True)
class ClipAppearance:
    """The subject's appearance for the renders: ``albedo`` (1, S, S, 3) of ``FitView``'s UV chart (linear
    light when ``linear``), ``light`` (1, 9, 3) SH light in the view frame (``render_face``'s convention)."""

    albedo: torch.Tensor
    light: torch.Tensor
    linear: bool
    eyes: Optional[tuple] = None


def appearance_from_reconstruction(rec, cfg: TrackPhotometricConfig) -> ClipAppearance:
    """The albedo (resized to ``cfg.albedo_size``) and light of a head ``Reconstruction``."""
    alb = rec.maps.albedo.float()
    S = int(cfg.albedo_size)
    if alb.shape[1] != S:
        alb = F.interpolate(alb.permute(0, 3, 1, 2), size=(S, S), mode="area").permute(0, 2, 3, 1)
    linear = bool(getattr(rec.maps, "linear", False))
    eyes = None
    if "eye_left" in rec.textures and "eye_right" in rec.textures:  # sRGB-coded maps (texture.head.eye_texture)
        eyes = []
        for key in ("eye_left", "eye_right"):
            e = rec.textures[key].float()
            e = F.interpolate(e.permute(0, 3, 1, 2), size=(S, S), mode="area").permute(0, 2, 3, 1)
            eyes.append((srgb_to_linear(e) if linear else e).contiguous())
        eyes = tuple(eyes)
    return ClipAppearance(alb.contiguous(), rec.params.light.coeffs.float(), linear, eyes)


def _skew(v: torch.Tensor) -> torch.Tensor:
    """(N, 3) -> (N, 3, 3) cross-product matrices."""
    z = torch.zeros_like(v[:, 0])
    x, y, w = v.unbind(-1)
    return torch.stack([z, -w, y, w, z, -x, -y, x, z], -1).reshape(-1, 3, 3)


def _projection_jacobian(Xc: torch.Tensor, f: float) -> torch.Tensor:
    """(N, 3, 3): d(screen x, screen y, depth) / d(camera point) for camera points ``Xc`` (N, 3)."""
    x, y, z = Xc.unbind(-1)
    zero = torch.zeros_like(z)
    row_u = torch.stack([f / z, zero, -f * x / z ** 2], -1)
    row_v = torch.stack([zero, f / z, -f * y / z ** 2], -1)
    row_z = torch.stack([zero, zero, torch.ones_like(z)], -1)
    return torch.stack([row_u, row_v, row_z], 1)


class FramePhotometricFit:
    """Per-clip precomputation (identity shape, the expression basis on the rendered surface and on the
    landmark points, the appearance) and the per-frame fit (``fit``)."""

    def __init__(self, model: FaceModel, identity: torch.Tensor, appearance: ClipAppearance,
                 cfg: TrackPhotometricConfig):
        self.model, self.cfg, self.app = model, cfg, appearance
        view = fit_view(model)
        self.view = view
        E = model.num_expression
        with torch.no_grad():
            head0 = HeadParams(identity.float(), torch.zeros(1, E), torch.zeros(1, 2, 2))
            shape = model.vertices(head0)
            self.D0 = view.render_verts(shape)[0]  # (Vs, 3)
            self.Bd = view.render_verts(model.expression_basis.float())  # (E, Vs, 3)
            mean, idb, exb = model.landmark_model("mediapipe")
            self.P0 = (mean + torch.einsum("k,knc->nc", identity[0].float(), idb))[:468]
            self.Bp = exb[:, :468].float()
        self.faces = view.dense_faces
        self.uvs = view.dense_uvs.float()
        self.face_keep = view.dense_face_region != REGION_OUTER
        self.tex = appearance.albedo.permute(0, 3, 1, 2).contiguous()  # (1, 3, S, S)
        self.identity = identity.float()
        self.eye_index = None
        if cfg.eyeballs and appearance.eyes is not None:
            # the eyeballs behind the lids instead of the eye fillers; one atlas: face | left eye | right eye
            region = view.dense_face_region
            keep_face = region != REGION_EYE  # the eye fillers give way to the eyeballs
            faces, keep = [self.faces[keep_face]], [self.face_keep[keep_face]]
            uvs = [self.uvs * torch.tensor([1 / 3, 1.0])]
            n0, idx = self.D0.shape[0], []
            for slot, part in ((1, PART_EYEBALL_LEFT), (2, PART_EYEBALL_RIGHT)):
                rm = model.render_mesh((part,))
                faces.append(rm.faces + n0)
                uvs.append(torch.stack([(slot + rm.uvs[:, 0].clamp(0.001, 0.999)) / 3, rm.uvs[:, 1]], -1))
                keep.append(torch.ones(rm.faces.shape[0], dtype=torch.bool))
                idx.append(rm.vert_index)
                n0 += rm.num_verts
            self.eye_index = torch.cat(idx)
            self.faces, self.uvs, self.face_keep = torch.cat(faces), torch.cat(uvs).float(), torch.cat(keep)
            self.Bd = torch.cat([self.Bd, torch.zeros(E, len(self.eye_index), 3)], 1)
            atlas = torch.cat([appearance.albedo, appearance.eyes[0], appearance.eyes[1]], 2)
            self.tex = atlas.permute(0, 3, 1, 2).contiguous()

    # ------------------------------------------------------------------ pieces
    def _colour(self, corners: torch.Tensor, ii: torch.Tensor, jj: torch.Tensor, uv_c: torch.Tensor,
                shade_c: torch.Tensor) -> torch.Tensor:
        """(K, 3) sRGB colour of K pixels (rows ``ii``, columns ``jj``) whose triangles' corners are at
        ``corners`` (K, 3, 3) (screen x, y, depth), with corner UVs (K, 3, 2) and shading (K, 3, 3)."""
        x = corners[..., 0] - (jj.to(corners.dtype) + 0.5)[:, None]
        y = corners[..., 1] - (ii.to(corners.dtype) + 0.5)[:, None]
        z = corners[..., 2]
        x0, x1, x2 = x.unbind(-1)
        y0, y1, y2 = y.unbind(-1)
        w = torch.stack([x1 * y2 - y1 * x2, x2 * y0 - y2 * x0, x0 * y1 - y0 * x1], -1)
        q = w / z
        qs = q.sum(-1, keepdim=True)
        qs = torch.where(qs == 0, torch.full_like(qs, 1e-30), qs)
        bary = q / qs
        uv = (bary[..., None] * uv_c).sum(1)
        shade = (bary[..., None] * shade_c).sum(1)
        grid = uv_to_grid(uv)[None, None]  # (1, 1, K, 2)
        alb = F.grid_sample(self.tex, grid, mode="bilinear", padding_mode="border", align_corners=False)[0, :, 0].T
        col = alb * shade
        return linear_to_srgb(col) if self.app.linear else col.clamp(0, 1)

    def _pixel_terms(self, dense: torch.Tensor, R: torch.Tensor, T: torch.Tensor, cam: Camera,
                     target: torch.Tensor, grads: bool = True):
        """Residuals (K*3,), their Jacobian by the compared pixels' corner screen coordinates
        ((K*3, 3, 3) per pixel-channel, None unless ``grads``), the pixels' triangles (K, 3), the camera points
        (Vs, 3) and the focal length, for the render of ``dense`` (Vs, 3)."""
        f = float(cam.focal[0])
        c = cam.principal[0].float()
        Xc = dense @ R.T + T
        screen = torch.cat([Xc[:, :2] / Xc[:, 2:3] * f + c, Xc[:, 2:3]], 1)
        size = cam.image_size
        p2f = rasterize(screen[None], self.faces, size, backend="cpu").pix_to_face[0]
        face = p2f.reshape(-1)
        pix = torch.nonzero((face >= 0) & self.face_keep[face.clamp(min=0)])[:, 0]
        fk = face[pix]
        ii, jj = pix // size[1], pix % size[1]
        with torch.no_grad():
            n = vertex_normals(dense[None], self.faces)[0]
            n_view = n @ (MODEL_TO_CV @ R).T  # model -> view frame (camera axes, +Y up, +Z to the camera)
            shade_v = sh_shade(F.normalize(n_view, dim=-1, eps=1e-8)[None], self.app.light)[0]
        tri = self.faces[fk]
        corners = screen[tri].detach().clone().requires_grad_(grads)
        with torch.enable_grad() if grads else torch.no_grad():
            col = self._colour(corners, ii, jj, self.uvs[tri], shade_v[tri])
            G = None
            if grads:
                g3 = [torch.autograd.grad(col[:, ch].sum(), corners, retain_graph=ch < 2)[0] for ch in range(3)]
                G = torch.stack(g3, 1).reshape(-1, 3, 3)  # (K*3, corner, coord)
        r = (col.detach() - target[ii, jj]).reshape(-1)  # (K*3,) pixel-major
        return r, G, tri, Xc, f

    def fit(self, crop: FrameCrop, camera: Camera, pose: Pose, expression: torch.Tensor,
            landmarks: Landmarks, gaze: Optional[torch.Tensor] = None) -> tuple:
        """Refine one frame: ``camera`` of the full frame, ``pose`` and ``expression`` (1, E) from the landmark
        fit, ``landmarks`` the frame's detections (with mediapipe's view offset already taken out, as the
        landmark fit sees them); ``gaze`` (1, 2, 2): the eyeballs' (held) gaze with ``eyeballs``. Returns (Pose,
        (1, E) expression, {"photo_initial", "photo_final"})."""
        cfg = self.cfg
        Rn = int(crop.image.shape[0])
        cam = camera.crop(crop.x0, crop.y0, Rn / crop.side, (Rn, Rn))
        target = torch.tensor(np.asarray(crop.image), dtype=torch.float32) / 255.0
        lm = (landmarks.points[:468, :2].float() - torch.tensor([crop.x0, crop.y0])) * (Rn / crop.side)
        lm_size = float(landmarks.size) * Rn / crop.side
        R = pose.matrix()[0].float()
        T = pose.translation[0].float()
        e = expression[0].float().clone()
        e0 = e.clone()
        E = e.shape[0]
        P = E + (6 if cfg.refine_pose else 0)
        stats = {}
        D0 = self.D0
        if self.eye_index is not None:
            g = torch.zeros(1, 2, 2) if gaze is None else gaze.float()
            with torch.no_grad():
                verts = self.model.vertices(HeadParams(self.identity, torch.zeros(1, E), g))[0]
            D0 = torch.cat([self.D0, verts[self.eye_index]])
        for it in range(max(0, cfg.iterations) + 1):
            dense = D0 + torch.einsum("e,evc->vc", e, self.Bd)
            r, G, tri, Xc, f = self._pixel_terms(dense, R, T, cam, target, grads=it < cfg.iterations)
            hub = torch.where(r.abs() <= cfg.huber, torch.ones_like(r), cfg.huber / r.abs().clamp(min=1e-12))
            n_pix = max(1, r.shape[0] // 3)
            photo = float((hub * r ** 2).sum() / n_pix)
            stats["photo_initial" if it == 0 else "photo_final"] = photo
            if it == cfg.iterations:
                break
            # corners' screen Jacobian by the parameters: (Vs, 3, P) on the vertices that are used
            used, inv = torch.unique(tri.reshape(-1), return_inverse=True)
            Jproj = _projection_jacobian(Xc[used], f)  # (U, 3, 3)
            dX = torch.einsum("ij,evj->vie", R, self.Bd[:, used])  # (U, 3, E)
            if cfg.refine_pose:
                RX = (dense[used] @ R.T)
                dX = torch.cat([dX, -_skew(RX), torch.eye(3).expand(len(used), 3, 3)], 2)
            Js = torch.einsum("uij,ujp->uip", Jproj, dX)  # (U, 3, P)
            Jc = Js[inv.reshape(-1, 3)]  # (K, 3 corners, 3, P)
            J = torch.einsum("kxcd,kcdp->kxp", G.reshape(-1, 3, 3, 3), Jc).reshape(-1, P)  # (K*3, P)
            sw = cfg.w_photo * hub / n_pix
            H = (J * sw[:, None]).T @ J
            g = J.T @ (sw * r)
            # landmarks (iris out: gaze held)
            pts = self.P0 + torch.einsum("e,enc->nc", e, self.Bp)
            Xl = pts @ R.T + T
            uv = Xl[:, :2] / Xl[:, 2:3] * f + cam.principal[0].float()
            rl = ((uv - lm) / lm_size).reshape(-1)
            Jl_proj = _projection_jacobian(Xl, f)[:, :2]  # (N, 2, 3)
            dXl = torch.einsum("ij,enj->nie", R, self.Bp)
            if cfg.refine_pose:
                dXl = torch.cat([dXl, -_skew(pts @ R.T), torch.eye(3).expand(len(pts), 3, 3)], 2)
            Jl = (torch.einsum("nij,njp->nip", Jl_proj, dXl) / lm_size).reshape(-1, P)
            hl = torch.where(rl.abs() <= 0.02, torch.ones_like(rl), 0.02 / rl.abs().clamp(min=1e-12))
            wl = cfg.w_landmark * hl / (rl.shape[0] / 2)
            H = H + (Jl * wl[:, None]).T @ Jl
            g = g + Jl.T @ (wl * rl)
            H = H.double()
            g = g.double()
            prior = cfg.w_expression_l2 + cfg.w_anchor
            H[:E, :E] += torch.eye(E, dtype=H.dtype) * prior
            g[:E] += (cfg.w_expression_l2 * e + cfg.w_anchor * (e - e0)).double()
            # projected Newton: a weight at a bound that the gradient pushes further out is held
            free = torch.ones(P, dtype=torch.bool)
            free[:E] = ~(((e <= 0) & (g[:E] > 0)) | ((e >= 1) & (g[:E] < 0)))
            Hf = H[free][:, free]
            lam = cfg.damping * float(Hf.diagonal().mean())
            step = torch.zeros(P, dtype=torch.float64)
            step[free] = -torch.linalg.solve(Hf + lam * torch.eye(Hf.shape[0], dtype=Hf.dtype), g[free])
            e = (e + step[:E].float()).clamp(0, 1)
            if cfg.refine_pose:
                dR = rotvec_to_matrix(step[E:E + 3].float()[None])[0]
                R = dR @ R
                T = T + step[E + 3:E + 6].float()
        out_pose = Pose(matrix_to_rotvec(R[None]).to(pose.rotvec.dtype), T[None].to(pose.translation.dtype))
        return out_pose, e[None], stats


def refine_track(track, crops: Sequence[Optional[FrameCrop]], landmarks: Sequence[Optional[Landmarks]],
                 model: FaceModel, appearance: ClipAppearance, fps: float, cfg, lm_cfg=None,
                 progress: Progress = None):
    """``track`` (``head_track.Track``) with every fitted frame's expression refined by ``FramePhotometricFit``
    against its crop (``crops[t]``; a frame without one keeps its landmark fit), the corrections smoothed over
    time (``correction_sigma_frames``), then the gaps filled and the clip smoothed again as ``track_landmarks``
    does. ``cfg``: the ``TrackConfig`` (its ``photometric``
    settings); ``lm_cfg``: the ``HeadLandmarkConfig`` (its ``view_bias`` says whether the detections'
    view offset is taken out, as the landmark fit did)."""
    from facesculpt.fitting.head_track import FITTED, fill_gaps, smooth_track

    pc = cfg.photometric
    fitter = FramePhotometricFit(model, track.identity, appearance, pc)
    debias = bool(lm_cfg is not None and lm_cfg.view_bias and model.landmarks["mediapipe"].bias is not None)
    T = len(track)
    ex = [None] * T
    todo = [t for t in range(T) if track.status[t] == FITTED and crops[t] is not None and landmarks[t] is not None]
    for k, t in enumerate(todo):
        pose = Pose(track.raw_rotvec[t:t + 1], track.raw_translation[t:t + 1])
        lmk = landmarks[t]
        if debias:
            from facesculpt.fitting.regress_init import debiased_landmarks

            lmk = debiased_landmarks(lmk, model, pose, HeadParams(track.identity, track.raw_expression[t:t + 1],
                                                                  track.raw_gaze[t:t + 1]),
                                     track.camera, lm_cfg.detector_response)
        _, e, _ = fitter.fit(crops[t], track.camera, pose, track.raw_expression[t:t + 1], lmk, track.raw_gaze[t:t + 1])
        ex[t] = e[0].numpy()
        if progress is not None:
            progress("photometric", k + 1, len(todo))
    fitted = [track.status[t] == FITTED for t in range(T)]
    for t in range(T):
        if fitted[t] and ex[t] is None:
            ex[t] = track.raw_expression[t].numpy()
    raw_ex = torch.from_numpy(fill_gaps(ex, fitted, cfg.max_gap)[0]).float()
    if pc.correction_sigma_frames > 0 and T > 1:  # the pass's frame-to-frame noise, not the landmark fit's motion
        from scipy.ndimage import gaussian_filter1d

        corr = (raw_ex - track.raw_expression).double().numpy()
        corr = gaussian_filter1d(corr, pc.correction_sigma_frames, axis=0, mode="nearest")
        raw_ex = (track.raw_expression + torch.from_numpy(corr).float()).clamp(0, 1)
    rot, trans, expr, gaze = smooth_track(track.raw_rotvec, track.raw_translation, raw_ex, track.raw_gaze,
                                          fps if fps and fps > 0 else 30.0, cfg)
    return dataclasses.replace(track, rotvec=rot, translation=trans, expression=expr, gaze=gaze,
                               raw_expression=raw_ex)


__all__ = ["FrameCrop", "crop_frame", "ClipAppearance", "appearance_from_reconstruction", "FramePhotometricFit",
           "refine_track", "TrackPhotometricConfig"]
