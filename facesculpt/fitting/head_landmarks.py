"""Stage 1 on the morphable head: pose, identity, expression and gaze from the 478 mediapipe landmarks.

A projected Levenberg-Marquardt (Gauss-Newton with damping) over
``[rotation increment (3), translation / depth (3), identity (K), expression (E), gaze (2 x 2)]``:
the residuals are the perspective reprojection errors of the model's embedded landmarks
(``FaceModel.landmarks["mediapipe"]``) normalised by the face size, mediapipe's relative depth
(weak), and the priors as residuals (identity N(0, 1), a small L2 on expression and gaze, left and
right gaze together). The expression weights carry an L1 term (they are >= 0, so it is linear) and
are projected onto [0, 1] after every step: that and the identity prior keep the expression sparse
and stop it from taking over identity directions (docs/face_model.md measures the split).

Landmarks the head hides get no weight: each point's surface normal is turned by the current
pose and a point whose normal faces away from the camera (mediapipe still guesses it, on the far
cheek at large yaw) is ramped out; the weights are re-computed every iteration, as are robust
(Huber) weights against a few wildly wrong points. The Jacobian is written out by the chain rule
(the points are linear in identity and expression; ``tests/face_model`` compares it with
``torch.func.jacfwd``): ~1.6k residuals x ~160 parameters, milliseconds per iteration.

With ``view_bias`` the detections are compared with the projections plus mediapipe's measured
view-dependent offset at the current pose (``fitting.landmark_bias``, the embedding's ``bias``),
re-evaluated at the start of every iteration and held fixed within it.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Optional

import torch

from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT, FaceModel, HeadParams, gaze_matrix
from facesculpt.fitting.landmark_bias import embedding_offsets
from facesculpt.ops.rotations import rotvec_to_matrix, matrix_to_rotvec
from facesculpt.structures import Camera, Landmarks, Pose

Progress = Optional[Callable[[str, int, int], None]]

#: mediapipe's face-oval points (``FACEMESH_FACE_OVAL``)
FACE_OVAL = (10, 109, 67, 103, 54, 21, 162, 127, 234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400,
             378, 379, 365, 397, 288, 361, 323, 454, 356, 389, 251, 284, 332, 297, 338)
#: mediapipe's iris points (centre + ring), right eye then left eye
IRIS_RIGHT = tuple(range(468, 473))
IRIS_LEFT = tuple(range(473, 478))
#: mediapipe's closed contours whose points may slide along the detected curve (``slide_contours``): each eye's
#: lid margin (from the outer corner along the lower lid, back along the upper), the inner and outer lips; the eye and
#: mouth corners (``CONTOUR_CORNERS``) are point features and never slide
EYE_RIGHT_LOOP = (33, 7, 163, 144, 145, 153, 154, 155, 133, 173, 157, 158, 159, 160, 161, 246)
EYE_LEFT_LOOP = (263, 249, 390, 373, 374, 380, 381, 382, 362, 398, 384, 385, 386, 387, 388, 466)
LIPS_INNER_LOOP = (78, 95, 88, 178, 87, 14, 317, 402, 318, 324, 308, 415, 310, 311, 312, 13, 82, 81, 80, 191)
LIPS_OUTER_LOOP = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
CONTOUR_CORNERS = (33, 133, 263, 362, 78, 308, 61, 291)
#: the brows' upper and lower lines (open chains, from the outer end inwards; their ends do not slide)
BROW_CHAINS = ((70, 63, 105, 66, 107), (46, 53, 52, 65, 55), (300, 293, 334, 296, 336), (276, 283, 282, 295, 285))
SLIDE_GROUPS = {"lids": (EYE_RIGHT_LOOP, EYE_LEFT_LOOP), "lips": (LIPS_INNER_LOOP, LIPS_OUTER_LOOP),
                "brows": BROW_CHAINS}


@dataclass(frozen=True)
class HeadLandmarkConfig:
    """Stage 1 (landmarks) on the morphable head."""

    iterations: int = 16
    """Levenberg-Marquardt iterations (each one Jacobian and one linear solve)."""
    w_landmark: float = 1.0
    """Weight of the mean squared reprojection error (normalised by the face size)."""
    w_depth: float = 0.02
    """Weight of agreement with mediapipe's relative depth (after removing the mean)."""
    w_identity: float = 3e-6
    """Weight of the identity prior sum(alpha^2) (N(0, 1) coefficients)."""
    w_expression_l1: float = 5e-6
    """Weight of the L1 (sparsity) term sum(beta) on the expression weights."""
    expression_l1_motion: float = 0.0
    """Each expression weight's L1 weight times (its shape's landmark motion / the median shape's)^this, the motion
    being the RMS over mediapipe's points of the shape's x, y displacement at weight 1 (model frame; eyeWide 0.28,
    jawOpen 10 times the median). 0 (the default): one L1 weight for every shape. 1: a shape turns on when the
    landmarks' residual along its own direction passes the same threshold for every shape, so shapes that move
    few points (eyeWide, blinks) cost less and large ones (jawOpen, mouthClose) more."""
    w_expression_l2: float = 3e-6
    """Weight of sum(beta^2)."""
    w_gaze: float = 1e-5
    """Weight of sum(gaze^2) (radians). 1e-5, not the 1e-3 of the first head (session 32): against the
    iris points' share of the landmark term, 1e-3 held the gaze at about 7 % of the truth (a projected
    clip's eyes turning +-11 degrees were fitted +-0.5; rendered and detected, slope 0.06). 1e-5 keeps
    about 90 % on projected points and 77 % of the yaw on mediapipe's detections of renders (1e-6: 85 %, but
    the detector's noise with it); docs/results.md, "Session 32"."""
    w_vergence: float = 1e-2
    """Weight of |gaze_left - gaze_right|^2: the two eyes look the same way."""
    w_iris: float = 1.0
    """Relative weight of the 10 iris points (they alone fix the gaze)."""
    w_oval: float = 1.0
    """Relative weight of mediapipe's 36 face-oval points (forehead, temples, jaw line): mediapipe
    puts the side ones on the visible silhouette, which slides over the surface as the head turns,
    so they are not fixed surface points."""
    huber: float = 0.03
    """Huber threshold of the per-point reprojection error, as a fraction of the face size."""
    hidden_cos: tuple = (-0.05, 0.25)
    """A landmark's weight ramps from 0 to 1 as the cosine between its normal and the direction to
    the camera goes over this range (hidden points at large yaw drop out)."""
    expression_first: int = 4
    """Schedule: the first this many iterations fit pose, expression and gaze with the identity
    held at its start; without it, identity modes take over an open jaw or a smile in the first
    joint step (the identity and expression directions overlap) and the weights stay at 0."""
    active_set: str = "step"
    """How expression weights at a bound of [0, 1] are held in a step: "step" (held when the
    solved step would take them out, then solved again; the still photo's rule) or "gradient"
    (held when the gradient pushes them out, the rest solved once and projected: projected Newton
    after Bertsekas; the video tracker's rule, since with "step" a weight at 0 whose step comes out
    negative through its correlation with others, e.g. eyeLookIn_L with eyeSquint_L, is never freed)."""
    point_sigma: str = "view"
    """How the points' measured spreads (the embedding's ``sigma``, measured on renders of the
    model by ``tools/register_landmarks_renders.py``: ``sigma^2 = s0^2 + s1^2 (1 - cos)^2``, cos =
    the point's normal against the direction to the camera) weight them: "view" (a point's weight
    falls as its spread grows with the viewing angle, ``s0^2 / sigma^2``, so outline points that
    slide along the silhouette of a turned head weigh less, while frontal points keep weight 1),
    "inverse" (``s_med / sigma``, s_med the median s0, capped at ``sigma_max_weight``),
    "inverse2" (``(s_med / sigma)^2``, capped) or "off" (every point 1; also when the embedding has
    no sigmas). Measured in docs/results.md (issue 10/11/14)."""
    sigma_max_weight: float = 4.0
    """Upper bound of a point's reliability weight under "inverse"/"inverse2" (relative to a median point)."""
    view_bias: bool = True
    """Add each point's measured view-dependent detector offset (the embedding's ``bias``, measured
    on renders of the model by ``tools/measure_landmark_bias.py``) at the current pose to its
    projection, i.e. compare the detections with where mediapipe puts that point at this view rather
    than with the bare projection of a fixed surface point. Re-evaluated every iteration; no effect
    when the embedding has no bias. Measured in docs/results.md (issues 10/11/14/16, view-dependent
    landmark bias)."""
    detector_response: str = "off"
    """Explain the detections with where mediapipe puts its points rather than with fixed surface
    points: "expression" adds the embedding's measured response to expression (mediapipe moves its
    points by a fraction of what the surface moves, differently per channel; measured on renders of
    the model by ``tools/measure_landmark_response.py``) to the landmark model's expression basis,
    "both" also its response to identity, "off" neither. Off: on rendered photos neither lowered the
    shape error, and on rendered clips "expression" revived a few channels but raised the expression
    MAE and the still jitter past their targets (docs/results.md, "The detector's response", session 10).
    The video tracker follows this setting too."""
    slide_contours: str = "lids,lips"
    """Contour points whose error along the detected contour counts ``slide_weight`` times as much as across it: a
    comma list of "lids" (the 32 eyelid-margin points), "lips" (the 40 inner and outer lip-contour points), "brows"
    (the 12 inner points of the brows' upper and lower lines); "off": every point a fixed surface point. The detector
    spaces its lid and lip points evenly along the curve it sees, while the model's points are fixed on the surface
    and slide along it as the lid closes (a blink moves point 374 0.31 cm towards the nose), so the error along the
    curve says little about the expression. The corners stay point features. Each contour point's 2D error is split
    on the detected contour's tangent (from its two neighbours). "lids,lips" since session 36: 36 -> 34 of the
    rendered channels clip's channels below 0.8, a lower expression MAE on every motion clip, the still photo's
    benchmarks level (docs/results.md, "Session 36"); "brows" cost the clips' identity."""
    slide_weight: float = 0.2
    """Weight of the along-contour part of a sliding contour point's error (1: as a fixed point, 0: free to slide);
    its square multiplies that part's squared error."""
    fit_identity: bool = True
    """Fit the identity coefficients (False: the mean head)."""
    fit_expression: bool = True
    """Fit the expression weights (False: neutral)."""


