"""The audit trail's store (engine.dal.ddb.audit) on moto DynamoDB, with its anchors in a moto
S3 bucket under Object Lock: concurrent appends make one contiguous chain, an action whose own
condition fails leaves no record, a head taken by another append is read again, and verify
catches a stored record edited and the newest one deleted.

moto applies a TransactWriteItems without a lock (it copies the table, writes, and restores
the copy on failure), so two threads' transactions could interleave inside moto as DynamoDB
never would. `Serialised` makes each call to moto whole, as each DynamoDB request is; between
calls (an append's head read and its write) the threads interleave freely.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import boto3
import pytest
from moto import mock_aws

from engine.clients.anchors import AnchorStore
from engine.dal.ddb.audit import AuditLog, head_key
from engine.logic.audit import Head, verify
from engine.models.audit import Anchor, AuditEntry, AuditRecord
from engine.tables import AUDIT, TRANSACTIONS
from shared import ddb, ddb_writes
from shared.ddb_writes import Cancelled, Retry
from shared.store_errors import Conflict

REGION = "ap-south-1"
TABLE = "Audit"
BUCKET = "fivestar-audit-anchors-it"
DAY = "2027-01-15"
BRANCH_CHAIN = f"{DAY}#BR001"
NO_WAIT = Retry(attempts=2, base_seconds=0)


class Serialised:
    """A boto3 client whose every call runs alone (see the module docstring)."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        if not callable(method) or name == "get_paginator":
            return method

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return call


@dataclass
class Trail:
    dynamodb: Any
    s3: Any
    anchors: AnchorStore

    def log(self, client: Any = None, **kwargs: Any) -> AuditLog:
        return AuditLog(client or self.dynamodb, TABLE, self.anchors, **kwargs)

    def records(self) -> list[AuditRecord]:
        return list(self.log().on_date(DAY))

    def verdict(self) -> Any:
        return verify(DAY, self.records(), self.anchors.for_date(DAY))


