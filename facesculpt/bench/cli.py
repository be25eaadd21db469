"""`facesculpt benchmark synthetic|holdout` (to be completed)."""
from __future__ import annotations


def register(subparsers) -> None:
    """Add the ``benchmark`` sub-command to the main parser's subparsers."""
    return None