def _smoothstep(x, a, b):
    t = ((x - a) / (b - a)).clamp(0, 1)
    return t * t * (3 - 2 * t)


_CONSTANTS: "weakref.WeakKeyDictionary[FaceModel, tuple]" = weakref.WeakKeyDictionary()


def _model_constants(model: FaceModel) -> tuple[torch.Tensor, torch.Tensor]:
    """(eye_cb (K, 2, 3) float64: each eyeball centre's motion per identity mode (the mean of its vertices' modes),
    template normals (N, 3) float64 of the mediapipe embedding's triangles): the same for every fit with
    ``model``, made once (weakly cached by the model; 1.6 + about 1 ms a fit before)."""
    hit = _CONSTANTS.get(model)
    if hit is None:
        dt = torch.float64
        eye_cb = []
        for part in (PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT):
            idx = torch.nonzero(model.vert_part == part)[:, 0]
            eye_cb.append(model.identity_basis[:, idx].to(dt).mean(1))
        hit = (torch.stack(eye_cb, 1), _landmark_normals(model, model.template.to(dt)))
        _CONSTANTS[model] = hit
    return hit


def _landmark_normals(model: FaceModel, verts: torch.Tensor) -> torch.Tensor:
    """(N, 3) unit normals of the mediapipe embedding's triangles on ``verts`` (V, 3)."""
    emb = model.landmarks["mediapipe"]
    tri = verts[model.faces[emb.faces]]
    n = torch.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0], dim=-1)
    return torch.nn.functional.normalize(n, dim=-1)


