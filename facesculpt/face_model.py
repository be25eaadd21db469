"""The morphable head facesculpt fits: one object that owns everything that depends on the mesh.

``load_face_model()`` reads ``assets/ict_head.npz`` (built by ``tools/build_face_model.py`` from the
ICT FaceKit Light model, MIT licence: ``assets/ICT_FACEKIT_LICENSE``; provenance and measured facts in
``assets/FACE_MODEL.md``) on first call and caches it; nothing is read at import.

Frame and units: model frame, centimetres, +Y up, +Z out of the face, +X the subject's left (the
same frame as ``core/conventions.py``'s model frame). 'left'/'right' are the subject's.

Parameters (``HeadParams``):
    identity:   (B, 100) — PCA coefficients, prior N(0, 1) (the bases are scaled by their std).
    expression: (B, 53)  — blendshape weights in [0, 1], names ``FaceModel.expression_names``
                (ARKit's names with ``_L``/``_R``; docs/face_model.md maps them to ARKit's 52).
    gaze:       (B, 2, 2) — per eye (left, right): (yaw, pitch) in radians; the eyeballs rotate
                rigidly about their centres (+yaw turns the eye towards +X, +pitch looks up).
    offsets:    (B, V, 3) or None — free per-vertex corrections (cm), added last.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources
from typing import Optional

import numpy as np
import torch

from facesculpt.core.checks import check_shape
from facesculpt.core.determinism import sparse_mm
from facesculpt.core.errors import AssetError
from facesculpt.ops.mesh import edges, unique_pairs

#: part labels (``FaceModel.face_part`` / ``vert_part``)
PART_FACE, PART_HEAD_NECK, PART_MOUTH_SOCKET, PART_EYE_SOCKET_LEFT, PART_EYE_SOCKET_RIGHT = 0, 1, 2, 3, 4
PART_GUMS, PART_TEETH, PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT = 5, 6, 7, 8

ASSET = "ict_head.npz"
#: mediapipe's measured response to identity and expression (``tools/measure_landmark_response.py``)
RESPONSE_ASSET = "mediapipe_response.npz"
#: ``FitView.dense_face_region`` label of face-part triangles outside the narrow face area
REGION_OUTER = 3


@dataclass(frozen=True)
class HeadParams:
    """Shape, expression and gaze of the head (see the module docstring for units and priors)."""

    identity: torch.Tensor
    expression: torch.Tensor
    gaze: torch.Tensor
    offsets: Optional[torch.Tensor] = None

    def detach(self) -> "HeadParams":
        return HeadParams(self.identity.detach(), self.expression.detach(), self.gaze.detach(),
                          None if self.offsets is None else self.offsets.detach())

    def neutral(self) -> "HeadParams":
        """The same identity (and offsets) with a neutral expression and straight gaze."""
        return HeadParams(self.identity, torch.zeros_like(self.expression), torch.zeros_like(self.gaze),
                          self.offsets)


@dataclass(frozen=True, eq=False)
class Embedding:
    """Points embedded on the surface: triangle index (N,) long and barycentrics (N, 3) float.

    sigma: (N, 2) float or None — each point's measured spread around its embedded position in a
    detector's output, as fractions of the face size (the larger side of the landmarks' box):
    ``(s0, s1)`` with ``sigma^2 = s0^2 + s1^2 (1 - cos)^2``, cos = the cosine between the point's
    surface normal and the direction to the camera (``tools/register_landmarks_renders.py``).

    bias: (N, 2, 6) float or None — each point's systematic offset in a detector's output (detection
    minus the projected embedded point, fractions of the face size, in an image frame turned by the
    head's roll) as a polynomial in the head's yaw and pitch seen from the camera, measured on renders
    of the model by ``tools/measure_landmark_bias.py``; evaluate it with
    ``facesculpt.fitting.landmark_bias.landmark_bias(bias, bias_limits, R, centre)``.
    bias_limits: (2,) float or None — the largest |sin(yaw)|, |sin(pitch)| the renders covered (the
    polynomial is evaluated clamped to them).
    response_identity, response_expression: (K, N, 3), (E, N, 3) float or None — how a detector's
    points move, beyond the embedded surface points, per unit identity coefficient and expression
    weight (model frame, cm), measured on renders of the model by ``tools/measure_landmark_response.py``
    (asset ``RESPONSE_ASSET``); ``FaceModel.landmark_model(name, response=...)`` adds them.
    """

    faces: torch.Tensor
    bary: torch.Tensor
    sigma: Optional[torch.Tensor] = None
    bias: Optional[torch.Tensor] = None
    bias_limits: Optional[torch.Tensor] = None
    response_identity: Optional[torch.Tensor] = None
    response_expression: Optional[torch.Tensor] = None

    def __len__(self) -> int:
        return int(self.faces.shape[0])


@dataclass(frozen=True, eq=False)
class RenderMesh:
    """A subset of the head split at UV seams, for the rasterizer, the texture and the exporters.

    vert_index: (Vs,) long — model vertex of each render vertex (gather ``verts[:, vert_index]``);
    faces:      (Fs, 3) long — into the render vertices; model_faces: (Fs,) long — the head triangle;
    uvs:        (Vs, 2) float — tile-local UVs in [0, 1] (u right, v up);
    tile:       int — the UV tile (integer part of u) of this mesh, or -1 when it spans several;
    mirror:     (Vs,) long — the render vertex at the mirrored model vertex (same UV side chosen
                when the model vertex is split).
    """

    vert_index: torch.Tensor
    faces: torch.Tensor
    model_faces: torch.Tensor
    uvs: torch.Tensor
    tile: int
    mirror: torch.Tensor

    @property
    def num_verts(self) -> int:
        return int(self.vert_index.shape[0])


@dataclass(frozen=True, eq=False)
class FaceModel:
    """The ICT FaceKit Light head (see ``assets/FACE_MODEL.md``). Shared and cached: never modify.

    template:   (V, 3) float32 — neutral mean head, cm.
    faces:      (F, 3) long — triangles, counter-clockwise seen from outside.
    face_part, vert_part: (F,), (V,) long — part labels (``PART_*``); part_names: tuple of str.
    uvs:        (T, 2) float32 — UV coordinates with the tile in the integer part of u
                (0 face and ears, 1 head/neck and sockets, 2 gums/tongue, 3 teeth; eyeballs use
                tile 0 too, overlapping the face); face_uvs: (F, 3) long into ``uvs``.
    mirror:     (V,) long — the left/right partner of every vertex (itself on the midline).
    identity_basis:   (K, V, 3) float32 — std-scaled PCA modes (K = 100).
    expression_basis: (E, V, 3) float32 — blendshape offsets (E = 53); expression_names: tuple.
    landmarks:  {"mediapipe": Embedding (478), "ibug68": Embedding (68), "ibug68_multipie": Embedding (68), the
                iBUG points before the brows, nose and lips were registered on renders: the synthetic
                heads' painted features only}.
    eye_centres: (2, 3) — left, right eyeball centres of the template (cm).
    narrow_face: (V,) bool — the "narrow face area" (forehead to chin, no ears), used by metrics.
    """

    template: torch.Tensor
    faces: torch.Tensor
    face_part: torch.Tensor
    vert_part: torch.Tensor
    part_names: tuple
    uvs: torch.Tensor
    face_uvs: torch.Tensor
    mirror: torch.Tensor
    identity_basis: torch.Tensor
    expression_basis: torch.Tensor
    expression_names: tuple
    landmarks: dict
    eye_centres: torch.Tensor
    narrow_face: torch.Tensor

    @property
    def num_verts(self) -> int:
        return int(self.template.shape[0])

    @property
    def num_identity(self) -> int:
        return int(self.identity_basis.shape[0])

    @property
    def num_expression(self) -> int:
        return int(self.expression_basis.shape[0])

    def zero_params(self, batch: int = 1, dtype=torch.float32) -> HeadParams:
        return HeadParams(torch.zeros(batch, self.num_identity, dtype=dtype),
                          torch.zeros(batch, self.num_expression, dtype=dtype),
                          torch.zeros(batch, 2, 2, dtype=dtype))

    def _check(self, p: HeadParams) -> int:
        check_shape("HeadParams.identity", p.identity, ("B", self.num_identity))
        B = p.identity.shape[0]
        check_shape("HeadParams.expression", p.expression, (B, self.num_expression))
        check_shape("HeadParams.gaze", p.gaze, (B, 2, 2))
        if p.offsets is not None:
            check_shape("HeadParams.offsets", p.offsets, (B, self.num_verts, 3))
        return B

    def vertices(self, p: HeadParams) -> torch.Tensor:
        """(B, V, 3) head vertices (cm, model frame) for ``p``. Differentiable."""
        B = self._check(p)
        V = self.num_verts
        dt = p.identity.dtype
        shape = self.template.to(dt)[None] + (p.identity @ self.identity_basis.to(dt).reshape(-1, V * 3)).reshape(B, V, 3)
        verts = shape + (p.expression @ self.expression_basis.to(dt).reshape(-1, V * 3)).reshape(B, V, 3)
        verts = self._rotate_eyes(verts, shape, p.gaze)
        if p.offsets is not None:
            verts = verts + p.offsets
        return verts

    def eye_centres_of(self, shape: torch.Tensor) -> torch.Tensor:
        """(B, 2, 3) eyeball centres of an identity shape (B, V, 3): template centres moved by the
        mean identity offset of each eyeball."""
        out = []
        for k, part in enumerate((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)):
            idx = self._part_verts(part)
            shift = shape[:, idx].mean(1) - self.template.to(shape.dtype)[idx].mean(0)
            out.append(self.eye_centres.to(shape.dtype)[k] + shift)
        return torch.stack(out, 1)

    def cover_eyeballs(self, verts: torch.Tensor, neutral: torch.Tensor, margin: float = 0.04,
                       bins: int = 90) -> torch.Tensor:
        """``verts`` (B, V, 3) with the face part's vertices pushed out of each eyeball, radially from its
        centre, to the eyeball's own radius in their direction (the cornea included) plus ``margin`` cm. A vertex
        moves only by how much deeper inside it is than on ``neutral`` (B, V, 3), the same identity and gaze
        with no expression, so the open face stays as it is. The expression shapes are added linearly to every
        identity while the eyeballs move with it; on many heads a closed lid leaves the cornea outside
        (``benchmarks/eyelid_cover.py``). Not used by the fit or the exports; the rendered clips' option
        (``SyntheticConfig.lid_cover``)."""
        face = torch.nonzero(self.vert_part == PART_FACE)[:, 0]
        out = verts.clone()
        centres = self.eye_centres_of(verts)  # the expression shapes do not move the eyeballs: the same on neutral
        for b in range(verts.shape[0]):
            for k, part in enumerate((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)):
                idx = self._part_verts(part)
                c = centres[b, k]
                d = verts[b, idx] - c
                r = d.norm(dim=-1)
                axis = d[verts[b, idx, 2].argmax()]  # the cornea's tip: the eyeball's front
                axis = axis / axis.norm()
                th = torch.acos((d @ axis / r.clamp(min=1e-9)).clamp(-1, 1))
                kk = (th / math.pi * bins).long().clamp(max=bins - 1)
                R = torch.zeros(bins, dtype=verts.dtype).scatter_reduce(0, kk, r, reduce="amax", include_self=True)
                R = torch.maximum(R, torch.maximum(torch.cat([R[1:], R[-1:]]), torch.cat([R[:1], R[:-1]])))

                def depth(v):
                    """How far each face vertex of ``v`` lies inside the eyeball (+ margin); -1e9 behind it."""
                    fd = v[b, face] - c
                    fr = fd.norm(dim=-1)
                    fth = torch.acos((fd @ axis / fr.clamp(min=1e-9)).clamp(-1, 1))
                    need = R[(fth / math.pi * bins).long().clamp(max=bins - 1)] + margin
                    return torch.where(fth < math.pi / 2, need - fr, torch.full_like(fr, -1e9)), fd, fr

                p, fd, fr = depth(verts)
                excess = p - depth(neutral)[0].clamp(min=0)
                inside = excess > 0
                if bool(inside.any()):
                    moved = c + fd[inside] / fr[inside, None] * (fr[inside] + excess[inside])[:, None]
                    out[b] = out[b].index_copy(0, face[inside], moved)
        return out

    def _rotate_eyes(self, verts: torch.Tensor, shape: torch.Tensor, gaze: torch.Tensor) -> torch.Tensor:
        if not bool((gaze != 0).any()) and not gaze.requires_grad:
            return verts
        centres = self.eye_centres_of(shape)
        out = verts
        for k, part in enumerate((PART_EYEBALL_LEFT, PART_EYEBALL_RIGHT)):
            idx = self._part_verts(part)
            R = gaze_matrix(gaze[:, k])
            c = centres[:, k, None]
            moved = (verts[:, idx] - c) @ R.transpose(1, 2) + c
            out = out.index_copy(1, idx, moved)
        return out

    @functools.lru_cache(maxsize=None)
    def _part_verts(self, part: int) -> torch.Tensor:
        return torch.nonzero(self.vert_part == part)[:, 0]

    def points(self, verts: torch.Tensor, name: str) -> torch.Tensor:
        """(B, N, 3) embedded landmark points ``name`` ("mediapipe" or "ibug68") on ``verts`` (B, V, 3)."""
        emb = self.landmarks[name]
        tri = self.faces[emb.faces]  # (N, 3)
        return (verts[:, tri] * emb.bary.to(verts.dtype)[None, :, :, None]).sum(2)

    def landmark_model(self, name: str, response: str = "off"):
        """Linear model of the embedded points: (mean (N, 3), identity (K, N, 3), expression (E, N, 3)),
        eyeball points not rotated (gaze is applied by ``vertices``).

        ``response``: where a detector puts the points rather than the fixed surface points: "expression"
        adds the embedding's measured response to expression to the expression basis, "both" also its
        response to identity to the identity basis, "off" neither (no change when the embedding has none).
        Made once per (name, response) and shared: the tensors must not be changed in place."""
        return self._landmark_model(name, response)

    @functools.lru_cache(maxsize=None)
    def _landmark_model(self, name: str, response: str):
        emb = self.landmarks[name]
        tri = self.faces[emb.faces]
        w = emb.bary[:, :, None]

        def pick(x):
            return (x[..., tri, :] * w).sum(-2)

        idb, exb = pick(self.identity_basis), pick(self.expression_basis)
        ri, re_ = _responses(emb, response)
        if ri is not None:
            idb = idb + ri.to(idb.dtype)
        if re_ is not None:
            exb = exb + re_.to(exb.dtype)
        return pick(self.template), idb, exb

    def detector_offsets(self, params: "HeadParams", name: str = "mediapipe", response: str = "both") -> torch.Tensor:
        """(B, N, 3) where a detector's points lie relative to the embedded points ``points(vertices(params))``
        in the model frame: the embedding's measured responses (``response`` as in ``landmark_model``; zeros
        when it has none)."""
        emb = self.landmarks[name]
        B, N = params.identity.shape[0], len(emb)
        out = torch.zeros(B, N, 3, dtype=params.identity.dtype)
        ri, re_ = _responses(emb, response)
        if ri is not None:
            out = out + torch.einsum("bk,knc->bnc", params.identity, ri.to(out.dtype))
        if re_ is not None:
            out = out + torch.einsum("be,enc->bnc", params.expression, re_.to(out.dtype))
        return out

    @functools.lru_cache(maxsize=None)
    def render_mesh(self, parts: tuple = (PART_FACE,)) -> RenderMesh:
        """The triangles of ``parts``, split at UV seams (cached per parts tuple)."""
        sel = torch.nonzero(torch.isin(self.face_part, torch.tensor(parts)))[:, 0]
        fv = self.faces[sel].reshape(-1)
        fu = self.face_uvs[sel].reshape(-1)
        pairs = torch.stack([fv, fu], 1)
        uniq, inv = unique_pairs(pairs, return_inverse=True)
        vert_index, uv_index = uniq[:, 0], uniq[:, 1]
        uv = self.uvs[uv_index]
        tiles = torch.unique(torch.floor(uv[:, 0].clamp(min=0)).long())
        tile = int(tiles[0]) if len(tiles) == 1 else -1
        uv_local = uv.clone()
        if tile >= 0:
            uv_local[:, 0] = uv[:, 0] - tile
        # mirror: first render vertex of the mirrored model vertex
        first = torch.full((self.num_verts,), -1, dtype=torch.long)
        first[vert_index.flip(0)] = torch.arange(len(vert_index) - 1, -1, -1)
        mirror = first[self.mirror[vert_index]]
        mirror = torch.where(mirror >= 0, mirror, torch.arange(len(vert_index)))
        return RenderMesh(vert_index, inv.reshape(-1, 3), sel, uv_local.float(), tile, mirror)

    @functools.lru_cache(maxsize=None)
    def vertex_adjacency(self) -> torch.Tensor:
        """(V, V) sparse uniform graph Laplacian (degree - adjacency) of the whole head."""
        e = edges(self.faces)
        i = torch.cat([e, e.flip(1)]).T
        n = self.num_verts
        A = torch.sparse_coo_tensor(i, torch.ones(i.shape[1]), (n, n), check_invariants=False).coalesce()
        deg = torch.sparse.sum(A, 1).to_dense()
        D = torch.sparse_coo_tensor(torch.arange(n)[None].repeat(2, 1), deg, (n, n), check_invariants=False)
        return (D - A).coalesce()


@dataclass(frozen=True, eq=False)
class FitView:
    """The face part of the head (face and ears, UV tile 0) as the fitting, texture, identity and
    detail stages see it, with its eye and mouth holes closed by fillers. It has the attribute
    names of the legacy ``topology.Topology`` these stages were written against (``dense_faces``,
    ``dense_uvs``, ``dense_mirror``, ``dense_face_region``, ``lmk68``, ``canonical``, ``densify``),
    so both implementations of the face surface go through one interface; no stage assumes
    "vertex i is landmark i": the landmark points are ``FaceModel.points(verts, "mediapipe")``.

    The fillers: each hole (the two eyelid margins, the inner-lip line) is closed by a fan from
    one extra vertex at the mean of its boundary, with UVs filling the hole in the face chart (the
    chart has no texels of its own there). They are not skin (regions 1 eye, 2 mouth: out of the
    photometric loss and the metrics' skin mask) and are never exported (the head has eyeballs,
    teeth and a mouth socket); they give renders eyes and a mouth (the identity network sees a
    face, not holes), textured from the photo.

    rmesh:    RenderMesh of the face part alone (exports, head-tile fill).
    fill:     RenderMesh of the face part plus fillers (``vert_index`` -1 for the filler centres).
    loops:    ((k,) long model vertices of each hole boundary) — left eye, right eye, mouth.
    lmk68:    (68,) long — iBUG-68 as indices into mediapipe's 478 points.
    canonical: (468, 3) — the template's embedded mediapipe points (cm).
    region:   (Fs,) int8 — 0 (skin) on triangles of the narrow face area (forehead to chin; no
              ears, scalp line or neck, where hair and collars are), ``REGION_OUTER`` (3) on the
              rest of the face part, 1 eye fillers, 2 mouth filler.
    interp:   sparse (Vs, 468) — smooth interpolation of offsets given at the 468 points onto the
              render vertices (inverse distance over the 4 nearest points on the template); only
              used to carry the identity loss's random-view expression offsets.
    """

    model: "FaceModel"
    rmesh: RenderMesh
    fill: RenderMesh
    loops: tuple
    lmk68: torch.Tensor
    canonical: torch.Tensor
    region: torch.Tensor
    interp: torch.Tensor

    @property
    def dense_faces(self) -> torch.Tensor:
        return self.fill.faces

    @property
    def dense_uvs(self) -> torch.Tensor:
        return self.fill.uvs

    @property
    def dense_mirror(self) -> torch.Tensor:
        return self.fill.mirror

    @property
    def dense_face_region(self) -> torch.Tensor:
        return self.region

    @property
    def eye_uvs(self) -> torch.Tensor:
        """(2, 2) float: the left and right eye fillers' centres in the face chart (u, v): the eye openings'
        middles."""
        n = self.fill.num_verts
        return self.fill.uvs[n - 3:n - 1]

    def densify(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 468, 3) offsets at the landmark points -> (B, Vs, 3) at the render vertices."""
        return torch.stack([sparse_mm(self.interp, xi.to(self.interp.dtype)).to(x.dtype) for xi in x])

    def render_verts(self, verts: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) head vertices -> (B, Vs, 3) render vertices (face part, then filler centres)."""
        centres = torch.stack([verts[:, loop].mean(1) for loop in self.loops], 1)
        return torch.cat([verts[:, self.rmesh.vert_index], centres], 1)


def _hole_loops(model: "FaceModel", rm: RenderMesh) -> list:
    """Ordered boundary loops (model vertices) of the face part's eye and mouth holes: left eye,
    right eye, mouth (found as the loops nearest the embedded eye centres and inner-lip points)."""
    f = model.faces[rm.model_faces]
    e = torch.cat([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    key = torch.sort(e, dim=1).values
    uniq, inv, cnt = unique_pairs(key, return_inverse=True, return_counts=True)
    border = e[cnt[inv] == 1]
    nxt = {int(a): int(b) for a, b in border.tolist()}
    loops, seen = [], set()
    for s in nxt:
        if s in seen:
            continue
        loop, v = [], s
        while v not in seen and v in nxt:
            seen.add(v)
            loop.append(v)
            v = nxt[v]
        loops.append(loop)
    P = model.points(model.template[None], "mediapipe")[0]
    targets = (P[473], P[468], (P[13] + P[14]) / 2)  # left iris, right iris, inner-lip midpoint
    out = []
    for t in targets:
        small = [L for L in loops if len(L) < 300]
        out.append(min(small, key=lambda L: float((model.template[L].mean(0) - t).norm())))
    return out


@functools.lru_cache(maxsize=4)
def fit_view(model: "FaceModel") -> FitView:
    """The (cached) ``FitView`` of ``model``'s face part."""
    from facesculpt.topology import load_topology

    rm = model.render_mesh((PART_FACE,))
    Vs = rm.num_verts
    loops = _hole_loops(model, rm)
    # render vertex of each model vertex on the face part (first copy: the holes are inside the chart)
    first = torch.full((model.num_verts,), -1, dtype=torch.long)
    first[rm.vert_index.flip(0)] = torch.arange(Vs - 1, -1, -1)
    faces, uvs, region = [rm.faces], [rm.uvs], []
    narrow = model.narrow_face[rm.vert_index[rm.faces]].all(dim=1)
    region.append(torch.where(narrow, 0, REGION_OUTER).to(torch.int8))
    for k, loop in enumerate(loops):
        rv = first[torch.tensor(loop)]
        c = Vs + k
        # the hole boundary runs opposite to the surrounding triangles' edges: fan with its reverse
        fan = torch.stack([rv.roll(-1), rv, torch.full_like(rv, c)], 1)
        faces.append(fan)
        uvs.append(rm.uvs[rv].mean(0, keepdim=True))
        region.append(torch.full((len(loop),), 1 if k < 2 else 2, dtype=torch.int8))
    faces = torch.cat(faces)
    uvs = torch.cat(uvs)
    mirror = torch.cat([rm.mirror, torch.tensor([Vs + 1, Vs, Vs + 2])])
    vert_index = torch.cat([rm.vert_index, torch.full((3,), -1, dtype=torch.long)])
    fill = RenderMesh(vert_index, faces, torch.cat([rm.model_faces, torch.full((faces.shape[0] - rm.faces.shape[0],), -1,
                                                                                  dtype=torch.long)]),
                      uvs, 0, mirror)
    lmk68 = load_topology(0).lmk68.clone()
    canon = model.points(model.template[None], "mediapipe")[0, :468]
    X = torch.cat([model.template[rm.vert_index], torch.stack([model.template[L].mean(0) for L in loops])])
    d = torch.cdist(X, canon)
    dist, nn = d.topk(4, largest=False)
    w = 1.0 / (dist + 0.3) ** 2
    w = w / w.sum(1, keepdim=True)
    rows = torch.arange(X.shape[0])[:, None].expand(-1, 4)
    interp = torch.sparse_coo_tensor(torch.stack([rows.reshape(-1), nn.reshape(-1)]), w.reshape(-1).float(),
                                     (X.shape[0], 468), check_invariants=False).coalesce()
    return FitView(model, rm, fill, tuple(torch.tensor(L) for L in loops), lmk68, canon, torch.cat(region), interp)


def arkit_name(name: str) -> str:
    """ARKit's blendshape name for one of the model's 53 (``eyeBlink_L`` -> ``eyeBlinkLeft``;
    ``browInnerUp_L``/``_R`` -> ``browInnerUp`` and ``cheekPuff_L``/``_R`` -> ``cheekPuff``, the
    shapes ARKit does not split). ARKit's ``tongueOut`` has no counterpart in the model."""
    base, _, side = name.rpartition("_")
    if side not in ("L", "R") or not base:
        return name
    if base in ("browInnerUp", "cheekPuff"):
        return base
    return base + ("Left" if side == "L" else "Right")


def gaze_matrix(yaw_pitch: torch.Tensor) -> torch.Tensor:
    """(B, 2) (yaw, pitch) radians -> (B, 3, 3): pitch about +X (positive looks up, towards +Y),
    then yaw about +Y (positive turns the front, +Z, towards +X)."""
    y, p = yaw_pitch[:, 0], yaw_pitch[:, 1]
    cy, sy, cp, sp = torch.cos(y), torch.sin(y), torch.cos(p), torch.sin(p)
    o, z = torch.ones_like(y), torch.zeros_like(y)
    Ry = torch.stack([cy, z, sy, z, o, z, -sy, z, cy], -1).reshape(-1, 3, 3)
    Rx = torch.stack([o, z, z, z, cp, sp, z, -sp, cp], -1).reshape(-1, 3, 3)  # front (+Z) turns to +Y
    return Ry @ Rx


#: values of ``response`` (``landmark_model``, ``HeadLandmarkConfig.detector_response``)
RESPONSE_MODES = ("off", "expression", "both")


def _responses(emb: Embedding, response: str) -> tuple:
    """(identity response or None, expression response or None) of ``emb`` used under ``response``."""
    if response not in RESPONSE_MODES:
        from facesculpt.core.errors import ConfigError

        raise ConfigError(f"detector response must be one of {', '.join(RESPONSE_MODES)}, got {response!r}")
    return (emb.response_identity if response == "both" else None,
            emb.response_expression if response != "off" else None)


def _load_response(faces: np.ndarray, bary: np.ndarray) -> tuple:
    """(identity (K, N, 3), expression (E, N, 3)) float32 tensors of ``RESPONSE_ASSET``, or (None, None)
    when the package has none. It must have been measured on this embedding."""
    ref = resources.files("facesculpt") / "assets" / RESPONSE_ASSET
    if not ref.is_file():
        return None, None
    try:
        with resources.as_file(ref) as path, np.load(path) as d:
            z = {k: d[k] for k in d.files}
    except (OSError, ValueError) as e:
        raise AssetError(f"asset {RESPONSE_ASSET} unreadable ({e}); reinstall facesculpt") from e
    if not (np.array_equal(z["embedding_faces"], faces) and np.allclose(z["embedding_bary"], bary, atol=1e-6)):
        raise AssetError(f"asset {RESPONSE_ASSET} was measured on another mediapipe embedding; rerun "
                         "tools/measure_landmark_response.py --fit")
    return tuple(torch.from_numpy(z[k].astype(np.float32)) for k in ("identity", "expression"))


@functools.lru_cache(maxsize=1)
def load_face_model() -> FaceModel:
    """The packaged head model (read once, cached)."""
    try:
        ref = resources.files("facesculpt") / "assets" / ASSET
        with resources.as_file(ref) as path, np.load(path) as d:
            z = {k: d[k] for k in d.files}
    except (OSError, KeyError, ValueError) as e:
        raise AssetError(f"face model asset {ASSET} missing or unreadable ({e}); reinstall facesculpt") from e
    t = torch.from_numpy
    V = z["template"].shape[0]
    narrow = np.zeros(V, dtype=bool)
    narrow[: int(z["narrow_face_last"]) + 1] = True
    resp = _load_response(z["lmk_mediapipe_faces"], z["lmk_mediapipe_bary"])
    lm = {
        "mediapipe": Embedding(t(z["lmk_mediapipe_faces"].astype(np.int64)), t(z["lmk_mediapipe_bary"]),
                               t(z["lmk_mediapipe_sigma"]) if "lmk_mediapipe_sigma" in z else None,
                               t(z["lmk_mediapipe_bias"]) if "lmk_mediapipe_bias" in z else None,
                               t(z["lmk_mediapipe_bias_limits"]) if "lmk_mediapipe_bias_limits" in z else None,
                               *resp),
        "ibug68": Embedding(t(z["lmk_ibug68_faces"].astype(np.int64)), t(z["lmk_ibug68_bary"])),
        # the 68 before their brows, nose and lips were registered with dlib's iBUG predictor: the synthetic heads
        # paint their features there (FACE_MODEL.md)
        "ibug68_multipie": Embedding(t(z["lmk_ibug68_multipie_faces"].astype(np.int64)),
                                     t(z["lmk_ibug68_multipie_bary"])),
    }
    return FaceModel(
        template=t(z["template"]),
        faces=t(z["faces"].astype(np.int64)),
        face_part=t(z["face_part"].astype(np.int64)),
        vert_part=t(z["vert_part"].astype(np.int64)),
        part_names=tuple(str(n) for n in z["part_names"]),
        uvs=t(z["uvs"]),
        face_uvs=t(z["face_uvs"].astype(np.int64)),
        mirror=t(z["mirror"].astype(np.int64)),
        identity_basis=t(z["identity_basis"].astype(np.float32)),
        expression_basis=t(z["expression_basis"].astype(np.float32)),
        expression_names=tuple(str(n) for n in z["expression_names"]),
        landmarks=lm,
        eye_centres=t(z["eye_centres"]),
        narrow_face=t(narrow),
    )


__all__ = ["FaceModel", "HeadParams", "FitView", "fit_view", "arkit_name", "Embedding", "RenderMesh", "load_face_model", "gaze_matrix"] + [
    n for n in dir() if n.startswith("PART_")]
