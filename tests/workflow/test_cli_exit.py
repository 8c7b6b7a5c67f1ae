"""The `appwright` script's quick exit keeps what the interpreter's teardown did.

Each test runs the real script in a subprocess with its own APPWRIGHT_HOME; a
`sitecustomize` on PYTHONPATH plays a library that leaves work for the exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

APPWRIGHT = Path(sys.executable).with_name("appwright")


def _run(home: Path, *args: str, site: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APPWRIGHT_API", "RUN402_API_BASE")}
    env["APPWRIGHT_HOME"] = str(home)
    if site is not None:
        (home / "site").mkdir(parents=True, exist_ok=True)
        (home / "site" / "sitecustomize.py").write_text(site)
        env["PYTHONPATH"] = str(home / "site")
    return subprocess.run([str(APPWRIGHT), *args], env=env, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)


def test_the_store_is_closed_and_its_wal_checkpointed(tmp_path: Path) -> None:
    done = _run(tmp_path, "runs", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert (tmp_path / "appwright.db").is_file()
    assert not (tmp_path / "appwright.db-wal").exists()  # removed only by the last close


def test_exit_codes_and_messages_are_kept(tmp_path: Path) -> None:
    done = _run(tmp_path, "log", "no-such-run")
    assert done.returncode == 2
    assert "no-such-run" in done.stderr


def test_atexit_handlers_run_and_open_files_are_flushed(tmp_path: Path) -> None:
    site = f"""
import atexit
_log = open({str(tmp_path / "left-open.txt")!r}, "w")
_log.write("written, never closed")
atexit.register(lambda: open({str(tmp_path / "atexit.txt")!r}, "w").write("ran"))
"""
    done = _run(tmp_path, "runs", site=site)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "atexit.txt").read_text() == "ran"
    assert (tmp_path / "left-open.txt").read_text() == "written, never closed"


def test_a_running_thread_is_waited_for(tmp_path: Path) -> None:
    site = f"""
import threading, time
def _late() -> None:
    time.sleep(0.5)
    open({str(tmp_path / "thread.txt")!r}, "w").write("finished")
threading.Thread(target=_late).start()
"""
    done = _run(tmp_path, "runs", site=site)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "thread.txt").read_text() == "finished"
