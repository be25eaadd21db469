"""Silence third-party native (C++) logging on the process's stderr.

mediapipe and TensorFlow Lite log from C++ straight to file descriptor 2 (``INFO: Created
TensorFlow Lite XNNPACK delegate``, ``W0000 ... inference_feedback_manager.cc``), past Python's
``sys.stderr`` and past the GLOG/TF environment variables once the library is loaded. The only
reliable way to keep them off the terminal is to point fd 2 at /dev/null around those calls.
Set ``FACESCULPT_NATIVE_LOGS=1`` (the CLI's ``--verbose`` does) to let them through.
"""
from __future__ import annotations

import contextlib
import os
import sys

#: environment variable that lets native logs through when set to a non-empty value other than "0"
NATIVE_LOGS_ENV = "FACESCULPT_NATIVE_LOGS"


@contextlib.contextmanager
def quiet_native_stderr():
    """Redirect fd 2 to /dev/null for the duration (no-op with ``FACESCULPT_NATIVE_LOGS=1``).

    Not re-entrant across threads: callers hold their own lock around the native call."""
    if os.environ.get(NATIVE_LOGS_ENV, "0") not in ("", "0"):
        yield
        return
    try:
        sys.stderr.flush()
    except (AttributeError, ValueError):
        pass
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 (e.g. a detached process): nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
