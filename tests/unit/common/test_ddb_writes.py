"""shared.ddb_writes: a false condition is told from a conflict or throttle, and only the
latter are retried (against a scripted client: the reasons are what DynamoDB sends)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from shared import ddb_writes
from shared.ddb_writes import Cancelled, Retry
from shared.store_errors import ConditionFailed, Conflict

NO_JITTER = Retry(attempts=4, base_seconds=0.05, rand=lambda: 0.5)


def cancelled(*codes: str, item: dict[str, Any] | None = None) -> ClientError:
    reasons: list[dict[str, Any]] = [{"Code": code} for code in codes]
    if item is not None:
        reasons[codes.index("ConditionalCheckFailed")]["Item"] = item
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "cancelled"},
            "CancellationReasons": reasons,  # type: ignore[typeddict-unknown-key]
        },
        "TransactWriteItems",
    )


def error(code: str, operation: str = "UpdateItem") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": code}}, operation)


class Scripted:
    """Raises the scripted errors in turn, then succeeds."""

    def __init__(self, *errors: ClientError) -> None:
        self.errors = list(errors)
        self.calls = 0

    def _next(self) -> None:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)

    def transact_write_items(self, **_: Any) -> None:
        self._next()

    def update_item(self, **_: Any) -> None:
        self._next()

    def transact_get_items(self, **params: Any) -> dict[str, Any]:
        self._next()
        return {
            "Responses": [
                {"Item": {"n": {"N": str(i)}}} if i else {}
                for i, _ in enumerate(params["TransactItems"])
            ]
        }


@pytest.fixture
def pauses(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(ddb_writes, "_sleep", slept.append)
    return slept


@pytest.mark.parametrize(
    "reason",
    ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"],
)
def test_a_retryable_cancellation_is_retried_until_it_goes_through(
    pauses: list[float], reason: str
) -> None:
    client = Scripted(cancelled("None", reason), cancelled(reason, "None"))

    ddb_writes.transact(client, [], NO_JITTER)

    assert client.calls == 3
    assert pauses == pytest.approx([0.05, 0.1])


def test_a_conflict_that_never_clears_is_a_conflict_after_the_last_attempt(
    pauses: list[float],
) -> None:
    client = Scripted(*(cancelled("None", "TransactionConflict") for _ in range(5)))

    with pytest.raises(Conflict):
        ddb_writes.transact(client, [], NO_JITTER)

    assert client.calls == 4
    assert pauses == pytest.approx([0.05, 0.1, 0.2])


def test_a_false_condition_is_never_retried_and_names_its_item(pauses: list[float]) -> None:
    client = Scripted(
        cancelled("None", "ConditionalCheckFailed", item={"status": {"S": "Completed"}})
    )

    with pytest.raises(Cancelled) as caught:
        ddb_writes.transact(client, [], NO_JITTER)

    assert client.calls == 1
    assert pauses == []
    assert caught.value.failed == (1,)
    assert caught.value.current == {"status": "Completed"}


def test_a_false_condition_wins_over_a_conflict_on_another_item(pauses: list[float]) -> None:
    client = Scripted(cancelled("TransactionConflict", "ConditionalCheckFailed"))

    with pytest.raises(Cancelled) as caught:
        ddb_writes.transact(client, [], NO_JITTER)

    assert caught.value.failed == (1,)
    assert client.calls == 1


def test_a_malformed_transaction_is_raised_as_it_is(pauses: list[float]) -> None:
    client = Scripted(cancelled("None", "ValidationError"))

    with pytest.raises(ClientError):
        ddb_writes.transact(client, [], NO_JITTER)

    assert client.calls == 1


@pytest.mark.parametrize(
    "code",
    [
        "TransactionConflictException",
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "InternalServerError",
    ],
)
def test_an_update_is_retried_on_conflict_and_throttling(pauses: list[float], code: str) -> None:
    client = Scripted(error(code))

    ddb_writes.update(client, {}, NO_JITTER)

    assert client.calls == 2


def test_an_update_with_a_false_condition_carries_the_current_item(pauses: list[float]) -> None:
    failure = error("ConditionalCheckFailedException")
    failure.response["Item"] = {"status": {"S": "Rejected"}}  # type: ignore[typeddict-unknown-key]
    client = Scripted(failure)

    with pytest.raises(ConditionFailed) as caught:
        ddb_writes.update(client, {}, NO_JITTER)

    assert caught.value.current == {"status": "Rejected"}
    assert client.calls == 1


def test_an_update_refused_for_another_reason_is_raised(pauses: list[float]) -> None:
    client = Scripted(error("AccessDeniedException"))

    with pytest.raises(ClientError):
        ddb_writes.update(client, {}, NO_JITTER)

    assert client.calls == 1


def test_a_transactional_read_answers_each_item_or_none_in_order(pauses: list[float]) -> None:
    client = Scripted()

    found = ddb_writes.transact_get(client, [{"Get": {}}, {"Get": {}}, {"Get": {}}], NO_JITTER)

    assert found == [None, {"n": 1}, {"n": 2}]
    assert client.calls == 1


def test_a_transactional_read_cancelled_by_a_writing_transaction_is_read_again(
    pauses: list[float],
) -> None:
    client = Scripted(cancelled("TransactionConflict", "None"), error("ThrottlingException"))

    assert ddb_writes.transact_get(client, [{"Get": {}}], NO_JITTER) == [None]
    assert client.calls == 3
    assert pauses == pytest.approx([0.05, 0.1])


def test_a_transactional_read_that_keeps_conflicting_is_a_conflict(pauses: list[float]) -> None:
    client = Scripted(*(cancelled("TransactionConflict") for _ in range(4)))

    with pytest.raises(Conflict):
        ddb_writes.transact_get(client, [{"Get": {}}], NO_JITTER)
    assert client.calls == 4


def test_a_transactional_read_refused_for_another_reason_is_raised(pauses: list[float]) -> None:
    client = Scripted(error("AccessDeniedException", "TransactGetItems"))

    with pytest.raises(ClientError):
        ddb_writes.transact_get(client, [{"Get": {}}], NO_JITTER)
    assert client.calls == 1