def slide_groups(contours: str) -> tuple:
    """The contour groups named by ``HeadLandmarkConfig.slide_contours`` ("off" or "": none; else a comma list of
    lids, lips, brows); a ConfigError for any other name."""
    names = tuple(g.strip() for g in str(contours).split(",") if g.strip())
    if names in ((), ("off",)):
        return ()
    bad = [g for g in names if g not in SLIDE_GROUPS]
    if bad:
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"head_landmarks.slide_contours must be 'off' or a comma list of {', '.join(SLIDE_GROUPS)}; "
                          f"got {contours!r}")
    return names


@lru_cache(maxsize=None)
def _sliding_points(groups: tuple) -> tuple:
    """(ids, previous, next) index tensors of the sliding points of ``groups`` and their neighbours on their contour
    (corners and the brows' ends excluded)."""
    corners = set(CONTOUR_CORNERS)
    ids, prev, nxt = [], [], []
    for loop in (c for g in groups for c in SLIDE_GROUPS[g]):
        closed = loop not in BROW_CHAINS
        n = len(loop)
        for j, i in enumerate(loop):
            if i in corners or (not closed and j in (0, n - 1)):
                continue
            ids.append(i)
            prev.append(loop[(j - 1) % n])
            nxt.append(loop[(j + 1) % n])
    return torch.tensor(ids), torch.tensor(prev), torch.tensor(nxt)


