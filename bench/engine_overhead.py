"""The engine's bookkeeping per step vs a bare LangGraph graph of the same shape.

Both sides run `appwright.workflow.graph.build_graph` (the nine steps, feedback's
conditional edge) with a `SqliteSaver` from `open_checkpointer`, invoked with
`durability="sync"`, one new thread per run, in one process and one run of this
script, alternating engine and bare runs.

* bare: the node runner does nothing; the saver has a file of its own.
* engine: the node runner does, through `appwright.memory`, exactly the store
  operations `Runner`/`Engine`/`StepSession` do for a step whose agent makes one
  journaled no-op action: `finished()` twice (the runner's and run_step's), set the
  run running, log `step_started`, read the step's context, render the card and log
  `prompt_shown`, `journal_begin` / `journal_finish` (the action itself does nothing),
  log `action`, then in one `atomic()`: `apply_directive`, log `user_message`, log
  `step_finished`. The checkpointer shares the store's file, as in `Runner`; the run
  is leased (`hold_run`) and marked done, as `Runner.run` does. Step outputs are the
  real `todo` plan for `plan`, short values for the rest.

Reported: ms per step (median run time / 9) for both, and the ratio (target ≤ 3×).
Both sides are dominated by fdatasync, whose latency on a shared disk changes with
other tenants' I/O, so the disk's own write + fdatasync latency is measured before
and after and reported with the figures.
To show where the time goes it also measures, with the same operations:
  * the store operations alone (no graph, no checkpoint);
  * the same writes grouped into 4 transactions per step instead of 8 (scratch);
  * the engine variant with the store's connection at `PRAGMA synchronous = NORMAL`
    (a scratch change: in WAL mode, NORMAL skips the fsync at each commit) — and the
    bare graph's saver connection likewise;
  * fsync-type calls per step, counted with strace when it is installed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import _common as c

from appwright.memory import EventKind, MemoryStore, RunId, StepId, journaled_async
from appwright.steps import STEPS, Step
from appwright.workflow.blueprint import load_blueprint
from appwright.workflow.blueprint_agent import plan_from_blueprint
from appwright.workflow.engine import step_instance
from appwright.workflow.graph import build_graph, open_checkpointer


def outputs() -> dict[str, dict[str, Any]]:
    """An output per step holding exactly the keys its directive stores."""
    plan = plan_from_blueprint(load_blueprint("todo"))
    made: dict[str, dict[str, Any]] = {}
    for step in STEPS:
        if step.id == "plan":
            made[step.id] = plan
        else:
            made[step.id] = {key: f"{key}-value-0123456789abcdef" for key in step.memory.store}
    return made


class EngineLikeNode:
    """A node runner doing the engine's store work for one step with one no-op action.

    `batched` groups the writes into 4 transactions, as `workflow/engine.py` and
    `workflow/session.py` do: [run status, step_started, prompt_shown], journal_begin
    (which must be durable before the call is sent), [journal_finish, action],
    [directive, user_message, step_finished]. Without it: one commit per write (8),
    as the engine did before.
    """

    def __init__(self, store: MemoryStore, run_id: RunId, batched: bool = True) -> None:
        self.store, self.run_id = store, run_id
        self.outputs = OUTPUTS
        self.loop = asyncio.new_event_loop()
        self.batched = batched

    def __call__(self, step: Step, iteration: int) -> bool:
        store, run_id = self.store, self.run_id
        instance = step_instance(step, iteration)
        if self._finished(instance):  # Runner._node_runner
            return False
        if self._finished(instance):  # Engine.run_step
            return False
        started = time.monotonic()
        with self._group():
            store.set_run_status(run_id, "running", current_step=instance)
            store.log_event(run_id, instance, EventKind.STEP_STARTED, {"title": step.title})
            context = store.get_facts(run_id, step.context)
            store.log_event(run_id, instance, EventKind.PROMPT_SHOWN, {"card": step.card(context)})

        if self.batched:
            entry = store.journal_begin(run_id, instance, 1, "noop", {})
            with store.atomic():
                entry = store.journal_finish(entry, {"ok": True})
                store.log_event(run_id, instance, EventKind.ACTION,
                                {"action": "noop", "call_no": 1, "args": {}, "summary": "ok", "replayed": False},
                                duration_ms=0)
        else:
            async def noop(key: str) -> dict[str, Any]:
                return {"ok": True}

            entry = self.loop.run_until_complete(journaled_async(store, run_id, instance, 1, "noop", {}, noop))
            store.log_event(run_id, instance, EventKind.ACTION,
                            {"action": "noop", "call_no": 1, "args": {}, "summary": "ok", "replayed": entry.replayed},
                            duration_ms=0)
        output = self.outputs[step.id]
        with store.atomic():
            store.apply_directive(run_id, instance, step.memory, output)
            store.log_event(run_id, instance, EventKind.USER_MESSAGE, {"text": f"{step.title}: done."})
            store.log_event(run_id, instance, EventKind.STEP_FINISHED, {"output": output},
                            duration_ms=int((time.monotonic() - started) * 1000))
        return False

    def _group(self) -> Any:
        return self.store.atomic() if self.batched else contextlib.nullcontext()

    def _finished(self, instance: StepId) -> bool:
        return any(e.kind == EventKind.STEP_FINISHED for e in self.store.events(self.run_id, instance))


OUTPUTS: dict[str, dict[str, Any]] = {}


def new_run(store: MemoryStore, label: str) -> RunId:
    run = store.create_run(platform="run402", api_base="http://127.0.0.1:8402", blueprint="todo",
                           run_id=RunId(label))
    store.put_facts(run.run_id, StepId("start"), {"request": {"blueprint": "todo"}}, set())
    return run.run_id


def engine_run(store: MemoryStore, saver: Any, label: str, batched: bool = True) -> float:
    run_id = new_run(store, label)
    node = EngineLikeNode(store, run_id, batched)
    graph = build_graph(node, saver)
    config = {"configurable": {"thread_id": run_id}}
    started = time.perf_counter()
    with store.hold_run(run_id, "bench"):
        graph.invoke({"iteration": 0}, config, durability="sync")
        store.set_run_status(run_id, "done")
    took = time.perf_counter() - started
    node.loop.close()
    return took


def bare_run(saver: Any, label: str) -> float:
    graph = build_graph(lambda step, iteration: False, saver)
    config = {"configurable": {"thread_id": label}}
    started = time.perf_counter()
    graph.invoke({"iteration": 0}, config, durability="sync")
    return time.perf_counter() - started


def store_ops_only(store: MemoryStore, label: str, batched: bool = True) -> float:
    run_id = new_run(store, label)
    node = EngineLikeNode(store, run_id, batched)
    started = time.perf_counter()
    with store.hold_run(run_id, "bench"):
        for step in STEPS:
            node(step, 0)
        store.set_run_status(run_id, "done")
    took = time.perf_counter() - started
    node.loop.close()
    return took


def measure(workdir: Path, runs: int, synchronous: str | None, batched: bool = False) -> dict[str, Any]:
    """Alternate engine and bare runs; return per-run seconds for each."""
    tag = (synchronous or "full") + ("-batched" if batched else "")
    store = MemoryStore(workdir / f"engine-{tag}.db")
    engine_saver = open_checkpointer(str(store.path))
    bare_saver = open_checkpointer(str(workdir / f"bare-{tag}.db"))
    ops_store = MemoryStore(workdir / f"ops-{tag}.db")
    if synchronous:
        for conn in (store._db.conn, engine_saver.conn, bare_saver.conn, ops_store._db.conn):
            conn.execute(f"PRAGMA synchronous = {synchronous}")
    engine, bare, ops = [], [], []
    for i in range(runs + 2):  # two warm-up runs each
        e = engine_run(store, engine_saver, f"{tag}-engine-{i}", batched)
        b = bare_run(bare_saver, f"{tag}-bare-{i}")
        o = store_ops_only(ops_store, f"{tag}-ops-{i}", batched)
        if i >= 2:
            engine.append(e)
            bare.append(b)
            ops.append(o)
    store.close()
    ops_store.close()
    n = len(STEPS)
    return {
        "engine_ms_per_step": c.median(engine) / n * 1e3,
        "bare_ms_per_step": c.median(bare) / n * 1e3,
        "store_ops_only_ms_per_step": c.median(ops) / n * 1e3,
        "ratio": c.median(engine) / c.median(bare),
        "runs": runs,
    }


_STRACE_CHILD = r"""
import sys, tempfile
from pathlib import Path
sys.path.insert(0, sys.argv[1])
import engine_overhead as e
e.OUTPUTS.update(e.outputs())
work = Path(tempfile.mkdtemp(prefix="aw-bench-strace-"))
store = e.MemoryStore(work / "s.db")
saver = e.open_checkpointer(str(store.path))
bare = e.open_checkpointer(str(work / "b.db"))
e.engine_run(store, saver, "warm-engine"); e.bare_run(bare, "warm-bare")
print("START", flush=True); sys.stdin.readline()
for i in range(5):
    (e.engine_run(store, saver, f"e{i}") if sys.argv[2] == "engine" else e.bare_run(bare, f"b{i}"))
