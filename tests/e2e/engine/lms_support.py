"""The LMS side of the local runner, as a client sees it: the LMS simulator's admin API, the
runner's `/_local/lms/...` windows on the outbox and `/_local/jobs/{name}`; and the fastest
way to make many captured payments (a notification, no webhook: RazorPay's `lost_webhook`).

Nothing here imports runtime code, as in the rest of tests/e2e.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from tests.e2e.conftest import Response, http, wait_for
from tests.e2e.engine.conftest import Engine, Session

RECEIPTS = "/api/v1/receipts"
LIVE = ("PENDING", "IN_FLIGHT")
SETTLED = ("POSTED", "EXCEPTION", "RESOLVED")
# A post the LMS answered and the engine heard: 201 created, 200 a repeat of the reference.
SUCCESS = (200, 201)
# A job runs synchronously: wait as long as its function may run (LmsSweeper's timeout is
# 120 s; moto makes each settle slower as the tables grow, about 0.1 s per item at 400).
JOB_TIMEOUT = 130.0


@dataclass(frozen=True)
class Paid:
    payment_id: str
    reference: str  # the receipt number: the LMS's idempotency reference


@dataclass
class Lms:
    """The LMS simulator (admin routes) and the runner's LMS utilities on the main port."""

    engine: Engine

    @property
    def url(self) -> str:
        return self.engine.endpoints["lms"]

    # the simulator ---------------------------------------------------------------------------
    def admin(self, method: str, name: str, body: Any = None) -> Response:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json"} if data is not None else {}
        answer = http(method, f"{self.url}/_simulator/{name}", data=data, headers=headers)
        assert answer.status == 200, answer
        return answer

    def mode(self, mode: str, **options: Any) -> None:
        answer = self.admin("POST", "mode", {"mode": mode, **options})
        assert answer.body["mode"] == mode, answer

    def received(self) -> list[dict[str, Any]]:
        return list(self.admin("GET", "received").body)

    def posts(self, references: Iterable[str], after: int = 0) -> list[dict[str, Any]]:
        """The receipt posts of these references the LMS received (from log entry `after`)."""
        wanted = set(references)
        return [
            r
            for r in self.received()[after:]
            if r["method"] == "POST"
            and r["route"] == RECEIPTS
            and isinstance(r.get("body"), dict)
            and r["body"].get("reference") in wanted
        ]

    @staticmethod
    def successes(posts: list[dict[str, Any]]) -> Counter[str]:
        """How many times each reference was posted with an answer the engine received
        (SUCCESS, not dropped): once each is what exactly-once means on the wire."""
        return Counter(
            p["body"]["reference"]
            for p in posts
            if p["response_status"] in SUCCESS and not p["dropped"]
        )

    def book(self) -> dict[str, dict[str, Any]]:
        """The LMS's receipts by reference (what it has applied)."""
        found: dict[str, dict[str, Any]] = {}
        for receipt in self.admin("GET", "receipts").body:
            assert receipt["reference"] not in found, receipt  # the LMS's own invariant
            found[receipt["reference"]] = receipt
        return found

    # the runner --------------------------------------------------------------------------------
    def main(self, method: str, path: str, timeout: float | None = None) -> Response:
        return http(
            method, f"{self.engine.main}{path}", **({"timeout": timeout} if timeout else {})
        )

    def job(self, name: str) -> dict[str, Any]:
        answer = self.main("POST", f"/_local/jobs/{name}", JOB_TIMEOUT)
        assert answer.status == 200, answer
        assert answer.body["job"] == name, answer
        return dict(answer.body["result"])

    def sweep(self) -> dict[str, Any]:
        return self.job("LmsSweep")

    def reset_breaker(self) -> None:
        answer = self.main("POST", "/_local/lms/breaker/reset")
        assert answer.status == 200 and answer.body["breaker"] == "closed", answer

    def staff_list(self, status: str) -> list[dict[str, Any]]:
        """The internal API's `GET /api/v1/lms/postings?status=` (every page), as a staff
        member of finance (a token from `POST /local/token?user=finance.ho`) sees it."""
        token = self.main("POST", "/local/token?user=finance.ho")
        assert token.status == 200, token
        headers = {"Authorization": token.body["token"]}
        items: list[dict[str, Any]] = []
        query = f"status={status}&limit=100"
        while True:
            url = f"{self.engine.endpoints['internal']}/api/v1/lms/postings?{query}"
            page = http("GET", url, headers=headers)
            assert page.status == 200, page
            items += page.body["items"]
            if not page.body["next_cursor"]:
                return items
            query = f"status={status}&limit=100&cursor={quote(page.body['next_cursor'])}"

    def postings(self) -> dict[str, Any]:
        answer = self.main("GET", "/_local/lms/postings")
        assert answer.status == 200, answer
        return dict(answer.body)

    def items(self, paid: Iterable[Paid]) -> dict[str, dict[str, Any]]:
        """Each payment's outbox item, by reference (every one must be there)."""
        by_reference = {i["reference"]: i for i in self.postings()["items"]}
        found = {p.reference: by_reference.get(p.reference) for p in paid}
        missing = sorted(ref for ref, item in found.items() if item is None)
        assert not missing, f"no outbox item for {missing}"
        return {ref: dict(item) for ref, item in found.items() if item is not None}

    def wait_items(self, paid: list[Paid], what: str, ok: Any, timeout: float = 30) -> Any:
        seen: list[dict[str, dict[str, Any]]] = []

        def reached() -> dict[str, dict[str, Any]] | None:
            seen.append(self.items(paid))
            return seen[-1] if all(ok(i) for i in seen[-1].values()) else None

        def last() -> str:
            counts = Counter((i["status"], i["in_doubt"]) for i in seen[-1].values())
            return f"{what}; (status, in_doubt) seen: {dict(counts)}"

        return wait_for(reached, timeout, 0.2, what=last)

    def wait_queued(self, paid: list[Paid]) -> dict[str, dict[str, Any]]:
        """Every item back in PENDING (the stream poster has tried, or been held)."""
        return dict(self.wait_items(paid, "every item PENDING", lambda i: i["status"] == "PENDING"))

    def wait_due(self, paid: list[Paid]) -> None:
        self.wait_items(
            paid,
            "every item due",
            lambda i: i["status"] == "PENDING" and i["due_in_seconds"] <= 0,
        )

    def sweep_until_settled(self, paid: list[Paid], timeout: float = 60) -> list[dict[str, Any]]:
        """LmsSweep runs (none waiting for a timer) until no item of `paid` is live."""
        runs: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            runs.append(self.sweep())
            items = self.items(paid)
            if all(i["status"] in SETTLED for i in items.values()):
                return runs
            left = Counter(i["status"] for i in items.values())
            assert time.monotonic() < deadline, f"still {dict(left)} after runs {runs[-3:]}"
            time.sleep(0.3)


def pay(engine: Engine, session: Session, amount: str) -> Paid:
    """A payment captured by Checkout's notification (the fastest path the engine e2e tests
    use: one create, the simulator's checkout, one notification)."""
    payment = engine.created(session, amount)
    paid = engine.checkout(payment["razorpay_order_id"])
    notified = engine.notify(session, payment["payment_id"], paid)
    assert notified.status == 200 and notified.body["status"] == "CAPTURED", notified
    return Paid(str(payment["payment_id"]), str(notified.body["receipt_number"]))


def pay_many(engine: Engine, session: Session, count: int, amount: str = "10.00") -> list[Paid]:
    return [pay(engine, session, amount) for _ in range(count)]