def contour_frames(points: torch.Tensor, contours: str, slide_weight: float) -> Optional[torch.Tensor]:
    """(N, 2, 2) per-point residual transforms for ``points`` (N, 2) detections: the identity for every point but
    the sliding contours' (``HeadLandmarkConfig.slide_contours``), whose rows are the detected curve's normal and
    ``slide_weight`` x its tangent (from the neighbours on the contour). None when ``contours`` is "off"."""
    groups = slide_groups(contours)
    if not groups:
        return None
    ids, prev, nxt = _sliding_points(groups)
    tang = points[nxt] - points[prev]
    tang = tang / tang.norm(dim=-1, keepdim=True).clamp(min=1e-9)
    nrm = torch.stack([-tang[:, 1], tang[:, 0]], -1)
    M = torch.eye(2, dtype=points.dtype).repeat(points.shape[0], 1, 1)
    M[ids] = torch.stack([nrm, float(slide_weight) * tang], 1)
    return M


def fit_head_landmarks(landmarks: Landmarks, model: FaceModel, pose: Pose, camera: Camera,
                       cfg: HeadLandmarkConfig, progress: Progress = None, init: Optional[HeadParams] = None,
                       _jacobian_check: Optional[list] = None, identity_prior: Optional[torch.Tensor] = None,
                       identity_prior_scale: float = 1.0):
    """Fit pose and head parameters to ``landmarks`` (478 mediapipe points, pixels) seen by ``camera``.

    pose: the initial rigid pose (e.g. from ``initialize``). Returns (pose, HeadParams, losses)
    with losses {"landmark_initial", "landmark_final", "depth_final", "visible_landmarks",
    "iterations"} (landmark terms: mean squared error / face size^2 over the weighted points).
    ``init``: starting HeadParams (default zeros). ``identity_prior``: (1, K) the mean of the identity's prior
    (default zeros: N(0, 1)), with ``identity_prior_scale`` times ``cfg.w_identity`` as its weight (the regressor's
    start refined by the photo's embedding, ``fitting.regress_init``). ``_jacobian_check`` (tests): a list that gets,
    per iteration, the largest difference between the written-out Jacobian and ``torch.func.jacfwd``.
    """
    if cfg.active_set not in ("step", "gradient"):
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"head_landmarks.active_set must be 'step' or 'gradient', got {cfg.active_set!r}")
    dt = torch.float64
    mean, idb, exb = (x.to(dt) for x in model.landmark_model("mediapipe", response=cfg.detector_response))
    N = mean.shape[0]
    K, E = idb.shape[0], exb.shape[0]
    # eyeball centres as a linear function of identity: template centre + mean identity shift
    eye_c0 = model.eye_centres.to(dt)
    eye_cb, template_normals = _model_constants(model)  # (K, 2, 3), (N, 3)
    iris = (torch.tensor(IRIS_LEFT), torch.tensor(IRIS_RIGHT))

    target_raw = landmarks.points[:N, :2].to(dt)
    target = target_raw
    zt = landmarks.points[:N, 2].to(dt)
    zt = zt - zt.mean()
    scale = float(landmarks.size)
    f = camera.focal.to(dt)[0]
    c = camera.principal.to(dt)[0]
    R0 = pose.matrix()[0].to(dt)
    depth0 = float(pose.translation[0, 2])
    t0 = pose.translation[0].to(dt) / depth0
    p0 = init if init is not None else model.zero_params(1, dt)
    a_prior = torch.zeros(K, dtype=dt) if identity_prior is None else identity_prior.reshape(-1).to(dt)
    w_id = cfg.w_identity * float(identity_prior_scale)
    n_pose = 6
    n_all = n_pose + K + E + 4
    theta = torch.zeros(n_all, dtype=dt)
    theta[3:6] = t0
    theta[n_pose:n_pose + K] = p0.identity[0].to(dt)
    theta[n_pose + K:n_pose + K + E] = p0.expression[0].to(dt)
    theta[n_pose + K + E:] = p0.gaze[0].reshape(-1).to(dt)
    free = torch.ones(n_all, dtype=torch.bool)
    if not cfg.fit_identity:
        free[n_pose:n_pose + K] = False
    if not cfg.fit_expression:
        free[n_pose + K:n_pose + K + E] = False
    ex_sl = slice(n_pose + K, n_pose + K + E)
    pt_w = torch.ones(N, dtype=dt)
    pt_w[list(IRIS_LEFT + IRIS_RIGHT)] = cfg.w_iris
    pt_w[list(FACE_OVAL)] = cfg.w_oval
    sig = model.landmarks["mediapipe"].sigma
    if cfg.point_sigma not in ("view", "inverse", "inverse2", "off"):
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"head_landmarks.point_sigma must be view, inverse, inverse2 or off, got {cfg.point_sigma!r}")
    sig = sig.to(dt)[:N] if (cfg.point_sigma != "off" and sig is not None) else None
    frames = contour_frames(target_raw, cfg.slide_contours, cfg.slide_weight)

    def split(d):
        """(N, 2) image-plane errors in the contour frames (along the normal, weighted tangent)."""
        return d if frames is None else torch.einsum("nij,nj->ni", frames, d)

    def unpack(th):
        R = rotvec_to_matrix(th[0:3]) @ R0
        T = th[3:6] * depth0
        a = th[n_pose:n_pose + K]
        b = th[ex_sl]
        g = th[n_pose + K + E:].reshape(2, 2)
        return R, T, a, b, g

    def model_points(th):
        R, T, a, b, g = unpack(th)
        P = mean + torch.einsum("k,knc->nc", a, idb) + torch.einsum("e,enc->nc", b, exb)
        cen = eye_c0 + torch.einsum("k,kjc->jc", a, eye_cb)
        for j in range(2):
            Rg = gaze_matrix(g[j][None])[0]
            q = (P[iris[j]] - cen[j]) @ Rg.T + cen[j]
            P = P.index_copy(0, iris[j], q)
        return P, R, T

    def residuals(th, w):
        P, R, T = model_points(th)
        X = P @ R.T + T
        uv = X[:, :2] / X[:, 2:3] * f + c
        r_lm = split((uv - target) / scale) * torch.sqrt(w * cfg.w_landmark / w.sum())[:, None]
        z = X[:, 2] * f / T[2]
        z = z - z.mean()
        r_z = ((z - zt) / scale) * torch.sqrt(cfg.w_depth * w / w.sum())
        _, _, a, b, g = unpack(th)
        r_id = (a - a_prior) * (w_id ** 0.5)
        r_ex = b * (cfg.w_expression_l2 ** 0.5)
        r_g = g.reshape(-1) * (cfg.w_gaze ** 0.5)
        r_v = (g[0] - g[1]) * (cfg.w_vergence ** 0.5)
        return torch.cat([r_lm.reshape(-1), r_z, r_id, r_ex, r_g, r_v])

    iris_all = torch.tensor(IRIS_LEFT + IRIS_RIGHT)
    emb = model.landmarks["mediapipe"]
    use_bias = cfg.view_bias and emb.bias is not None

    def biased_target(th):
        """The detections minus the detector's expected offset at the pose ``th`` (pixels)."""
        if not use_bias:
            return target_raw
        with torch.no_grad():
            P, R, T = model_points(th)
            X = P @ R.T + T
            off = embedding_offsets(emb, R, X)
        return target_raw - off * scale

    def jacobian(th, w):
        """d residuals / d theta at ``th`` (whose rotation increment is 0), by the chain rule:
        the points are linear in identity and expression, the projection's derivative is closed
        form, and the gaze (4 columns, iris points only) by central differences."""
        P, R, T = model_points(th)
        _, _, a, b, g = unpack(th)
        X = P @ R.T + T
        v = P @ R.T  # rotated points
        x, y, z = X[:, 0], X[:, 1], X[:, 2]
        # dX/dtheta: (N, 3, n_all)
        D = torch.zeros(N, 3, n_all, dtype=dt)
        # rotation increment: exp(w) v ~ v + w x v  ->  dX/dw = -[v]_x
        D[:, 0, 1], D[:, 0, 2] = v[:, 2], -v[:, 1]
        D[:, 1, 0], D[:, 1, 2] = -v[:, 2], v[:, 0]
        D[:, 2, 0], D[:, 2, 1] = v[:, 1], -v[:, 0]
        D[:, 0, 3] = D[:, 1, 4] = D[:, 2, 5] = depth0
        dPa = idb.permute(1, 2, 0).clone()  # (N, 3, K)
        dPb = exb.permute(1, 2, 0).clone()  # (N, 3, E)
        for j in range(2):  # iris points turn about the eye centre, which moves with identity
            Rg = gaze_matrix(g[j][None])[0]
            ids = iris[j]
            cb = eye_cb[:, j].T[None]  # (1, 3, K)
            dPa[ids] = torch.einsum("ij,njk->nik", Rg, dPa[ids] - cb) + cb
            dPb[ids] = torch.einsum("ij,njk->nik", Rg, dPb[ids])
        D[:, :, n_pose:n_pose + K] = torch.einsum("ij,njk->nik", R, dPa)
        D[:, :, ex_sl] = torch.einsum("ij,njk->nik", R, dPb)
        for j in range(2):  # gaze: d/d(yaw, pitch) of R_y(yaw) R_x(pitch) (q - c), iris points only
            ids = iris[j]
            yv, pv = g[j, 0], g[j, 1]
            cy, sy, cp, sp = torch.cos(yv), torch.sin(yv), torch.cos(pv), torch.sin(pv)
            z0, o1 = torch.zeros((), dtype=dt), torch.ones((), dtype=dt)
            Ry = torch.stack([cy, z0, sy, z0, o1, z0, -sy, z0, cy]).reshape(3, 3)
            dRy = torch.stack([-sy, z0, cy, z0, z0, z0, -cy, z0, -sy]).reshape(3, 3)
            Rx = torch.stack([o1, z0, z0, z0, cp, sp, z0, -sp, cp]).reshape(3, 3)
            dRx = torch.stack([z0, z0, z0, z0, -sp, cp, z0, -cp, -sp]).reshape(3, 3)
            cen = eye_c0[j] + torch.einsum("k,kc->c", a, eye_cb[:, j])
            q = mean[ids] + torch.einsum("k,knc->nc", a, idb[:, ids]) + torch.einsum("e,enc->nc", b, exb[:, ids]) - cen
            col = n_pose + K + E + 2 * j
            D[ids, :, col] = (q @ (dRy @ Rx).T) @ R.T
            D[ids, :, col + 1] = (q @ (Ry @ dRx).T) @ R.T
        # projection
        fz = f / z
        du = fz[:, None] * (D[:, 0] - (x / z)[:, None] * D[:, 2])
        dv = fz[:, None] * (D[:, 1] - (y / z)[:, None] * D[:, 2])
        sw = torch.sqrt(w * cfg.w_landmark / w.sum()) / scale
        J_lm = torch.stack([du, dv], 1) * sw[:, None, None]  # (N, 2, n_all)
        if frames is not None:
            J_lm = torch.einsum("nij,njp->nip", frames, J_lm)
        # depth: z_i f / T_z, mean removed
        Tz = T[2]
        dz = f / Tz * D[:, 2]
        dz[:, 5] = dz[:, 5] - z * f / Tz ** 2 * depth0
        dz = dz - dz.mean(0, keepdim=True)
        J_z = dz * (torch.sqrt(cfg.w_depth * w / w.sum()) / scale)[:, None]
        J_id = torch.zeros(K, n_all, dtype=dt)
        J_id[:, n_pose:n_pose + K] = torch.eye(K, dtype=dt) * w_id ** 0.5
        J_ex = torch.zeros(E, n_all, dtype=dt)
        J_ex[:, ex_sl] = torch.eye(E, dtype=dt) * cfg.w_expression_l2 ** 0.5
        J_g = torch.zeros(4, n_all, dtype=dt)
        J_g[:, n_pose + K + E:] = torch.eye(4, dtype=dt) * cfg.w_gaze ** 0.5
        J_v = torch.zeros(2, n_all, dtype=dt)
        J_v[:, n_pose + K + E:n_pose + K + E + 2] = torch.eye(2, dtype=dt) * cfg.w_vergence ** 0.5
        J_v[:, n_pose + K + E + 2:] = -torch.eye(2, dtype=dt) * cfg.w_vergence ** 0.5
        return torch.cat([J_lm.reshape(-1, n_all), J_z, J_id, J_ex, J_g, J_v])

    def weights(th):
        with torch.no_grad():
            P, R, T = model_points(th)
            X = P @ R.T + T
            uv = X[:, :2] / X[:, 2:3] * f + c
            # normals of the template mesh, turned by the pose (camera frame)
            n = template_normals @ R.T
            to_cam = torch.nn.functional.normalize(-X, dim=-1)
            cos = (n * to_cam).sum(-1)
            vis = _smoothstep(cos, *cfg.hidden_cos)
            vis[list(IRIS_LEFT + IRIS_RIGHT)] = 1.0
            if sig is not None:
                var = sig[:, 0] ** 2 + (sig[:, 1] * (1 - cos.clamp(-1, 1))) ** 2
                if cfg.point_sigma == "view":
                    rel = sig[:, 0] ** 2 / var
                else:
                    rel = (sig[:, 0].median() ** 2 / var) ** (0.5 if cfg.point_sigma == "inverse" else 1.0)
                    rel = rel.clamp(max=cfg.sigma_max_weight)
            else:
                rel = torch.ones_like(cos)
            err = split((uv - target) / scale).norm(dim=-1)
            hub = torch.where(err <= cfg.huber, torch.ones_like(err), cfg.huber / err.clamp(min=1e-12))
            return vis * hub * pt_w * rel, vis

    l1_w = torch.full((E,), float(cfg.w_expression_l1), dtype=dt)
    if cfg.expression_l1_motion:
        motion = exb[:, :, :2].pow(2).sum(-1).mean(1).sqrt()
        l1_w = l1_w * (motion / motion.median()).pow(float(cfg.expression_l1_motion))

    def cost(th, w):
        r = residuals(th, w)
        return float(0.5 * r.pow(2).sum() + (l1_w * th[ex_sl]).sum())

    def lm_error(th, w):
        P, R, T = model_points(th)
        X = P @ R.T + T
        uv = X[:, :2] / X[:, 2:3] * f + c
        return float((((uv - target) / scale).pow(2).sum(-1) * w).sum() / w.sum())

    target = biased_target(theta)
    w, vis = weights(theta)
    lm0 = lm_error(theta, w)
    lam = 1e-3
    l1_grad = torch.zeros(n_all, dtype=dt)
    l1_grad[ex_sl] = l1_w
    it_done = 0
    for it in range(cfg.iterations):
        target = biased_target(theta)
        w, vis = weights(theta)
        r = residuals(theta, w)
        J = jacobian(theta, w)
        if _jacobian_check is not None:
            J_ad = torch.func.jacfwd(lambda th: residuals(th, w))(theta)
            _jacobian_check.append((float((J - J_ad).abs().max()), float(J_ad.abs().max())))
        g_all = J.T @ r + l1_grad
        H_all = J.T @ J
        c0 = cost(theta, w)
        accepted = False
        for _ in range(6):
            # projected step with an active set: expression weights at a bound whose step would
            # leave [0, 1] are held there and the step is solved again for the others
            act = free.clone()
            if it < cfg.expression_first and cfg.fit_expression:
                act[n_pose:n_pose + K] = False
            if cfg.active_set == "gradient":
                b_now, g_ex = theta[ex_sl], g_all[ex_sl]
                bound = ((b_now <= 1e-9) & (g_ex > 0)) | ((b_now >= 1 - 1e-9) & (g_ex < 0))
                act[ex_sl] = act[ex_sl] & ~bound
            for _round in range(4 if cfg.active_set != "gradient" else 1):
                idx = torch.nonzero(act)[:, 0]
                Hs = H_all[idx][:, idx]
                A = Hs + lam * torch.diag(Hs.diagonal().clamp(min=1e-9))
                step = torch.linalg.solve(A, -g_all[idx])
                full = torch.zeros(n_all, dtype=dt)
                full[idx] = step
                b_new = theta[ex_sl] + full[ex_sl]
                out = ((b_new < 0) & (theta[ex_sl] <= 1e-9)) | ((b_new > 1) & (theta[ex_sl] >= 1 - 1e-9))
                out_all = torch.zeros(n_all, dtype=torch.bool)
                out_all[ex_sl] = out & act[ex_sl]
                if not bool(out_all.any()) or cfg.active_set == "gradient":
                    break
                act = act & ~out_all
            th_new = theta + full
            th_new[ex_sl] = th_new[ex_sl].clamp(0.0, 1.0)
            c_new = cost(th_new, w)
            if c_new < c0:
                theta = th_new
                lam = max(lam / 3, 1e-7)
                accepted = True
                break
            lam *= 4
        it_done = it + 1
        if progress is not None:
            progress("landmarks", it + 1, cfg.iterations)
        small = not accepted or float(full.abs().max()) < 1e-7 or (c0 - c_new) < 1e-5 * c0
        if small and it >= cfg.expression_first:
            break
        # fold the rotation increment into R0 so the increment stays small
        R0 = rotvec_to_matrix(theta[0:3]) @ R0
        theta[0:3] = 0.0

    w, vis = weights(theta)
    lm1 = lm_error(theta, w)
    R, T, a, b, g = unpack(theta)
    out_pose = Pose(matrix_to_rotvec(R[None].detach()).float(), T[None].detach().float())
    head = HeadParams(a[None].float(), b[None].float(), g[None].float())
    P, R, T = model_points(theta)
    X = P @ R.T + T
    z = X[:, 2] * f / T[2]
    losses = {
        "landmark_initial": lm0,
        "landmark_final": lm1,
        "depth_final": float(((z - z.mean() - zt) / scale).pow(2).mean()),
        "visible_landmarks": float((vis > 0.5).sum()),
        "iterations": it_done,
    }
    return out_pose, head, losses


__all__ = ["HeadLandmarkConfig", "fit_head_landmarks", "contour_frames", "slide_groups"]
