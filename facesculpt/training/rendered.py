"""Training landmarks from mediapipe's detections of rendered heads (``facesculpt train render-landmarks``).

The generator in ``training.data`` projects the model's embedded points and adds noise; a network
trained on them alone meets mediapipe's own errors only at test time (the "domain gap" of
docs/regressor.md: 2.0 mm on generated points, 3.2 mm on detections of rendered heads). This
module makes the other kind of sample: a head drawn from the model is rendered as a photo
(``synthetic.head``'s renderer: painted albedo, SH light, the whole head in front of a plain
background), the project's landmarker runs on it, and the detected 478 points are stored with the
head's true parameters, pose and camera. Training mixes chunks of these with generated chunks
(``TrainConfig.rendered``).

A sample is a deterministic function of (``seed``, index): its own ``numpy`` streams for the head,
the albedo and the scene (``numpy.random.SeedSequence([seed, index])``); mediapipe's CPU inference is
repeatable. What is drawn (``RenderedConfig``):

* identity ~ N(0, 1); expression as ``training.data`` draws it (``random_expression`` of the faces
  1-6 random channels, the others the synthetic generator's 0-3 actions); gaze as the synthetic
  generator's;
* albedo ``synthetic.head.make_head_albedo`` (one of five skin tones, painted brows and lips), a
  random iris; light ``synthetic.generator.make_light``; the photo shaded on sRGB values or in
  linear light and encoded (half each);
* yaw, pitch, roll uniform in their ranges; focal length ``focal_factor`` x the image side; the face
  ``face_fraction`` of the image wide, shifted by up to 8 % of the image.

Samples whose face mediapipe does not find are skipped (and counted). The result is an ``.npz``
(``save_rendered``): ``points`` (N, 478, 3) float32 in mediapipe's pixel convention, ``identity``,
``expression``, ``gaze``, ``rotation``, ``translation``, ``focal`` as ``training.data.LandmarkBatch``
holds them, ``index`` (N,) the sample index, and ``meta`` (JSON: seed, config, counts).
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional

import numpy as np
import torch

from facesculpt.training.data import LandmarkBatch

#: version of the sample recipe (stored in the files; a file of another version is refused)
RECIPE = 1


@dataclass(frozen=True)
class RenderedConfig:
    """The distribution of the rendered heads (stored in the file)."""

    size: int = 512
    """Image side, pixels."""
    uv_size: int = 256
    """Side of the painted albedo tile."""
    head_levels: int = 1
    """Subdivisions of the rendered head (the synthetic benchmark renders 2; 1 is half the time)."""
    yaw_max: float = 75.0
    """Yaw uniform in +-this (degrees)."""
    pitch_max: float = 25.0
    """Pitch uniform in +-this (degrees)."""
    roll_max: float = 20.0
    """Roll uniform in +-this (degrees)."""
    focal_factor: tuple = (1.0, 2.2)
    """Focal length range, multiples of the image side (the synthetic benchmark: 1.4)."""
    face_fraction: tuple = (0.3, 0.65)
    """Cheek-to-cheek width of the face, share of the image side (the synthetic benchmark: 0.55)."""
    random_expression: float = 0.3
    """Share of heads with 1-6 random channels (the others: 0-3 of the generator's actions)."""
    light_strength: tuple = (0.3, 0.75)
    """Directional share of the light (``make_light``)."""
    freckles: int = 40
    """Freckles and moles painted on the albedo."""
    hair: float = 0.0
    """Share of heads given hair (a cap over the scalp from a random hairline, from high on the forehead
    to a fringe over the brows, and down the back of the head), painted in the image on the head's own
    pixels in one of six hair colours, shaded by the render, with strands."""
    textured_background: float = 0.0
    """Share of photos whose background is a random colour field (blobs and grain) instead of a plain colour."""
    camera_noise: float = 0.0
    """Largest standard deviation of Gaussian pixel noise (of 1.0; drawn uniformly up to it)."""
    camera_blur: float = 0.0
    """Largest Gaussian blur sigma, pixels (drawn uniformly up to it)."""
    mirrored_detection: bool = False
    """Detect each photo as ``reconstruct`` does since session 37: the mirrored photo's detection averaged in
    (``detect.turned.with_mirrored_detection``, faces turned under 60 degrees). False: ``detect_faces`` alone (the
    shipped weights' data; the combined detections measured no better, docs/regressor.md "Session 38")."""


#: the ``--realism`` settings of ``facesculpt train render-landmarks`` (``RenderedConfig`` fields)
REALISM = {"hair": 0.7, "textured_background": 0.5, "camera_noise": 0.02, "camera_blur": 1.0}


def _expression(rng: np.random.Generator, names: tuple, share: float) -> np.ndarray:
    from facesculpt.synthetic.head import sample_expression

    E = len(names)
    if rng.random() < share:
        out = np.zeros(E)
        k = int(rng.integers(1, 7))
        out[rng.choice(E, k, replace=False)] = rng.random(k)
        return out
    return sample_expression(rng, names)[0]


def render_sample(model, seed: int, index: int, cfg: RenderedConfig = RenderedConfig()):
    """(image (H, W, 3) uint8, labels) of sample ``index`` of ``seed``; labels: identity (K,),
    expression (E,), gaze (2, 2), rotation (3, 3) model -> camera, translation (3,) cm, focal (float)."""
    from facesculpt.core.conventions import MODEL_TO_CV
    from facesculpt.face_model import HeadParams
    from facesculpt.ops.rotations import euler_yxz_to_matrix
    from facesculpt.synthetic.generator import make_light
    from facesculpt.synthetic.head import (IRIS_COLOURS, atlas, face_pose, head_config, head_mesh, make_head_albedo,
                                           render_photo, sample_gaze)

    r_head, r_alb, r_scene = (np.random.default_rng(s) for s in np.random.SeedSequence([int(seed), int(index)]).spawn(3))
    ident = r_head.standard_normal(model.num_identity)
    expr = _expression(r_head, model.expression_names, cfg.random_expression)
    gaze = sample_gaze(r_head)
    head = HeadParams(torch.tensor(ident, dtype=torch.float32)[None], torch.tensor(expr, dtype=torch.float32)[None],
                      torch.tensor(gaze, dtype=torch.float32)[None])
    with torch.no_grad():
        hv = model.vertices(head)
    alb = make_head_albedo(r_alb, model, cfg.uv_size, cfg.freckles)
    tex = atlas(model, torch.as_tensor(alb)[None], IRIS_COLOURS[int(r_alb.integers(len(IRIS_COLOURS)))])
    light = make_light(r_scene, cfg.light_strength)
    yaw, pitch, roll = (float(r_scene.uniform(-m, m)) for m in (cfg.yaw_max, cfg.pitch_max, cfg.roll_max))
    S = cfg.size
    focal = float(r_scene.uniform(*cfg.focal_factor)) * S
    frac = float(r_scene.uniform(*cfg.face_fraction))
    shift = r_scene.uniform(-0.08, 0.08, 2) * S
    srgb = bool(r_scene.random() < 0.5)
    pose, cam, _ = face_pose(model, hv, yaw, pitch, roll, shift, head_config(size=S, face_fraction=frac), focal)
    R = MODEL_TO_CV @ euler_yxz_to_matrix(math.radians(yaw), math.radians(pitch), math.radians(roll))  # exact label
    t = pose.translation[0]
    bg_rgb = np.clip(np.array([0.55, 0.57, 0.6]) + r_scene.uniform(-0.25, 0.25, 3), 0, 1)
    bg = torch.tensor(bg_rgb, dtype=torch.float32).expand(1, S, S, 3).contiguous()
    # the realism options draw from their own stream, so a head without them is the recipe-1 head
    r_real = np.random.default_rng(np.random.SeedSequence([int(seed), int(index), 7]))
    if cfg.textured_background > 0 and r_real.random() < cfg.textured_background:
        bg = torch.from_numpy(_colour_field(r_real, S, bg_rgb))[None].contiguous()
    verts, faces, uvs, vn, _ = head_mesh(model, hv, None, cfg.head_levels)
    rend, img = render_photo(verts, faces, uvs, pose, cam, tex, light, bg, vn, srgb=srgb)
    img = img[0].numpy()
    if cfg.hair > 0 and r_real.random() < cfg.hair:
        img = _paint_hair(r_real, model, hv, verts, faces, rend, img)
    if cfg.camera_blur > 0:
        from scipy.ndimage import gaussian_filter

        sig = float(r_real.uniform(0, cfg.camera_blur))
        img = gaussian_filter(img, (sig, sig, 0))
    if cfg.camera_noise > 0:
        img = img + r_real.normal(0, float(r_real.uniform(0, cfg.camera_noise)), img.shape)
    image = np.rint(np.clip(img, 0, 1) * 255).astype(np.uint8)
    labels = {"identity": ident.astype(np.float32), "expression": expr.astype(np.float32),
              "gaze": np.asarray(gaze, np.float32).reshape(2, 2), "rotation": R.numpy().astype(np.float32),
              "translation": t.numpy().astype(np.float32), "focal": np.float32(focal)}
    return image, labels


#: hair colours (sRGB-coded, [0, 1]): black, dark brown, brown, auburn, blond, grey
HAIR_COLOURS = ((0.05, 0.04, 0.04), (0.16, 0.10, 0.07), (0.30, 0.19, 0.11), (0.40, 0.18, 0.09),
                (0.62, 0.50, 0.32), (0.55, 0.54, 0.52))


def _smooth(rng: np.random.Generator, S: int, cells: int) -> np.ndarray:
    """(S, S) smooth noise in about [-1, 1] (``synthetic.generator._smooth_noise``, one channel)."""
    from facesculpt.synthetic.generator import _smooth_noise

    return _smooth_noise(rng, S, cells)[..., 0]


def _colour_field(rng: np.random.Generator, S: int, base: np.ndarray) -> np.ndarray:
    """(S, S, 3) float32 background: ``base`` plus colour blobs of two sizes and grain."""
    out = np.asarray(base, np.float32)[None, None] + np.zeros((S, S, 3), np.float32)
    for cells, amp in ((4, 0.2), (12, 0.1)):
        out += amp * _smooth(rng, S, cells)[..., None]  # brightness blobs
        for c in range(3):
            out[..., c] += 0.3 * amp * _smooth(rng, S, cells)  # and a little colour
    out += rng.normal(0, 0.02, out.shape).astype(np.float32)
    return np.clip(out, 0, 1).astype(np.float32)


def _paint_hair(rng: np.random.Generator, model, head_verts, verts, faces, rend, img: np.ndarray) -> np.ndarray:
    """``img`` (H, W, 3) with hair painted on the head's pixels whose model-frame point lies above a random
    hairline (a fringe when it is low) or on the back of the head above the ears; shaded by the render's
    brightness there, with vertical strands."""
    from facesculpt.render.interpolate import interpolate

    P = model.points(head_verts, "mediapipe")[0].double()  # model frame: y up, the face looks along +z
    top = float(P[10, 1])  # mediapipe 10: the top of the forehead
    ear_y, ear_z = float(P[[234, 454], 1].mean()), float(P[[234, 454], 2].mean())
    xyz = interpolate(verts.float(), rend.frags, faces)[0].numpy().astype(np.float64)  # (H, W, 3) model frame
    on = rend.frags.pix_to_face[0].numpy() >= 0
    x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
    line = top + rng.uniform(-3.0, 0.8) + 0.4 * np.sin(x * rng.uniform(1.0, 3.0) + rng.uniform(0, 6.3))
    back = (z < ear_z - rng.uniform(0.0, 1.5)) & (y > ear_y - rng.uniform(0.0, 3.0))
    hair = on & ((y > line) | back)
    if not hair.any():
        return img
    colour = np.asarray(HAIR_COLOURS[int(rng.integers(len(HAIR_COLOURS)))]) * rng.uniform(0.85, 1.15, 3)
    return paint_hair_pixels(img, hair, on, colour, _smooth(rng, hair.shape[1], max(hair.shape[1] // 4, 2))[0])


def paint_hair_pixels(img: np.ndarray, hair: np.ndarray, on: np.ndarray, colour: np.ndarray,
                      streaks: np.ndarray) -> np.ndarray:
    """``img`` (H, W, 3) with its ``hair`` pixels (H, W) bool painted ``colour`` (3,) sRGB-coded, shaded by the
    image's brightness relative to its median over ``on`` (the head's pixels), with vertical strands (``streaks``
    (W,), smooth noise in about [-1, 1], as 12 % brightness)."""
    lum = img.mean(-1, keepdims=True)
    shade = np.clip(lum / max(float(np.median(lum[on])), 1e-3), 0.3, 1.6)
    strands = 1.0 + 0.12 * np.repeat(streaks[None], hair.shape[0], 0)[..., None]  # vertical streaks
    painted = np.clip(np.asarray(colour)[None, None] * shade * strands, 0, 1)
    a = hair[..., None].astype(np.float32)
    return img * (1 - a) + painted * a


FIELDS = ("points", "identity", "expression", "gaze", "rotation", "translation", "focal")
#: with ``embed``: each photo's face-recognition embedding and the mirrored photo's (``regress_init.photo_identity_features``),
#: and the recogniser's last feature map of each (``regress_init.photo_identity_outputs``; files since session 25)
EMBEDDINGS = ("embedding", "embedding_mirrored", "feature_map", "feature_map_mirrored")


def render_landmarks(model, seed: int, indices, cfg: RenderedConfig = RenderedConfig(),
                     progress: Optional[Callable[[int, int], None]] = None, embed: bool = False) -> dict:
    """Render and detect the samples ``indices`` of ``seed``: {field: array} for the found faces, plus
    ``index`` and ``missed`` (the indices mediapipe found no face in). ``embed``: also ``embedding`` (N, 128), the
    face-recognition embedding of each photo (``metrics.identity.photo_embedding``, the chip cut at the detected
    points' iBUG-68 subset, as the pipeline cuts it; ``models.identity_refiner``'s input), and ``embedding_mirrored``
    (N, 128), the mirrored photo's (``regress_init.photo_identity_features``); ``feature_map`` and
    ``feature_map_mirrored`` (N, 1024), the recogniser's last feature map of the same two chips (the same pass)."""
    from facesculpt.core.errors import FaceSculptError
    from facesculpt.detect import detect_faces

    rows = {k: [] for k in FIELDS + ("index",) + (EMBEDDINGS if embed else ())}
    if embed:
        from facesculpt.fitting.regress_init import photo_identity_outputs
    missed = []
    indices = list(indices)
    from facesculpt.detect.turned import TurnedDetectConfig, detect_with_mirror

    turned = TurnedDetectConfig() if cfg.mirrored_detection else None
    for j, i in enumerate(indices):
        image, lab = render_sample(model, seed, i, cfg)
        try:
            lm = detect_with_mirror(image, lambda im: detect_faces(im, max_faces=1, name=f"render {seed}/{i}"),
                                    turned)[0]
        except FaceSculptError:
            missed.append(int(i))
        else:
            rows["points"].append(lm.points.float().numpy())
            if embed:
                for suffix, mirrored in (("", False), ("_mirrored", True)):
                    emb, fmap = photo_identity_outputs(image, lm, model, mirrored=mirrored)
                    rows["embedding" + suffix].append(emb.numpy())
                    rows["feature_map" + suffix].append(fmap.numpy())
            for k in FIELDS[1:]:
                rows[k].append(lab[k])
            rows["index"].append(int(i))
        if progress is not None:
            progress(j + 1, len(indices))
    out = {k: np.stack(v) if v else np.zeros((0,)) for k, v in rows.items()}
    out["missed"] = np.array(missed, dtype=np.int64)
    return out


def save_rendered(path, data: dict, seed: int, cfg: RenderedConfig) -> None:
    """Write ``render_landmarks``' output (possibly several parts concatenated) atomically."""
    path = Path(path)
    meta = {"recipe": RECIPE, "seed": int(seed), "config": asdict(cfg), "count": int(len(data["index"])),
            "missed": int(len(data["missed"]))}
    tmp = path.with_name(path.name + ".tmp.npz")
    extra = tuple(k for k in EMBEDDINGS if k in data)
    np.savez_compressed(tmp, meta=np.array(json.dumps(meta)),
                        **{k: data[k] for k in FIELDS + ("index", "missed") + extra})
    os.replace(tmp, path)


def merge_rendered(parts: list) -> dict:
    """Concatenate ``render_landmarks`` outputs (sorted by sample index)."""
    keys = FIELDS + ("index",) + tuple(k for k in EMBEDDINGS if parts and all(k in p for p in parts))
    out = {k: np.concatenate([p[k] for p in parts if len(p["index"])]) for k in keys}
    order = np.argsort(out["index"], kind="stable")
    out = {k: v[order] for k, v in out.items()}
    out["missed"] = np.sort(np.concatenate([p["missed"] for p in parts]))
    return out


@dataclass(frozen=True)
class RenderedSet:
    """A loaded file: ``batch`` (all samples, ``LandmarkBatch``), ``index`` (N,) sample indices,
    ``meta`` (the file's meta, with ``sha`` its content digest)."""

    batch: LandmarkBatch
    index: np.ndarray
    meta: dict
    embedding: Optional[np.ndarray] = None
    """(N, 128) float32 the photos' face-recognition embeddings (files made with ``embed``), else None."""
    embedding_mirrored: Optional[np.ndarray] = None
    """(N, 128) float32 the mirrored photos' embeddings (files made with ``embed`` since session 21), else None."""
    feature_map: Optional[np.ndarray] = None
    """(N, 1024) float32 the recogniser's last feature map of the photos (files made with ``embed`` since session
    25), else None."""
    feature_map_mirrored: Optional[np.ndarray] = None
    """(N, 1024) float32 the same of the mirrored photos, else None."""


def load_rendered(path) -> RenderedSet:
    """Read a file written by ``save_rendered`` (ValueError if it is not one)."""
    import hashlib

    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = {k: z[k] for k in FIELDS + ("index",)}
            extra = {k: np.asarray(z[k], np.float32) if k in z.files else None for k in EMBEDDINGS}
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"{path}: not a rendered-landmarks file ({e})") from e
    if meta.get("recipe") != RECIPE:
        raise ValueError(f"{path}: rendered with recipe {meta.get('recipe')}, this version reads {RECIPE}")
    h = hashlib.sha256()
    for k in FIELDS + ("index",):
        h.update(np.ascontiguousarray(arrays[k]).tobytes())
    meta["sha"] = h.hexdigest()[:16]
    batch = LandmarkBatch(*(torch.from_numpy(np.asarray(arrays[k], np.float32)) for k in FIELDS))
    return RenderedSet(batch, arrays["index"].astype(np.int64), meta, **extra)




def _render_chunk(seed: int, indices: list, cfg_dict: dict, path: str, embed: bool = False) -> int:
    """Worker: render and detect ``indices``, write them to ``path`` (a part file). Returns the count."""
    torch.set_num_threads(1)
    from facesculpt.face_model import load_face_model

    cfg = RenderedConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg_dict.items()})
    data = render_landmarks(load_face_model(), seed, indices, cfg, embed=embed)
    p = Path(path)
    tmp = p.with_name(p.name + ".tmp.npz")
    np.savez(tmp, **data)
    os.replace(tmp, p)
    return len(indices)


def build_rendered(out, n: int, seed: int = 0, cfg: RenderedConfig = RenderedConfig(), workers: int = 1,
                   chunk: int = 50, progress: Optional[Callable[[int, int], None]] = None, embed: bool = False) -> dict:
    """Render and detect samples 0..n-1 of ``seed`` into ``out`` (``save_rendered``; with ``embed`` the photos'
    embeddings too, ``render_landmarks``), in ``workers`` processes. Chunks of ``chunk`` samples are kept in ``OUT.parts/`` as they finish, so an interrupted
    run resumes where it stopped; the folder is removed once ``out`` is written. Returns the file's meta."""
    import shutil
    from concurrent.futures import ProcessPoolExecutor, as_completed
    import multiprocessing as mp

    out = Path(out)
    parts = out.with_name(out.name + ".parts")
    parts.mkdir(parents=True, exist_ok=True)
    stamp = parts / "settings.json"
    settings = json.loads(json.dumps({"recipe": RECIPE, "seed": int(seed), "n": int(n), "chunk": int(chunk),
                                      "config": asdict(cfg), **({"embed": True} if embed else {})}))
    if stamp.exists() and json.loads(stamp.read_text()) != settings:
        raise ValueError(f"{parts} holds a run with other settings; remove it or use another output name")
    stamp.write_text(json.dumps(settings))
    jobs = [(k, list(range(k * chunk, min(n, (k + 1) * chunk)))) for k in range((n + chunk - 1) // chunk)]
    files = {k: parts / f"chunk{k:05d}.npz" for k, _ in jobs}
    todo = [(k, idx) for k, idx in jobs if not files[k].exists()]
    done = n - sum(len(idx) for _, idx in todo)
    if progress is not None:
        progress(done, n)
    if todo:
        if workers <= 1:
            for k, idx in todo:
                done += _render_chunk(seed, idx, asdict(cfg), str(files[k]), embed)
                if progress is not None:
                    progress(done, n)
        else:
            with ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn")) as pool:
                futs = [pool.submit(_render_chunk, seed, idx, asdict(cfg), str(files[k]), embed) for k, idx in todo]
                for f in as_completed(futs):
                    done += f.result()
                    if progress is not None:
                        progress(done, n)
    loaded = []
    for k, _ in jobs:
        with np.load(files[k]) as z:
            loaded.append({key: z[key] for key in z.files})
    data = merge_rendered(loaded)
    save_rendered(out, data, seed, cfg)
    shutil.rmtree(parts)
    return {"count": int(len(data["index"])), "missed": int(len(data["missed"]))}


__all__ = ["RenderedConfig", "render_sample", "render_landmarks", "save_rendered", "merge_rendered",
           "load_rendered", "build_rendered", "RenderedSet", "RECIPE", "REALISM"]
