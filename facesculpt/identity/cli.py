"""`facesculpt compare A.jpg B.jpg`: identity distance between the largest faces of two photos.

Prints ``distance 0.423: same person (threshold 0.60)`` or ``... different people ...``
and exits 0; a photo that cannot be read or holds no face gives a one-line error and exit 1
(``--verbose`` prints the traceback).
"""
from __future__ import annotations

import sys
import traceback

EXIT_FAILED = 1


def photo_face_embedding(path: str):
    """(128,) embedding of the largest face in the photo at ``path`` (FaceSculptError on failure)."""
    from facesculpt.detect import detect_faces
    from facesculpt.io.image import display_name, load_image
    from facesculpt.metrics.identity import photo_embedding
    from facesculpt.topology import load_topology

    image = load_image(path)
    lmk = detect_faces(image, max_faces=1, name=display_name(path))[0]
    topo = load_topology()
    return photo_embedding(image, lmk.points[topo.lmk68, :2])


def compare_photos(path_a: str, path_b: str) -> float:
    """Euclidean identity distance between the largest faces of two photos."""
    import torch

    a, b = photo_face_embedding(path_a), photo_face_embedding(path_b)
    return float(torch.linalg.vector_norm(a - b))


def verdict(distance: float) -> str:
    """The line ``compare`` prints for ``distance``."""
    from facesculpt.identity import SAME_PERSON_THRESHOLD

    same = distance < SAME_PERSON_THRESHOLD
    return (f"distance {distance:.3f}: {'same person' if same else 'different people'} "
            f"(threshold {SAME_PERSON_THRESHOLD:.2f})")


def cmd_compare(args) -> int:
    from facesculpt.core.errors import FaceSculptError

    try:
        d = compare_photos(args.a, args.b)
    except FaceSculptError as e:
        if args.verbose:
            traceback.print_exc()
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        print(f"error: {text}", file=sys.stderr)
        return EXIT_FAILED
    print(verdict(d))
    return 0


def register(subparsers) -> None:
    """Add the ``compare`` sub-command to the main parser's subparsers."""
    c = subparsers.add_parser("compare", help="identity distance between the faces of two photos",
                              description="Embed the largest face of each photo with dlib's face-recognition "
                                          "network and print their distance and a same/different verdict.")
    c.add_argument("a", help="first photo")
    c.add_argument("b", help="second photo")
    c.add_argument("--verbose", action="store_true", help="print tracebacks")
    c.set_defaults(func=cmd_compare)
