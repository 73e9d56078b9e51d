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

A cancelled receipt's reversal (an LMS_CANCEL item) goes through the same claim, doubt,
backoff, breaker and EXCEPTION: each attempt first finds the receipt by our reference (which
also settles any doubt): POSTED there, it is cancelled; CANCELLED already, the reversal is
posted; not there yet (its own posting has not landed), the item waits with the usual
backoff, an attempt spent each time.

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
    REASON_MAX,
    LmsRefused,
    LmsUnavailable,
    ReceiptPost,
    payment_mode_for,
)
from engine.dal.ddb.posting import ClaimLost, PostingStore
from engine.dal.ddb.queue import LMS_CANCEL, LMS_QUEUE_TYPES
from engine.models.posting import QueueItem
from engine.models.status import PostingStatus
from shared import breaker as rules
from shared import clock
from shared.store_errors import StoreError

logger = logging.getLogger(__name__)
CANCELLED = "CANCELLED"
NOT_AT_LMS = "RECEIPT_NOT_AT_LMS: waiting for the receipt's own posting"


@dataclass(frozen=True)
class PostingPolicy:
    lease_seconds: int = 120
    max_attempts: int = 24
    backoff_base_seconds: int = 30
    backoff_cap_seconds: int = 3600


class Lms(Protocol):
    def post_receipt(self, receipt: ReceiptPost) -> Any: ...
    def receipt_by_reference(self, reference: str) -> Any: ...
    def cancel_receipt(self, receipt_id: str, reason: str) -> Any: ...


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
    payload cannot make one (a poison item: it goes to EXCEPTION, never retried).

    A staff collection's item carries its channel (BRANCH, FIELD), its mode and its
    `purpose`; a portal payment's has neither purpose nor a staff channel, so it goes as a
    PORTAL instalment with its RazorPay method."""
    p = item.payload
    try:
        amount = Decimal(str(p["amount"]))
        channel = str(p.get("channel") or "PORTAL")
        return ReceiptPost(
            reference=str(p["receipt_number"]),
            loan_account_number=str(p["loan_account_number"]),
            amount=amount,
            currency=str(p.get("currency") or "INR"),
            received_at=str(p["captured_at"]),
            channel=channel,
            payment_mode=payment_mode_for(p.get("payment_method"), channel),
            branch_code=str(p["branch_code"]),
            external_reference=p.get("razorpay_payment_id"),
            # Absent only on a portal payment (an instalment). An unknown one is refused by
            # ReceiptPost, never sent as EMI: a fee as EMI would reduce the loan at the LMS.
            purpose=str(p.get("purpose") or "EMI"),
            instrument_number=p.get("instrument_number"),
        )
    except (KeyError, TypeError, InvalidOperation) as exc:
        raise ValueError(f"the queued receipt is incomplete ({type(exc).__name__})") from exc


@dataclass(frozen=True)
class Reversal:
    reference: str  # the receipt number the receipt was posted under
    reason: str


def reversal(item: QueueItem) -> Reversal:
    """The reversal to ask for; ValueError for a payload that cannot make one (poison)."""
    reference, reason = item.payload.get("receipt_number"), item.payload.get("reason")
    if not isinstance(reference, str) or not reference:
        raise ValueError("the queued reversal has no receipt number")
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("the queued reversal has no reason")
    # The LMS keeps at most REASON_MAX characters of it; our own record keeps it whole.
    return Reversal(reference, reason[:REASON_MAX])


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
        due = self.store.due(int(self.now()), limit, LMS_QUEUE_TYPES)
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
        if item.queue_type == LMS_CANCEL:
            return self._reverse(item, doubt=before.in_doubt)
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
            self._retry_later(item, str(exc), doubt or bool(exc.outcome_unknown), exc.retry_after)
            return False
        self._mark_posted(item, posted.receipt.receipt_id)
        self.counts["posted" if posted.created else "posted_repeat"] += 1
        return True

    def _found(self, item: QueueItem, found: Any) -> None:
        # Cancelled by our own reversal (it marked this item first), it had been posted; by
        # anyone else, the LMS and our books disagree and a person must look.
        if found.status == CANCELLED and item.reversal_requested_at is None:
            reason = f"RECEIPT_CANCELLED: the LMS holds {found.receipt_id} for it, cancelled"
            self._exception(item, reason, doubt=False)
            return
        self._mark_posted(item, found.receipt_id)
        self.counts["posted_resolved"] += 1

    def _reverse(self, item: QueueItem, *, doubt: bool) -> bool | None:
        """The LMS is asked for the receipt on every attempt: it needs the LMS's receipt id,
        and the answer settles whether an earlier cancellation landed."""
        try:
            request = reversal(item)
        except ValueError as exc:
            self._exception(item, str(exc), doubt=False)
            return None
        try:
            found = self.lms.receipt_by_reference(request.reference)
            if found is None or found.status == CANCELLED:
                self._reversal_found(item, found)
                return True
            doubt = False  # the LMS holds it uncancelled: no earlier attempt landed
            if not self._note_reversal(item):
                return True
            cancelled = self.lms.cancel_receipt(found.receipt_id, request.reason)
        except LmsRefused as refused:
            self._exception(item, f"{refused.code}: {refused.message}", doubt=False)
            return True
        except LmsUnavailable as exc:
            self._retry_later(item, str(exc), doubt or bool(exc.outcome_unknown), exc.retry_after)
            return False
        self._mark_reversed(item, cancelled)
        self.counts["cancelled"] += 1
        return True

    def _note_reversal(self, item: QueueItem) -> bool:
        """Recorded on the receipt's own item before the LMS is asked: a claim of it still in
        doubt that then finds the receipt cancelled knows the cancellation was ours."""
        try:
            self.store.note_reversal(item.transaction_id, self._at())
        except StoreError as exc:
            error = f"the receipt's item could not be marked ({type(exc).__name__})"
            self._retry_later(item, error, doubt=False)
            return False
        return True

    def _reversal_found(self, item: QueueItem, found: Any) -> None:
        if found is None:
            # Nothing was ever posted under the reference, so no cancellation landed either.
            self._retry_later(item, NOT_AT_LMS, doubt=False)
            self.counts["cancel_waiting"] += 1
            return
        self._mark_reversed(item, found)
        self.counts["cancelled_resolved"] += 1

    def _retry_later(
        self, item: QueueItem, error: str, doubt: bool, retry_after: int | None = None
    ) -> None:
        if item.attempts >= self.policy.max_attempts:
            reason = f"ATTEMPTS_EXHAUSTED: {item.attempts} attempts; last: {error}"
            self._exception(item, reason, doubt=doubt)
            return
        due = next_due(int(self.now()), item.attempts, self.policy, self.rand, retry_after)
        self._settle(item, lambda: self.store.reschedule(item, due, error, doubt))
        self.counts["retry_scheduled"] += 1

    def _exception(self, item: QueueItem, reason: str, *, doubt: bool) -> None:
        at = self._at()
        self._settle(item, lambda: self.store.to_exception(item, reason, at, doubt))
        self.counts["exception"] += 1

    def _mark_posted(self, item: QueueItem, receipt_id: str) -> None:
        at = self._at()
        self._settle(item, lambda: self.store.posted(item, receipt_id, at, int(self.now())))

    def _mark_reversed(self, item: QueueItem, receipt: Any) -> None:
        at = self._at()
        lms_at = receipt.cancelled_at or at
        now = int(self.now())
        self._settle(item, lambda: self.store.reversed(item, receipt.receipt_id, lms_at, at, now))

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
    depths, oldest_age = queue_gauges_by_type(store, now)
    return sum(depths.values()), oldest_age


def queue_gauges_by_type(store: PostingStore, now: float) -> tuple[dict[str, int], int]:
    """The live items' count per queue type, and how many seconds the oldest of them all
    has waited: a reversal is owed to the LMS as a receipt is (until it lands the LMS
    counts the cancelled receipt against the loan)."""
    depths: dict[str, int] = {}
    oldest: str | None = None
    for queue_type in LMS_QUEUE_TYPES:
        depths[queue_type], first = store.live_summary(queue_type)
        if first is not None and (oldest is None or first < oldest):
            oldest = first
    if oldest is None:
        return depths, 0
    return depths, max(0, int(now - clock.parse_iso(oldest).timestamp()))


def reachable(lms: Any) -> bool:
    """The LMS answers an authenticated read (a token, then one page of one loan)."""
    lms.loans_changed_since(clock.iso(datetime.now(UTC)), None, 1)
    return True
