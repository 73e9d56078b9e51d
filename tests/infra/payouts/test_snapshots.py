"""One JSON snapshot per stack per environment, with asset hashes masked.

A change in any snapshot is a change in what CloudFormation would deploy: review
it, then `pytest tests/infra --snapshot-update`. Handler code is not part of the
snapshot (its asset hash is masked), so runtime edits never churn these files.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.infra.conftest import ENVIRONMENTS
from tests.infra.synth import ASSET_HASH, MASK, ROLES, Synth, mask_asset_hashes


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("env_name", ENVIRONMENTS)
def test_stack_snapshot(
    env_name: str, role: str, synth_of: Callable[[str], Synth], json_snapshot: SnapshotAssertion
) -> None:
    template = synth_of(env_name).templates[role]
    assert mask_asset_hashes(template) == json_snapshot


def _strings(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [s for key, value in node.items() for s in (key, *_strings(value))]
    if isinstance(node, list):
        return [s for item in node for s in _strings(item)]
    return [node] if isinstance(node, str) else []


def test_masking_leaves_no_asset_hash(synth: Synth) -> None:
    """Editing a handler changes only 64-hex asset hashes; prove none survives masking."""
    service = synth.templates["service"]["Resources"].values()
    code_keys = [
        r["Properties"]["Code"]["S3Key"] for r in service if r["Type"] == "AWS::Lambda::Function"
    ]
    code_keys += [
        r["Properties"]["Content"]["S3Key"]
        for r in service
        if r["Type"] == "AWS::Lambda::LayerVersion"
    ]
    assert code_keys, "functions must reference their code asset by content hash"
    for role in ROLES:
        masked = mask_asset_hashes(synth.templates[role])
        leftovers = [s for s in _strings(masked) if ASSET_HASH.search(s)]
        assert leftovers == [], f"{role}: unmasked asset hashes {leftovers[:3]}"
    masked_service = mask_asset_hashes(synth.templates["service"])
    assert MASK in str(masked_service)
