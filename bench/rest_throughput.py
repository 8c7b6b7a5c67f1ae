"""REST throughput of the sandbox vs the pgbench ceiling of the same SQL.

The sandbox runs in its own process (`serve_forever`: one uvicorn worker, the
sandbox's own embedded Postgres) with a 10,000-row table `items` under the
`public_read` RLS template. Load comes from another process: `wrk` (1 thread,
32 connections, 10 s, the anon key in the `apikey` header) when it is installed,
else an httpx/asyncio load generator with 32 concurrent connections.

The request:

    GET /rest/v1/items?select=id,title,done&done=eq.false&order=id.desc&limit=10

The run is three rounds (`--rounds`), each with a new project (a tier's API-call
quota would run out; a round with any answer but 200 stops the run): in each, the
REST load, then pgbench on the one statement the sandbox sends from 8 and from 32 clients; a round's ratio is its REST
rate over its faster pgbench run, and the verdict is the median round's (the machine's
speed drifts: runs a minute apart differed by a quarter). With `--floor`, each round
also loads `bench/rest_floor_server.py`, the least Python a one-worker server can spend
on this read (no routing, keys, limits or ASGI), so the sandbox's own cost and the
cost of any server of its shape are told apart.

Against the same Postgres, pgbench runs the SQL of that request three ways
(`pgbench -j 2 -T 10`): as one statement, exactly as the
sandbox now sends it (`SELECT … FROM sandbox.rest_read(role, schema, claims, sql)`,
which sets the role, path and claims for the statement's own transaction and runs
the json_agg SELECT that `sandbox.postgrest.build_select` builds), `-M prepared`, from
32 clients and again from 8 (the sandbox's own number of read connections: Postgres on
two cores serves it faster from fewer clients); and,
as the sandbox used to send it, as a transaction (BEGIN; SET LOCAL ROLE, search_path,
statement_timeout, the claims; the SELECT; RESET; COMMIT), once `-M prepared` with
one statement per command and once `-M simple` batched with `\;`. Those two forms are
reported for the record (they were always slower); the ceiling is each round's faster
one-statement run.

During the REST run and the one-statement pgbench runs it also splits the machine's CPU
time per request: Postgres (the postmaster and all its backends), the sandbox process,
and everything else (the load generator, the kernel). On two cores that split is what
bounds the ratio.

Targets: ≥ 4,000 req/s, and ≥ 0.5 of the pgbench ceiling.

Options:
  --rounds N          rounds of REST + pgbench runs (default 3); the median round decides.
  --floor             also load the floor server in each round (see above).
  --profile           also record the sandbox under the same wrk load with py-spy
                      (`--py-spy PATH`, default: `py-spy` on PATH or $TMPDIR/aw-bench-tools/bin)
                      and print where the time goes: by part of the request, by
                      package, and the top functions by own and total time.
  --pythonpath DIR    prepend DIR to the sandbox process' PYTHONPATH (to measure a
                      scratch change, e.g. uvloop + httptools installed with
                      `pip install --target DIR uvloop httptools`, or a patched copy).
  --patch NAME        apply a scratch change from `_common.PATCHES` in the sandbox
                      process (repeatable): `nodelay` (TCP_NODELAY on its connections),
                      `uvloop`, `jwtcache`, `fewer_round_trips`, `rest_fast_path`.
  --tag NAME          save results as rest_throughput-NAME.json (for variants).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import _common as c
from appwright.sandbox.read_connections import READ_CONNECTIONS

QUERY = "select=id,title,done&done=eq.false&order=id.desc&limit=10"
ROWS = 10_000
CONNECTIONS = 32
DURATION_S = 10
ROUNDS = 3

WRK_LUA = """
wrk.method = "GET"
wrk.headers["apikey"] = "{key}"
"""


async def prepare(api: str, dsn: str) -> dict:
    from eth_account import Account

    account = Account.create()
    await c.fund(dsn, account.address, 10_000_000)
    project = await c.new_project(api, account, "rest-bench")
    await c.admin_sql(api, project, (
        "CREATE TABLE items (id bigserial PRIMARY KEY, title text NOT NULL, "
        "done boolean NOT NULL DEFAULT false, created_at timestamptz NOT NULL DEFAULT now());"
        f"INSERT INTO items (title, done) SELECT 'item number ' || g, g % 2 = 0 FROM generate_series(1, {ROWS}) g;"
        "ANALYZE items;"
    ))
    await c.apply_rls(api, project, "items", "public_read")
    async with httpx.AsyncClient(base_url=api) as http:
        answer = await http.get(f"/rest/v1/items?{QUERY}", headers={"apikey": project["anon_key"]})
    rows = answer.json()
    assert answer.status_code == 200 and len(rows) == 10 and rows[0]["id"] == ROWS - 1, answer.text[:300]
    return project


def sql_for(project: dict, *, compound: bool) -> list[str]:
    """The commands the sandbox sends for the request, as pgbench script lines.

    `compound`: batch them the way the sandbox does (5 round trips: BEGIN; the four
    set-up statements as one simple-query string, as `sandbox.db.as_role` sends them;
    the SELECT; RESET ROLE + SET LOCAL search_path as one string; COMMIT). pgbench
    cannot prepare a multi-statement command, so with `-M prepared` each statement is
    its own command (9 round trips).
    """
    from appwright.sandbox import postgrest
    from appwright.sandbox.db import quote_ident, quote_literal
    from appwright.sandbox.keys import Principal

    params = [tuple(p.split("=", 1)) for p in QUERY.split("&")]
    query = postgrest.parse_read(params)
    select, args = postgrest.build_select(project["schema_slot"], "items", query, exact_count=False)
    assert not args
    claims = Principal(project_id=project["project_id"], role="anon").claims()
    role = f"{project['schema_slot']}_anon"
    setup = [
        f"SET LOCAL ROLE {quote_ident(role)}",
        f"SET LOCAL search_path TO {quote_ident(project['schema_slot'])}, auth",
        "SET LOCAL statement_timeout = 30000",
        f"SELECT set_config('request.jwt.claims', {quote_literal(json.dumps(claims))}, true)",
    ]
    reset = ["RESET ROLE", "SET LOCAL search_path TO DEFAULT"]
    if compound:
        return ["BEGIN;", " \\; ".join(setup) + ";", select + ";", " \\; ".join(reset) + ";", "COMMIT;"]
    return ["BEGIN;", *(s + ";" for s in setup), select + ";", *(s + ";" for s in reset), "COMMIT;"]


def read_args(project: dict) -> tuple[str, str, str, str]:
    """The four arguments of `sandbox.rest_read` for the request: role, schema, claims, SQL."""
    from appwright.sandbox import postgrest
    from appwright.sandbox.keys import Principal

    params = [tuple(p.split("=", 1)) for p in QUERY.split("&")]
    select, _ = postgrest.build_select(project["schema_slot"], "items", postgrest.parse_read(params), exact_count=False)
    claims = json.dumps(Principal(project_id=project["project_id"], role="anon").claims())
    return f"{project['schema_slot']}_anon", project["schema_slot"], claims, select


def sql_one_trip(project: dict) -> list[str]:
    """The one statement the sandbox sends for the request now (`sandbox.rest_read`)."""
    from appwright.sandbox.db import quote_literal

    literals = ", ".join(quote_literal(v) for v in read_args(project))
    return [f"SELECT body, total, returned FROM sandbox.rest_read({literals});"]


def run_wrk(api: str, key: str, seconds: int, workdir: Path) -> dict:
    script = workdir / "apikey.lua"
    script.write_text(WRK_LUA.format(key=key))
    cmd = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{seconds}s", "--latency", "-s", str(script),
           f"{api}/rest/v1/items?{QUERY}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    lat = {m.group(1): m.group(2) for m in re.finditer(r"^\s+(50|90|99)%\s+(\S+)", out, re.M)}
    return {"tool": "wrk -t1 -c32", "req_per_s": rps, "requests": total,
            "non_2xx": int(bad.group(1)) if bad else 0, "socket_errors": errors.group(1) if errors else None,
            "latency": lat, "raw": out}


_LOADGEN = r"""
import asyncio, sys, time, httpx
url, key, conns, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
async def main():
    limits = httpx.Limits(max_connections=conns, max_keepalive_connections=conns)
    async with httpx.AsyncClient(limits=limits, headers={"apikey": key}) as http:
        done, bad = 0, 0
        end = time.perf_counter() + seconds
        async def worker():
            nonlocal done, bad
            while time.perf_counter() < end:
                r = await http.get(url)
                done += 1
                bad += r.status_code != 200
        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(conns)))
        print(done, bad, time.perf_counter() - start)
