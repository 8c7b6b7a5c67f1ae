"""Interleaved A/B runs of the REST benchmark: variants of the sandbox, one after another.

Each variant is Python code run in the sandbox process before it serves (as
`_common.PATCHES` are), e.g. a different number of read connections. The variants take
turns, round after round, so that a machine whose speed drifts (a shared host) treats
them alike; each run gets a new project (a tier's API-call quota would otherwise run
out and turn the load into fast 402s) and must answer every request 200. Reported per
run and as medians: requests per second (wrk, as `rest_throughput.py`) and the
sandbox process' CPU per request.

    .venv/bin/python bench/rest_ab.py --rounds 3 --seconds 6 \
        shipped= \
        'half_share=import appwright.sandbox.read_connections as rc; rc.ReadConnections.__init__.__kwdefaults__["per_owner"] = 4'

Results go to bench/results/rest_ab.json.
"""

from __future__ import annotations

import argparse
import os
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import _common as c
import rest_throughput as rt


def one_run(data_dir: Path, workdir: Path, code: str, seconds: int) -> dict:
    c.PATCHES["_variant"] = code
    proc, api = c.start_sandbox_process(data_dir, log=workdir / "sandbox.log", patches=["_variant"])
    try:
        project = asyncio.run(rt.prepare(api, c.pg_dsn(data_dir)))
        rt.load(api, project["anon_key"], 2, workdir)  # warm-up
        cpu_before, started = rt._ticks(proc.pid)[0], time.monotonic()
        result = rt.load(api, project["anon_key"], seconds, workdir)
        cpu_s = (rt._ticks(proc.pid)[0] - cpu_before) / os.sysconf("SC_CLK_TCK")
        took = time.monotonic() - started
    finally:
        c.stop_process(proc)
    rt.require_reads(result)
    return {"req_per_s": round(result["req_per_s"]),
            "sandbox_us_per_request": round(cpu_s / (result["req_per_s"] * took) * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("variants", nargs="+", help="NAME=CODE (CODE may be empty: the sandbox as shipped)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=6)
    args = parser.parse_args()
    variants = dict(v.split("=", 1) for v in args.variants)
    c.prioritise()
    load = c.load_state()
    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-ab-"))
    runs: dict[str, list[dict]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, code in variants.items():
            runs[name].append(one_run(workdir / "sandbox", workdir, code, args.seconds))
            print(name, runs[name][-1], flush=True)
    medians = {name: {key: statistics.median(r[key] for r in rs) for key in rs[0]} for name, rs in runs.items()}
    for name, m in medians.items():
        print(f"{name}: median {m['req_per_s']:,.0f} req/s, {m['sandbox_us_per_request']} µs of sandbox CPU per request")
    path = c.save_results("rest_ab", {"what": "interleaved REST runs of sandbox variants", "load": load,
                                      "variants": variants, "runs": runs, "medians": medians})
    print(f"results: {path}")


if __name__ == "__main__":
    main()
