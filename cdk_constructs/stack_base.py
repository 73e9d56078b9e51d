"""A Stack whose availability zones come from config, never from a lookup.

`Stack.availability_zones` otherwise triggers the `availability-zones` context
lookup: the CLI then needs AWS credentials, and a direct `python app.py` silently
records the lookup as missing and synthesizes dummy zones. jsii honours a Python
override of the property, so the configured zones are what every construct sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from constructs import Construct


class ConfiguredStack(cdk.Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        availability_zones: Sequence[str],
        **kwargs: Any,
    ) -> None:
        if not availability_zones:
            raise ValueError("a ConfiguredStack needs at least one availability zone")
        self._configured_zones = list(availability_zones)
        super().__init__(scope, construct_id, **kwargs)

    @property
    def availability_zones(self) -> list[str]:
        return list(self._configured_zones)
