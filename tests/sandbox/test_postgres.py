"""Real processes: the embedded Postgres starts, persists, stops, dies with its owner, recovers.

The data dirs live in their own `/tmp/aw-pgtest-*` folders rather than under pytest's
`/tmp/pytest-of-root`: every pytest run resets that folder to mode 0700, which takes
away the traverse right the unprivileged server user needs, so a test run in parallel
would break our initdb.
"""

from __future__ import annotations

import asyncio
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest
from core import postgres_processes

from appwright.sandbox.postgres import SERVER_USER, DataDirBusy, EmbeddedPostgres, find_binaries

pytestmark = pytest.mark.timeout(120)

GONE_WITHIN_S = 2.0  # the postmaster gets SIGINT when its owner dies: ~0.1–0.3 s here


@pytest.fixture
def data_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="aw-pgtest-")).resolve()
    yield path
    for pid in postgres_processes(path):  # never leave a server behind, whatever failed
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def query(dsn: str, sql: str) -> object:
    async def run() -> object:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            return await conn.fetchval(sql)
        finally:
            await conn.close()

    return asyncio.run(run())


def execute(dsn: str, sql: str) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(dsn, timeout=10)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run())


def wait_gone(data_dir: Path, timeout: float = GONE_WITHIN_S) -> list[int]:
    """The postgres processes of the data dir still alive after `timeout` (empty: all gone)."""
    deadline = time.monotonic() + timeout
    while (left := postgres_processes(data_dir)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return left


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "pgdata" / "postmaster.pid").read_text().splitlines()[0])


OWNER_SCRIPT = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from appwright.sandbox.postgres import EmbeddedPostgres
    server = EmbeddedPostgres(data_dir=Path(sys.argv[1]))
    print(server.start(), flush=True)
    time.sleep(600)
