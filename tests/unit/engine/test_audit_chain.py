"""The audit trail's hash chain as rules (engine.logic.audit): the canonical JSON and hash are
fixed text, a record reads back from DynamoDB as it was hashed, and `verify` names the first
broken link for an edited record, a deleted middle or newest record (the latter only through
the anchor), a relinked prev_hash, a rewritten tail, and an anchor written over with an
older head (engine.clients.anchors on moto S3 with Object Lock)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from engine.clients.anchors import AnchorStore
from engine.logic.audit import (
    Head,
    canonical_json,
    chain_date,
    next_record,
    record_hash,
    verify,
)
from engine.models.audit import GENESIS_HASH, Anchor, AuditEntry, AuditRecord
from shared import ddb

DAY = "2027-01-15"
# 09:30 IST on DAY.
AT = "2027-01-15T04:00:00.000Z"
BUCKET = "fivestar-audit-anchors-test"


def entry(n: int, branch: str | None = "BR001", **details: Any) -> AuditEntry:
    return AuditEntry(
        action="COLLECTION_CREATED",
        entity_type="COLLECTION",
        entity_id=f"col-{n}",
        actor_id="3f0c1b9e-0000-4000-8000-000000000001",
        actor_username="cashier.one",
        branch_code=branch,
        at=f"2027-01-15T04:00:0{n}.000Z",
        details={"amount": Decimal("2500.00"), "n": n} | details,
    )


def chain(length: int, branch: str | None = "BR001") -> list[AuditRecord]:
    records: list[AuditRecord] = []
    head = Head()
    for n in range(1, length + 1):
        record = next_record(entry(n, branch), head, f"{n:08x}")
        records.append(record)
        head = Head(record.seq, record.hash)
    return records


def anchor_of(record: AuditRecord) -> dict[str, Anchor]:
    return {record.chain_id: Anchor(record.chain_id, record.seq, record.hash, record.at)}


def rehashed(record: AuditRecord, **changes: Any) -> AuditRecord:
    """`record` changed and given a hash that matches (someone who knows the scheme)."""
    changed = replace(record, **changes)
    return replace(changed, hash=record_hash(changed.prev_hash, changed.hashed_fields()))


def test_canonical_json_is_sorted_compact_unescaped_and_decimal_as_text() -> None:
    text = canonical_json({"b": 1, "a": {"y": Decimal("10.50"), "x": "₹ Chennai"}, "c": [True]})
    assert text == '{"a":{"x":"₹ Chennai","y":"10.50"},"b":1,"c":[true]}'


def test_the_hash_is_sha256_of_the_previous_hash_a_newline_and_the_canonical_json() -> None:
    fields = {"seq": 1, "action": "LOGIN"}
    expected = hashlib.sha256(
        (GENESIS_HASH + '\n{"action":"LOGIN","seq":1}').encode("utf-8")
    ).hexdigest()
    assert record_hash(GENESIS_HASH, fields) == expected
    assert record_hash(GENESIS_HASH, {"action": "LOGIN", "seq": 1}) == expected
    assert record_hash("1" * 64, fields) != expected


def test_a_record_reads_back_from_dynamodb_exactly_as_it_was_hashed() -> None:
    [first, second] = chain(2)
    assert first.details == {"amount": "2500.00", "n": 1}  # money kept as its string
    assert (first.prev_hash, second.prev_hash) == (GENESIS_HASH, first.hash)
    # As the table hands it back: every number a Decimal, absent attributes absent.
    item = ddb.to_item(replace(second, actor_username=None).to_plain())
    back = AuditRecord.from_plain(ddb.from_item(item) or {})
    assert back.seq == 2 and back.details == {"amount": "2500.00", "n": 2}
    assert record_hash(back.prev_hash, back.hashed_fields()) == record_hash(
        second.prev_hash, replace(second, actor_username=None).hashed_fields()
    )


def test_details_refuse_what_would_not_read_back_as_hashed() -> None:
    with pytest.raises(TypeError):
        entry(1, rate=0.5)
    with pytest.raises(TypeError):
        entry(1, tags={"a"})
    with pytest.raises(ValueError, match="chain#"):
        replace(entry(1), entity_id="chain#2027-01-15#HO")


def test_chains_are_per_ist_date_and_branch() -> None:
    assert chain_date("2027-01-14T18:29:59.999Z") == "2027-01-14"
    assert chain_date("2027-01-14T18:30:00.000Z") == "2027-01-15"
    record = next_record(entry(1, branch=None), Head(), "0000abcd")
    assert (record.chain_id, record.chain_pos) == (f"{DAY}#HO", "HO#000000000001")
    assert record.event_at == "2027-01-15T04:00:01.000Z#0000abcd"


def test_an_intact_chain_verifies_with_its_report() -> None:
    records = chain(4)
    verdict = verify(DAY, records, anchor_of(records[-1]))
    assert verdict.ok and verdict.first_broken is None
    [report] = verdict.chains
    assert (report.chain_id, report.records, report.head_seq, report.anchored_seq) == (
        f"{DAY}#BR001",
        4,
        4,
        4,
    )


def test_an_edited_record_is_named_by_its_hash() -> None:
    records = chain(4)
    records[1] = replace(records[1], details={"amount": "25.00", "n": 2})
    broken = verify(DAY, records, anchor_of(records[-1])).first_broken
    assert broken is not None
    assert (broken.seq, broken.problem) == (2, "hash mismatch")
    assert (broken.entity_id, broken.event_at) == (records[1].entity_id, records[1].event_at)


def test_an_edited_and_rehashed_record_breaks_the_next_link() -> None:
    records = chain(4)
    records[1] = rehashed(records[1], details={"amount": "25.00", "n": 2})
    broken = verify(DAY, records, anchor_of(records[-1])).first_broken
    assert broken is not None and (broken.seq, broken.problem) == (3, "prev_hash mismatch")


def test_a_deleted_middle_record_is_a_missing_seq() -> None:
    records = chain(4)
    del records[1]
    broken = verify(DAY, records, anchor_of(records[-1])).first_broken
    assert broken is not None
    assert (broken.seq, broken.problem, broken.entity_id) == (2, "missing seq 2", None)


def test_a_relinked_prev_hash_is_caught() -> None:
    records = chain(4)
    # Record 3 claims to follow record 1, hashed to match: the link itself is wrong.
    records[2] = rehashed(records[2], prev_hash=records[0].hash)
    broken = verify(DAY, records, anchor_of(records[-1])).first_broken
    assert broken is not None and (broken.seq, broken.problem) == (3, "prev_hash mismatch")


def test_a_deleted_newest_record_is_caught_only_by_the_anchor() -> None:
    records = chain(4)
    anchors = anchor_of(records[-1])
    del records[-1]
    assert verify(DAY, records, {}).ok  # what the table alone cannot tell
    verdict = verify(DAY, records, anchors)
    broken = verdict.first_broken
    assert broken is not None and broken.seq == 4
    assert broken.problem == (
        f"anchored at seq 4 hash {anchors[records[0].chain_id].hash} but the table ends at seq 3"
    )
    assert (verdict.chains[0].head_seq, verdict.chains[0].anchored_seq) == (3, 4)


def test_a_rewritten_tail_disagrees_with_the_anchor() -> None:
    records = chain(3)
    anchors = anchor_of(records[-1])
    records[1] = rehashed(records[1], details={"amount": "1.00", "n": 2})
    records[2] = rehashed(records[2], prev_hash=records[1].hash)
    broken = verify(DAY, records, anchors).first_broken
    assert broken is not None and broken.seq == 3
    assert broken.problem.endswith(f"but the table has hash {records[2].hash}")


def test_a_chain_known_only_to_its_anchor_lost_every_record() -> None:
    kept = chain(2, branch="BR002")
    gone = chain(3)
    verdict = verify(DAY, kept, anchor_of(gone[-1]) | anchor_of(kept[-1]))
    assert [c.chain_id for c in verdict.chains] == [f"{DAY}#BR001", f"{DAY}#BR002"]
    broken = verdict.first_broken
    assert broken is not None and broken.chain_id == f"{DAY}#BR001"
    assert broken.problem.endswith("but the table ends at seq 0")
    assert verdict.chains[1].ok


def test_a_duplicated_seq_is_caught() -> None:
    records = chain(3)
    records.insert(2, replace(records[1], event_at=records[1].event_at[:-1] + "f"))
    broken = verify(DAY, records, {}).first_broken
    assert broken is not None and broken.problem == "duplicate seq 2"


def test_an_anchor_overwritten_with_an_older_head_still_catches_the_deletion(s3: Any) -> None:
    records = chain(4)
    store = AnchorStore(s3, BUCKET)
    for record in records:
        store.put(Anchor(record.chain_id, record.seq, record.hash, record.at))
    # Someone deletes the newest record and writes the anchor back to the head before it.
    del records[-1]
    store.put(Anchor(records[-1].chain_id, 3, records[-1].hash, records[-1].at))
    s3.delete_object(Bucket=BUCKET, Key=f"audit-anchors/{DAY}/BR001.json")  # a delete marker

    anchors = store.for_date(DAY)
    assert anchors[f"{DAY}#BR001"].seq == 4
    broken = verify(DAY, records, anchors).first_broken
    assert broken is not None and "but the table ends at seq 3" in broken.problem


@pytest.fixture
def s3(aws: None) -> Any:
    import boto3

    client = boto3.client("s3", region_name="ap-southeast-2")
    client.create_bucket(
        Bucket=BUCKET,
        ObjectLockEnabledForBucket=True,
        CreateBucketConfiguration={"LocationConstraint": "ap-southeast-2"},
    )
    client.put_object_lock_configuration(
        Bucket=BUCKET,
        ObjectLockConfiguration={
            "ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": 1}},
        },
    )
    return client
