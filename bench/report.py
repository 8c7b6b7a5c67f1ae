"""Print the results table (Markdown) from bench/results/*.json, as the README shows it.

Not a benchmark: it reads what the benchmark scripts saved. Run it after
`bench/run_all.sh` (which runs it at the end).
"""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else None


def mark(ok: bool) -> str:
    return "met" if ok else "**missed**"


def rows() -> list[tuple[str, str, str, str, str]]:
    out: list[tuple[str, str, str, str, str]] = []
    r = load("rest_throughput")
    if r:
        out.append(("REST filtered GET, 1 uvicorn worker", "≥ 4,000 req/s",
                     f"{r['rest']['req_per_s']:,.0f} req/s", mark(r["met"]["req_per_s"]),
                     f"{r['rest']['tool']}, 10 s, anon key, 10,000 rows"))
        few = next((v for k, v in r.items() if k.startswith("pgbench_one_trip_c")), None)
        clients = f"; from 8 clients {few['tps']:,.0f}" if few else ""
        rounds = r.get("rounds") or []
        spread = (f"median of {len(rounds)} rounds: " + ", ".join(f"{x['ratio']:.2f}" for x in rounds) + "; "
                  if rounds else "")
        out.append(("… as a share of the pgbench ceiling", "≥ 0.5",
                     f"{r['ratio']:.2f} ({spread}ceiling {r['ceiling_tps']:,.0f} tps in the median round. The one "
                     f"statement the sandbox sends: from 32 clients {r['pgbench_one_trip']['tps']:,.0f}{clients}; "
                     f"as a 9-statement transaction {r['pgbench_prepared']['tps']:,.0f}, batched in 5 round trips "
                     f"{r['pgbench_simple_compound']['tps']:,.0f})",
                     mark(r["met"]["ratio"]), "pgbench -c 32 and -c 8, -j 2 -T 10, same SQL, same Postgres, each round"))
        floor = r.get("floor")
        if floor:
            out.append(("… the floor: bench/rest_floor_server.py (the read alone, no API)", "none set",
                        f"{floor['req_per_s']:,.0f} req/s, {floor['ratio']:.2f} of the ceiling in the median round; "
                        "rounds: " + ", ".join(f"{x['floor_ratio']:.2f}" for x in rounds if "floor_ratio" in x),
                        "-", "same rounds, same wrk load"))
        cpu = r.get("cpu_per_request")
        if cpu:
            def split(part: dict) -> str:
                return (f"Postgres {part['postgres_us']:.0f} + sandbox {part['sandbox_us']:.0f} + other "
                        f"{part['other_us']:.0f} µs")
            best = max((k for k in cpu if k.startswith("pgbench")), key=lambda k: r[k]["tps"] if k in r else 0)
            out.append(("… machine CPU per request (2 cores)", "none set",
                        f"REST: {split(cpu['rest'])}; "
                        + (f"floor: {split(cpu['floor'])}; " if "floor" in cpu else "")
                        + f"pgbench ({best.removeprefix('pgbench_')}): {split(cpu[best])}",
                        "-", "/proc CPU times during the same runs"))
    for tag, label in (("nodelay", "scratch: TCP_NODELAY"),
                       ("nodelay-httptools-uvloop", "scratch: + httptools + uvloop"),
                       ("lean", "scratch: + JWT cache + 3 round trips, no pool reset"),
                       ("lean-fastpath", "scratch: + plain-ASGI fast path for the route")):
        v = load(f"rest_throughput-{tag}")
        if v:
            out.append((f"REST GET, {label}", "≥ 4,000 req/s", f"{v['rest']['req_per_s']:,.0f} req/s "
                        f"(ratio {v['ratio']:.2f})", mark(v["met"]["req_per_s"]), "same run shape, patched sandbox"))
    s = load("sandbox_start")
    if s:
        for way, label in (("subprocess", "`appwright sandbox` subprocess"), ("inprocess", "in-process SandboxServer.start()")):
            out.append((f"Sandbox start → first answer, {label}, new data dir", "≤ 1.5 s",
                         f"{s[way]['new_median_s']:.2f} s", mark(s["met"][f"{way}_new"]), f"median of {s['reps']}"))
            out.append(("… existing data dir", "≤ 0.5 s", f"{s[way]['existing_median_s']:.2f} s",
                         mark(s["met"][f"{way}_existing"]), f"median of {s['reps']}"))
    for tag, label in (("", ""), ("-async-commit", ", scratch: synchronous_commit=off")):
        p = load(f"paid_request{tag}")
        if p:
            out.append((f"Paid request (402, sign, retry, verify, settle){label}", "≤ 5 ms",
                         f"median {p['paid_ms']['median']:.1f} ms, p95 {p['paid_ms']['p95']:.1f} ms",
                         mark(p["met"]), f"{p['n']} sequential POST /v1/message"))
    b = load("build")
    if b:
        out.append(("Build todo, warm sandbox (--api)", "≤ 1.5 s", f"{b['warm']['wall_median_s']:.2f} s "
                    f"(steps {b['warm']['steps_total_median_ms']:.0f} ms)", mark(b["met"]["warm"]), f"median of {b['reps']}"))
        out.append(("Build todo, cold (new home, embedded sandbox)", "≤ 4 s", f"{b['cold']['wall_median_s']:.2f} s "
                    f"(steps {b['cold']['steps_total_median_ms']:.0f} ms)", mark(b["met"]["cold"]), f"median of {b['reps']}"))
    e = load("engine_overhead")
    if e:
        f, n = e["as_shipped"], e["scratch_synchronous_normal"]
        out.append(("Engine per step vs bare LangGraph + SqliteSaver", "≤ 3×",
                    f"{f['engine_ms_per_step']:.2f} vs {f['bare_ms_per_step']:.2f} ms/step = {f['ratio']:.2f}×",
                    mark(e["met"]), f"median of {f['runs']} nine-step runs"))
        out.append(("… scratch: synchronous=NORMAL on both", "≤ 3×",
                    f"{n['engine_ms_per_step']:.2f} vs {n['bare_ms_per_step']:.2f} ms/step = {n['ratio']:.1f}×",
                    mark(n["ratio"] <= 3.0), "same runs, PRAGMA on all connections"))
        bt = e.get("before_grouping_8_commits")
        if bt:
            out.append(("… before grouping a step's writes (8 commits/step)", "≤ 3×",
                        f"{bt['engine_ms_per_step']:.2f} vs {bt['bare_ms_per_step']:.2f} ms/step = {bt['ratio']:.1f}×",
                        mark(bt["ratio"] <= 3.0), "same runs, synchronous=FULL"))
    g = load("store_growth")
    if g:
        pts = g["step_log"]["points"]
        sizes = ", ".join(f"{p['events']:,}: {p['file_bytes'] / 1e6:.2f} MB" for p in pts)
        slopes = ", ".join(f"{x:.0f}" for x in g["step_log"]["slope_bytes_per_event"])
        out.append(("Store size vs step-log events", "linear", f"{sizes}; slope {slopes} B/event", "met" if
                    max(g["step_log"]["slope_bytes_per_event"]) < 1.1 * min(g["step_log"]["slope_bytes_per_event"])
                    else "**not linear**", f"mean event data {g['step_log']['mean_event_data_bytes']:.0f} B"))
        ck = g["checkpoints"]["points"]
        out.append(("LangGraph checkpoints per step", "constant", f"{ck[0]['blob_bytes_per_step']:.0f} → "
                    f"{ck[-1]['blob_bytes_per_step']:.0f} B/step over {ck[0]['runs']} → {ck[-1]['runs']} runs",
                    "met", "checkpoints + writes blobs"))
    fn = load("function_call")
    if fn:
        out.append(("Function call (a fresh Node.js process per call)", "none set",
                    f"median {fn['call_ms']['median']:.0f} ms, p95 {fn['call_ms']['p95']:.0f} ms; "
                    f"{fn['together']['calls']} at once {fn['together']['wall_s']:.2f} s; "
                    f"bare `node -e 0` {fn['bare_node_ms']['median']:.0f} ms", "-",
                    f"{fn['n']} sequential GET /functions/v1/echo"))
    return out


def main() -> None:
    print("| what | target | measured | verdict | how |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows():
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