print("END", flush=True); sys.stdin.readline()
"""


def count_syncs(kind: str) -> dict[str, float] | None:
    """fsync/fdatasync and write calls per step for 5 runs of `kind`, with strace."""
    if not shutil.which("strace"):
        return None
    child = subprocess.Popen([c.PYTHON, "-c", _STRACE_CHILD, str(c.BENCH_DIR), kind], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None and child.stdin is not None
    child.stdout.readline()
    out = Path(tempfile.mkstemp(prefix="aw-strace-")[1])
    tracer = subprocess.Popen(["strace", "-f", "-c", "-p", str(child.pid), "-o", str(out)],
                              stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    child.stdin.write("\n")
    child.stdin.flush()
    child.stdout.readline()
    tracer.send_signal(2)
    tracer.wait()
    child.stdin.write("\n")
    child.stdin.flush()
    child.wait()
    text = out.read_text()
    out.unlink()
    steps = 5 * len(STEPS)
    counts = {}
    for name in ("fsync", "fdatasync", "pwrite64", "write"):
        m = re.search(rf"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?{name}$", text, re.M)
        counts[f"{name}_per_step"] = int(m.group(1)) / steps if m else 0.0
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    c.prioritise()
    load = c.load_state()
    OUTPUTS.update(outputs())
    # The store's default place is ~/.appwright: measure on the same filesystem, not tmpfs.
    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-engine-", dir=Path.home()))
    try:
        fsync_before = c.fdatasync_ms(workdir)
        # The engine groups a step's writes into 4 commits (see EngineLikeNode): as shipped.
        shipped = measure(workdir, args.runs, None, batched=True)
        normal = measure(workdir, args.runs, "NORMAL", batched=True)
        ungrouped = measure(workdir, args.runs, None, batched=False)
        fsync_after = c.fdatasync_ms(workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    syncs = {"engine": count_syncs("engine"), "bare": count_syncs("bare")}
    results = {
        "what": "per-step cost: engine bookkeeping + checkpoint vs bare LangGraph graph + SqliteSaver (sync)",
        "load": load,
        "as_shipped": shipped,
        "scratch_synchronous_normal": normal,
        "before_grouping_8_commits": ungrouped,
        "syscalls": syncs,
        "fdatasync_ms_before_after": [fsync_before, fsync_after],
        "target_ratio": 3.0,
        "met": shipped["ratio"] <= 3.0,
    }
    path = c.save_results("engine_overhead", results)
    for label, r in (("as shipped (4 commits/step, synchronous=FULL)", shipped),
                     ("scratch: synchronous=NORMAL", normal),
                     ("before grouping (8 commits/step, FULL)", ungrouped)):
        print(f"{label}: engine {r['engine_ms_per_step']:.2f} ms/step, bare graph {r['bare_ms_per_step']:.2f} "
              f"ms/step, ratio {r['ratio']:.1f}x; store ops alone {r['store_ops_only_ms_per_step']:.2f} ms/step")
    print(f"disk: 8 kB write + fdatasync {fsync_before:.2f} ms before, {fsync_after:.2f} ms after")
    for kind, counts in syncs.items():
        if counts:
            print(f"{kind}: " + ", ".join(f"{k} {v:.1f}" for k, v in counts.items()))
    print(f"target ratio ≤ 3x: {'MET' if results['met'] else 'MISSED'}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
