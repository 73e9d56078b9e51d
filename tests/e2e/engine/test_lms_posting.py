"""Every receipt reaches the LMS exactly once, end to end through the local runner: the LMS down
while payments complete, two pollers at once, an answer lost after the LMS applied a post, a
receipt the LMS refuses, and the heartbeat.

One runner for the module, its LMS timers off (`--every LmsSweep=0 --every LmsHeartbeat=0`):
the tests run the sweep and the heartbeat themselves with `POST /_local/jobs/{name}`, so what
moves an item is what the test did. The LMS circuit opens for 2 s and retries start at 5 s
(`--lms-breaker-open 2 --lms-backoff 5`) instead of 60 s and 30 s: a retry is first due 2.5
to 5 s after its attempt, long after the stream has handed the poster its reschedule (which
the poster passes over as not yet due), so the sweep is what retries. Every test starts with the
LMS up and its circuit closed (`POST /_local/lms/breaker/reset`), and looks only at the
references of the payments it made.

"Posted exactly once" is checked on the wire, in the simulator's request log: for each
reference, exactly one `POST /api/v1/receipts` answered 200 or 201 and not dropped (the
answers the engine heard), and the LMS's own book holding exactly one receipt for it.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.conftest import RunnerProcess, http, wait_for
from tests.e2e.engine.conftest import ACTIVE, OVERDUE, SECOND, Engine, start_engine_runner
from tests.e2e.engine.lms_support import RECEIPTS, Lms, Paid, pay_many

RUNNER_ARGS = (
    "--every",
    "LmsSweep=0",
    "--every",
    "LmsHeartbeat=0",
    "--lms-breaker-open",
    "2",
    "--lms-backoff",
    "5",
)
OUTAGE_PAYMENTS = 200


@pytest.fixture(scope="module")
def posting_runner() -> Iterator[tuple[RunnerProcess, Engine]]:
    process, engine = start_engine_runner(*RUNNER_ARGS)
    try:
        yield process, engine
    finally:
        process.stop()


@pytest.fixture
def engine(posting_runner: tuple[RunnerProcess, Engine]) -> Engine:
    runner = posting_runner[1]
    runner.mode("lost_webhook")  # RazorPay: the notification captures, no webhook traffic
    return runner


@pytest.fixture
def lms(engine: Engine) -> Lms:
    """The LMS up, its circuit closed, and a token cached (the poster's next call goes out
    at once, whatever the LMS's mode)."""
    lms = Lms(engine)
    lms.mode("ok")
    lms.reset_breaker()
    assert lms.job("LmsHeartbeat") == {"lms_reachable": True}
    return lms


def _one_success_each(lms: Lms, paid: list[Paid], after: int = 0) -> Counter[str]:
    successes = lms.successes(lms.posts([p.reference for p in paid], after))
    assert successes == Counter({p.reference: 1 for p in paid}), successes.most_common(3)
    return successes


def _assert_posted(lms: Lms, paid: list[Paid]) -> None:
    """Each item POSTED with the receipt id the LMS holds for its reference, and its
    transaction marked with the same id."""
    book = lms.book()
    items = lms.items(paid)
    for p in paid:
        item, receipt = items[p.reference], book.get(p.reference)
        assert receipt is not None and receipt["status"] == "POSTED", (p, receipt)
        assert item["status"] == "POSTED" and not item["in_doubt"], item
        assert item["lms_receipt_id"] == receipt["receipt_id"], (item, receipt)
        assert item["transaction_lms_receipt_id"] == receipt["receipt_id"], item
        assert item["transaction_id"] == p.payment_id, item


def test_receipts_queued_while_the_lms_is_down_are_each_posted_once_when_it_is_back(
    engine: Engine, lms: Lms
) -> None:
    session = engine.session(ACTIVE)
    lms.mode("down")
    started = time.monotonic()
    paid = pay_many(engine, session, OUTAGE_PAYMENTS)
    paying = time.monotonic() - started
    print(f"{OUTAGE_PAYMENTS} payments in {paying:.1f} s")
    references = [p.reference for p in paid]
    assert len(set(references)) == OUTAGE_PAYMENTS

    queued = lms.wait_queued(paid)  # the stream poster tried, or was held by the circuit
    assert lms.successes(lms.posts(references)) == Counter()  # nothing got through
    assert {i["lms_receipt_id"] for i in queued.values()} == {None}
    tried = lms.posts(references)
    assert {(p["response_status"], p["error_code"]) for p in tried} <= {(503, "UNAVAILABLE")}
    assert not [r for r in lms.book() if r in set(references)]

    lms.mode("ok")
    runs = lms.sweep_until_settled(paid)

    _one_success_each(lms, paid)
    posts = lms.posts(references)
    assert Counter(p["response_status"] for p in posts if p["response_status"] != 503) == {
        201: OUTAGE_PAYMENTS
    }, "a repeat (200) would mean a second post of a reference the LMS had"
    _assert_posted(lms, paid)
    assert lms.postings()["live"] == 0, lms.postings()["counts"]
    assert runs[-1]["depth"] == 0, runs[-1]
    assert lms.staff_list("PENDING") == [] and lms.staff_list("IN_FLIGHT") == []  # the staff view
    posted = {i["receipt_number"] for i in lms.staff_list("POSTED")}
    assert set(references) <= posted
    print(f"recovered in {len(runs)} sweep runs: {[r['counts'] for r in runs]}")


def test_two_pollers_at_once_post_each_reference_once(engine: Engine, lms: Lms) -> None:
    session = engine.session(SECOND)
    lms.mode("down")
    paid = pay_many(engine, session, 20)
    lms.wait_queued(paid)  # most held untouched by the open circuit, a few rescheduled
    # Up again but slow, so each run is still posting while the other claims.
    lms.mode("slow", latency_ms=150)
    lms.reset_breaker()
    # Every item due (a reschedule the stream delivered late may have been posted by the
    # stream's poster meanwhile: a third poller, left out of the count below).
    ready = lms.wait_items(
        paid,
        "every item due",
        lambda i: (
            i["status"] == "POSTED" or (i["status"] == "PENDING" and i["due_in_seconds"] <= 0)
        ),
    )
    already = sum(1 for i in ready.values() if i["status"] == "POSTED")
    before = len(lms.received())
    start = threading.Barrier(2)

    def poll(_: int) -> dict[str, Any]:
        start.wait(10)
        return lms.sweep()

    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(poll, range(2)))

    posted = [r["counts"].get("posted", 0) for r in runs]
    assert all(posted), f"the two runs did not overlap: {runs}"
    assert sum(posted) == len(paid) - already, runs  # each item claimed by one of them
    skipped = sum(r["counts"].get("skipped", 0) for r in runs)
    print(f"two sweeps at once: posted {posted}, claims lost to the other {skipped}")
    after = lms.posts(
        [p.reference for p in paid if ready[p.reference]["status"] != "POSTED"], before
    )
    assert Counter(p["body"]["reference"] for p in after) == {
        p.reference: 1 for p in paid if ready[p.reference]["status"] != "POSTED"
    }
    _one_success_each(lms, paid)
    _assert_posted(lms, paid)


