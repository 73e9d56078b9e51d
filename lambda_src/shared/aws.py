"""boto3 clients created lazily and reused for the life of a container."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


@cache
def client_with(service: str, config: Config) -> Any:
    """A client with its own timeouts/retries (e.g. a health check that must fail fast)."""
    return boto3.client(service, config=config, endpoint_url=os.environ.get("AWS_ENDPOINT_URL"))


def reset_clients() -> None:
    """Drop cached clients (tests switch moto backends between cases)."""
    client.cache_clear()
    client_with.cache_clear()
