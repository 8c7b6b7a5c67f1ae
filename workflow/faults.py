"""Named crash points, so that tests can kill a build exactly where it hurts.

With `APPWRIGHT_FAULT=<point>` set, the process kills itself with SIGKILL when it
reaches that point: e.g. `after_call:provision:create_project` dies after the
backend took the payment and before the journal recorded the answer. Unset (the
normal case), a point costs one dictionary lookup.
"""

from __future__ import annotations

import os
import signal

__all__ = ["point"]


def point(name: str) -> None:
    """Die here, at once and without cleanup, if this is the configured fault point."""
    if os.environ.get("APPWRIGHT_FAULT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
