"""One call of a deployed function: a fresh Node.js process per call, through the sandbox.

The sandbox runs in its own process (its own embedded Postgres). A project is created
(paid, funded straight in the ledger), a function that answers a small JSON document is
deployed, then `GET /functions/v1/echo` is called N times, one at a time, and M times
at once; every answer is checked (200 and the document). A bare `node -e 0` is timed
the same way beside it, since a call's cost is mostly Node's own start-up.

Reported: median and p95 of one call, wall time of the concurrent batch, median of a
bare Node start. No target in the issues; the figure is for the runtime's docstring.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

import _common as c

CODE = "export default async (req) => Response.json({ ok: true, method: req.method });"


async def measure(api: str, dsn: str, n: int, together: int) -> dict:
    from eth_account import Account

    account = Account.create()
    await c.fund(dsn, account.address, 1_000_000)
    project = await c.new_project(api, account, "fn-bench")
    headers = {"apikey": project["anon_key"]}
    async with httpx.AsyncClient(base_url=api, timeout=60) as http:
        deployed = await http.post(f"/admin/v1/projects/{project['project_id']}/functions", json={"name": "echo", "code": CODE},
                                   headers={"Authorization": f"Bearer {project['service_key']}"})
        assert deployed.status_code == 201, deployed.text
        one = [await _call(http, headers) for _ in range(n)]
        started = time.perf_counter()
        await asyncio.gather(*(_call(http, headers) for _ in range(together)))
        batch = time.perf_counter() - started
    return {"one_s": one, "batch_s": batch}


async def _call(http: httpx.AsyncClient, headers: dict[str, str]) -> float:
    started = time.perf_counter()
    answer = await http.get("/functions/v1/echo", headers=headers)
    took = time.perf_counter() - started
    if answer.status_code != 200 or answer.json() != {"ok": True, "method": "GET"}:
        raise RuntimeError(f"{answer.status_code} {answer.text[:300]}")
    return took


def bare_node(n: int) -> list[float]:
    timings = []
    for _ in range(n):
        started = time.perf_counter()
        subprocess.run(["node", "-e", "0"], check=True)
        timings.append(time.perf_counter() - started)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=30)
    parser.add_argument("--together", type=int, default=20)
    args = parser.parse_args()
    c.prioritise()
    load = c.load_state()
    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-fn-"))
    proc, api = c.start_sandbox_process(workdir / "sandbox", log=workdir / "sandbox.log")
    try:
        raw = asyncio.run(measure(api, c.pg_dsn(workdir / "sandbox"), args.n, args.together))
    finally:
        c.stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    node = bare_node(args.n)
    one = raw["one_s"]
    results = {
        "what": "GET /functions/v1/echo, a fresh Node.js process per call, sandbox in another process",
        "load": load,
        "n": len(one),
        "call_ms": {"median": c.median(one) * 1e3, "p95": c.percentile(one, 95) * 1e3, "min": min(one) * 1e3},
        "together": {"calls": args.together, "wall_s": raw["batch_s"]},
        "bare_node_ms": {"median": c.median(node) * 1e3},
    }
    path = c.save_results("function_call", results)
    m = results["call_ms"]
    print(f"function call, n={len(one)}: median {m['median']:.0f} ms, p95 {m['p95']:.0f} ms, min {m['min']:.0f} ms")
    print(f"{args.together} calls at once: {raw['batch_s']:.2f} s; bare `node -e 0`: median {results['bare_node_ms']['median']:.0f} ms")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