def test_an_answer_lost_after_the_post_is_resolved_by_reference_not_posted_again(
    engine: Engine, lms: Lms
) -> None:
    session = engine.session(OVERDUE)
    lms.mode("lost_answer", count=1)  # the next API call is applied, then its answer dropped
    [paid] = pay_many(engine, session, 1)

    [first] = wait_for(lambda: lms.posts([paid.reference]), 20, what="the stream poster's post")
    assert (first["response_status"], first["dropped"]) == (201, True), first
    assert paid.reference in lms.book()  # the LMS has it; the engine never heard so
    waiting = lms.items([paid])[paid.reference]
    assert waiting["status"] in ("IN_FLIGHT", "PENDING"), waiting  # not POSTED: unknown
    assert waiting["in_doubt"], waiting

    runs = lms.sweep_until_settled([paid])  # the next poll to find it due asks first

    posts = lms.posts([paid.reference])
    assert len(posts) == 1, posts  # asked, never posted again
    lookups = [
        r
        for r in lms.received()
        if r["method"] == "GET"
        and r["route"] == RECEIPTS
        and paid.reference in str(r["query"].get("reference"))
    ]
    assert [r["response_status"] for r in lookups] == [200], lookups
    _assert_posted(lms, [paid])
    print(f"resolved by reference; sweep runs: {[r['counts'] for r in runs]}")


