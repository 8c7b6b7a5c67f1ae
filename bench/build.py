"""A full build of the `todo` blueprint, warm and cold, wall time of the whole command.

* warm: a sandbox already runs in another process (`appwright sandbox --port P
  --data-dir D`, started once and warmed by one build); each repetition runs
  `appwright build --blueprint todo --yes --no-serve --api http://127.0.0.1:P`
  with a new APPWRIGHT_HOME (a new memory store) and a new wallet file
  (APPWRIGHT_WALLET), so every build makes its wallet, funds it at the faucet,
  pays for its project, deployment and subdomain.
* cold: a new APPWRIGHT_HOME and no --api, so the build starts its own embedded
  sandbox on a new data dir (initdb included) and stops it at the end (--no-serve).
  Before each cold repetition the script checks that nothing answers on the
  default sandbox port 8402 (the build would use it, and it would not be cold).

Each repetition is a subprocess timed from Popen to exit (so Python start and imports
count). After each build, `appwright log RUN --json` gives the per-step durations
(the engine's own `duration_ms` of each step), whose medians are reported per step.
The build's memory store then splits the wall time into phases (wall clock, medians
in ms): `to_run_created` (interpreter, imports, opening the store, loading the
blueprint; the embedded sandbox's start too when cold), `events` (the run's first
step-log event to its last: the steps, the graph, its checkpoints) and `after_last_event`
(the run's report, closing the clients, stopping the embedded sandbox, the exit).

Targets: warm ≤ 1.5 s, cold ≤ 4 s (median of the repetitions, default 5).

`--nodelay` measures a scratch change: every process of the benchmark (the sandbox,
the builds) gets a `sitecustomize` (on PYTHONPATH, in a temporary folder) that lets
asyncio set TCP_NODELAY on TCP sockets whatever their `proto` (the sandbox binds its
socket with proto 0, so asyncio never sets it and a response written as headers +
body waits ~40 ms for the client's delayed ACK). Results go to build-nodelay.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

import _common as c


SITECUSTOMIZE = """
import asyncio.base_events as _be, socket as _socket
def _set_nodelay(sock):
    if sock.family in {_socket.AF_INET, _socket.AF_INET6} and sock.type == _socket.SOCK_STREAM:
        sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
_be._set_nodelay = _set_nodelay
"""
EXTRA_ENV: dict[str, str] = {}


def build_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("APPWRIGHT_API", "RUN402_API_BASE",
                                                             "RUN402_ALLOWANCE_PATH")}
    env.update(EXTRA_ENV)
    env["APPWRIGHT_HOME"] = str(home)
    env["APPWRIGHT_WALLET"] = str(home / "wallet" / "allowance.json")
    return env


def one_build(home: Path, run_id: str, api: str | None) -> dict:
    env = build_env(home)
    cmd = [c.APPWRIGHT, "build", "--blueprint", "todo", "--yes", "--no-serve", "--run-id", run_id]
    if api:
        cmd += ["--api", api]
    started, started_at = time.perf_counter(), time.time()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    ended_at = started_at + wall
    if done.returncode != 0:
        raise RuntimeError(f"build failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    log = subprocess.run([c.APPWRIGHT, "log", run_id, "--json"], env=env, capture_output=True, text=True, check=True)
    record = json.loads(log.stdout)
    if record["status"] != "done":
        raise RuntimeError(f"run {run_id} is {record['status']}:\n{done.stdout}")
    steps = {s["step"]: s["duration_ms"] for s in record["steps"]}
    return {"wall_s": wall, "steps_ms": steps, "steps_total_ms": sum(v or 0 for v in steps.values()),
            "phases_ms": phases(home / "appwright.db", started_at, ended_at)}


def phases(store: Path, started_at: float, ended_at: float) -> dict[str, float]:
    """Where the wall time went, from the run's own timestamps (see the docstring)."""
    db = sqlite3.connect(f"file:{store}?mode=ro", uri=True)
    try:
        created = db.execute("SELECT created_at FROM aw_runs").fetchone()[0]
        first, last = db.execute("SELECT min(at), max(at) FROM aw_events").fetchone()
    finally:
        db.close()
    created_at, first_at, last_at = (datetime.fromisoformat(t).timestamp() for t in (created, first, last))
    return {"to_run_created": (created_at - started_at) * 1e3, "events": (last_at - first_at) * 1e3,
            "after_last_event": (ended_at - last_at) * 1e3}


def port_8402_answers() -> bool:
    try:
        return httpx.post("http://127.0.0.1:8402/v1/projects/quote", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def summarise(builds: list[dict]) -> dict:
    names = list(builds[0]["steps_ms"])
    return {
        "wall_s": [b["wall_s"] for b in builds],
        "wall_median_s": c.median([b["wall_s"] for b in builds]),
        "steps_total_median_ms": c.median([b["steps_total_ms"] for b in builds]),
        "steps_median_ms": {n: c.median([b["steps_ms"][n] or 0 for b in builds]) for n in names},
        "phases_median_ms": {k: c.median([b["phases_ms"][k] for b in builds]) for k in builds[0]["phases_ms"]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--nodelay", action="store_true", help="scratch change: TCP_NODELAY (see above)")
    args = parser.parse_args()
    c.prioritise()
    load = c.load_state()
    root = Path(tempfile.mkdtemp(prefix="aw-bench-build-"))
    if args.nodelay:
        (root / "site").mkdir()
        (root / "site" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        EXTRA_ENV["PYTHONPATH"] = str(root / "site")
    port = c.free_port()
    api = f"http://127.0.0.1:{port}"
    sandbox = subprocess.Popen([c.APPWRIGHT, "sandbox", "--port", str(port), "--data-dir", str(root / "sandbox")],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               env={**os.environ, **EXTRA_ENV})
    try:
        c.wait_answering(api, sandbox, timeout=120)
        one_build(root / "warmup", "bench-warmup", api)  # first build on this sandbox: caches, pool
        warm = [one_build(root / f"warm-{i}", f"bench-warm-{i}", api) for i in range(args.reps)]
    finally:
        c.stop_process(sandbox)
    cold = []
    for i in range(args.reps):
        if port_8402_answers():
            raise SystemExit("something answers on 127.0.0.1:8402: a cold build would use it; stop it first")
        cold.append(one_build(root / f"cold-{i}", f"bench-cold-{i}", None))
    shutil.rmtree(root, ignore_errors=True)
    results = {
        "what": "appwright build --blueprint todo --yes --no-serve, wall time of the command",
        "variant": "scratch: TCP_NODELAY via sitecustomize" if args.nodelay else None,
        "reps": args.reps,
        "load": load,
        "warm": summarise(warm),
        "cold": summarise(cold),
        "targets": {"warm_s": 1.5, "cold_s": 4.0},
    }
    results["met"] = {"warm": results["warm"]["wall_median_s"] <= 1.5, "cold": results["cold"]["wall_median_s"] <= 4.0}
    path = c.save_results("build-nodelay" if args.nodelay else "build", results)
    for kind in ("warm", "cold"):
        r = results[kind]
        print(f"{kind}: median {r['wall_median_s']:.2f} s  {[round(x, 2) for x in r['wall_s']]}  "
              f"(steps sum {r['steps_total_median_ms']:.0f} ms) target {'MET' if results['met'][kind] else 'MISSED'}")
        print("   " + ", ".join(f"{n} {ms:.0f}" for n, ms in r["steps_median_ms"].items()) + "  (ms, median)")
        print("   phases: " + ", ".join(f"{n} {ms:.0f}" for n, ms in r["phases_median_ms"].items()) + "  (ms, median)")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
