"""End to end: `appwright build` of each bundled blueprint, as a real process, on the session sandbox.

The sandbox is the judge: the seed rows are read back through its REST API with the
project's service key, the site is fetched at its subdomain and deployment URLs,
and the wallet's billing history says what was charged.
"""

from __future__ import annotations

import json
import sys
from datetime import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from buildkit import Kit, Prefetch, Proc, blueprint_seed, fetch_site, same_rows, selected_params

from appwright.steps import STEPS
from appwright.workflow.blueprint import load_blueprint

BLUEPRINTS = ["todo", "notes", "poll", "photos", "tasks"]
PRICES = [100_000, 50_000, 10_000]
"""A prototype project, a site deployment, a message to the developers (micro-USD)."""


@dataclass(frozen=True)
class Built:
    """One blueprint built, then read back with `log --json` and `show`."""

    kit: Kit
    run_id: str
    seed: dict[str, list[dict[str, Any]]]
    build: Proc
    log: Proc
    show: Proc


@pytest.fixture(scope="module")
def builds(request: pytest.FixtureRequest, api: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Prefetch]:
    """The module's builds, started together (each test waits for its own)."""

    def build(blueprint: str) -> Built:
        kit = Kit(root=tmp_path_factory.mktemp(f"build-{blueprint}"), api=api)
        run_id = kit.new_run_id()
        seed = blueprint_seed(blueprint)  # as the build reads it (the file may be edited while tests run)
        built = kit.build(blueprint, run_id=run_id)
        return Built(kit, run_id, seed, built, kit.run("log", run_id, "--json"), kit.run("show", run_id))

    module = sys.modules[__name__]
    prefetch = Prefetch(build).start(selected_params(request.session.items, module, "blueprint"))
    yield prefetch
    prefetch.close()


@pytest.mark.parametrize("blueprint", BLUEPRINTS)
def test_build_blueprint_end_to_end(builds: Prefetch, blueprint: str) -> None:
    built: Built = builds.result(blueprint)
    kit, run_id, build = built.kit, built.run_id, built.build
    assert build.returncode == 0, build.output
    facts = kit.facts(run_id)
    app_url, site_url = facts["app_url"], facts["site_url"]
    anon_key, service_key = facts["anon_key"], facts["service_key"]
    assert build.stdout.rstrip().endswith(app_url), build.output

    # Every seeded table holds exactly the blueprint's seed rows (read with the service key).
    for table, seed in built.seed.items():
        rows = kit.rest_rows(table, service_key)
        assert len(rows) == len(seed), f"{table}: {len(rows)} rows, the blueprint seeds {len(seed)}"
        actual, expected = same_rows(rows, seed)
        assert actual == expected, f"{table}: the rows differ from the blueprint's seed"
    for spec in load_blueprint(blueprint).tables:  # unseeded tables exist and are empty
        if spec.name not in built.seed:
            assert kit.rest_rows(spec.name, service_key) == []

    # The site answers at its subdomain and at its deployment URL, with the anon key only.
    assert f"{facts['subdomain']}.localhost" in app_url
    assert fetch_site(site_url).status_code == 200
    served = []
    for site_file in load_blueprint(blueprint).site:
        page = fetch_site(app_url, "/" + site_file.file)
        assert page.status_code == 200, f"{app_url}{site_file.file}: {page.status_code}"
        served.append(page.text)
    home = fetch_site(app_url)
    assert home.status_code == 200
    served.append(home.text)
    assert any(anon_key in text for text in served), "no served file carries the anon key"
    assert not any(service_key in text for text in served), "a served file carries the SERVICE key"

    # The step log: nine steps, done, each with its output.
    assert built.log.returncode == 0, built.log.output
    log = json.loads(built.log.stdout)
    assert log["run_id"] == run_id and log["status"] == "done"
    assert [s["step"] for s in log["steps"]] == [s.id for s in STEPS]
    for step in log["steps"]:
        assert step["status"] == "done", step
        assert step["output"], f"step {step['step']} has no output in the log"
    assert log["steps"][1]["output"]["project_id"] == facts["project_id"]

    # `show` redacts every secret: the project's keys and the wallet's private key.
    assert built.show.returncode == 0, built.show.output
    private_key = kit.wallet()["privateKey"]
    for secret in (anon_key, service_key, private_key, private_key.removeprefix("0x")):
        assert secret not in built.show.stdout + built.show.stderr
    assert json.loads(built.show.stdout)["memory"]["project_id"] == facts["project_id"]

    # One project, one deployment, one message: exactly what the wallet was charged.
    assert kit.charges() == sorted(PRICES), kit.history()
    assert [e["kind"] for e in kit.history()].count("faucet") == 1
    with kit.store() as store:
        ledger = {p.action: p.amount_micros for p in store.payments(run_id)}
    assert ledger == {"create_project": 100_000, "deploy_site": 50_000, "send_feedback": 10_000}


def test_photos_function_answers_with_a_summary_of_the_seeded_rows(builds: Prefetch) -> None:
    """The deploy step shipped the blueprint's function; it reads the wall with the caller's key."""
    built: Built = builds.result("photos")
    assert built.build.returncode == 0, built.build.output
    facts = built.kit.facts(built.run_id)
    url = f"{built.kit.api}/functions/v1/summary"
    assert facts["functions"] == [{"name": "summary", "url": url}]

    answer = httpx.get(url, headers={"apikey": facts["anon_key"]}, timeout=30)
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    seeded = sorted(built.seed["photos"], key=lambda row: row["created_at"], reverse=True)
    assert summary["posts"] == len(seeded) and summary["photos"] == 0 and summary["captions_only"] == len(seeded)
    assert summary["latest"] == [row["caption"] for row in seeded[:3]]
    assert datetime.fromisoformat(summary["last_post_at"]) == datetime.fromisoformat(seeded[0]["created_at"])
    # Without a key of the project, the platform refuses the call before the function runs.
    assert httpx.get(url, timeout=30).status_code == 401

    deploy = next(s for s in json.loads(built.log.stdout)["steps"] if s["step"] == "deploy")
    assert deploy["output"]["functions"] == [{"name": "summary", "url": url}]
