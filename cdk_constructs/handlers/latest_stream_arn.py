"""Custom resource: a DynamoDB table's current stream ARN in this Region (DescribeTable).

A global table's replica in another Region has a stream whose ARN ends in a creation time
that no template knows, yet an event source mapping needs that exact ARN. This answers
CloudFormation with `StreamArn`; the physical id is the ARN itself, so a new stream (a
re-created replica) replaces the resource and the mapping that reads it.

Shipped as the function's inline code: the standard library and the runtime's boto3 only.
"""

import json
import urllib.request
from typing import Any

import boto3


def handler(event: dict[str, Any], context: Any) -> None:
    physical_id = event.get("PhysicalResourceId") or "none"
    status, reason = "SUCCESS", ""
    data: dict[str, str] = {}
    try:
        if event["RequestType"] != "Delete":
            table = event["ResourceProperties"]["TableName"]
            described = boto3.client("dynamodb").describe_table(TableName=table)["Table"]
            arn = described.get("LatestStreamArn")
            if not arn:
                raise ValueError(f"table {table} has no stream")
            physical_id, data = arn, {"StreamArn": arn}
    except Exception as exc:  # every failure must reach CloudFormation, or it waits an hour
        status, reason = "FAILED", f"{type(exc).__name__}: {exc}"
    outcome = {
        "Status": status,
        "Reason": reason or f"see log stream {context.log_stream_name}",
        "PhysicalResourceId": physical_id,
        "Data": data,
    }
    answer(event, outcome)


def answer(event: dict[str, Any], outcome: dict[str, Any]) -> None:
    body = json.dumps(
        {
            **outcome,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - CloudFormation's pre-signed https URL
        event["ResponseURL"], data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310
        pass
