"""The local runner's tables are the deployed tables: same keys, indexes, TTL and stream.

The runner provisions moto from the table declarations; the stacks synthesize from the same
declarations. This test compares what each really produced, so neither side can drift.
"""

from __future__ import annotations

import re
from typing import Any

import boto3
import pytest
from moto import mock_aws

from local.payouts_resources import provision
from tests.infra.synth import Synth, resources

REGION = "ap-southeast-2"


def _template_tables(synth: Synth) -> dict[str, dict[str, Any]]:
    """Declared table name -> its GlobalTable properties (logical ids are `<name>Table<hash>`)."""
    found = {}
    for logical_id, resource in resources(
        synth.templates["stateful"], "AWS::DynamoDB::GlobalTable"
    ).items():
        match = re.fullmatch(r"(\w+?)Table[0-9A-F]{8}", logical_id)
        assert match, logical_id
        found[match.group(1)] = resource["Properties"]
    return found


def _key_schema(items: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(k["AttributeName"], k["KeyType"]) for k in items]


def _indexes(items: list[dict[str, Any]] | None) -> dict[str, tuple[Any, ...]]:
    return {
        i["IndexName"]: (_key_schema(i["KeySchema"]), i["Projection"]["ProjectionType"])
        for i in items or []
    }


@pytest.fixture(scope="module")
def runner_tables() -> dict[str, dict[str, Any]]:
    with mock_aws():
        created = provision(
            lambda name: boto3.client(name, region_name=REGION), prefix="cmp", api_key="k"
        )
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        tables = {}
        for logical, name in created.tables.items():
            description = dynamodb.describe_table(TableName=name)["Table"]
            ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            tables[logical] = {"table": description, "ttl": ttl}
        return tables


def test_runner_and_stacks_have_the_same_tables(
    synth: Synth, runner_tables: dict[str, dict[str, Any]]
) -> None:
    assert set(_template_tables(synth)) == set(runner_tables)


@pytest.mark.parametrize("logical", ["Transactions", "Customers", "Idempotency", "CircuitBreaker"])
def test_keys_indexes_ttl_and_stream_match(
    synth: Synth, runner_tables: dict[str, dict[str, Any]], logical: str
) -> None:
    deployed = _template_tables(synth)[logical]
    local = runner_tables[logical]["table"]
    ttl = runner_tables[logical]["ttl"]

    assert _key_schema(local["KeySchema"]) == _key_schema(deployed["KeySchema"])
    assert sorted(map(tuple, (d.values() for d in local["AttributeDefinitions"]))) == sorted(
        map(tuple, (d.values() for d in deployed["AttributeDefinitions"]))
    )
    assert _indexes(local.get("GlobalSecondaryIndexes")) == _indexes(
        deployed.get("GlobalSecondaryIndexes")
    )
    deployed_ttl = deployed.get("TimeToLiveSpecification", {})
    if deployed_ttl.get("Enabled"):
        assert ttl == {
            "TimeToLiveStatus": "ENABLED",
            "AttributeName": deployed_ttl["AttributeName"],
        }
    else:
        assert ttl["TimeToLiveStatus"] == "DISABLED"
    deployed_stream = deployed.get("StreamSpecification", {}).get("StreamViewType")
    local_stream = local.get("StreamSpecification", {}).get("StreamViewType")
    assert local_stream == deployed_stream
