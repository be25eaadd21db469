"""``import mediapipe`` without importing matplotlib's pyplot.

mediapipe 0.10.21's package ``__init__`` imports ``mediapipe.python.solutions``, whose ``drawing_utils`` runs
``import matplotlib.pyplot as plt`` for its plotting helpers (which facesculpt never calls): 0.31 of the 0.56 s the
import took, at every start of the command. While mediapipe is imported, ``matplotlib`` and ``matplotlib.pyplot``
are stand-ins that import the real module on the first attribute read (``drawing_utils.plt.figure`` still works);
they are removed from ``sys.modules`` afterwards, so any later ``import matplotlib.pyplot`` gets the real one. When
matplotlib is already imported nothing is replaced."""
from __future__ import annotations

import importlib
import sys
import threading
import types

_LOCK = threading.Lock()


class _LazyModule(types.ModuleType):
    """Stands in for a module while mediapipe is imported; the first attribute read imports the real one."""

    def __getattr__(self, name):
        if sys.modules.get(self.__name__) is self:  # read while still standing in
            del sys.modules[self.__name__]
        return getattr(importlib.import_module(self.__name__), name)


def import_mediapipe():
    """The ``mediapipe`` module, imported without matplotlib's pyplot (module docstring)."""
    mp = sys.modules.get("mediapipe")
    if mp is not None:
        return mp
    with _LOCK:
        stubs = [n for n in ("matplotlib", "matplotlib.pyplot") if n not in sys.modules]
        for n in stubs:
            sys.modules[n] = _LazyModule(n)
        if stubs == ["matplotlib", "matplotlib.pyplot"]:  # `import matplotlib.pyplot as plt` reads the attribute
            sys.modules["matplotlib"].__dict__["pyplot"] = sys.modules["matplotlib.pyplot"]
        try:
            import mediapipe
        finally:
            for n in stubs:
                if isinstance(sys.modules.get(n), _LazyModule):
                    del sys.modules[n]
    return mediapipe


__all__ = ["import_mediapipe"]
