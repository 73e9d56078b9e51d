"""Posting receipts to the LMS from the TransactionQueue outbox: each exactly once.

A poster takes items as they are written (the queue's stream) and as they fall due (the
sweep, every minute), and for each:

1. claims it (engine.dal.ddb.posting: a conditional lease; taken by another poster, skipped);
2. if an earlier attempt's outcome is unknown (a timeout, a lost answer, a poster that died
   mid-call), asks the LMS for the receipt by our reference first: found, it is posted;
3. posts it, our receipt number being the LMS's idempotency reference;
4. settles the claim: POSTED (with the LMS receipt id, on the transaction too); EXCEPTION for
   a refusal (the LMS's reason kept) or once `max_attempts` are spent; otherwise PENDING
   again, due after an exponential backoff with jitter (at least what Retry-After asked).

The circuit breaker (shared.breaker, its state shared by every container) is consulted
before anything is claimed: while it is open items stay queued untouched; half-open, one
poster's one item probes. An answer from the LMS (a post or a refusal) counts as a success
for it, no answer as a failure.
"""

from __future__ import annotations

import logging
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

from engine.clients.lms import (
    LmsRefused,
    LmsUnavailable,
    ReceiptPost,
    payment_mode_for,
)
from engine.dal.ddb.posting import ClaimLost, PostingStore
from engine.models.posting import QueueItem
from engine.models.status import PostingStatus
from shared import breaker as rules
from shared import clock
from shared.store_errors import StoreError

logger = logging.getLogger(__name__)
CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class PostingPolicy:
    lease_seconds: int = 120
    max_attempts: int = 24
    backoff_base_seconds: int = 30
    backoff_cap_seconds: int = 3600


class Lms(Protocol):
    def post_receipt(self, receipt: ReceiptPost) -> Any: ...
    def receipt_by_reference(self, reference: str) -> Any: ...


class Breaker(Protocol):
    settings: rules.BreakerSettings

    def read(self, now: float) -> rules.Snapshot: ...
    def record(self, now: float, ok: int, failed: int) -> None: ...
    def open(self, now: float) -> None: ...
    def claim_probe(self, now: float) -> bool: ...
    def close(self) -> None: ...


def next_due(
    now: int,
    attempts: int,
    policy: PostingPolicy,
    rand: Callable[[], float],
    retry_after: int | None = None,
) -> int:
    """base x 2^(attempts-1), capped, drawn from its upper half so posters spread out."""
    ceiling = min(
        policy.backoff_cap_seconds, policy.backoff_base_seconds * 2 ** max(0, attempts - 1)
    )
    delay = ceiling / 2 + rand() * ceiling / 2
    return now + max(1, int(delay), retry_after or 0)


def receipt_post(item: QueueItem) -> ReceiptPost:
    """What the LMS is sent, from the item as the capture queued it; ValueError if the
    payload cannot make one (a poison item: it goes to EXCEPTION, never retried)."""
    p = item.payload
    try:
        amount = Decimal(str(p["amount"]))
        return ReceiptPost(
            reference=str(p["receipt_number"]),
            loan_account_number=str(p["loan_account_number"]),
            amount=amount,
            currency=str(p.get("currency") or "INR"),
            received_at=str(p["captured_at"]),
            channel=str(p.get("channel") or "PORTAL"),
            payment_mode=payment_mode_for(p.get("payment_method")),
            branch_code=str(p["branch_code"]),
            external_reference=p.get("razorpay_payment_id"),
        )
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"the queued receipt is incomplete ({type(exc).__name__})") from exc