asyncio.run(main())
"""


def run_loadgen(api: str, key: str, seconds: int) -> dict:
    out = subprocess.run([c.PYTHON, "-c", _LOADGEN, f"{api}/rest/v1/items?{QUERY}", key, str(CONNECTIONS),
                          str(seconds)], capture_output=True, text=True, check=True).stdout.split()
    done, bad, took = int(out[0]), int(out[1]), float(out[2])
    return {"tool": "httpx/asyncio, 32 connections", "req_per_s": done / took, "requests": done, "non_2xx": bad}


def load(api: str, key: str, seconds: int, workdir: Path) -> dict:
    if shutil.which("wrk"):
        return run_wrk(api, key, seconds, workdir)
    return run_loadgen(api, key, seconds)


def run_pgbench(data_dir: Path, lines: list[str], workdir: Path, mode: str, clients: int = CONNECTIONS) -> dict:
    from appwright.sandbox.postgres import find_binaries

    script = workdir / f"rest-{mode}.sql"
    script.write_text("\n".join(lines) + "\n")
    password, port = c.pg_password_port(data_dir)
    cmd = [str(find_binaries() / "pgbench"), "-n", "-h", "127.0.0.1", "-p", str(port), "-U", "appwright",
           "-c", str(clients), "-j", "2", "-T", str(DURATION_S), "-M", mode, "-f", str(script),
           "postgres"]
    # The sandbox's read connections run with a 30 s statement_timeout: so do pgbench's.
    env = {**os.environ, "PGPASSWORD": password, "PGOPTIONS": "-c statement_timeout=30000"}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed: {done.stderr}\n{done.stdout}")
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout).group(1))
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    return {"tps": tps, "failed": int(failed.group(1)) if failed else 0, "script": script.read_text(),
            "command": f"PGOPTIONS='{env['PGOPTIONS']}' pgbench " + " ".join(cmd[1:]), "raw": done.stdout}


def _stat(path: Path) -> list[str]:
    """A process' /proc stat fields after its name (field 3, the state, is index 0)."""
    stat = (path / "stat").read_text()
    return stat[stat.rindex(")") + 2:].split()


