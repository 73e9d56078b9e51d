"""`GET /_local/jobs` and `POST /_local/jobs/{name}`: every system's declared schedules, listed
with the pace the runner gives them and run now, synchronously, by name; an unknown name is a
404 in the main port's error shape naming the jobs; `--every NAME=SECONDS` paces one (0: on
demand only) and an unknown name stops the runner before it starts anything."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import FAST_ARGS, ROOT, RunnerProcess, http
from tests.e2e.engine.conftest import Engine, start_engine_runner

# The schedules the engine declares today (later issues add more: the list is the runner's).
ENGINE_JOBS = {
    "LmsSweep": "LmsSweeper",
    "LmsHeartbeat": "LmsHeartbeat",
    "PaymentSweep": "PaymentSweeper",
    "TransactionsRepair": "TransactionsRepair",
}
PAYOUTS_ERROR_KEYS = {"error", "message", "timestamp"}


@pytest.fixture(scope="module")
def jobs_runner() -> Iterator[tuple[RunnerProcess, Engine]]:
    process, engine = start_engine_runner("--every", "LmsHeartbeat=7", "--every", "LmsSweep=0")
    try:
        yield process, engine
    finally:
        process.stop()


@pytest.fixture
def main(jobs_runner: tuple[RunnerProcess, Engine]) -> str:
    return jobs_runner[1].main


def _jobs(main: str) -> dict[str, dict[str, Any]]:
    answer = http("GET", f"{main}/_local/jobs")
    assert answer.status == 200 and answer.raw.endswith(b"\n"), answer
    jobs = answer.body["jobs"]
    names = [job["job"] for job in jobs]
    assert len(names) == len(set(names)), names
    return {job["job"]: job for job in jobs}


def test_the_list_names_every_declared_schedule_with_its_function_and_pace(main: str) -> None:
    jobs = _jobs(main)
    assert set(ENGINE_JOBS) <= set(jobs), sorted(jobs)
    for name, function in ENGINE_JOBS.items():
        assert jobs[name]["function"] == function and jobs[name]["system"] == "engine", jobs[name]
    assert {job["system"] for job in jobs.values()} == {"engine", "payouts"}
    for job in jobs.values():
        assert job["expression"].startswith(("rate(", "cron(")) and job["description"], job
    assert jobs["LmsSweep"]["expression"] == "rate(1 minute)"
    # --every: LmsHeartbeat every 7 s; LmsSweep only on demand; the rest at their own rates.
    assert (jobs["LmsHeartbeat"]["every_seconds"], jobs["LmsHeartbeat"]["timer"]) == (7, True)
    assert (jobs["LmsSweep"]["timer"], jobs["LmsSweep"]["pace"]) == (False, "on demand only")
    assert jobs["TransactionsRepair"]["every_seconds"] == 3600
    root = http("GET", f"{main}/").body
    assert {"GET /_local/jobs", "POST /_local/jobs/{name}"} <= set(root["runner"]), root


def test_every_job_runs_now_and_answers_its_function_and_result(main: str) -> None:
    for name, job in _jobs(main).items():
        answer = http("POST", f"{main}/_local/jobs/{name}", timeout=130)
        assert answer.status == 200 and answer.raw.endswith(b"\n"), (name, answer)
        assert set(answer.body) == {"job", "function", "result"}, answer
        assert (answer.body["job"], answer.body["function"]) == (name, job["function"]), answer


def test_a_job_answers_the_value_its_handler_returned(main: str) -> None:
    sweep = http("POST", f"{main}/_local/jobs/LmsSweep").body["result"]
    assert set(sweep) == {"counts", "depth", "depths", "oldest_age_seconds"}, sweep
    assert sweep["depths"] == {"LMS_RECEIPT": 0, "LMS_CANCEL": 0}, sweep
    assert http("POST", f"{main}/_local/jobs/LmsHeartbeat").body["result"] == {
        "lms_reachable": True
    }
    repair = http("POST", f"{main}/_local/jobs/TransactionsRepair").body["result"]
    assert repair["complete"] is True and repair["failed"] == [], repair
    assert repair["collections_completed"] == repair["dcr_audit_records_settled"] == 0, repair


def test_an_unknown_job_is_a_404_naming_the_jobs_in_the_ports_error_shape(main: str) -> None:
    jobs = _jobs(main)
    for name in ("NoSuchJob", "lmssweep", "LmsSweeper"):  # case matters; a function is not a job
        answer = http("POST", f"{main}/_local/jobs/{name}")
        assert answer.status == 404 and answer.raw.endswith(b"\n"), answer
        assert set(answer.body) == PAYOUTS_ERROR_KEYS, answer  # the main port is payouts'
        assert name in answer.body["message"], answer
        assert all(job in answer.body["message"] for job in jobs), answer
    # Another method is an unknown route, as everywhere: API Gateway's 403.
    for method, path in (("GET", "/_local/jobs/LmsSweep"), ("DELETE", "/_local/jobs")):
        answer = http(method, f"{main}{path}")
        assert answer.status == 403 and set(answer.body) == PAYOUTS_ERROR_KEYS, answer


def test_the_jobs_are_the_main_ports_only(jobs_runner: tuple[RunnerProcess, Engine]) -> None:
    engine = jobs_runner[1]
    answer = http("POST", f"{engine.portal}/_local/jobs/LmsSweep")
    assert answer.status == 403, answer  # the portal is a customer API: no runner routes
    assert set(answer.body) == {"error"}, answer


def test_the_banner_lists_the_jobs(jobs_runner: tuple[RunnerProcess, Engine]) -> None:
    banner = jobs_runner[0].output()
    assert "LmsHeartbeat (every 7 s)" in banner and "LmsSweep (on demand only)" in banner
    assert "/_local/jobs/<name>" in banner


def test_every_with_an_unknown_job_stops_the_runner_naming_the_jobs() -> None:
    started = subprocess.run(
        [sys.executable, "-m", "local", *FAST_ARGS, "--every", "NoSuchJob=5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert started.returncode != 0, started
    assert "NoSuchJob" in started.stderr and "LmsSweep" in started.stderr, started.stderr
    assert "Listening on" not in started.stdout, started.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "local", *FAST_ARGS, "--every", "LmsSweep"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 2 and "NAME=SECONDS" in bad.stderr, bad.stderr