@dataclass
class Poster:
    store: PostingStore
    lms: Lms
    breaker: Breaker
    policy: PostingPolicy = field(default_factory=PostingPolicy)
    now: Callable[[], float] = clock.epoch
    rand: Callable[[], float] = random.random
    counts: Counter[str] = field(default_factory=Counter)

    def post(self, queue_ids: Iterable[str], remaining: Callable[[], float]) -> dict[str, int]:
        """Post what can be posted of `queue_ids`; the rest stays queued for the sweep."""
        ids = list(dict.fromkeys(queue_ids))
        if not ids:
            return dict(self.counts)
        started = self.now()
        before = self.breaker.read(started)
        decision = rules.decide(before, started, self.breaker.settings)
        if decision.state is rules.State.OPEN:
            self.counts["held"] += len(ids)
            return dict(self.counts)
        if decision.state is rules.State.HALF_OPEN:
            rest = self._probe(ids)
            if rest is None:
                return dict(self.counts)
            ids = rest
        self._post_closed(ids, before, remaining)
        return dict(self.counts)

    def sweep(self, limit: int, remaining: Callable[[], float]) -> dict[str, int]:
        due = self.store.due(int(self.now()), limit)
        return self.post([item.queue_id for item in due], remaining)

    def _at(self) -> str:
        return clock.iso(datetime.fromtimestamp(self.now(), UTC))

    # ------------------------------------------------------------------ breaker

    def _probe(self, ids: list[str]) -> list[str] | None:
        """Half-open: this poster posts one item if it wins the probe; the rest go on only if
        the LMS answered. None when nothing more is to be posted now."""
        now = self.now()
        if not self.breaker.claim_probe(now):
            self.counts["held"] += len(ids)
            return None
        for index, queue_id in enumerate(ids):
            answered = self._post_one(queue_id)
            if answered is None:
                continue  # not ours to post (claimed elsewhere): the probe goes on
            if answered:
                self.breaker.close()
                return ids[index + 1 :]
            self.breaker.open(self.now())
            self.counts["held"] += len(ids) - index - 1
            return None
        return None

    def _post_closed(
        self, ids: list[str], before: rules.Snapshot, remaining: Callable[[], float]
    ) -> None:
        """Every item in turn; the breaker opens as soon as this batch's failures on top of
        the window's (`before`) trip it, and what is left stays queued."""
        ok = failed = 0
        for index, queue_id in enumerate(ids):
            if remaining() < self.policy.lease_seconds / 4:
                self.counts["deferred"] += len(ids) - index
                break
            answered = self._post_one(queue_id)
            if answered is None:
                continue
            ok, failed = ok + int(answered), failed + int(not answered)
            if (
                before
                and not answered
                and rules.should_trip(before, ok, failed, self.breaker.settings)
            ):
                self.breaker.open(self.now())
                self.counts["breaker_opened"] += 1
                self.counts["held"] += len(ids) - index - 1
                break
        self._record(ok, failed)

    def _record(self, ok: int, failed: int) -> None:
        if not (ok or failed):
            return
        try:
            self.breaker.record(self.now(), ok, failed)
        except StoreError:
            self.counts["breaker_unrecorded"] += 1

    # ------------------------------------------------------------------ one item

    def _post_one(self, queue_id: str) -> bool | None:
        """True when the LMS answered, False when it did not, None when nothing was asked
        (not ours to post, or our store failed before the call)."""
        now = int(self.now())
        try:
            before = self.store.claim(queue_id, now, self.policy.lease_seconds, self._at())
        except StoreError:
            self.counts["claim_failed"] += 1
            return None
        if before is None:
            self.counts["skipped"] += 1
            return None
        item = replace(
            before,
            status=PostingStatus.IN_FLIGHT,
            attempts=before.attempts + 1,
            in_doubt=True,
            retry_timestamp=now + self.policy.lease_seconds,
        )
        try:
            request = receipt_post(item)
        except ValueError as exc:
            self._exception(item, str(exc), doubt=False)
            return None
        return self._attempt(item, request, resolve_first=before.in_doubt)

    def _attempt(self, item: QueueItem, request: ReceiptPost, *, resolve_first: bool) -> bool:
        # Whether an attempt may have been applied that nobody has accounted for yet.
        doubt = resolve_first
        try:
            if resolve_first:
                found = self.lms.receipt_by_reference(request.reference)
                if found is not None:
                    self._found(item, found)
                    return True
                doubt = False  # the LMS has nothing under our reference
                self.counts["resolved_absent"] += 1
            posted = self.lms.post_receipt(request)
        except LmsRefused as refused:
            reason = f"{refused.code}: {refused.message}"
            self._exception(item, reason, doubt=False)
            return True
        except LmsUnavailable as exc:
            self._retry_later(item, exc, doubt or bool(exc.outcome_unknown))
            return False
        self._mark_posted(item, posted.receipt.receipt_id)
        self.counts["posted" if posted.created else "posted_repeat"] += 1
        return True

    def _found(self, item: QueueItem, found: Any) -> None:
        if found.status == CANCELLED:
            reason = f"RECEIPT_CANCELLED: the LMS holds {found.receipt_id} for it, cancelled"
            self._exception(item, reason, doubt=False)
            return
        self._mark_posted(item, found.receipt_id)
        self.counts["posted_resolved"] += 1

    def _retry_later(self, item: QueueItem, exc: LmsUnavailable, doubt: bool) -> None:
        if item.attempts >= self.policy.max_attempts:
            reason = f"ATTEMPTS_EXHAUSTED: {item.attempts} attempts; last: {exc}"
            self._exception(item, reason, doubt=doubt)
            return
        due = next_due(int(self.now()), item.attempts, self.policy, self.rand, exc.retry_after)
        self._settle(item, lambda: self.store.reschedule(item, due, str(exc), doubt))
        self.counts["retry_scheduled"] += 1

    def _exception(self, item: QueueItem, reason: str, *, doubt: bool) -> None:
        at = self._at()
        self._settle(item, lambda: self.store.to_exception(item, reason, at, doubt))
        self.counts["exception"] += 1

    def _mark_posted(self, item: QueueItem, receipt_id: str) -> None:
        at = self._at()
        self._settle(item, lambda: self.store.posted(item, receipt_id, at, int(self.now())))

    def _settle(self, item: QueueItem, write: Callable[[], None]) -> None:
        """A claim we cannot settle stays IN_FLIGHT and in doubt: when its lease ends the next
        claimer asks the LMS before posting, so nothing is posted twice or lost."""
        try:
            write()
        except ClaimLost:
            self.counts["claim_lost"] += 1
        except StoreError as exc:
            self.counts["settle_failed"] += 1
            logger.warning(
                "queue item left in flight",
                extra={"queue_id": item.queue_id, "error": type(exc).__name__},
            )


def queue_gauges(store: PostingStore, now: float) -> tuple[int, int]:
    """The live items' count, and how many seconds the oldest of them has waited."""
    depth, oldest = store.live_summary()
    if oldest is None:
        return depth, 0
    return depth, max(0, int(now - clock.parse_iso(oldest).timestamp()))


def reachable(lms: Any) -> bool:
    """The LMS answers an authenticated read (a token, then one page of one loan)."""
    lms.loans_changed_since(clock.iso(datetime.now(UTC)), None, 1)
    return True