def _ticks(pid: int) -> tuple[int, int]:
    """(own utime+stime, reaped children's cutime+cstime) of a process, in clock ticks."""
    fields = _stat(Path(f"/proc/{pid}"))
    return int(fields[11]) + int(fields[12]), int(fields[13]) + int(fields[14])


def _backends(postmaster: int) -> list[list[str]]:
    """The stat fields of the postmaster's live children (its backends and workers)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = _stat(entry)
            except OSError:
                continue  # exited meanwhile: counted in the postmaster's cutime once reaped
            if int(fields[1]) == postmaster:
                found.append(fields)
    return found


def _postgres_ticks(postmaster: int) -> int:
    """CPU of the postmaster and all its backends, those that already exited included."""
    own, reaped = _ticks(postmaster)
    return own + reaped + sum(int(fields[11]) + int(fields[12]) for fields in _backends(postmaster))


def _settle(postmaster: int, quiet_s: float = 0.2, limit_s: float = 5.0) -> None:
    """Wait until Postgres' backends stop coming and going (a finished pgbench's exit)."""
    deadline, last, since = time.monotonic() + limit_s, -1, time.monotonic()
    while time.monotonic() < deadline:
        count = len(_backends(postmaster))
        if count != last:
            last, since = count, time.monotonic()
        elif time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.02)


def _machine_busy_ticks() -> tuple[int, int]:
    total, idle = c.cpu_times()
    return total - idle, total  # busy (all but idle and iowait), all


def with_cpu(run, *, postmaster: int, sandbox: int | None = None) -> tuple[dict, dict]:
    """Run `run()` and split the machine's CPU over its operations: µs per request or transaction.

    Postgres is the postmaster with all its backends; "other" is everything else the
    machine ran meanwhile (the load generator — wrk or pgbench — the kernel, and any
    neighbour).
    """
    hz = os.sysconf("SC_CLK_TCK")
    _settle(postmaster)
    pg0, sb0, (busy0, all0) = _postgres_ticks(postmaster), _ticks(sandbox)[0] if sandbox else 0, _machine_busy_ticks()
    result = run()
    _settle(postmaster)  # the run's backends exit and are reaped (counted) inside the window
    pg1, sb1, (busy1, all1) = _postgres_ticks(postmaster), _ticks(sandbox)[0] if sandbox else 0, _machine_busy_ticks()
    count = result.get("requests") or result["tps"] * DURATION_S
    us = lambda ticks: round(ticks / hz / count * 1e6, 1)  # noqa: E731
    cpus = os.cpu_count() or 1
    busy_ticks_all_cpus = busy1 - busy0  # /proc/stat's first line sums every CPU
    split = {"postgres_us": us(pg1 - pg0), "sandbox_us": us(sb1 - sb0),
             "other_us": us(busy_ticks_all_cpus - (pg1 - pg0) - (sb1 - sb0)),
             "machine_busy_share": round(busy_ticks_all_cpus / max(1, all1 - all0), 3), "cpus": cpus}
    return result, split


def find_py_spy(given: str | None) -> str:
    tools = Path(os.environ.get("TMPDIR", "/tmp")) / "aw-bench-tools" / "bin" / "py-spy"
    for candidate in (given, shutil.which("py-spy"), str(tools)):
        if candidate and Path(candidate).exists():
            return candidate
    sys.exit("py-spy not found: pip install --target /tmp/aw-bench-tools py-spy (or pass --py-spy PATH)")


def profile(pid: int, api: str, key: str, py_spy: str, workdir: Path) -> dict:
    """py-spy (raw collapsed stacks) on the sandbox while wrk loads it; top own/total time."""
    raw = workdir / "profile.txt"
    spy = subprocess.Popen([py_spy, "record", "--pid", str(pid), "--duration", str(DURATION_S), "--rate", "250",
                            "--format", "raw", "-o", str(raw)],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    time.sleep(1.0)
    under = load(api, key, DURATION_S - 2, workdir)
    spy.wait(timeout=60)
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    by_file: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        n = int(count)
        frames = stack.split(";")
        if frames and frames[0].startswith("process "):
            frames = frames[1:]
        if frames and frames[0].startswith("thread "):
            frames = frames[1:]
        samples += n
        if not frames:
            continue
        own[_short(frames[-1])] += n
        by_file[_package(frames[-1])] += n
        for frame in set(map(_short, frames)):
            total[frame] += n
    idle = sum(n for f, n in own.items() if "select (selectors.py" in f or "poll (" in f)
    categories: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        categories[_category(stack)] += int(count)
    return {
        "by_part": [(k, round(n / samples, 4)) for k, n in categories.most_common()],
        "samples": samples, "req_per_s_under_profiler": under["req_per_s"],
        "idle_share": idle / samples if samples else 0,
        "top_own": [(f, round(n / samples, 4)) for f, n in own.most_common(25)],
        "top_total": [(f, round(n / samples, 4)) for f, n in total.most_common(45)],
        "own_by_package": [(p, round(n / samples, 4)) for p, n in by_file.most_common(15)],
    }


# Where a sample's time goes, by the first marker found in its stack (order matters).
_CATEGORIES = (
    ("REST read: the statement on a read connection (asyncpg)", ("ReadConnections.fetchrow",)),
    ("REST read: waiting for a free read connection", ("ReadConnections._wait",)),
    ("REST read: the caller (key, rate limit, project, quota)", ("caller_of",)),
    ("REST read: the plan (query string parse + SQL build, on a miss)", ("ReadPlans.plan",)),
    ("response send (head + body, joined into one write)", ("RequestResponseCycle.send", "_JoinedWrites")),
    ("full app: routing and middleware (not taken by server-side reads)", ("Starlette.__call__", "FastAPI.__call__")),
    ("HTTP parsing (httptools)", ("HttpToolsProtocol",)),
    ("event loop: socket reads (Postgres and HTTP)", ("_read_ready",)),
    ("event loop: waiting in epoll", ("EpollSelector.select",)),
)


def _category(stack: str) -> str:
    for name, markers in _CATEGORIES:
        if any(all(part in stack for part in ((m,) if isinstance(m, str) else m)) for m in markers):
            return name
    return "event loop and other"


def _short(frame: str) -> str:
    # "func (path/to/file.py:123)" → "func (file.py:123)"; keep the package for site-packages
    m = re.match(r"(.*) \((.*):(\d+)\)$", frame)
    if not m:
        return frame
    func, path, _line = m.groups()
    return f"{func} ({_package_path(path)})"


def _package_path(path: str) -> str:
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1]
    if "/work/main/" in path:
        return path.split("/work/main/", 1)[1]
    return Path(path).name


def _package(frame: str) -> str:
    m = re.match(r".* \((.*):\d+\)$", frame)
    if not m:
        return frame
    rel = _package_path(m.group(1))
    return rel.split("/", 1)[0] if "/" in rel else rel


def start_floor(data_dir: Path, project: dict) -> tuple[subprocess.Popen[bytes], str]:
    """`bench/rest_floor_server.py` on a free port, serving the benchmark's read."""
    port = c.free_port()
    proc = subprocess.Popen(
        [c.PYTHON, str(Path(__file__).with_name("rest_floor_server.py")), str(port), c.pg_dsn(data_dir),
         *read_args(project), str(READ_CONNECTIONS)], stdout=subprocess.PIPE)
    if proc.stdout is None or proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise RuntimeError("the floor server did not start")
    return proc, f"http://127.0.0.1:{port}"


