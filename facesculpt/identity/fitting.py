"""Identity terms of the photometric fit (GANFIT §3.3, eqs. 8-10), as an ``extra_terms`` callable.

``make_identity_terms`` embeds the photo once and returns ``terms(state) -> (loss, {name: float})``
that ``fit_photometric`` adds to its objective every step:

* ``identity``: 1 - cos between the embeddings of the in-view render's chip and the photo's
  chip (eq. 9). Both chips are cut with the *photo's* 68 landmarks by default
  (``IdentityConfig.chip_landmarks = "photo"``): render and photo are then compared in one
  fixed chip frame, pixel for pixel, which the content term needs; the alignment cannot
  drift with the mesh (a gradient through the chip transform would let the fit move the
  crop instead of the face); and the landmark term already ties the mesh to those landmarks.
  ``"mesh"`` cuts the render's chip with the current mesh's projected landmarks instead.
* ``content``: mean over ``IdentityConfig.content_layers`` of ||phi_l(render) - phi_l(photo)||^2
  / (C_l H_l W_l) (eq. 10), on the same chips.
* ``identity_random_pose``: the same mesh, albedo and light rendered from another view —
  the head turned about its centre by a random yaw (+-30 deg) and pitch (+-10 deg), the SH
  light randomly perturbed, a smooth random mouth-corner / jaw / brow offset standing in
  for an expression (we have no expression basis) — over a grey background, its chip cut
  with its projected landmarks; 1 - cos against the photo's embedding (eq. 8's identity
  term). It runs every ``random_pose_every`` steps with its weight scaled by that number.
  By default (``random_pose_texture="photo"``) the random view is not shaded with the fit's
  low-res albedo but coloured with the photo itself, projected onto the current mesh in the
  fitted view (``photo_textured_view``; badly seen vertices take their mirror partner's pixel)
  — what the texture stage will do after the fit — and (``random_pose_grad="shape"``) its
  gradient reaches only the shape: the lever the +-30 deg identity distances respond to.

For the initial and final evaluations (``step`` -1 and the last, under ``torch.no_grad``)
every term is computed, and the random view is replaced by two fixed views (yaw -30 and
+30 deg, fitted light, no expression), so the reported ``*_initial`` and ``*_final`` values
are comparable. Random draws come from a generator seeded with ``seed``.
"""
from __future__ import annotations

import math
from typing import Callable

import torch

from facesculpt.core.checks import check_float, check_shape
from facesculpt.core.errors import ConfigError
from facesculpt.identity.config import IdentityConfig
from facesculpt.identity.losses import content_loss, identity_loss
from facesculpt.identity.network import CHIP_SIZE, FEATURE_NAMES
from facesculpt.ops.mesh import vertex_normals
from facesculpt.render.face import project_vertices, render_face, to_view_frame
from facesculpt.render.interpolate import interpolate
from facesculpt.render.rasterize import rasterize
from facesculpt.structures import Camera, Pose

#: dlib places pixel centres at integer coordinates, facesculpt at +0.5 (docs/conventions.md)
DLIB_PIXEL_OFFSET = 0.5

Terms = Callable[[dict], tuple[torch.Tensor, dict[str, float]]]


def _check_config(cfg: IdentityConfig) -> list[int]:
    if cfg.chip_landmarks not in ("photo", "mesh"):
        raise ConfigError(f"identity.chip_landmarks: expected 'photo' or 'mesh', got {cfg.chip_landmarks!r}")
    if cfg.every < 1 or cfg.random_pose_every < 1 or cfg.random_views < 1:
        raise ConfigError("identity.every, identity.random_pose_every and identity.random_views must be at least 1")
    if cfg.random_pose_grad not in ("all", "shape_light", "shape", "shape_no_identity"):
        raise ConfigError(f"identity.random_pose_grad: expected 'all', 'shape_light', 'shape' or 'shape_no_identity', "
                          f"got {cfg.random_pose_grad!r}")
    if cfg.random_pose_texture not in ("fit", "photo"):
        raise ConfigError(f"identity.random_pose_texture: expected 'fit' or 'photo', got {cfg.random_pose_texture!r}")
    unknown = [n for n in cfg.content_layers if n not in FEATURE_NAMES]
    if unknown:
        raise ConfigError(f"identity.content_layers: unknown {unknown} (choose from {', '.join(FEATURE_NAMES)})")
    return [FEATURE_NAMES.index(n) for n in cfg.content_layers]


