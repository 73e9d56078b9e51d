"""CloudFormation's custom-resource response: a JSON PUT to the request's pre-signed URL."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

_TIMEOUT_SECONDS = 30


def send(
    event: dict[str, Any],
    status: str,
    reason: str,
    physical_id: str,
    data: dict[str, Any] | None = None,
) -> int:
    body = json.dumps(
        {
            "Status": status,
            "Reason": reason[:1000],
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": data or {},
        }
    ).encode()
    url = event["ResponseURL"]
    if not url.startswith("https://") and not url.startswith("http://127.0.0.1"):
        raise ValueError("ResponseURL must be an https URL")
    # An empty Content-Type: the URL is pre-signed for exactly that.
    request = urllib.request.Request(  # noqa: S310 - scheme checked above
        url, data=body, method="PUT", headers={"Content-Type": ""}
    )
    with urllib.request.urlopen(request, timeout=_TIMEOUT_SECONDS) as response:  # noqa: S310
        return int(response.status)
