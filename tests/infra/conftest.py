"""Session fixtures: each environment is synthesized once, lazily, for all tests.

Synth is the slow part (seconds per environment); every test reads the same
assembly. Account overrides from the caller's shell are removed first so the
tests always see the documented placeholder accounts.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import pytest

from config import environments
from tests.infra.engine_synth import ENGINE_ENVIRONMENTS, EngineSynth, synthesize_engine
from tests.infra.synth import Synth, synthesize

ENVIRONMENTS = environments()


@pytest.fixture(scope="session", autouse=True)
def _placeholder_accounts() -> Iterator[None]:
    saved = {k: v for k, v in os.environ.items() if k.startswith("CDK_ACCOUNT_")}
    for key in saved:
        del os.environ[key]
    yield
    os.environ.update(saved)


@pytest.fixture(scope="session")
def synth_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Synth]:
    cache: dict[str, Synth] = {}

    def get(env_name: str) -> Synth:
        if env_name not in cache:
            cache[env_name] = synthesize(env_name, tmp_path_factory.mktemp(f"cdk-{env_name}"))
        return cache[env_name]

    return get


@pytest.fixture(params=ENVIRONMENTS)
def synth(request: pytest.FixtureRequest, synth_of: Callable[[str], Synth]) -> Synth:
    return synth_of(request.param)


@pytest.fixture(scope="session")
def engine_synth_of(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], EngineSynth]:
    cache: dict[str, EngineSynth] = {}

    def get(env_name: str) -> EngineSynth:
        if env_name not in cache:
            outdir = tmp_path_factory.mktemp(f"cdk-engine-{env_name}")
            cache[env_name] = synthesize_engine(env_name, outdir)
        return cache[env_name]

    return get


@pytest.fixture(params=ENGINE_ENVIRONMENTS)
def engine_synth(
    request: pytest.FixtureRequest, engine_synth_of: Callable[[str], EngineSynth]
) -> EngineSynth:
    return engine_synth_of(request.param)


# Every (system, environment) the app builds: for the policies both systems are held to.
STAGES = [("payouts", name) for name in ENVIRONMENTS] + [
    ("engine", name) for name in ENGINE_ENVIRONMENTS
]


@pytest.fixture(params=STAGES, ids=[f"{system}-{name}" for system, name in STAGES])
def stage_synth(
    request: pytest.FixtureRequest,
    synth_of: Callable[[str], Synth],
    engine_synth_of: Callable[[str], EngineSynth],
) -> Synth:
    system, env_name = request.param
    return engine_synth_of(env_name) if system == "engine" else synth_of(env_name)


@pytest.fixture(scope="session")
def engine_prod_failed_over(tmp_path_factory: pytest.TempPathFactory) -> EngineSynth:
    """Prod after a failover: config names Singapore the active Region (synthesized once;
    config is patched only while it synthesizes)."""
    import dataclasses

    from config import engine as engine_config

    moved = dataclasses.replace(
        engine_config.ENVIRONMENTS["prod"], active_region=engine_config.DR_REGION
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(engine_config.ENVIRONMENTS, "prod", moved)
        return synthesize_engine("prod", tmp_path_factory.mktemp("engine-prod-failed-over"))