def _axis_rotation(yaw: float, pitch: float, dtype, device) -> torch.Tensor:
    """(3, 3) rotation in the OpenCV camera frame: yaw about the image's up axis (-y; a
    positive yaw turns the face towards the image's right, the subject's left), then pitch
    about +x (positive tilts the face up)."""
    cy, sy = math.cos(yaw), math.sin(yaw)
    cp, sp = math.cos(pitch), math.sin(pitch)
    # rotation by +yaw about (0, -1, 0) == rotation by -yaw about +y
    ry = torch.tensor([[cy, 0.0, -sy], [0.0, 1.0, 0.0], [sy, 0.0, cy]], dtype=dtype, device=device)
    # rotation by +pitch about (-1, 0, 0): the face (looking along -z) turns towards -y (up)
    rx = torch.tensor([[1.0, 0.0, 0.0], [0.0, cp, sp], [0.0, -sp, cp]], dtype=dtype, device=device)
    return ry @ rx


def turn_head(verts_model: torch.Tensor, pose: Pose, yaw: float, pitch: float = 0.0,
              centre_model: torch.Tensor | None = None) -> torch.Tensor:
    """Vertices (B, N, 3) moved in the model frame so that, seen through ``pose``, the head
    turns by ``yaw`` / ``pitch`` (radians, about the camera's axes) about its centre.

    The pose (and so the camera and the view-frame SH light) is unchanged: the head turns
    under a fixed light. ``centre_model`` (B, 3) defaults to the mean vertex.
    """
    R = pose.matrix().detach()                                               # (B, 3, 3)
    Q = _axis_rotation(yaw, pitch, verts_model.dtype, verts_model.device)
    M = R.transpose(1, 2) @ Q[None] @ R                                      # model-frame rotation
    c = verts_model.detach().mean(dim=1) if centre_model is None else centre_model
    c = c[:, None, :]
    return (verts_model - c) @ M.transpose(1, 2) + c


def head_turn_view(yaw: float, pitch: float = 0.0) -> torch.Tensor:
    """(3, 3) float64 rotation that ``turn_head`` gives the head, in the view frame of the SH light
    (``render.face``: the model-convention camera axes, x right, y up, z towards the viewer)."""
    from facesculpt.core.conventions import MODEL_TO_CV

    F = MODEL_TO_CV.double()
    return F @ _axis_rotation(yaw, pitch, torch.float64, None) @ F


def chip_box(landmarks68: torch.Tensor, padding: float, margin: float = 1.04) -> tuple[float, float, float]:
    """(x0, y0, side) of a square (facesculpt pixels) holding the face chip of the 68 landmarks
    (1, 68, 2) facesculpt pixels, with a small ``margin``."""
    from facesculpt.identity.align import chip_transform

    m = chip_transform(landmarks68.detach().double() - DLIB_PIXEL_OFFSET, CHIP_SIZE, padding)[0]
    s = CHIP_SIZE - 1.0
    corners = torch.tensor([[0.0, 0.0, 1.0], [s, 0.0, 1.0], [0.0, s, 1.0], [s, s, 1.0]], dtype=m.dtype)
    pts = corners @ m.T + DLIB_PIXEL_OFFSET
    lo, hi = pts.min(dim=0).values, pts.max(dim=0).values
    side = float((hi - lo).max()) * margin
    cx, cy = float(lo[0] + hi[0]) / 2, float(lo[1] + hi[1]) / 2
    return cx - side / 2, cy - side / 2, side


