"""How the memory store file grows with the step log, and checkpoints per step.

Part 1, the step log. One run in a new `MemoryStore`; events are logged the way a
real build logs them, cycling through a step's sequence with realistic data: the
step's title (`step_started`), its rendered prompt card (`prompt_shown`, 1–3 kB),
an `action` (name, call number, arguments such as an SQL text, a summary), the
`user_message`, and `step_finished` with the step's output (for `plan`, the real
`todo` plan, site files included). The file size (after a WAL checkpoint, so the
main file holds everything) is read at 1,000, 2,000 and 4,000 events; bytes per
event are the slope between the points. Linear growth means the slope stays the same.
`dbstat` splits the size into the events table and its indexes.

Part 2, checkpoints. The nine-step graph (`workflow.graph.build_graph`, no-op nodes,
`SqliteSaver`, durability "sync") is run again and again, one new thread per run,
and the LangGraph tables (`checkpoints`, `writes`) are measured after 1, 2, 4, 8, 16
and 32 runs: bytes per run and per step stay the same, and so does each checkpoint's
own size from the first step of the first run to the last of the last (the state is
two small fields; the log never enters it). One more thread goes round the feedback
loop to its limit (the node for `feedback` asks to go again), to show a long thread
does not make its checkpoints grow either.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import _common as c

from appwright.memory import EventKind, MemoryStore, StepId
from appwright.steps import STEPS
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint
from appwright.workflow.graph import build_graph, open_checkpointer

CHECKPOINTS = (1_000, 2_000, 4_000)


def event_cycle() -> list[tuple[StepId, EventKind, dict[str, Any]]]:
    """The events of one pass over the nine steps (5 per step), with realistic data."""
    plan = plan_from_blueprint(load_blueprint("todo"))
    facts: dict[str, Any] = {**plan, "project_id": "prj_0123456789abcdef", "service_key": "ey" + "x" * 150,
                             "anon_key": "ey" + "y" * 150, "tables_created": ["todos"], "rls_applied": ["todos"],
                             "site_files": ["index.html", "app.js", "style.css"], "deployment_id": "dpl_0123456789",
                             "app_url": "http://shared-todo.localhost:8402", "request": {"blueprint": "todo"}}
    sql = plan["table_plan"][0]["sql"]
    events = []
    for step in STEPS:
        context = {k: facts.get(k, f"{k}-value") for k in step.context}
        output = plan if step.id == "plan" else {k: f"{k}-value-0123456789abcdef" for k in step.memory.store}
        action = step.actions[0].name if step.actions else "ask"
        events += [
            (step.id, EventKind.STEP_STARTED, {"title": step.title}),
            (step.id, EventKind.PROMPT_SHOWN, {"card": step.card(context)}),
            (step.id, EventKind.ACTION, {"action": action, "call_no": 1, "args": {"sql": sql},
                                         "summary": "status ok, rowCount 0", "replayed": False}),
            (step.id, EventKind.USER_MESSAGE, {"text": f"{step.title}: done. Everything went as planned."}),
            (step.id, EventKind.STEP_FINISHED, {"output": output}),
        ]
    return events


def file_size(path: Path) -> int:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path.stat().st_size


def table_bytes(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        conn.close()
    return {name: size for name, size in rows if any(name == n or name.startswith(f"sqlite_autoindex_{n}") or
                                                      name.startswith(f"idx_{n}") or name.startswith(f"{n}_")
                                                      for n in names)}


def step_log(workdir: Path) -> dict[str, Any]:
    path = workdir / "log.db"
    store = MemoryStore(path)
    run = store.create_run(platform="run402", api_base="http://127.0.0.1:8402", blueprint="todo")
    cycle = event_cycle()
    empty = file_size(path)
    points, logged, data_bytes = [], 0, 0
    for target in CHECKPOINTS:
        while logged < target:
            step_id, kind, data = cycle[logged % len(cycle)]
            event = store.log_event(run.run_id, StepId(f"{step_id}~{logged // len(cycle) + 1}"), kind, data)
            data_bytes += len(str(event.data).encode())
            logged += 1
        size = file_size(path)
        points.append({"events": target, "file_bytes": size, "bytes_per_event": (size - empty) / target,
                       "events_table_bytes": table_bytes(path, ("aw_events",)),
                       "approx_data_bytes": data_bytes})
    store.close()
    slopes = [(b["file_bytes"] - a["file_bytes"]) / (b["events"] - a["events"]) for a, b in zip(points, points[1:])]
    return {"empty_file_bytes": empty, "points": points, "slope_bytes_per_event": slopes,
            "mean_event_data_bytes": data_bytes / CHECKPOINTS[-1]}


def lg_bytes(path: Path) -> dict[str, int]:
    conn = sqlite3.connect(path)
    try:
        ck = conn.execute("SELECT count(*), coalesce(sum(length(checkpoint) + length(metadata)), 0), "
                          "coalesce(min(length(checkpoint) + length(metadata)), 0), "
                          "coalesce(max(length(checkpoint) + length(metadata)), 0) FROM checkpoints").fetchone()
        wr = conn.execute("SELECT count(*), coalesce(sum(length(value)), 0) FROM writes").fetchone()
        pages = dict(conn.execute("SELECT name, sum(pgsize) FROM dbstat WHERE name IN "
                                  "('checkpoints', 'writes', 'sqlite_autoindex_checkpoints_1', "
                                  "'sqlite_autoindex_writes_1') GROUP BY name").fetchall())
    finally:
        conn.close()
    return {"checkpoints": ck[0], "checkpoint_blob_bytes": ck[1], "checkpoint_min_bytes": ck[2],
            "checkpoint_max_bytes": ck[3], "writes": wr[0], "writes_blob_bytes": wr[1],
            "table_and_index_bytes": sum(pages.values())}


def checkpoints(workdir: Path, max_runs: int) -> dict[str, Any]:
    path = workdir / "graph.db"
    saver = open_checkpointer(str(path))
    graph = build_graph(lambda step, iteration: False, saver)
    points, done, target = [], 0, 1
    while target <= max_runs:
        while done < target:
            graph.invoke({"iteration": 0}, {"configurable": {"thread_id": f"run-{done}"}}, durability="sync")
            done += 1
        sizes = lg_bytes(path)
        sizes["runs"] = done
        sizes["bytes_per_run"] = sizes["table_and_index_bytes"] / done
        sizes["blob_bytes_per_step"] = (sizes["checkpoint_blob_bytes"] + sizes["writes_blob_bytes"]) / (done * 9)
        points.append(sizes)
        target *= 2
    saver.conn.close()

    # One thread that goes round the feedback loop as often as the graph allows.
    loop_path = workdir / "loop.db"
    loop_saver = open_checkpointer(str(loop_path))
    steps_run: list[str] = []

    def node(step: Any, iteration: int) -> bool:
        steps_run.append(step.id)
        return step.id == "feedback"  # always ask for changes

    loop_graph = build_graph(node, loop_saver)
    loop_graph.invoke({"iteration": 0}, {"configurable": {"thread_id": "loop"}}, durability="sync")
    conn = loop_saver.conn
    per_ck = [row[0] for row in conn.execute(
        "SELECT length(checkpoint) + length(metadata) FROM checkpoints ORDER BY checkpoint_id")]
    loop_saver.conn.close()
    return {"points": points, "feedback_loop_thread": {"steps_run": len(steps_run), "checkpoints": len(per_ck),
                                                       "first_bytes": per_ck[:3], "last_bytes": per_ck[-3:],
                                                       "min_bytes": min(per_ck), "max_bytes": max(per_ck)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-runs", type=int, default=32)
    args = parser.parse_args()
    c.prioritise()
    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-growth-"))
    try:
        log = step_log(workdir)
        ck = checkpoints(workdir, args.max_runs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    results = {"what": "store file size vs step-log events; LangGraph checkpoint size per step",
               "step_log": log, "checkpoints": ck}
    path = c.save_results("store_growth", results)
    print(f"empty store: {log['empty_file_bytes']:,} bytes; mean event data ≈ {log['mean_event_data_bytes']:.0f} bytes")
    for p in log["points"]:
        print(f"  {p['events']:>5} events: file {p['file_bytes']:>10,} bytes  ({p['bytes_per_event']:.0f} bytes/event "
              f"incl. the empty file's share)  aw_events + indexes {sum(p['events_table_bytes'].values()):,}")
    print("  slope between points (bytes/event): " + ", ".join(f"{s:.0f}" for s in log["slope_bytes_per_event"]))
    print("checkpoints (no-op 9-step runs, one thread each):")
    for p in ck["points"]:
        print(f"  {p['runs']:>3} runs: {p['checkpoints']:>4} checkpoints, tables+indexes {p['table_and_index_bytes']:>9,} "
              f"bytes = {p['bytes_per_run']:,.0f}/run; blobs {p['blob_bytes_per_step']:.0f} bytes/step; "
              f"checkpoint size {p['checkpoint_min_bytes']}–{p['checkpoint_max_bytes']} bytes")
    fl = ck["feedback_loop_thread"]
    print(f"  one thread round the feedback loop: {fl['steps_run']} steps, {fl['checkpoints']} checkpoints, "
          f"sizes {fl['min_bytes']}–{fl['max_bytes']} bytes (first {fl['first_bytes']}, last {fl['last_bytes']})")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
