"""The result folder of a multi-photo fit (``facesculpt reconstruct --subject a.jpg b.jpg ...``):
the still outputs of the most frontal photo with the fused albedo (``io.results.write_result``:
mesh.obj/.glb, albedo.png, ...) plus ``subject.json``: the photos, the shared identity, per photo
its pose, expression, gaze, SH light, landmark error, and the identity distances between them."""
from __future__ import annotations

from pathlib import Path

from facesculpt.io.atomic import write_json


def subject_dict(sub) -> dict:
    from facesculpt.io.results import params_dict

    model = sub.fused.model
    photos = []
    for name, rec in zip(sub.names, sub.photos):
        p = params_dict(rec)
        photos.append({"photo": name, "pose": p["pose"], "light": p["light"]["sh_coeffs"],
                       "expression": {n: float(w) for n, w in zip(model.expression_names, rec.head.expression[0])},
                       "gaze_rad": rec.head.gaze[0].tolist(), "metrics": rec.metrics})
    return {
        "photos": photos,
        "front_photo": sub.names[sub.front],
        "identity": sub.fused.head.identity[0].tolist(),
        "identity_distances": None if sub.distances is None else sub.distances.tolist(),
        "timings_s": sub.timings,
        "note": ("one identity for all photos (solved against every photo's landmarks, photos weighted by facing "
                 "and landmark residual, then with the default and "
                 "full presets the joint photometric stage), per-photo pose, expression, gaze and light; albedo "
                 "fused from every photo weighted by visibility^2 x registration_confidence; mesh files in the "
                 "front photo's pose"),
    }


def write_subject_result(folder, image, sub, extra_writers=()) -> Path:
    """Write ``sub`` (``subject.SubjectReconstruction``) into ``folder`` atomically; ``image`` is the front photo.
    ``extra_writers``: more ``write_result`` writers (the CLI's report page)."""
    from facesculpt.io.results import write_result

    def writer(tmp, rec):
        write_json(Path(tmp) / "subject.json", subject_dict(sub))

    return write_result(Path(folder), image, sub.fused, extra_writers=(writer, *extra_writers))


__all__ = ["write_subject_result", "subject_dict"]