""")


def spawn_owner(data_dir: Path) -> tuple[subprocess.Popen[str], str]:
    """A separate process that starts the server on `data_dir` and then just waits."""
    owner = subprocess.Popen([sys.executable, "-c", OWNER_SCRIPT, str(data_dir)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    assert owner.stdout is not None
    dsn = owner.stdout.readline().strip()
    if not dsn:
        owner.kill()
        raise AssertionError(f"the owner did not start the server: {owner.stderr.read() if owner.stderr else ''}")
    return owner, dsn


# --- start, stop, persist ------------------------------------------------------------------


def test_data_persists_across_stop_and_start_and_stop_leaves_no_process(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir=data_dir)
    dsn = server.start()
    assert dsn.startswith("postgresql://appwright:") and "@127.0.0.1:" in dsn
    assert server.dsn == dsn
    assert postgres_processes(data_dir), "the server should be running"
    execute(dsn, "CREATE TABLE kept (v text); INSERT INTO kept VALUES ('still here')")
    server.stop()
    assert wait_gone(data_dir, 0.0) == [], "stop() returned with postgres processes left"
    assert not (data_dir / "pgdata" / "postmaster.pid").exists()
    with pytest.raises(Exception, match="not running"):
        _ = server.dsn

    with EmbeddedPostgres(data_dir=data_dir) as again:  # a new owner object, same cluster
        assert query(again.dsn, "SELECT v FROM kept") == "still here"
        assert query(again.dsn, "SELECT current_setting('listen_addresses')") == "127.0.0.1"
        assert query(again.dsn, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user") is True
    assert wait_gone(data_dir, 0.0) == []
    # the password is kept private, the cluster owned by the server user when we are root
    assert (data_dir / "pg-password").stat().st_mode & 0o777 == 0o600
    if os.geteuid() == 0:
        assert (data_dir / "pgdata").stat().st_uid == pwd.getpwnam(SERVER_USER).pw_uid


def test_a_fixed_port_is_used(data_dir: Path) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with EmbeddedPostgres(data_dir=data_dir, port=port) as server:
        assert f"@127.0.0.1:{port}/" in server.dsn
        assert query(server.dsn, "SELECT current_setting('port')") == str(port)


# --- the owner dies ------------------------------------------------------------------------


def test_a_killed_owner_leaves_no_postgres_and_the_next_start_works(data_dir: Path) -> None:
    owner, dsn = spawn_owner(data_dir)
    try:
        execute(dsn, "CREATE TABLE survived (v int); INSERT INTO survived VALUES (7)")
        running = postgres_processes(data_dir)
        assert postmaster_pid(data_dir) in running

        # while it lives, the data dir is its own
        with pytest.raises(DataDirBusy) as busy:
            EmbeddedPostgres(data_dir=data_dir).start()
        assert f"pid {owner.pid}" in str(busy.value) and str(data_dir) in str(busy.value)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait()
    assert wait_gone(data_dir) == [], "postgres outlived its killed owner"

    with EmbeddedPostgres(data_dir=data_dir) as again:
        assert query(again.dsn, "SELECT v FROM survived") == 7
    assert wait_gone(data_dir, 0.0) == []


def test_a_crashed_postmaster_leaves_a_stale_pid_file_that_the_next_start_handles(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir=data_dir)
    dsn = server.start()
    execute(dsn, "CREATE TABLE durable (v int); INSERT INTO durable VALUES (1)")
    crashed = postmaster_pid(data_dir)
    os.kill(crashed, signal.SIGKILL)
    assert wait_gone(data_dir) == []
    server.stop()  # releases the data dir; nothing left to stop
    pid_file = data_dir / "pgdata" / "postmaster.pid"
    assert pid_file.exists() and postmaster_pid(data_dir) == crashed  # stale

    with EmbeddedPostgres(data_dir=data_dir) as again:
        assert query(again.dsn, "SELECT v FROM durable") == 1  # committed data survives the crash
        assert postmaster_pid(data_dir) != crashed


def test_a_stale_pid_file_naming_a_live_unrelated_process_is_not_fatal(data_dir: Path) -> None:
    server = EmbeddedPostgres(data_dir=data_dir)
    server.start()
    os.kill(postmaster_pid(data_dir), signal.SIGKILL)
    assert wait_gone(data_dir) == []
    server.stop()
    # after a reboot the old pid may belong to anything: here a `sleep` of ours
    unrelated = subprocess.Popen(["sleep", "60"])
    try:
        pid_file = data_dir / "pgdata" / "postmaster.pid"
        lines = pid_file.read_text().splitlines()
        pid_file.write_text("\n".join([str(unrelated.pid), *lines[1:]]) + "\n")
        with EmbeddedPostgres(data_dir=data_dir) as again:
            assert query(again.dsn, "SELECT 1") == 1
        assert unrelated.poll() is None, "start() must not signal a process that is not postgres"
    finally:
        unrelated.kill()
        unrelated.wait()


def test_an_orphan_started_outside_is_stopped_and_replaced(data_dir: Path) -> None:
    # make the cluster, then run its postmaster the way a crashed earlier owner left it:
    # same binaries, same user, no parent-death signal, nobody holding the lock
    with EmbeddedPostgres(data_dir=data_dir) as first:
        execute(first.dsn, "CREATE TABLE before (v text); INSERT INTO before VALUES ('orphaned')")
    password = (data_dir / "pg-password").read_text().strip()
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        orphan_port = probe.getsockname()[1]
    user_kwargs: dict[str, object] = {}
    if os.geteuid() == 0:
        owner = pwd.getpwnam(SERVER_USER)
        user_kwargs = {"user": owner.pw_uid, "group": owner.pw_gid, "extra_groups": []}
    orphan = subprocess.Popen(
        [str(find_binaries() / "postgres"), "-D", str(data_dir / "pgdata"), "-p", str(orphan_port),
         "-c", "listen_addresses=127.0.0.1", "-c", "unix_socket_directories="],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True, **user_kwargs,  # type: ignore[arg-type]
    )
    reaper = threading.Thread(target=orphan.wait, daemon=True)  # as init would: no zombie lingers
    reaper.start()
    try:
        orphan_dsn = f"postgresql://appwright:{password}@127.0.0.1:{orphan_port}/postgres"
        deadline = time.monotonic() + 30
        while True:
            try:
                assert query(orphan_dsn, "SELECT v FROM before") == "orphaned"
                break
            except (OSError, asyncpg.PostgresError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        assert postmaster_pid(data_dir) == orphan.pid

        with EmbeddedPostgres(data_dir=data_dir) as replacement:
            reaper.join(5)
            assert orphan.poll() is not None, "the orphan should have been stopped"
            assert postmaster_pid(data_dir) != orphan.pid
            assert query(replacement.dsn, "SELECT v FROM before") == "orphaned"
            with pytest.raises((OSError, asyncpg.PostgresError)):
                query(orphan_dsn, "SELECT 1")
        assert wait_gone(data_dir, 0.0) == []
    finally:
        if orphan.poll() is None:
            orphan.kill()


# --- one owner at a time -------------------------------------------------------------------


def test_a_second_owner_on_a_busy_data_dir_gets_a_clear_error(data_dir: Path) -> None:
    with EmbeddedPostgres(data_dir=data_dir) as first:
        second = EmbeddedPostgres(data_dir=data_dir)
        with pytest.raises(DataDirBusy) as busy:
            second.start()
        message = str(busy.value)
        assert str(data_dir) in message
        assert f"pid {os.getpid()}" in message
        assert "--data-dir" in message
        # the failed attempt touched nothing: the first server still answers
        assert query(first.dsn, "SELECT 1") == 1
        with pytest.raises(Exception, match="not running"):
            _ = second.dsn
    # once the first owner stops, the second may start
    with EmbeddedPostgres(data_dir=data_dir) as later:
        assert query(later.dsn, "SELECT 1") == 1
