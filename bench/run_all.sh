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
TOOLS="${TMPDIR:-/tmp}/aw-bench-tools"

for script in store_growth engine_overhead sandbox_start paid_request build function_call; do
    echo "=== bench/$script.py"
    "$PY" "bench/$script.py"
done
echo "=== bench/rest_throughput.py --floor"
"$PY" bench/rest_throughput.py --floor

# Scratch variants (changes applied to the benchmark's own processes only, see
# _common.PATCHES): Postgres with synchronous_commit=off for the paid request, and a
# py-spy profile of the REST benchmark.
echo "=== scratch variants"
[ -x "$TOOLS/bin/py-spy" ] || "$PY" -m pip install -q --target "$TOOLS" py-spy
"$PY" bench/paid_request.py --pg-set synchronous_commit=off --tag async-commit
"$PY" bench/rest_throughput.py --rounds 1 --profile --py-spy "$TOOLS/bin/py-spy" --tag profile

echo "=== results table"
"$PY" bench/report.py