def require_reads(result: dict) -> dict:
    """`result` of a load, if every answer was a 200; a tier's API-call quota running out
    turns reads into fast 402s, which are not a read's rate."""
    if result["non_2xx"]:
        raise RuntimeError(f"{result['non_2xx']} REST answers were not 200: the run does not measure reads")
    return result


def one_round(data_dir: Path, project: dict, api: str, sandbox: int, workdir: Path, floor: str | None,
              floor_pid: int | None) -> dict:
    """One REST run (and one floor run), then the one statement from 8 and from 32 pgbench clients."""
    postmaster, key = c.postmaster_pid(data_dir), project["anon_key"]
    out: dict = {}
    out["rest"], out["rest_cpu"] = with_cpu(lambda: load(api, key, DURATION_S, workdir),
                                            postmaster=postmaster, sandbox=sandbox)
    require_reads(out["rest"])
    if floor:
        out["floor"], out["floor_cpu"] = with_cpu(lambda: load(floor, key, DURATION_S, workdir),
                                                  postmaster=postmaster, sandbox=floor_pid)
    # Postgres serves this statement faster from fewer clients on two cores; the sandbox
    # itself sends its reads over READ_CONNECTIONS connections.
    for clients in (READ_CONNECTIONS, CONNECTIONS):
        out[f"c{clients}"], out[f"c{clients}_cpu"] = with_cpu(
            lambda: run_pgbench(data_dir, sql_one_trip(project), workdir, "prepared", clients=clients),
            postmaster=postmaster)
    out["ceiling_tps"] = max(out[f"c{n}"]["tps"] for n in (READ_CONNECTIONS, CONNECTIONS))
    out["ratio"] = out["rest"]["req_per_s"] / out["ceiling_tps"]
    if floor:
        out["floor_ratio"] = out["floor"]["req_per_s"] / out["ceiling_tps"]
    return out


