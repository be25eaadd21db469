"""`facesculpt compare A B`: identity distance between two photos (to be completed)."""
from __future__ import annotations


def register(subparsers) -> None:
    """Add the ``compare`` sub-command to the main parser's subparsers."""
    return None
