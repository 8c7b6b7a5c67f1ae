"""Running a serverless function: one short-lived Node.js process per call.

A function is an ES module whose default export takes a `Request` and returns a
`Response` (the seed's Lambda shape). Each call writes the module and a small harness
(`HARNESS`, below) into a fresh temporary folder and runs

    node --experimental-permission --allow-fs-read=<that folder> --max-old-space-size=<MB> harness.mjs

with the request as JSON on stdin. The harness imports the module, builds a `Request`,
awaits the function and writes the `Response` (status, headers, base64 body) after a
per-call random marker on stdout; the function's own `console.log` goes to stderr.
Isolation, and why:

* the environment is the project's secrets and nothing else: no variable of the
  sandbox's own environment (its database password, the wallet path) reaches the code;
* Node's permission model lets the code read only its own folder, and write nothing,
  spawn no process and start no worker: no function reads another project's files;
* `--max-old-space-size` caps the JS heap and RLIMIT_DATA all writable memory (heap + 256 MB); a wall-clock timer kills the whole process
  group (SIGKILL) when the function's timeout passes; its output is capped too;
* at most `MAX_CONCURRENT` processes run at once per event loop; the server only ever
  awaits them, so a throwing or hanging function never stalls any other request.

What a call costs is measured by `bench/function_call.py` (a call end to end over HTTP,
20 calls at once, and a bare `node -e 0` beside them; see bench/README.md): nearly all
of it is Node's own start-up. A warm worker pool would cut this, at the price of the
per-call isolation above.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import resource
import secrets
import shutil
import signal
import tempfile
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = ["NODE", "HARNESS", "Invocation", "Outcome", "run_function", "MAX_CONCURRENT"]

NODE = shutil.which("node") or "/usr/bin/node"
"""The machine's Node.js."""
MAX_CONCURRENT = max(4, (os.cpu_count() or 2) * 2)
"""Node processes alive at once per event loop; further calls wait their turn."""
MAX_OUTPUT_BYTES = 10 * 1024 * 1024
"""stdout cap: a 6 MB response body, base64-encoded, with room."""
_OFF_HEAP_MB = 256
"""Writable memory a process may use beyond its heap cap: Node itself, buffers, a response body."""
_STDERR_TAIL = 8 * 1024  # what an error answer quotes of the function's logs

HARNESS = r"""
import { readFileSync, writeSync } from 'node:fs';
const input = JSON.parse(readFileSync(0, 'utf8'));
const emit = (answer) => writeSync(1, '\n' + input.marker + JSON.stringify(answer) + '\n');
for (const name of ['log', 'info', 'debug']) console[name] = (...args) => console.error(...args);
try {
  const mod = await import('./function.mjs');
  if (typeof mod.default !== 'function') {
    throw new TypeError('the module has no default export function (export default async (req) => new Response(...))');
  }
  if (input.check) {
    emit({ ok: true });
  } else {
    const init = { method: input.method, headers: input.headers };
    if (!['GET', 'HEAD'].includes(input.method)) init.body = Buffer.from(input.body, 'base64');
    const res = await mod.default(new Request(input.url, init));
    if (!(res instanceof Response)) throw new TypeError('the function returned ' + typeof res + ', not a Response');
    const body = Buffer.from(await res.arrayBuffer()).toString('base64');
    emit({ ok: true, status: res.status, headers: [...res.headers], body });
  }
} catch (error) {
  emit({ ok: false, error: String((error && error.stack) || error) });
}
process.exit(0);
"""


@dataclass(frozen=True, kw_only=True)
class Invocation:
    """One call of a function."""

    name: str
    """The function's name (shown in error text in place of the temporary path)."""
    code: str
    """The module's source."""
    env: Mapping[str, str]
    """The whole environment of the process: the project's secrets."""
    timeout_s: float
    """Wall-clock limit; the process group is killed after it."""
    memory_mb: int
    """The JS heap cap (`--max-old-space-size`)."""
    method: str = "GET"
    url: str = "http://localhost/"
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    check: bool = False
    """Only import the module and check its default export (at deploy time)."""


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """What a call produced: a response, or why there is none."""

    ok: bool
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    body: bytes = b""
    error: str | None = None
    """`function_error` (it threw), `function_timeout`, `function_crashed`, `function_response_too_large`."""
    message: str = ""
    """The thrown error with its stack, or what happened to the process."""
    logs: str = ""
    """The tail of what the function wrote to stderr / console."""


_LIMITS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore] = weakref.WeakKeyDictionary()


def _limit() -> asyncio.Semaphore:
    loop = asyncio.get_running_loop()
    if loop not in _LIMITS:
        _LIMITS[loop] = asyncio.Semaphore(MAX_CONCURRENT)
    return _LIMITS[loop]


async def run_function(call: Invocation) -> Outcome:
    """Run one call in its own Node process and report what happened."""
    async with _limit():
        folder = await asyncio.to_thread(_prepare, call.code)
        try:
            outcome = await _run(call, folder)
        finally:
            await asyncio.to_thread(shutil.rmtree, folder, True)
    return _tidy(outcome, folder, call.name)