def expression_offsets(topo, amounts: torch.Tensor, scale_cm: float) -> torch.Tensor:
    """A smooth stand-in for an expression: (468, 3) model-frame offsets (cm) of the coarse mesh.

    amounts: (3,) in [-1, 1] — smile (mouth corners up and out), jaw (chin and lower lip
    down; only the opening direction is used), brows (up or down). Weights are Gaussian
    falloffs (and a soft below-the-mouth mask for the jaw) on the canonical face.
    """
    X = topo.canonical.to(torch.float32)
    lm = X[topo.lmk68]
    off = torch.zeros_like(X)
    smile, jaw, brow = (float(a) for a in amounts)
    for k, side in ((48, -1.0), (54, 1.0)):                                 # mouth corners
        w = torch.exp(-((X - lm[k]) ** 2).sum(-1) / (2 * 0.8 ** 2))
        off += w[:, None] * torch.tensor([0.4 * side, 1.0, 0.0]) * smile
    mouth_y = float(lm[[62, 66], 1].mean())
    below = torch.sigmoid((mouth_y - X[:, 1]) / 0.15)
    w = below * torch.exp(-((X[:, 0] - lm[8, 0]) ** 2) / (2 * 2.5 ** 2))
    off[:, 1] -= w * abs(jaw)
    for k in (19, 24):                                                      # brow centres
        w = torch.exp(-((X - lm[k]) ** 2).sum(-1) / (2 * 1.2 ** 2))
        off[:, 1] += w * brow
    return off * scale_cm


def photo_confidence(verts_model: torch.Tensor, faces: torch.Tensor, pose: Pose, camera: Camera,
                     depth_tolerance: float = 0.3, min_facing: float = 0.15, full_facing: float = 0.5
                     ) -> torch.Tensor:
    """(B, V) in [0, 1], no gradient: how well ``camera`` sees each vertex of ``verts_model``
    (B, V, 3) — 0 when it lies more than ``depth_tolerance`` cm behind the z-buffer or off the
    image, else a ramp of the cosine between its normal and the direction to the camera from
    ``min_facing`` (0) to ``full_facing`` (1), the texture stage's defaults."""
    with torch.no_grad():
        H, W = camera.image_size
        screen = project_vertices(verts_model, pose, camera)
        frags = rasterize(screen, faces, camera.image_size)
        g = (screen[..., :2] * screen.new_tensor([2.0 / W, 2.0 / H]) - 1.0)[:, None]      # (B, 1, V, 2)
        zb = torch.nn.functional.grid_sample(frags.zbuf[:, None].to(g.dtype), g, mode="nearest",
                                             padding_mode="zeros", align_corners=False)[:, 0, 0]
        seen = (screen[..., 2] <= zb + depth_tolerance) & (zb > 0)
        pts = pose.apply(verts_model)                                            # OpenCV camera frame
        to_cam = torch.nn.functional.normalize(-pts, dim=-1) * pts.new_tensor([1.0, -1.0, -1.0])  # view frame
        n = to_view_frame(vertex_normals(verts_model, faces), pose)
        facing = ((n * to_cam).sum(-1) - min_facing) / (full_facing - min_facing)
        return facing.clamp(0.0, 1.0) * seen.to(facing.dtype)


