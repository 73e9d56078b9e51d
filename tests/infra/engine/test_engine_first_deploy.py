"""The engine's database as a first deploy and a failover need it, in every environment
(issue 11): the schema before the first rotation, replicas that keep up, a proxy name per
environment, memory-sized parameters, a promoted DR primary that is Multi-AZ."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from config.engine import ENVIRONMENTS
from tests.infra.engine_synth import EngineSynth
from tests.infra.policy_eval import Ref, Request, allows, template_set
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


# --------------------------------------------------------------------------- #6 rotation


def test_secret_rotation_starts_only_after_the_schema_is_migrated(
    engine_synth: EngineSynth,
) -> None:
    """Secrets Manager rotates as soon as the schedule exists; the first migration must
    not log in through the proxy while the master password changes under it."""
    template = engine_synth.templates["database"]
    [schema] = resources(template, "Custom::DatabaseSchema")
    [(_, schedule)] = resources(template, "AWS::SecretsManager::RotationSchedule").items()
    assert schema in schedule.get("DependsOn", [])


# --------------------------------------------------------------------------- #9 proxy name


def test_the_proxy_is_named_for_its_environment(engine_synth_of: Any) -> None:
    names = {}
    for env_name in ENVIRONMENTS:
        synth = engine_synth_of(env_name)
        [(_, _, proxy)] = _of_type(synth, "AWS::RDS::DBProxy")
        names[env_name] = proxy["DBProxyName"]
    assert names == {env: f"engine-{env}-postgres-proxy" for env in ENVIRONMENTS}


# --------------------------------------------------------------------------- #11 memory


def _evaluate(formula: str, memory_bytes: int) -> int:
    """An RDS parameter formula ({DBInstanceClassMemory*a/b}, LEAST(x,y), integers)."""
    least = re.fullmatch(r"LEAST\((.+),(.+)\)", formula)
    if least:
        return min(_evaluate(part, memory_bytes) for part in least.groups())
    term = re.fullmatch(r"\{DBInstanceClassMemory(?:\*(\d+))?/(\d+)\}", formula)
    if term:
        return memory_bytes * int(term.group(1) or 1) // int(term.group(2))
    return int(formula)


def test_memory_parameters_fit_the_instance_class(engine_synth: EngineSynth) -> None:
    """Seed §11.4.2's fractions of RAM, evaluated for this environment's class: dev's 4 GiB
    no longer gets a 2 GB maintenance_work_mem and a 256 MB work_mem."""
    instance_type = engine_synth.cfg.database.instance_type
    memory = CLASS_MEMORY_GIB[instance_type] * GIB
    groups = list(_of_type(engine_synth, "AWS::RDS::DBParameterGroup"))
    assert groups
    for role, logical_id, group in groups:
        values = {
            name: _evaluate(value, memory)
            for name, value in group["Parameters"].items()
            if name
            in ("shared_buffers", "effective_cache_size", "work_mem", "maintenance_work_mem")
        }
        where = f"{role}/{logical_id} on {instance_type}"
        # Pages of 8 kB: 25% and 75% of RAM.
        assert values["shared_buffers"] * 8192 == memory // 4, where
        assert values["effective_cache_size"] * 8192 == memory * 3 // 4, where
        # kB: 1/128 and 1/16 of RAM, never above the seed's figures.
        work_mem = min(memory // 128 // 1024, SEED_WORK_MEM_KB)
        maintenance = min(memory // 16 // 1024, SEED_MAINTENANCE_WORK_MEM_KB)
        assert values["work_mem"] == work_mem, where
        assert values["maintenance_work_mem"] == maintenance, where


def test_dev_gets_a_fraction_and_prod_the_seeds_figures(engine_synth_of: Any) -> None:
    expected = {
        "dev": (32 * 1024, 256 * 1024),
        "prod": (SEED_WORK_MEM_KB, SEED_MAINTENANCE_WORK_MEM_KB),
    }
    for env_name, (work_mem, maintenance) in expected.items():
        synth = engine_synth_of(env_name)
        memory = CLASS_MEMORY_GIB[synth.cfg.database.instance_type] * GIB
        groups = [g for _, _, g in _of_type(synth, "AWS::RDS::DBParameterGroup")]
        assert len(groups) == (2 if synth.cfg.dr_enabled else 1)  # the DR replica has its own
        for group in groups:
            parameters = group["Parameters"]
            assert _evaluate(parameters["work_mem"], memory) == work_mem, env_name
            assert _evaluate(parameters["maintenance_work_mem"], memory) == maintenance, env_name


# --------------------------------------------------------------------------- #8 Multi-AZ


def test_the_runbook_makes_the_promoted_instance_multi_az(engine_synth: EngineSynth) -> None:
    """The standby replica runs in one zone; once promoted it is the only primary and must
    be Multi-AZ where config says the database is (database.py's comments promise it)."""
    cfg = engine_synth.cfg
    if not cfg.dr_enabled:
        assert "dr-runbook" not in engine_synth.templates
        return
    templates = template_set(engine_synth)
    [(_, _, document)] = templates.resources("AWS::SSM::Document")
    steps = [s["name"] for s in document["Properties"]["Content"]["mainSteps"]]
    [multi_az] = [
        s["inputs"]
        for s in document["Properties"]["Content"]["mainSteps"]
        if s["inputs"].get("Api") == "ModifyDBInstance"
    ]
    replica = f"engine-{cfg.env_name}-postgres-dr"
    assert multi_az == {
        "Service": "rds",
        "Api": "ModifyDBInstance",
        "DBInstanceIdentifier": replica,
        "MultiAZ": cfg.database.multi_az,
        "ApplyImmediately": True,
    }
    assert steps.index("MakeMultiAz") > steps.index("WaitForPromotedInstance")
    [(role, logical_id, _)] = [
        r for r in templates.resources("AWS::IAM::Role") if r[1].startswith("FailoverRole")
    ]
    arn = f"arn:aws:rds:{cfg.dr_region}:{cfg.account}:db:{replica}"
    statements = templates.identity_statements(Ref(role, logical_id))
    assert allows(templates, statements, Request("rds:ModifyDBInstance", arn), role)
