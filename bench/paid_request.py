"""One paid request end to end: 402, sign, retry, verify, settle.

The sandbox runs in its own process (`serve_forever`, its own embedded Postgres). A
new wallet is funded by inserting its balance into `sandbox.accounts` (superuser DSN
from `<data-dir>/pg-password` and `postmaster.pid`), then `POST /v1/message` ($0.01)
is sent through `appwright.platforms.x402pay.paying_client`, one request at a time:
the client gets the 402 with `PAYMENT-REQUIRED`, signs an EIP-3009 authorization,
retries with `PAYMENT-SIGNATURE`; the sandbox verifies the signature, takes the
nonce, debits the balance, writes the ledger and the message in one transaction,
and answers 200 with `PAYMENT-RESPONSE`. Every answer is checked (200, a receipt).

Reported: median and p95 over N requests (default 300, after 20 warm-up requests),
and for comparison a free request (`POST /v1/projects/quote`) on the same client.

Target: median ≤ 5 ms.

Options: --patch NAME applies a scratch change from `_common.PATCHES` to the sandbox
process (`nodelay`: TCP_NODELAY on its connections); --pg-set NAME=VALUE changes a
setting of the sandbox's Postgres before measuring (ALTER SYSTEM + reload; e.g.
`synchronous_commit=off`, so a commit does not wait for its WAL fsync); --tag NAME
saves the results as paid_request-NAME.json.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
import time
from pathlib import Path

import _common as c


async def pg_set(dsn: str, settings: list[str]) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        for setting in settings:
            name, _, value = setting.partition("=")
            await conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
        await conn.execute("SELECT pg_reload_conf()")
    finally:
        await conn.close()


async def measure(api: str, dsn: str, n: int, warmup: int, settings: list[str]) -> dict:
    from eth_account import Account

    if settings:
        await pg_set(dsn, settings)

    from appwright.platforms.x402pay import paying_client, receipt_from_response

    account = Account.create()
    await c.fund(dsn, account.address, (n + warmup + 10) * 10_000 + 1_000_000)
    paid: list[float] = []
    free: list[float] = []
    async with paying_client(account, max_per_call_micros=20_000, base_url=api, timeout=30) as http:
        for i in range(warmup + n):
            started = time.perf_counter()
            answer = await http.post("/v1/message", json={"message": f"bench message {i}"})
            took = time.perf_counter() - started
            receipt = receipt_from_response(answer)
            if answer.status_code != 200 or receipt is None or receipt.amount_micros != 10_000:
                raise RuntimeError(f"request {i}: {answer.status_code} {answer.text[:300]}")
            if i >= warmup:
                paid.append(took)
        for i in range(warmup + n):
            started = time.perf_counter()
            answer = await http.post("/v1/projects/quote")
            took = time.perf_counter() - started
            assert answer.status_code == 200
            if i >= warmup:
                free.append(took)
    return {"paid_s": paid, "free_s": free}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--patch", action="append", default=[], choices=sorted(c.PATCHES))
    parser.add_argument("--pg-set", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--tag")
    args = parser.parse_args()
    c.prioritise()
    load = c.load_state()
    workdir = Path(tempfile.mkdtemp(prefix="aw-bench-paid-"))
    data_dir = workdir / "sandbox"
    proc, api = c.start_sandbox_process(data_dir, patches=args.patch, log=workdir / "sandbox.log")
    try:
        raw = asyncio.run(measure(api, c.pg_dsn(data_dir), args.n, args.warmup, args.pg_set))
    finally:
        c.stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    paid, free = raw["paid_s"], raw["free_s"]
    results = {
        "what": "paid POST /v1/message ($0.01) via x402pay.paying_client, sandbox in another process",
        "variant": {"patches": args.patch, "pg_set": args.pg_set} if args.patch or args.pg_set else None,
        "load": load,
        "n": len(paid),
        "paid_ms": {"median": c.median(paid) * 1e3, "p95": c.percentile(paid, 95) * 1e3,
                    "min": min(paid) * 1e3, "max": max(paid) * 1e3},
        "free_quote_ms": {"median": c.median(free) * 1e3, "p95": c.percentile(free, 95) * 1e3},
        "target_ms": 5.0,
    }
    results["met"] = results["paid_ms"]["median"] <= 5.0
    name = "paid_request" + (f"-{args.tag}" if args.tag else "")
    path = c.save_results(name, results)
    p, f = results["paid_ms"], results["free_quote_ms"]
    print(f"paid request (402 + sign + retry + verify + settle), n={len(paid)}: median {p['median']:.2f} ms, "
          f"p95 {p['p95']:.2f} ms, min {p['min']:.2f} ms, max {p['max']:.2f} ms")
    print(f"free request (POST /v1/projects/quote), same client: median {f['median']:.2f} ms, p95 {f['p95']:.2f} ms")
    print(f"target median ≤ 5 ms: {'MET' if results['met'] else 'MISSED'}")
    print(f"results: {path}")


if __name__ == "__main__":
    main()
