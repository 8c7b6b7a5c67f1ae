"""Kill -9 anywhere, resume, and get exactly one of everything.

Each case builds the todo blueprint as a real `appwright` process with
APPWRIGHT_FAULT=<point>, so the process SIGKILLs itself there (see
`appwright.workflow.faults`): at the start and at the end of every step (step_end is
after the store committed the step and before LangGraph's checkpoint), before a paid
call is sent, and after the backend answered it but before the journal recorded the
answer. Then `appwright resume` must finish the run, and the sandbox — which outlived
the kill — must show one project, one charge per paid action, the seed rows once,
one deployment, one subdomain, one message; the store's payments ledger must hold
the same three payments (same transactions) as the sandbox's ledger.

The cases' processes overlap (see `buildkit.Prefetch`): each test waits for its own.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from buildkit import PAID, Kit, Prefetch, Proc, blueprint_seed, same_rows, sandbox_sql, selected_params

from appwright.memory import RunId
from appwright.steps import STEPS

STEP_IDS = [s.id for s in STEPS]

FAULTS = (
    [f"step_start:{s}" for s in STEP_IDS]
    + [f"step_end:{s}" for s in STEP_IDS]
    + [
        "before_call:provision:create_project", "after_call:provision:create_project",
        "before_call:deploy:deploy_site", "after_call:deploy:deploy_site",
        "before_call:feedback:send_feedback", "after_call:feedback:send_feedback",
        "after_call:create_tables:run_sql", "after_call:seed:insert_rows",
        "after_call:subdomain:claim_subdomain", "after_call:rls:apply_rls",
        # The faucet grant is a write too: dying after it must not strand the run.
        "after_call:provision:fund_wallet",
    ]
)


@dataclass(frozen=True)
class Crash:
    """A build killed at a fault point, then resumed."""

    kit: Kit
    run_id: str
    seed: dict[str, list[dict[str, Any]]]
    build: Proc
    resume: Proc


@pytest.fixture(scope="module")
def crashes(request: pytest.FixtureRequest, api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefetch]:
    def crash_and_resume(fault: str) -> Crash:
        kit = Kit(root=tmp_path_factory.mktemp(re.sub(r"\W", "_", fault)), api=api)
        run_id = kit.new_run_id()
        seed = blueprint_seed("todo")  # as the build reads it (the file may be edited while tests run)
        build = kit.build("todo", run_id=run_id, fault=fault)
        resume = kit.resume(run_id) if build.returncode == -9 else build
        return Crash(kit, run_id, seed, build, resume)

    module = sys.modules[__name__]
    prefetch = Prefetch(crash_and_resume).start(selected_params(request.session.items, module, "fault"))
    yield prefetch
    prefetch.close()


@pytest.mark.timeout(600)
@pytest.mark.parametrize("fault", FAULTS)
def test_kill_and_resume_does_everything_exactly_once(crashes: Prefetch, pg_dsn: str, fault: str) -> None:
    crash: Crash = crashes.result(fault)
    kit, run_id = crash.kit, crash.run_id
    assert crash.build.returncode == -9, f"the build did not die at {fault}:\n{crash.build.output}"
    assert crash.resume.returncode == 0, crash.resume.output
    assert "done; spent $0.16" in crash.resume.stdout, crash.resume.output

    # The resume went on from the checkpoint: no step before the killed one started again.
    killed_step = fault.split(":")[1]
    for step in STEP_IDS[: STEP_IDS.index(killed_step)]:
        assert f"] {step} — " not in crash.resume.stdout, f"{step} was run again:\n{crash.resume.output}"
    if fault.startswith("step_end:"):  # committed before the kill: skipped, not redone
        assert re.search(rf"\] {killed_step} — .* already done", crash.resume.stdout), crash.resume.output

    facts = kit.facts(run_id)
    project_id = facts["project_id"]
    wallet = kit.wallet()["address"].lower()

    # The sandbox's ledger: one faucet grant, one charge per paid action, for this project.
    history = kit.history()
    charges = [e for e in history if e["kind"] == "charge"]
    assert sorted(-e["amount_usd_micros"] for e in charges) == sorted(PAID.values()), history
    (project_charge,) = [e for e in charges if -e["amount_usd_micros"] == PAID["create_project"]]
    assert project_charge["project_id"] == project_id
    assert [e["kind"] for e in history].count("faucet") == 1, history

    # The store's payments ledger says the same, transaction for transaction.
    with kit.store() as store:
        payments = store.payments(RunId(run_id))
        run = store.get_run(RunId(run_id))
        summaries = store.step_summaries(RunId(run_id))
    assert sorted((p.action, p.amount_micros) for p in payments) == sorted(PAID.items()), payments
    assert {p.receipt["transaction"] for p in payments} == {e["tx"] for e in charges}
    assert run.status == "done"
    assert [(s.step_id, str(s.status)) for s in summaries] == [(s, "done") for s in STEP_IDS]

    # Exactly one of everything in the sandbox.
    def count(sql: str, *args: object) -> int:
        return int(sandbox_sql(pg_dsn, sql, *args)[0][0])

    assert count("SELECT count(*) FROM sandbox.projects WHERE lower(wallet) = $1", wallet) == 1
    assert count("SELECT count(*) FROM sandbox.deployments WHERE project_id = $1", project_id) == 1
    assert count("SELECT count(*) FROM sandbox.subdomains WHERE project_id = $1", project_id) == 1
    assert count("SELECT count(*) FROM sandbox.messages WHERE lower(wallet) = $1", wallet) == 1
    for table, seed in crash.seed.items():
        rows = kit.rest_rows(table, facts["service_key"])
        assert len(rows) == len(seed), f"{table}: {len(rows)} rows after the resume, the blueprint seeds {len(seed)}"
        actual, expected = same_rows(rows, seed)
        assert actual == expected
