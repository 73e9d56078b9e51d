"""Secrets read through Powertools Parameters, cached in the container."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities import parameters

from shared.aws import client

_MAX_AGE_SECONDS = 300


def get_json_secret(secret_id: str) -> dict[str, Any]:
    provider = _provider()
    value = provider.get(secret_id, max_age=_MAX_AGE_SECONDS, transform="json")
    if not isinstance(value, dict):
        raise ValueError("secret value is not a JSON object")
    return value


_PROVIDER: parameters.SecretsProvider | None = None


def _provider() -> parameters.SecretsProvider:
    global _PROVIDER  # noqa: PLW0603 - one provider (and its cache) per container
    if _PROVIDER is None:
        _PROVIDER = parameters.SecretsProvider(boto3_client=client("secretsmanager"))
    return _PROVIDER


def clear_cache() -> None:
    global _PROVIDER  # noqa: PLW0603
    _PROVIDER = None
