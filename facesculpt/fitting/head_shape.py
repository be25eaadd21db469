"""The morphable head as the photometric stage's shape model.

``fit_photometric`` optimises one parameter tensor through a shape model's ``vertices`` (the
landmark points it compares with the photo's landmarks), ``render_vertices`` (the mesh it
renders) and ``regularizer``. ``HeadShapeFit`` packs identity (K), expression (E) and small
per-vertex corrections of the face part (Vf x 3, cm) into that one tensor; gaze stays at its
stage-1 value. The priors: the identity coefficients keep their N(0, 1) prior and are pulled
towards the stage-1 estimate, the expression weights keep their L1 term, stay in [0, 1]
(``project_`` after every step) and are pulled towards stage 1; the corrections are smooth
(graph Laplacian over the head) and small.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass

import torch

from facesculpt.core.determinism import sparse_mm
from facesculpt.face_model import PART_FACE, FaceModel, FitView, HeadParams


@dataclass(frozen=True)
class HeadPriors:
    """Weights of the head's priors in the photometric stage."""

    w_identity: float = 1e-6
    """sum(alpha^2): the N(0, 1) prior. 1e-4 until session 8: against the photometric loss (~0.005) that
    pulled synthetic heads started at their true identity 0.7-1.2 mm towards the mean face in 60 steps
    (docs/results.md, session 8)."""
    w_identity_stage1: float = 0.0
    """sum((alpha - alpha_stage1)^2): stay near the landmark fit (0.1 until session 8; the landmark
    term keeps the fit near the photo's points)."""
    w_expression_l1: float = 1e-4
    """sum(beta) (beta >= 0): sparsity."""
    w_expression_stage1: float = 0.1
    """sum((beta - beta_stage1)^2)."""


class HeadShapeFit:
    """Shape model over the flat parameter ``[identity (K), expression (E), corrections (Vf*3)]``.

    vertices(p) -> (1, 478, 3) embedded mediapipe points; render_vertices(p) -> (1, Vs, 3) face
    part; head_params(p) -> HeadParams (with the corrections as ``offsets`` over the whole head).
    """

    def __init__(self, model: FaceModel, view: FitView, head0: HeadParams, priors: HeadPriors = HeadPriors()):
        self.model, self.view, self.head0, self.priors = model, view, head0.detach(), priors
        self.K, self.E = model.num_identity, model.num_expression
        parts = _model_parts(model, view)
        self.face_idx, self.lap, self.sub, self.sub_template = parts.face_idx, parts.lap, parts.sub, parts.sub_template
        self.sub_id, self.sub_ex, self.sub_face, self.eyes = parts.sub_id, parts.sub_ex, parts.sub_face, parts.eyes
        self.num_verts = model.num_verts

    def init_params(self, batch: int = 1) -> torch.Tensor:
        h = self.head0
        off = torch.zeros(1, self.face_idx.shape[0] * 3, dtype=h.identity.dtype)
        return torch.cat([h.identity, h.expression, off], dim=1)

    def _split(self, p: torch.Tensor):
        a = p[:, :self.K]
        b = p[:, self.K:self.K + self.E]
        off = p[:, self.K + self.E:].reshape(p.shape[0], -1, 3)
        return a, b, off

    def head_params(self, p: torch.Tensor) -> HeadParams:
        a, b, off = self._split(p)
        full = torch.zeros(p.shape[0], self.model.num_verts, 3, dtype=p.dtype)
        full = full.index_copy(1, self.face_idx, off)
        return HeadParams(a, b, self.head0.gaze.to(p.dtype).expand(p.shape[0], -1, -1), full)

    def head_vertices(self, p: torch.Tensor) -> torch.Tensor:
        """(B, V, 3): the face part, the landmark triangles and the hole loops evaluated (same values
        as ``model.vertices(head_params(p))`` there), zeros elsewhere."""
        from facesculpt.face_model import gaze_matrix

        a, b, off = self._split(p)
        B = p.shape[0]
        dt = p.dtype
        v = (self.sub_template.to(dt)[None] + (a @ self.sub_id.to(dt)).reshape(B, -1, 3)
             + (b @ self.sub_ex.to(dt)).reshape(B, -1, 3))
        g = self.head0.gaze.to(dt)
        for k, (on, c0, shift) in enumerate(self.eyes):
            if len(on) == 0:
                continue
            c = c0.to(dt) + a @ shift.to(dt)  # (B, 3)
            R = gaze_matrix(g[:, k].expand(B, -1))
            v = v.index_copy(1, on, (v[:, on] - c[:, None]) @ R.transpose(1, 2) + c[:, None])
        v = v.index_add(1, self.sub_face, off)
        full = torch.zeros(B, self.num_verts, 3, dtype=dt)
        return full.index_copy(1, self.sub, v)

    def vertices(self, p: torch.Tensor) -> torch.Tensor:
        return self.model.points(self.head_vertices(p), "mediapipe")

    def render_vertices(self, p: torch.Tensor) -> torch.Tensor:
        return self.view.render_verts(self.head_vertices(p))

    def both(self, p: torch.Tensor):
        """(landmark points, render vertices) from one evaluation of the head."""
        v = self.head_vertices(p)
        return self.model.points(v, "mediapipe"), self.view.render_verts(v)

    def regularizer(self, delta: torch.Tensor, w_smooth: float, w_size: float) -> torch.Tensor:
        """Priors of ``p = init + delta`` (``fit_photometric`` passes the change from the start)."""
        pr = self.priors
        p = self.init_params().to(delta.dtype) + delta
        a, b, off = self._split(p)
        da, db, _ = self._split(delta)
        lap = torch.stack([sparse_mm(self.lap, o.to(self.lap.dtype)) for o in off])  # one thread: repeatable
        return (pr.w_identity * a.pow(2).sum() + pr.w_identity_stage1 * da.pow(2).sum()
                + pr.w_expression_l1 * b.sum() + pr.w_expression_stage1 * db.pow(2).sum()
                + w_smooth * lap.pow(2).sum(-1).mean() + w_size * off.pow(2).sum(-1).mean())

    def step_scale(self, cfg) -> torch.Tensor:
        """(1, P) per-entry step of the photometric optimiser relative to ``cfg.lr_shape``: the identity
        coefficients (prior standard deviations) step ``cfg.lr_identity``, the expression weights
        ``cfg.lr_expression``, the corrections ``lr_shape``."""
        s = torch.ones(1, self.K + self.E + self.face_idx.shape[0] * 3, dtype=self.head0.identity.dtype)
        s[:, :self.K] = cfg.lr_identity / cfg.lr_shape
        s[:, self.K:self.K + self.E] = cfg.lr_expression / cfg.lr_shape
        return s

    @torch.no_grad()
    def project_(self, p: torch.Tensor) -> None:
        """Keep the expression weights in [0, 1] (in place)."""
        p[:, self.K:self.K + self.E].clamp_(0.0, 1.0)


