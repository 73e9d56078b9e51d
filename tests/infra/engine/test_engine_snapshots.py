"""One JSON snapshot per payments-engine stack per environment (asset hashes masked)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth, roles_of
from tests.infra.synth import mask_asset_hashes

CASES = [(env, role) for env in ENGINE_ENVIRONMENTS for role in roles_of(env)]


@pytest.fixture
def json_snapshot(snapshot: SnapshotAssertion) -> SnapshotAssertion:
    return snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(("env_name", "role"), CASES)
def test_engine_stack_snapshot(
    env_name: str,
    role: str,
    engine_synth_of: Callable[[str], EngineSynth],
    json_snapshot: SnapshotAssertion,
) -> None:
    template = engine_synth_of(env_name).templates[role]
    assert mask_asset_hashes(template) == json_snapshot


def test_every_stack_has_a_snapshot_case(engine_synth: EngineSynth) -> None:
    assert set(engine_synth.templates) == set(roles_of(engine_synth.env_name))
