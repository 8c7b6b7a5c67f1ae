"""Ending the `appwright` process without the interpreter's teardown.

After a build the interpreter holds ~1,800 modules (LangGraph, langchain-core,
pydantic, httpx, …); tearing them down one by one took ~0.5 s of every command's wall
time. `exit_now(code)` ends the process with `os._exit` instead, after doing by hand
what that teardown does that matters:

* closes every SQLite connection still open (the memory store's, the checkpointer's):
  closing the last one checkpoints the WAL into the database file and removes the
  `-wal` file, as the connection's deallocation would have;
* flushes every file object still open for writing;
* runs the `atexit` handlers (logging's flush, multiprocessing's, anything a library
  registered);
* flushes stdout and stderr.

It does nothing (the caller then exits the ordinary way) when another non-daemon
thread is still running, since the ordinary exit waits for it, or when the exit code
is not a number (`sys.exit("message")` prints the message). Only the CLI's entry
point calls it, once the command has returned: never library code.
"""

from __future__ import annotations

import atexit
import gc
import io
import os
import sys
import threading

__all__ = ["exit_now"]

_BUFFERED: tuple[type, ...] = (io.TextIOWrapper, io.BufferedWriter, io.BufferedRandom, io.BufferedRWPair)
"""The file objects that hold written data in memory."""


def exit_now(code: object) -> None:
    """End the process with `code` now if that is safe; otherwise return."""
    status = 0 if code is None else code
    if not isinstance(status, int) or _other_threads_running() or not _close_leftovers():
        return
    atexit._run_exitfuncs()  # runs each handler once and clears the list
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):  # a closed pipe: let the ordinary exit report it
        return
    os._exit(status)


def _other_threads_running() -> bool:
    main = threading.main_thread()
    return any(t is not main and not t.daemon and t.is_alive() for t in threading.enumerate())


def _close_leftovers() -> bool:
    """Close open SQLite connections and flush open writable files, as teardown would.

    False if a connection cannot be closed from here (made in another thread with
    `check_same_thread`): the ordinary exit must then deal with it.
    """
    sqlite3 = sys.modules.get("sqlite3")
    connections = _with_subclasses(sqlite3.Connection) if sqlite3 is not None else frozenset()
    kinds = connections | _with_subclasses(*_BUFFERED)
    standard = {id(stream) for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__)}
    # An exact-type set test in a comprehension: ~200,000 objects after a build, so a
    # per-object isinstance() would cost more than the rest of the exit.
    for obj in [obj for obj in gc.get_objects() if type(obj) in kinds]:
        if type(obj) in connections:
            try:
                obj.close()  # a no-op on a closed connection
            except sqlite3.Error:  # type: ignore[union-attr]
                return False
        elif id(obj) not in standard:
            _flush(obj)
    return True


def _with_subclasses(*roots: type) -> frozenset[type]:
    """`roots` and every class defined so far that derives from one of them."""
    seen: set[type] = set()
    pending = list(roots)
    while pending:
        kind = pending.pop()
        if kind not in seen:
            seen.add(kind)
            pending.extend(kind.__subclasses__())
    return frozenset(seen)


def _flush(stream: io.IOBase) -> None:
    """Flush `stream` if it is open for writing; a broken one has nothing to keep."""
    try:
        if not stream.closed and stream.writable():
            stream.flush()
    except (OSError, ValueError):  # a broken pipe, a detached buffer
        pass