def photo_textured_view(verts_view: torch.Tensor, verts_src: torch.Tensor, faces: torch.Tensor,
                        mirror: torch.Tensor, pose: Pose, camera_src: Camera, camera_view: Camera,
                        photo: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
    """The mesh ``verts_view`` (1, V, 3) seen by ``camera_view``, coloured with the photo.

    Each surface point takes the pixel of ``photo`` (1, H, W, 3) where the same point of
    ``verts_src`` (1, V, 3) (the mesh as fitted to the photo) projects through ``pose`` and
    ``camera_src``; where the photo sees a vertex badly (``photo_confidence``) its mirror
    partner's pixel (``mirror`` (V,) long) is blended in, as the texture stage completes
    unseen texels. No re-lighting: the photo's own shading travels with the surface.
    ``background`` (1, h, w, 3) fills uncovered pixels. Returns (1, h, w, 3), differentiable
    w.r.t. both vertex sets (not through the confidence).
    """
    check_shape("verts_view", verts_view, (1, "V", 3))
    check_shape("verts_src", verts_src, (1, verts_view.shape[1], 3))
    H, W = camera_src.image_size
    check_shape("photo", photo, (1, H, W, 3))
    check_float("photo", photo)
    frags = rasterize(project_vertices(verts_view, pose, camera_view), faces, camera_view.image_size)
    src = camera_src.project(pose.apply(verts_src))                             # (1, V, 2) photo pixels
    conf = photo_confidence(verts_src, faces, pose, camera_src)[..., None].to(src.dtype)
    pix = interpolate(torch.cat([src, src[:, mirror], conf], dim=-1), frags, faces)     # (1, h, w, 5)
    grid = torch.cat([pix[..., 0:2], pix[..., 2:4]], dim=0) * src.new_tensor([2.0 / W, 2.0 / H]) - 1.0
    img = photo.permute(0, 3, 1, 2).expand(2, -1, -1, -1).to(grid.dtype)
    own, mirrored = torch.nn.functional.grid_sample(img, grid, mode="bilinear", padding_mode="border",
                                                    align_corners=False).permute(0, 2, 3, 1).split(1)
    w = pix[..., 4:5]
    return torch.where((frags.pix_to_face >= 0)[..., None], w * own + (1 - w) * mirrored, background)


def make_identity_terms(target: torch.Tensor, landmarks68_xy: torch.Tensor, cfg: IdentityConfig, topo,
                        seed: int = 0, network=None) -> Terms:
    """The identity terms for ``fit_photometric(..., extra_terms=...)``.

    target: (1, R, R, 3) float in [0, 1] — the face crop the fit compares against;
    landmarks68_xy: (1, 68, 2) — the photo's iBUG-68 landmarks in crop pixels (facesculpt
    convention, pixel centres at +0.5); cfg: IdentityConfig; topo: the Topology; seed: the
    random views' seed. ``network`` defaults to ``load_identity_network(target.device)``.

    Returns ``terms(state) -> (weighted loss (scalar tensor), {"identity": .., "content": ..,
    "identity_random_pose": ..})`` (unweighted values; a term skipped at a step is absent).
    """
    from facesculpt.identity import cut_chips, load_identity_network

    check_shape("target", target, (1, "R", "R", 3))
    check_float("target", target)
    check_shape("landmarks68_xy", landmarks68_xy, (1, 68, 2))
    layers = _check_config(cfg)
    net = network if network is not None else load_identity_network(target.device)
    lm_photo = landmarks68_xy.detach().to(target.dtype) - DLIB_PIXEL_OFFSET
    with torch.no_grad():
        chip = cut_chips(target.permute(0, 3, 1, 2), lm_photo, CHIP_SIZE, cfg.padding)
        emb_photo, feats = net.forward_features(net.normalise(chip))
    feats_photo = [f.detach() for f in feats]
    emb_photo = emb_photo.detach()
    lmk68 = topo.lmk68
    gen = torch.Generator().manual_seed(int(seed))
    eval_views = ((-math.radians(30.0), 0.0), (math.radians(30.0), 0.0))

    def embed_chip(chip: torch.Tensor, with_feats: bool):
        emb, fts = net.forward_features(net.normalise(chip))
        return emb, (fts if with_feats else None)

    def in_view(state: dict) -> tuple[torch.Tensor, torch.Tensor]:
        image = state["render"].image                                        # (1, R, R, 3)
        if cfg.chip_landmarks == "mesh":
            uv = state["camera"].project(state["pose"].apply(state["coarse"][:, lmk68]))
            lm = uv - DLIB_PIXEL_OFFSET
        else:
            lm = lm_photo
        c = cut_chips(image.permute(0, 3, 1, 2), lm, CHIP_SIZE, cfg.padding)
        emb, fts = embed_chip(c, True)
        ident = identity_loss(emb, emb_photo)[0]
        cont = content_loss(fts, feats_photo, layers)[0]
        return ident, cont

    def other_view(state: dict, yaw: float, pitch: float, light: torch.Tensor,
                   expr: torch.Tensor | None) -> torch.Tensor:
        pose: Pose = state["pose"]
        camera: Camera = state["camera"]
        coarse, dense = state["coarse"], state["dense"]
        albedo_tex = state["albedo_tex"]
        if cfg.random_pose_grad != "all":
            albedo_tex = albedo_tex.detach()
        if cfg.random_pose_grad in ("shape", "shape_no_identity"):
            light = light.detach()
            pose = Pose(pose.rotvec.detach(), pose.translation.detach())
        if cfg.random_pose_grad == "shape_no_identity" and hasattr(state.get("shape_model"), "K"):
            # the morphable head: the term reaches expression and corrections, not the identity coefficients
            sm, sp = state["shape_model"], state["shape"]
            coarse, dense = sm.both(torch.cat([sp[:, :sm.K].detach(), sp[:, sm.K:]], dim=1))
        dense_neutral = dense
        if expr is not None:
            expr = expr.to(coarse.dtype)
            n = expr.shape[0]  # offsets of the first 468 points (the head's 478 include the irises)
            coarse = torch.cat([coarse[:, :n] + expr[None], coarse[:, n:]], dim=1)
            dense = dense + topo.densify(expr[None])
        centre = coarse.detach().mean(dim=1)
        dense_t = turn_head(dense, pose, yaw, pitch, centre)
        lm_t = turn_head(coarse[:, lmk68].detach(), pose, yaw, pitch, centre)
        lm_xy = camera.project(pose.apply(lm_t)).detach()                   # (1, 68, 2) crop pixels
        bx, by, side = chip_box(lm_xy, cfg.padding)
        S = int(cfg.random_view_size)
        cam = camera.crop(bx, by, S / side, (S, S))
        bg = torch.full((1, S, S, 3), float(cfg.background), dtype=dense.dtype, device=dense.device)
        if cfg.random_pose_texture == "photo":
            image = photo_textured_view(dense_t, dense_neutral, topo.dense_faces, topo.dense_mirror, pose, camera,
                                        cam, target, bg)
        else:
            image = render_face(dense_t, topo.dense_faces, topo.dense_uvs, pose, cam, albedo_tex, light,
                                background=bg).image
        lm = (lm_xy - lm_xy.new_tensor([bx, by])) * (S / side) - DLIB_PIXEL_OFFSET
        c = cut_chips(image.permute(0, 3, 1, 2), lm.to(image.dtype), CHIP_SIZE, cfg.padding)
        emb, _ = embed_chip(c, False)
        return identity_loss(emb, emb_photo)[0]

    def random_view(state: dict) -> torch.Tensor:
        u = torch.rand(6, generator=gen, dtype=torch.float64) * 2 - 1
        yaw = float(u[0]) * math.radians(cfg.random_yaw_deg)
        pitch = float(u[1]) * math.radians(cfg.random_pitch_deg)
        light = state["light"]
        dc = light[:, 0:1].detach()
        noise = torch.randn(1, 8, 1, generator=gen, dtype=torch.float64).to(light.dtype)
        jitter = torch.cat([torch.zeros_like(dc), cfg.light_jitter * noise * dc], dim=1)
        expr = expression_offsets(topo, u[2:5], cfg.expression_cm) if cfg.expression_cm > 0 else None
        return other_view(state, yaw, pitch, light + jitter, expr)

    def terms(state: dict) -> tuple[torch.Tensor, dict[str, float]]:
        step = int(state["step"])
        evaluation = step < 0 or not torch.is_grad_enabled()
        image = state["render"].image
        total = image.new_zeros(())
        named: dict[str, float] = {}
        in_view_on = cfg.w_identity > 0 or cfg.w_content > 0
        if evaluation or (in_view_on and step % cfg.every == 0):
            ident, cont = in_view(state)
            total = total + cfg.every * (cfg.w_identity * ident + cfg.w_content * cont)
            named["identity"] = float(ident.detach())
            named["content"] = float(cont.detach())
        if cfg.w_random_pose > 0 or evaluation:
            if evaluation:
                vals = [other_view(state, y, p, state["light"], None) for y, p in eval_views]
                rp = torch.stack(vals).mean()
                total = total + cfg.w_random_pose * rp
                named["identity_random_pose"] = float(rp.detach())
            elif step % cfg.random_pose_every == 0:
                rp = torch.stack([random_view(state) for _ in range(cfg.random_views)]).mean()
                total = total + cfg.random_pose_every * cfg.w_random_pose * rp
                named["identity_random_pose"] = float(rp.detach())
        return total, named

    return terms


__all__ = ["make_identity_terms", "turn_head", "head_turn_view", "chip_box", "expression_offsets", "photo_textured_view",
           "photo_confidence", "DLIB_PIXEL_OFFSET"]