@dataclass(frozen=True)
class _ModelParts:
    """What ``HeadShapeFit`` needs of a (model, fit view) pair alone (shared between fits, never
    modified): face_idx (Vf,) the face part's vertices; lap (Vf, Vf) sparse Laplacian restricted to
    them; sub (Vs,) the vertices the stage evaluates (face part, landmark triangles, hole loops);
    sub_template (Vs, 3), sub_id (K, Vs*3), sub_ex (E, Vs*3) the template and bases there; sub_face
    (Vf,) the face part's positions in ``sub``; eyes: per eyeball (positions in ``sub``, centre (3,),
    centre motion per identity mode (K, 3))."""

    face_idx: torch.Tensor
    lap: torch.Tensor
    sub: torch.Tensor
    sub_template: torch.Tensor
    sub_id: torch.Tensor
    sub_ex: torch.Tensor
    sub_face: torch.Tensor
    eyes: tuple


_PARTS: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def _model_parts(model: FaceModel, view: FitView) -> _ModelParts:
    """The per-(model, view) work of ``HeadShapeFit``, done once and cached (weakly, by the model):
    building it took ~20 ms a photo, on every ``fast`` run too (the light initialisation)."""
    per_model = _PARTS.setdefault(model, {})
    hit = per_model.get(id(view))
    if hit is not None and hit[0]() is view:
        return hit[1]
    from facesculpt.face_model import PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT

    K, E = model.num_identity, model.num_expression
    face_idx = torch.nonzero(model.vert_part == PART_FACE)[:, 0]
    L = model.vertex_adjacency()
    # the Laplacian restricted to face-part rows (neighbours outside carry zero correction)
    lap = L.index_select(0, face_idx).index_select(1, face_idx).coalesce()
    # the stage only needs the face part and the triangles of the embedded landmarks (the iris
    # points lie on the eyeballs): evaluate the bases on those vertices alone (~40 % of the head)
    emb = model.landmarks["mediapipe"]
    lm_verts = model.faces[emb.faces].reshape(-1)
    sub = torch.unique(torch.cat([face_idx, lm_verts, torch.cat(list(view.loops))]))
    eyes = []
    for k, part in enumerate((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)):
        on = torch.nonzero(model.vert_part[sub] == part)[:, 0]
        ball = torch.nonzero(model.vert_part == part)[:, 0]
        shift = model.identity_basis[:, ball].mean(1)  # (K, 3) eye-centre motion per mode
        eyes.append((on, model.eye_centres[k], shift))
    parts = _ModelParts(face_idx, lap, sub, model.template[sub], model.identity_basis[:, sub].reshape(K, -1),
                        model.expression_basis[:, sub].reshape(E, -1), torch.searchsorted(sub, face_idx), tuple(eyes))
    per_model[id(view)] = (weakref.ref(view), parts)
    return parts


__all__ = ["HeadShapeFit", "HeadPriors"]
