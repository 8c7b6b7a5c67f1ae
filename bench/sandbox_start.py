"""Sandbox start to its first answered request, with a new and with an existing data dir.

"Answered" means `POST /v1/projects/quote` returned 200; the clock starts just before
the sandbox is started and the client polls every 5 ms. Two ways, each repeated
(median reported):

* subprocess: `appwright sandbox --port P --data-dir D`, started with Popen; this
  includes the interpreter start and every import the CLI makes. Stopped with SIGINT
  between repetitions (Postgres stops with it).
* in-process: `SandboxServer(config=SandboxConfig(data_dir=D)).start()` in this
  (already imported) process, then the first request; `stop()` between repetitions.

"New" is a data dir that does not exist yet (initdb runs); "existing" is the same data
dir started again after a clean stop. For context it also measures
the import time alone (a new interpreter importing `appwright.workflow.cli`, and one importing
only `appwright.sandbox.server`) and the embedded Postgres alone (`EmbeddedPostgres.start`).

Targets: new ≤ 1.5 s, existing ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

import _common as c


def first_answer(api: str, started: float, proc: subprocess.Popen[bytes] | None = None) -> float:
    """Seconds from `started` until the quote route answers 200."""
    with httpx.Client(timeout=5.0) as client:
        while True:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"the sandbox exited with {proc.returncode}")
            try:
                if client.post(f"{api}/v1/projects/quote").status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            if time.perf_counter() - started > 120:
                raise RuntimeError("no answer within 120 s")
            time.sleep(0.005)


def subprocess_start(data_dir: Path) -> float:
    port = c.free_port()
    started = time.perf_counter()
    proc = subprocess.Popen([c.APPWRIGHT, "sandbox", "--port", str(port), "--data-dir", str(data_dir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return first_answer(f"http://127.0.0.1:{port}", started, proc)
    finally:
        c.stop_process(proc)


def inprocess_start(data_dir: Path) -> float:
    from appwright.sandbox.app import SandboxConfig
    from appwright.sandbox.server import SandboxServer

    started = time.perf_counter()
    server = SandboxServer(config=SandboxConfig(data_dir=data_dir))
    try:
        api = server.start()
        return first_answer(api, started)
    finally:
        server.stop()


def postgres_start(data_dir: Path) -> float:
    from appwright.sandbox.postgres import EmbeddedPostgres

    started = time.perf_counter()
    pg = EmbeddedPostgres(data_dir=data_dir)
    pg.start()
    took = time.perf_counter() - started
    pg.stop()
    return took


def cli_import() -> float:
    """A new interpreter importing the CLI (what `appwright sandbox` does before serving)."""
    started = time.perf_counter()
    subprocess.run([c.PYTHON, "-c", "import appwright.workflow.cli"], check=True, capture_output=True)
    return time.perf_counter() - started


def sandbox_import() -> float:
    """A new interpreter importing only the sandbox server module."""
    started = time.perf_counter()
    subprocess.run([c.PYTHON, "-c", "import appwright.sandbox.server"], check=True, capture_output=True)
    return time.perf_counter() - started


def series(fn, root: Path, label: str, reps: int) -> dict:
    new, existing = [], []
    for i in range(reps):
        data_dir = root / f"{label}-{i}"
        new.append(fn(data_dir))  # a data dir that does not exist yet
        existing.append(fn(data_dir))  # the same one again
    return {"new_s": new, "existing_s": existing,
            "new_median_s": c.median(new), "existing_median_s": c.median(existing)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=7)
    args = parser.parse_args()
    c.prioritise()
    load = c.load_state()
    root = Path(tempfile.mkdtemp(prefix="aw-bench-start-"))
    try:
        # Warm the OS page cache for the binaries and the venv once, as a developer's machine is.
        inprocess_start(root / "warm")
        cli_import()
        results = {
            "what": "sandbox start to first answered POST /v1/projects/quote",
            "reps": args.reps,
            "load": load,
            "cli_import_s": c.median([cli_import() for _ in range(args.reps)]),
            "sandbox_import_s": c.median([sandbox_import() for _ in range(args.reps)]),
            "postgres_alone": series(postgres_start, root, "pg", args.reps),
            "subprocess": series(subprocess_start, root, "sub", args.reps),
            "inprocess": series(inprocess_start, root, "inp", args.reps),
            "targets": {"new_s": 1.5, "existing_s": 0.5},
        }
    finally:
        shutil.rmtree(root, ignore_errors=True)
    results["met"] = {
        f"{way}_{kind}": results[way][f"{kind}_median_s"] <= results["targets"][f"{kind}_s"]
        for way in ("subprocess", "inprocess") for kind in ("new", "existing")
    }
    path = c.save_results("sandbox_start", results)
    print(f"python -c 'import appwright.workflow.cli': {results['cli_import_s']:.3f} s; "
          f"python -c 'import appwright.sandbox.server': {results['sandbox_import_s']:.3f} s")
    for way in ("postgres_alone", "subprocess", "inprocess"):
        r = results[way]
        print(f"{way:15} new data dir: median {r['new_median_s']:.3f} s  {[round(x, 3) for x in r['new_s']]}")
        print(f"{'':15} existing:     median {r['existing_median_s']:.3f} s  {[round(x, 3) for x in r['existing_s']]}")
    for key, ok in results["met"].items():
        print(f"  {key}: {'MET' if ok else 'MISSED'}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