def _prepare(code: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="appwright-fn-"))
    (folder / "harness.mjs").write_text(HARNESS, encoding="utf-8")
    (folder / "function.mjs").write_text(code, encoding="utf-8")
    return folder


async def _run(call: Invocation, folder: Path) -> Outcome:
    marker = secrets.token_hex(16)
    process = await asyncio.create_subprocess_exec(
        NODE, "--experimental-permission", f"--allow-fs-read={folder}/", "--no-warnings",
        f"--max-old-space-size={call.memory_mb}", "harness.mjs",
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=folder, env=dict(call.env), start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None and process.stderr is not None
    _cap_memory(process.pid, call.memory_mb)  # before the request is written, so before any of its code runs
    logs = _Tail()
    try:
        process.stdin.write(_request_json(call, marker))
        await process.stdin.drain()
        process.stdin.close()
        stdout, _, _ = await asyncio.wait_for(asyncio.gather(
            _read_capped(process.stdout), logs.drain(process.stderr), process.wait(),
        ), timeout=call.timeout_s)
    except TimeoutError:
        return Outcome(ok=False, status=504, error="function_timeout", logs=logs.text(),
                       message=f"the function did not answer within {call.timeout_s:g} s and was stopped")
    except _TooLarge:
        return Outcome(ok=False, status=502, error="function_response_too_large",
                       message=f"the function's answer is larger than {MAX_OUTPUT_BYTES} bytes")
    except (BrokenPipeError, ConnectionResetError):
        stdout = b""  # it died before reading its request: reported as a crash below
    finally:
        _kill_group(process)
        await process.wait()
    return _read_answer(stdout, marker, process.returncode, logs.text(), call.memory_mb)


def _cap_memory(pid: int, memory_mb: int) -> None:
    """Cap the process's writable memory (RLIMIT_DATA), Buffers and ArrayBuffers included.

    `--max-old-space-size` caps only the JS heap: without this a function could allocate
    gigabytes off the heap (`Buffer.alloc`) and exhaust the machine.
    """
    limit = (memory_mb + _OFF_HEAP_MB) * 1024 * 1024
    try:
        resource.prlimit(pid, resource.RLIMIT_DATA, (limit, limit))
    except (ProcessLookupError, PermissionError):
        pass  # it is already gone


def _request_json(call: Invocation, marker: str) -> bytes:
    return json.dumps({
        "marker": marker, "check": call.check, "method": call.method, "url": call.url,
        "headers": [list(h) for h in call.headers], "body": base64.b64encode(call.body).decode(),
    }).encode()


class _TooLarge(Exception):
    pass


async def _read_capped(stream: asyncio.StreamReader) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while chunk := await stream.read(65536):
        size += len(chunk)
        if size > MAX_OUTPUT_BYTES:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


class _Tail:
    """The last few KB of a stream, read to its end so that the child never blocks on it."""

    def __init__(self) -> None:
        self._data = b""

    async def drain(self, stream: asyncio.StreamReader) -> None:
        while chunk := await stream.read(65536):
            self._data = (self._data + chunk)[-_STDERR_TAIL:]

    def text(self) -> str:
        return self._data.decode("utf-8", errors="replace")


def _kill_group(process: asyncio.subprocess.Process) -> None:
    # The whole group: anything the function left behind dies with it.
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _read_answer(stdout: bytes, marker: str, returncode: int | None, logs: str, memory_mb: int) -> Outcome:
    _, found, payload = stdout.rpartition(marker.encode())
    if not found:
        heap = "heap" in logs.lower() and "memory" in logs.lower()
        reason = (
            f"it ran out of its {memory_mb} MB heap" if heap
            else "its promise never settled and nothing was left to wait for" if returncode == 13
            else f"it exited with code {returncode}"
        )
        return Outcome(ok=False, status=502, error="function_crashed", logs=logs,
                       message=f"the function's process ended without an answer: {reason}")
    answer = json.loads(payload)
    if not answer["ok"]:
        return Outcome(ok=False, status=500, error="function_error", message=answer["error"], logs=logs)
    return Outcome(
        ok=True, status=int(answer.get("status", 200)), logs=logs,
        headers=tuple((str(k), str(v)) for k, v in answer.get("headers", [])),
        body=base64.b64decode(answer.get("body", "")),
    )


def _tidy(outcome: Outcome, folder: Path, name: str) -> Outcome:
    """Error text names the function, not the temporary folder, nor Node's or the harness's frames."""
    if outcome.ok:
        return outcome

    def clean(text: str) -> str:
        text = text.replace(f"file://{folder}/function.mjs", f"functions/{name}")
        text = text.replace(f"{folder}/function.mjs", f"functions/{name}")
        lines = [line for line in text.splitlines() if "harness.mjs" not in line and "node:internal" not in line]
        return "\n".join(lines)

    return Outcome(ok=False, status=outcome.status, error=outcome.error,
                   message=clean(outcome.message), logs=clean(outcome.logs))