def _lean(result: dict) -> dict:
    return {k: v for k, v in result.items() if k != "raw"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--floor", action="store_true")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--py-spy")
    parser.add_argument("--pythonpath")
    parser.add_argument("--tag")
    parser.add_argument("--patch", action="append", default=[], choices=sorted(c.PATCHES))
    args = parser.parse_args()
    c.prioritise()
    load_before = c.load_state()

    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-rest-"))
    data_dir = workdir / "sandbox"
    env = {}
    if args.pythonpath:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [args.pythonpath, os.environ.get("PYTHONPATH")]))
    proc, api = c.start_sandbox_process(data_dir, env=env, log=workdir / "sandbox.log", patches=args.patch)
    floor_proc = None
    try:
        project = asyncio.run(prepare(api, c.pg_dsn(data_dir)))
        key = project["anon_key"]
        load(api, key, 3, workdir)  # warm-up: read connections, prepared statements, caches
        floor = None
        if args.floor:
            floor_proc, floor = start_floor(data_dir, project)
            load(floor, key, 2, workdir)
        rounds = []
        for n in range(args.rounds):
            if n:  # a new project each round: one's API-call quota (prototype: 500,000) lasts few rounds
                project = asyncio.run(prepare(api, c.pg_dsn(data_dir)))
                key = project["anon_key"]
                load(api, key, 2, workdir)  # its warm-up
            rounds.append(one_round(data_dir, project, api, proc.pid, workdir, floor, floor_proc and floor_proc.pid))
        prepared = run_pgbench(data_dir, sql_for(project, compound=False), workdir, "prepared")
        simple = run_pgbench(data_dir, sql_for(project, compound=True), workdir, "simple")
        prof = profile(proc.pid, api, key, find_py_spy(args.py_spy), workdir) if args.profile else None
    finally:
        if floor_proc is not None:
            floor_proc.kill()
            floor_proc.wait()
        c.stop_process(proc)
    # The verdict is the median round's: the machine's speed drifts (a shared host), and
    # each round measures the sandbox and its ceiling within the same minute.
    middle = sorted(rounds, key=lambda r: r["ratio"])[len(rounds) // 2]
    ratio = middle["ratio"]
    rest = middle["rest"]
    results = {
        "what": "REST filtered GET, one uvicorn worker (separate process) vs pgbench of the same SQL",
        "request": f"GET /rest/v1/items?{QUERY} (anon key; {ROWS} rows, public_read RLS)",
        "load": load_before,
        "variant": {"pythonpath": args.pythonpath, "patches": args.patch} if args.pythonpath or args.patch else None,
        "rounds": [
            {"req_per_s": r["rest"]["req_per_s"], "ceiling_tps": r["ceiling_tps"], "ratio": round(r["ratio"], 3),
             f"pgbench_c{READ_CONNECTIONS}_tps": r[f"c{READ_CONNECTIONS}"]["tps"],
             f"pgbench_c{CONNECTIONS}_tps": r[f"c{CONNECTIONS}"]["tps"],
             **({"floor_req_per_s": r["floor"]["req_per_s"], "floor_ratio": round(r["floor_ratio"], 3)}
                if "floor" in r else {})}
            for r in rounds],
        "rest": _lean(rest),
        "pgbench_prepared": _lean(prepared),
        "pgbench_simple_compound": _lean(simple),
        "pgbench_one_trip": _lean(middle[f"c{CONNECTIONS}"]),
        f"pgbench_one_trip_c{READ_CONNECTIONS}": _lean(middle[f"c{READ_CONNECTIONS}"]),
        "cpu_per_request": {"rest": middle["rest_cpu"], "pgbench_one_trip": middle[f"c{CONNECTIONS}_cpu"],
                            f"pgbench_one_trip_c{READ_CONNECTIONS}": middle[f"c{READ_CONNECTIONS}_cpu"],
                            **({"floor": middle["floor_cpu"]} if "floor" in middle else {})},
        "floor": ({"req_per_s": middle["floor"]["req_per_s"], "ratio": middle["floor_ratio"],
                   "median_ratio": statistics.median(r["floor_ratio"] for r in rounds)} if floor else None),
        "ceiling_tps": middle["ceiling_tps"],
        "ratio": ratio,
        "targets": {"req_per_s": 4000, "ratio": 0.5},
        "met": {"req_per_s": statistics.median(r["rest"]["req_per_s"] for r in rounds) >= 4000, "ratio": ratio >= 0.5},
        "profile": prof,
    }
    name = "rest_throughput" + (f"-{args.tag}" if args.tag else "")
    path = c.save_results(name, results)
    print(prepared["raw"])
    print(simple["raw"])
    for i, r in enumerate(rounds, 1):
        floor_part = (f", floor {r['floor']['req_per_s']:,.0f} req/s = {r['floor_ratio']:.2f}" if "floor" in r else "")
        print(f"round {i}: sandbox REST {r['rest']['req_per_s']:,.0f} req/s (non-2xx {r['rest']['non_2xx']}); "
              f"pgbench {READ_CONNECTIONS} clients {r[f'c{READ_CONNECTIONS}']['tps']:,.0f} tps, "
              f"{CONNECTIONS} clients {r[f'c{CONNECTIONS}']['tps']:,.0f} tps; ratio {r['ratio']:.2f}{floor_part}")
    print(f"pgbench -M prepared, one statement per command (9 round trips): {prepared['tps']:,.0f} tps "
          f"(failed {prepared['failed']})")
    print(f"pgbench -M simple, batched in 5 round trips: {simple['tps']:,.0f} tps (failed {simple['failed']})")
    print("CPU per request in the median round:")
    splits = [("sandbox REST", middle["rest_cpu"]), (f"pgbench, {CONNECTIONS} clients", middle[f"c{CONNECTIONS}_cpu"]),
              (f"pgbench, {READ_CONNECTIONS} clients", middle[f"c{READ_CONNECTIONS}_cpu"])]
    if "floor_cpu" in middle:
        splits.insert(1, ("floor server", middle["floor_cpu"]))
    for label, split in splits:
        print(f"  {label}: Postgres {split['postgres_us']} µs, server {split['sandbox_us']} µs, "
              f"other (load generator, kernel) {split['other_us']} µs; machine {split['machine_busy_share']:.0%} busy")
    print(f"ratio (median of {len(rounds)} rounds): {ratio:.2f}   targets: ≥ 4,000 req/s "
          f"{'MET' if results['met']['req_per_s'] else 'MISSED'}, ≥ 0.5 of ceiling "
          f"{'MET' if results['met']['ratio'] else 'MISSED'}")
    if prof:
        print(f"\nprofile: {prof['samples']} samples, idle (event loop waiting) {prof['idle_share']:.1%}, "
              f"{prof['req_per_s_under_profiler']:,.0f} req/s under the profiler")
        print("time by part of the request (inclusive, first match):")
        for part, share in prof["by_part"]:
            print(f"  {share:6.1%}  {part}")
        print("own time by package:")
        for name_, share in prof["own_by_package"]:
            print(f"  {share:6.1%}  {name_}")
        print("top functions by own time:")
        for frame, share in prof["top_own"]:
            print(f"  {share:6.1%}  {frame}")
        print("top functions by total (inclusive) time:")
        for frame, share in prof["top_total"]:
            print(f"  {share:6.1%}  {frame}")
    print(f"results: {path}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
