"""Real processes: `appwright sandbox` serves, stops on Ctrl-C, and says why when it cannot start."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from core import anon, create, postgres_processes, rich_account, sql_ok

APPWRIGHT = Path(sys.executable).parent / "appwright"

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def home() -> Iterator[Path]:
    """APPWRIGHT_HOME and data dirs outside pytest's 0700 temp root (see test_postgres)."""
    path = Path(tempfile.mkdtemp(prefix="aw-clitest-")).resolve()
    yield path
    for pid in postgres_processes(path):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Cli:
    """`appwright sandbox …` as a child process, its output collected as it comes."""

    def __init__(self, *args: str, home: Path) -> None:
        env = {**os.environ, "APPWRIGHT_HOME": str(home / "home"), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen([str(APPWRIGHT), "sandbox", *args], stdout=subprocess.PIPE,
                                        stderr=subprocess.PIPE, text=True, env=env)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, sink in ((self.process.stdout, self.out), (self.process.stderr, self.err)):
            threading.Thread(target=self._drain, args=(stream, sink), daemon=True).start()

    @staticmethod
    def _drain(stream, sink: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            sink.append(line)

    def text(self) -> str:
        return "".join(self.out) + "".join(self.err)

    def wait_serving(self, port: int, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"appwright sandbox exited with {self.process.returncode}:\n{self.text()}")
            if f"API base http://127.0.0.1:{port}" in "".join(self.out):
                try:
                    answer = httpx.post(f"http://127.0.0.1:{port}/v1/projects/quote", timeout=2)
                    if answer.status_code == 200:
                        return
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        raise AssertionError(f"appwright sandbox did not answer within {timeout} s:\n{self.text()}")

    def interrupt(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"appwright sandbox ignored Ctrl-C:\n{self.text()}") from None

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def test_serves_until_ctrl_c_and_leaves_no_postgres(home: Path) -> None:
    port, data = free_port(), home / "data"
    cli = Cli("--port", str(port), "--data-dir", str(data), home=home)
    try:
        cli.wait_serving(port)
        assert postgres_processes(data), "the embedded Postgres should run under --data-dir"
        assert (data / "pgdata" / "PG_VERSION").exists()
        quote = httpx.post(f"http://127.0.0.1:{port}/v1/projects/quote").json()
        assert quote["tiers"]["prototype"]["price_usd_micros"] == 100_000
        unpaid = httpx.post(f"http://127.0.0.1:{port}/v1/projects", json={"name": "x"})
        assert unpaid.status_code == 402 and unpaid.headers["PAYMENT-REQUIRED"]
        code = cli.interrupt()
    finally:
        cli.kill()
    assert code == 0, cli.text()
    assert postgres_processes(data) == [], "Ctrl-C left the embedded Postgres running"
    assert "Traceback" not in cli.text()
    with pytest.raises(httpx.TransportError):
        httpx.post(f"http://127.0.0.1:{port}/v1/projects/quote", timeout=2)


@pytest.mark.asyncio(loop_scope="session")
async def test_database_url_serves_the_given_postgres(home: Path, api: str, pg_dsn: str) -> None:
    project = await create(api, await rich_account(pg_dsn, 200_000), "via-cli")
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        await sql_ok(http, project, "CREATE TABLE shared (v text); INSERT INTO shared VALUES ('same database')")
    port = free_port()
    cli = Cli("--port", str(port), "--database-url", pg_dsn, home=home)
    try:
        cli.wait_serving(port)
        # the session's project, keys and rows, served by the CLI's server
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            rows = await http.get("/rest/v1/shared", headers=anon(project))
        assert rows.status_code == 200 and rows.json() == [{"v": "same database"}]
        assert pg_dsn.split("@")[0].split(":")[-1] not in cli.text(), "the DSN's password must not be printed"
        code = cli.interrupt()
    finally:
        cli.kill()
    assert code == 0, cli.text()
    assert not (home / "home" / "sandbox" / "pgdata").exists(), "no embedded Postgres with --database-url"
    # the session's Postgres is untouched by the CLI stopping
    async with httpx.AsyncClient(base_url=api, timeout=30) as http:
        assert (await http.get("/rest/v1/shared", headers=anon(project))).status_code == 200


def test_a_busy_port_is_a_clear_error(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        data = home / "data"
        cli = Cli("--port", str(port), "--data-dir", str(data), home=home)
        try:
            code = cli.process.wait(timeout=60)
        finally:
            cli.kill()
    time.sleep(0.1)  # let the reader threads catch the last lines
    assert code != 0
    errors = "".join(cli.err)
    assert f"cannot listen on 127.0.0.1:{port}" in errors and "choose another --port" in errors, cli.text()
    assert "Traceback" not in cli.text()
    assert not (data / "pgdata").exists(), "nothing should start when the port is taken"


def test_a_busy_data_dir_is_a_clear_error(home: Path) -> None:
    data = home / "data"
    first_port, second_port = free_port(), free_port()
    first = Cli("--port", str(first_port), "--data-dir", str(data), home=home)
    try:
        first.wait_serving(first_port)
        second = Cli("--port", str(second_port), "--data-dir", str(data), home=home)
        try:
            code = second.process.wait(timeout=60)
        finally:
            second.kill()
        time.sleep(0.1)
        # the first one is unharmed
        assert httpx.post(f"http://127.0.0.1:{first_port}/v1/projects/quote").status_code == 200
        assert first.interrupt() == 0
    finally:
        first.kill()
    assert code != 0
    assert f"is in use by pid {first.process.pid}" in second.text()
    assert postgres_processes(data) == []
