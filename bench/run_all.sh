#!/usr/bin/env bash
# Run every benchmark in turn; each writes bench/results/<name>.json and prints a summary,
# then bench/report.py prints the results table. Usage: bash bench/run_all.sh
# Needs: the repo's .venv; wrk (apt-get install -y wrk; without it rest_throughput falls
# back to an httpx load generator); strace (optional, fsync counts).
# As root each script raises its own CPU priority (see _common.prioritise) because the
# machine may be shared; set AW_BENCH_NO_PRIO=1 to run at normal priority.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
EXTRA="${TMPDIR:-/tmp}/aw-bench-extra"   # scratch-only packages, never in the project's venv
TOOLS="${TMPDIR:-/tmp}/aw-bench-tools"

for script in store_growth engine_overhead sandbox_start paid_request build rest_throughput; do
    echo "=== bench/$script.py"
    "$PY" "bench/$script.py"
done

# Scratch variants the README reports (each a change applied to the sandbox process
# only, see _common.PATCHES): TCP_NODELAY, then uvloop + httptools, a JWT cache, fewer
# Postgres round trips and a plain-ASGI fast path; Postgres with synchronous_commit=off;
# the build with TCP_NODELAY.
echo "=== scratch variants"
[ -d "$EXTRA/uvloop" ] || "$PY" -m pip install -q --target "$EXTRA" uvloop httptools
[ -x "$TOOLS/bin/py-spy" ] || "$PY" -m pip install -q --target "$TOOLS" py-spy
"$PY" bench/paid_request.py --patch nodelay --tag nodelay
"$PY" bench/paid_request.py --patch nodelay --pg-set synchronous_commit=off --tag nodelay-async
"$PY" bench/rest_throughput.py --patch nodelay --tag nodelay
"$PY" bench/rest_throughput.py --patch nodelay --patch uvloop --pythonpath "$EXTRA" --tag nodelay-httptools-uvloop
"$PY" bench/rest_throughput.py --patch nodelay --profile --py-spy "$TOOLS/bin/py-spy" --tag profile-nodelay
LEAN=(--patch nodelay --patch uvloop --patch jwtcache --patch fewer_round_trips --pythonpath "$EXTRA")
"$PY" bench/rest_throughput.py "${LEAN[@]}" --tag lean
"$PY" bench/rest_throughput.py "${LEAN[@]}" --profile --py-spy "$TOOLS/bin/py-spy" --tag profile-lean
"$PY" bench/rest_throughput.py "${LEAN[@]}" --patch rest_fast_path --tag lean-fastpath
"$PY" bench/build.py --nodelay

echo "=== results table"
"$PY" bench/report.py
