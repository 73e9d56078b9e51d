"""The engine's database as a first deploy and a failover need it, in every environment
(issue 11): replicas that keep up, a proxy name per environment, memory-sized parameters."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from config.engine import ENVIRONMENTS
from tests.infra.engine_synth import EngineSynth
from tests.infra.synth import resources

# Memory (GiB) of the RDS classes config uses (AWS's published instance specifications).
# A class not listed here fails the test: add its memory before using it.
CLASS_MEMORY_GIB = {"t4g.medium": 4, "r6g.large": 16, "r6g.xlarge": 32}
GIB = 1024**3
# Seed §11.4.2's absolute figures (kB), meant for prod's 32 GiB class.
SEED_WORK_MEM_KB = 256 * 1024
SEED_MAINTENANCE_WORK_MEM_KB = 2 * 1024 * 1024


def _of_type(synth: EngineSynth, kind: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for role, template in synth.templates.items():
        for logical_id, resource in resources(template, kind).items():
            yield role, logical_id, resource["Properties"]


# --------------------------------------------------------------------------- #7 replicas


def test_every_instance_is_gp3_and_grows_to_the_primarys_limit(engine_synth: EngineSynth) -> None:
    """A gp2 replica with a fixed size lags the autoscaling gp3 primary, then halts
    replication when full; a promoted DR replica would keep gp2 and no autoscaling."""
    database = engine_synth.cfg.database
    instances = {
        f"{role}/{logical_id}": (p.get("StorageType"), p.get("MaxAllocatedStorage"))
        for role, logical_id, p in _of_type(engine_synth, "AWS::RDS::DBInstance")
    }
    replicas = len(database.read_replicas) + (1 if engine_synth.cfg.dr_enabled else 0)
    assert len(instances) == 1 + replicas
    expected = ("gp3", database.max_allocated_storage_gb)
    assert {name: got for name, got in instances.items() if got != expected} == {}


# --------------------------------------------------------------------------- #9 proxy name


def test_the_proxy_is_named_for_its_environment(engine_synth_of: Any) -> None:
    names = {}
    for env_name in ENVIRONMENTS:
        synth = engine_synth_of(env_name)
        [(_, _, proxy)] = _of_type(synth, "AWS::RDS::DBProxy")
        names[env_name] = proxy["DBProxyName"]
    assert names == {env: f"engine-{env}-postgres-proxy" for env in ENVIRONMENTS}