@pytest.fixture
def trail(monkeypatch: pytest.MonkeyPatch) -> Iterator[Trail]:
    for key, value in {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(ddb_writes, "_sleep", lambda _seconds: None)
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        for spec, name in ((AUDIT, TABLE), (TRANSACTIONS, "Transactions")):
            dynamodb.create_table(**spec.create_table_kwargs(name))
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(
            Bucket=BUCKET,
            ObjectLockEnabledForBucket=True,
            CreateBucketConfiguration={"LocationConstraint": REGION},
        )
        s3.put_object_lock_configuration(
            Bucket=BUCKET,
            ObjectLockConfiguration={
                "ObjectLockEnabled": "Enabled",
                "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
            },
        )
        serial_s3 = Serialised(s3)
        yield Trail(Serialised(dynamodb), serial_s3, AnchorStore(serial_s3, BUCKET))


def entry(n: int, branch: str | None = "BR001", at: str | None = None) -> AuditEntry:
    return AuditEntry(
        action="COLLECTION_CREATED",
        entity_type="COLLECTION",
        entity_id=f"col-{n:04d}",
        actor_id="3f0c1b9e-0000-4000-8000-000000000001",
        actor_username="cashier.one",
        branch_code=branch,
        at=at or f"2027-01-15T04:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        details={"amount": Decimal("2500.00"), "mode": "CASH"},
    )


def seqs(records: list[AuditRecord], chain_id: str = BRANCH_CHAIN) -> list[int]:
    return [r.seq for r in records if r.chain_id == chain_id]


def test_concurrent_appends_make_one_contiguous_chain(trail: Trail) -> None:
    threads, each = 6, 8
    start = threading.Barrier(threads, timeout=60)  # a stuck thread fails, never hangs
    transacts = []

    class Contended(Serialised):
        """Every thread reads the empty head before any writes: all but one must retry."""

        def __init__(self, client: Any) -> None:
            super().__init__(client)
            self.local = threading.local()

        def get_item(self, **kwargs: Any) -> Any:
            if not getattr(self.local, "started", False):
                self.local.started = True
                answer = self.__getattr__("get_item")(**kwargs)
                start.wait()
                return answer
            return self.__getattr__("get_item")(**kwargs)

        def transact_write_items(self, **kwargs: Any) -> Any:
            transacts.append(1)
            return self.__getattr__("transact_write_items")(**kwargs)

    client = Contended(trail.dynamodb)
    log = trail.log(client, retry=Retry(attempts=2, base_seconds=0), attempts=200)

    def work(t: int) -> list[int]:
        return [log.append(entry(t * each + i)).seq for i in range(each)]

    with ThreadPoolExecutor(threads) as pool:
        taken = [s for seq_list in pool.map(work, range(threads)) for s in seq_list]

    total = threads * each
    assert sorted(taken) == list(range(1, total + 1))  # each seq handed out once
    assert len(transacts) >= total + threads - 1  # the first round: one winner, the rest again
    records = trail.records()
    assert seqs(records) == list(range(1, total + 1))
    assert {r.entity_id for r in records} == {f"col-{n:04d}" for n in range(total)}
    assert trail.log().head(BRANCH_CHAIN).seq == total
    verdict = trail.verdict()
    assert verdict.ok, verdict.first_broken
    assert verdict.chains[0].anchored_seq == total  # the highest anchor, however late it landed


def test_branches_and_days_chain_apart(trail: Trail) -> None:
    log = trail.log()
    log.append(entry(1, "BR001"))
    log.append(entry(2, "BR002"))
    log.append(entry(3, None))
    late = log.append(entry(4, "BR001", at="2027-01-15T18:30:00.000Z"))  # 00:00 IST on the 16th
    assert late.chain_id == "2027-01-16#BR001" and late.seq == 1
    verdict = trail.verdict()
    assert [(c.chain_id, c.head_seq) for c in verdict.chains] == [
        (f"{DAY}#BR001", 1),
        (f"{DAY}#BR002", 1),
        (f"{DAY}#HO", 1),
    ]
    assert verdict.ok


def test_a_failed_condition_on_the_actions_item_is_cancelled_with_no_record(
    trail: Trail,
) -> None:
    log = trail.log(retry=NO_WAIT)
    first = log.append(entry(1))
    put = {
        "Put": {
            "TableName": "Transactions",
            "Item": ddb.to_item({"transaction_id": "col-0002", "status": "COLLECTED"}),
            "ConditionExpression": "attribute_not_exists(transaction_id)",
        }
    }
    must_exist = {
        "ConditionCheck": {
            "TableName": "Transactions",
            "Key": ddb.to_item({"transaction_id": "col-missing"}),
            "ConditionExpression": "attribute_exists(transaction_id)",
        }
    }

    with pytest.raises(Cancelled) as cancelled:
        log.transact(entry(2), [put, must_exist])

    assert cancelled.value.failed == (1,)  # the caller's own index
    assert seqs(trail.records()) == [1]
    assert log.head(BRANCH_CHAIN) == Head(1, first.hash)
    stored = trail.dynamodb.get_item(
        TableName="Transactions", Key=ddb.to_item({"transaction_id": "col-0002"})
    )
    assert "Item" not in stored  # nor the action's other item

    joined = log.transact(entry(3), [put])
    assert joined.seq == 2 and trail.verdict().ok


def test_a_head_taken_by_another_append_is_read_again(trail: Trail) -> None:
    rival = trail.log()

    class Overtaken(Serialised):
        """Another append lands between our head read and our write, once."""

        def __init__(self, client: Any) -> None:
            super().__init__(client)
            self.writes = 0

        def transact_write_items(self, **kwargs: Any) -> Any:
            self.writes += 1
            if self.writes == 1:
                rival.append(entry(99))
            return self.__getattr__("transact_write_items")(**kwargs)

    client = Overtaken(trail.dynamodb)
    ours = trail.log(client, retry=NO_WAIT).append(entry(1))

    assert client.writes == 2 and ours.seq == 2
    [theirs, mine] = trail.records()
    assert (theirs.entity_id, mine.entity_id) == ("col-0099", "col-0001")
    assert mine.prev_hash == theirs.hash and trail.verdict().ok


def test_a_head_that_never_comes_free_is_a_conflict_and_records_nothing_of_ours(
    trail: Trail,
) -> None:
    rival = trail.log()

    class AlwaysOvertaken(Serialised):
        def transact_write_items(self, **kwargs: Any) -> Any:
            rival.append(entry(99))
            return self.__getattr__("transact_write_items")(**kwargs)

    with pytest.raises(Conflict):
        trail.log(AlwaysOvertaken(trail.dynamodb), retry=NO_WAIT, attempts=3).append(entry(1))

    records = trail.records()
    assert [r.entity_id for r in records] == ["col-0099"] * 3
    assert trail.verdict().ok


def test_a_failed_anchor_write_does_not_fail_the_action(trail: Trail) -> None:
    class Down:
        def put(self, anchor: Anchor) -> None:
            raise ConnectionError("S3 unreachable")

    recorded = AuditLog(trail.dynamodb, TABLE, Down()).append(entry(1))
    assert seqs(trail.records()) == [1] and recorded.seq == 1
    assert trail.anchors.for_date(DAY) == {}
    trail.log().append(entry(2))  # the next append anchors the chain again
    assert trail.anchors.for_date(DAY)[BRANCH_CHAIN].seq == 2


def test_verify_catches_a_stored_record_edited(trail: Trail) -> None:
    log = trail.log()
    appended = [log.append(entry(n)) for n in (1, 2, 3)]
    assert trail.verdict().ok
    target = appended[1]
    trail.dynamodb.update_item(
        TableName=TABLE,
        Key=ddb.to_item({"entity_id": target.entity_id, "event_at": target.event_at}),
        UpdateExpression="SET details.amount = :a",
        ExpressionAttributeValues=ddb.values({":a": "250.00"}),
    )

    broken = trail.verdict().first_broken
    assert broken is not None
    assert (broken.chain_id, broken.seq, broken.problem) == (BRANCH_CHAIN, 2, "hash mismatch")
    assert (broken.entity_id, broken.event_at) == (target.entity_id, target.event_at)


def test_verify_catches_the_newest_record_deleted(trail: Trail) -> None:
    log = trail.log()
    appended = [log.append(entry(n)) for n in (1, 2, 3)]
    newest = appended[-1]
    # A careful deleter puts the head back too, so the table alone looks whole.
    trail.dynamodb.delete_item(
        TableName=TABLE,
        Key=ddb.to_item({"entity_id": newest.entity_id, "event_at": newest.event_at}),
    )
    trail.dynamodb.put_item(
        TableName=TABLE,
        Item=ddb.to_item(head_key(BRANCH_CHAIN) | {"seq": 2, "hash": appended[1].hash}),
    )
    assert verify(DAY, trail.records(), {}).ok

    broken = trail.verdict().first_broken
    assert broken is not None and (broken.chain_id, broken.seq) == (BRANCH_CHAIN, 3)
    assert broken.problem == (f"anchored at seq 3 hash {newest.hash} but the table ends at seq 2")