def test_a_refused_receipt_goes_to_exception_with_the_lms_reason_and_the_rest_post(
    engine: Engine, lms: Lms
) -> None:
    session = engine.session(ACTIVE)
    lms.mode("down")
    paid = pay_many(engine, session, 5)
    lms.wait_queued(paid)
    poison, rest = paid[2], paid[:2] + paid[3:]
    lms.admin("POST", "refuse", {"code": "LOAN_CLOSED", "reference": poison.reference})
    lms.mode("ok")
    lms.reset_breaker()

    lms.sweep_until_settled(paid)

    item = lms.items([poison])[poison.reference]
    assert item["status"] == "EXCEPTION", item
    assert item["last_error"].startswith("LOAN_CLOSED: "), item  # the LMS's code and message
    assert item["lms_receipt_id"] is None and item["transaction_lms_receipt_id"] is None, item
    refused = [p for p in lms.posts([poison.reference]) if p["response_status"] != 503]
    assert [(p["response_status"], p["error_code"]) for p in refused] == [(422, "LOAN_CLOSED")]
    _one_success_each(lms, rest)
    _assert_posted(lms, rest)
    [listed] = [i for i in lms.staff_list("EXCEPTION") if i["receipt_number"] == poison.reference]
    assert listed["last_error"] == item["last_error"], listed  # what staff see, with the reason

    lms.sweep()  # out of the poster's hands: never tried again
    assert lms.items([poison])[poison.reference]["status"] == "EXCEPTION"
    assert len([p for p in lms.posts([poison.reference]) if p["response_status"] != 503]) == 1


def _connectivity(process: RunnerProcess, since: int) -> list[float]:
    """The lms_connectivity_status values the runner's functions published (their EMF
    lines on its stdout) after output line `since`."""
    values: list[float] = []
    for line in process.lines[since:]:
        if '"lms_connectivity_status"' not in line or line.startswith("[stderr]"):
            continue
        document = json.loads(line)
        value = document["lms_connectivity_status"]
        values += value if isinstance(value, list) else [value]
    return values


def test_the_heartbeat_says_whether_the_lms_can_be_reached(
    posting_runner: tuple[RunnerProcess, Engine], lms: Lms
) -> None:
    process = posting_runner[0]
    lms.mode("down")
    since = len(process.lines)
    assert lms.job("LmsHeartbeat") == {"lms_reachable": False}
    assert wait_for(lambda: _connectivity(process, since), 5, what="a published status") == [0.0]

    lms.mode("ok")
    since = len(process.lines)
    assert lms.job("LmsHeartbeat") == {"lms_reachable": True}
    assert wait_for(lambda: _connectivity(process, since), 5, what="a published status") == [1.0]


def test_the_lms_simulator_is_listed_and_seeded_with_the_demo_loans(engine: Engine) -> None:
    assert engine.endpoints["lms"].startswith("http://")
    assert engine.demo["lms"]["url"] == engine.endpoints["lms"]
    loans = http("GET", f"{engine.endpoints['lms']}/_simulator/loans").body
    demo = {x["loan_account_number"]: x for x in engine.demo["loans"]}
    assert {x["loan_account_number"] for x in loans} == set(demo)
    for loan in loans:
        assert loan["status"] == demo[loan["loan_account_number"]]["status"], loan
