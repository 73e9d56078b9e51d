"""The payments engine's security and shape invariants, per environment, read off the
synthesized templates: network, keys, global and regional tables,
queues, topics, log groups, stack names, tags, protection and deploy order."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk import aws_logs as logs

from config.engine import DR_REGION, REGION, EngineConfig, NetworkConfig
from engine.tables import ALL_TABLES, GLOBAL_TABLES, REGIONAL_TABLES
from stacks.engine.regional import table_name
from tests.infra.engine_synth import EngineSynth, roles_of
from tests.infra.synth import props, resources

ALL_SUBNETS = {
    "Public": ("10.0.1.0/24", "10.0.2.0/24"),
    "App": ("10.0.11.0/24", "10.0.12.0/24"),
    "Db": ("10.0.21.0/24", "10.0.22.0/24"),
}
DR_SUBNETS = {
    tier: tuple(c.replace("10.0.", "10.1.", 1) for c in cidrs)
    for tier, cidrs in ALL_SUBNETS.items()
}
EXPECTED_NAT = {"dev": 1, "qa": 1, "staging": 1, "prod": 2}
EXPECTED_AZS = {"dev": 2, "qa": 2, "staging": 2, "prod": 2}
EXPECTED_DR = {"dev": False, "qa": False, "staging": True, "prod": True}


def _all_templates(synth: EngineSynth) -> list[dict[str, Any]]:
    return list(synth.templates.values())


def _networks(synth: EngineSynth) -> list[tuple[str, NetworkConfig, dict[str, Any]]]:
    found = [("network", synth.cfg.network, synth.templates["network"])]
    if synth.cfg.dr_enabled:
        found.append(("dr-network", synth.cfg.dr_network, synth.templates["dr-network"]))
    return found


def _subnets_by_tier(template: dict[str, Any]) -> dict[str, dict[str, str]]:
    """tier -> {logical id: CIDR}."""
    tiers: dict[str, dict[str, str]] = {}
    for logical_id, resource in resources(template, "AWS::EC2::Subnet").items():
        tags = {t["Key"]: t["Value"] for t in resource["Properties"]["Tags"]}
        tiers.setdefault(tags["aws-cdk:subnet-name"], {})[logical_id] = resource["Properties"][
            "CidrBlock"
        ]
    return tiers


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        if set(node) == {"Ref"}:
            return {node["Ref"]}
        return {r for value in node.values() for r in _refs(value)}
    if isinstance(node, list):
        return {r for item in node for r in _refs(item)}
    return set()


# --------------------------------------------------------------------------- config


def test_environments_differ_only_as_the_seed_says(engine_synth: EngineSynth) -> None:
    cfg: EngineConfig = engine_synth.cfg
    env = engine_synth.env_name
    assert cfg.region == REGION and cfg.dr_region == DR_REGION
    assert cfg.az_count == EXPECTED_AZS[env]
    assert cfg.nat_gateways == EXPECTED_NAT[env]
    assert cfg.dr_enabled is EXPECTED_DR[env]
    assert cfg.retain_data is cfg.deletion_protection is cfg.termination_protection
    assert cfg.termination_protection is (env != "dev")


# --------------------------------------------------------------------------- network


def test_vpc_cidrs_and_the_seeds_subnets(engine_synth: EngineSynth) -> None:
    for role, network, template in _networks(engine_synth):
        (vpc,) = props(template, "AWS::EC2::VPC")
        expected_cidr = "10.0.0.0/16" if role == "network" else "10.1.0.0/16"
        assert vpc["CidrBlock"] == expected_cidr == network.vpc_cidr
        seed = ALL_SUBNETS if role == "network" else DR_SUBNETS
        count = len(network.availability_zones)
        tiers = _subnets_by_tier(template)
        assert {tier: tuple(sorted(c.values())) for tier, c in tiers.items()} == {
            tier: cidrs[:count] for tier, cidrs in seed.items()
        }, role


def test_subnets_sit_in_the_configured_zones(engine_synth: EngineSynth) -> None:
    for role, network, template in _networks(engine_synth):
        zones = {p["AvailabilityZone"] for p in props(template, "AWS::EC2::Subnet")}
        assert zones == set(network.availability_zones), role
        region = REGION if role == "network" else DR_REGION
        assert all(zone.startswith(region) for zone in zones)


def test_dev_runs_in_one_zone(engine_synth_of: Any) -> None:
    """Dev's "single AZ": one NAT gateway and a single-AZ database. The subnets span
    two zones only because RDS and RDS Proxy refuse a subnet group in one."""
    synth = engine_synth_of("dev")
    template = synth.templates["network"]
    assert len(props(template, "AWS::EC2::NatGateway")) == 1
    [primary] = [
        i
        for i in props(synth.templates["database"], "AWS::RDS::DBInstance")
        if "SourceDBInstanceIdentifier" not in i
    ]
    assert primary["MultiAZ"] is False


def test_nat_gateways_per_environment_and_only_in_public_subnets(
    engine_synth: EngineSynth,
) -> None:
    for role, network, template in _networks(engine_synth):
        nats = props(template, "AWS::EC2::NatGateway")
        expected = EXPECTED_NAT[engine_synth.env_name] if role == "network" else 1
        assert len(nats) == network.nat_gateways == expected, role
        public = set(_subnets_by_tier(template)["Public"])
        assert {nat["SubnetId"]["Ref"] for nat in nats} <= public


def test_public_subnets_hold_nothing_but_nat_gateways(engine_synth: EngineSynth) -> None:
    """Whatever names a public subnet is a NAT gateway or the subnet's own plumbing."""
    plumbing = {"AWS::EC2::SubnetRouteTableAssociation", "AWS::EC2::NatGateway"}
    for role, _, template in _networks(engine_synth):
        public = set(_subnets_by_tier(template)["Public"])
        for logical_id, resource in template["Resources"].items():
            if _refs(resource.get("Properties", {})) & public:
                assert resource["Type"] in plumbing, f"{role}: {logical_id} in a public subnet"
        for subnet in (template["Resources"][s]["Properties"] for s in public):
            assert subnet["MapPublicIpOnLaunch"] is False


def test_routes_public_to_igw_app_to_nat_db_nowhere(engine_synth: EngineSynth) -> None:
    for role, _, template in _networks(engine_synth):
        tiers = _subnets_by_tier(template)
        table_of = {
            a["SubnetId"]["Ref"]: a["RouteTableId"]["Ref"]
            for a in props(template, "AWS::EC2::SubnetRouteTableAssociation")
        }
        routes = props(template, "AWS::EC2::Route")
        by_table: dict[str, list[dict[str, Any]]] = {}
        for route in routes:
            by_table.setdefault(route["RouteTableId"]["Ref"], []).append(route)
        for subnet in tiers["Public"]:
            (route,) = by_table[table_of[subnet]]
            assert route["DestinationCidrBlock"] == "0.0.0.0/0" and "GatewayId" in route
        for subnet in tiers["App"]:
            (route,) = by_table[table_of[subnet]]
            assert route["DestinationCidrBlock"] == "0.0.0.0/0" and "NatGatewayId" in route
        for subnet in tiers["Db"]:
            assert table_of[subnet] not in by_table, f"{role}: DB subnet {subnet} has a route"
        igw_routes = [r for r in routes if "GatewayId" in r and "IGW" in json.dumps(r)]
        assert len(igw_routes) == len(tiers["Public"]), role


def test_flow_logs_are_encrypted_and_retained(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    for role, _, template in _networks(engine_synth):
        (flow_log,) = props(template, "AWS::EC2::FlowLog")
        assert flow_log["TrafficType"] == "ALL"
        assert flow_log["ResourceType"] == "VPC"
        group_id = flow_log["LogGroupName"]["Ref"]
        group = template["Resources"][group_id]["Properties"]
        assert group["RetentionInDays"] == 90
        assert cfg.flow_log_retention == logs.RetentionDays.THREE_MONTHS
        assert "KmsKeyId" in group, role


def _sg_rules(template: dict[str, Any]) -> set[tuple[str, str, int, int, str]]:
    """(direction, group, from, to, peer) for every rule, inline or standalone."""
    ids = {
        logical_id: logical_id.removeprefix("Network").rstrip("0123456789ABCDEF")
        for logical_id in resources(template, "AWS::EC2::SecurityGroup")
    }

    def name(node: Any) -> str:
        if isinstance(node, dict) and "Fn::GetAtt" in node:
            return ids[node["Fn::GetAtt"][0]]
        return str(node)

    rules = set()
    for logical_id, resource in resources(template, "AWS::EC2::SecurityGroup").items():
        for rule in resource["Properties"].get("SecurityGroupEgress", []):
            if rule.get("Description") == "Disallow all traffic":
                assert rule["CidrIp"] == "255.255.255.255/32"  # CDK's no-egress marker
                continue
            rules.add(("egress", ids[logical_id], rule["FromPort"], rule["ToPort"], rule["CidrIp"]))
        assert "SecurityGroupIngress" not in resource["Properties"], logical_id
    for rule in props(template, "AWS::EC2::SecurityGroupIngress"):
        peer = name(rule.get("SourceSecurityGroupId", rule.get("CidrIp")))
        rules.add(("ingress", name(rule["GroupId"]), rule["FromPort"], rule["ToPort"], peer))
    for rule in props(template, "AWS::EC2::SecurityGroupEgress"):
        peer = name(rule.get("DestinationSecurityGroupId", rule.get("CidrIp")))
        rules.add(("egress", name(rule["GroupId"]), rule["FromPort"], rule["ToPort"], peer))
    return rules


def test_security_groups_allow_only_lambda_to_proxy_to_db_on_5432(
    engine_synth: EngineSynth,
) -> None:
    for role, _, template in _networks(engine_synth):
        expected = {
            ("egress", "LambdaSg", 5432, 5432, "ProxySg"),
            ("ingress", "ProxySg", 5432, 5432, "LambdaSg"),
            ("egress", "ProxySg", 5432, 5432, "DbSg"),
            ("ingress", "DbSg", 5432, 5432, "ProxySg"),
            # HTTPS only: functions to the AWS endpoints and, via NAT, the providers.
            ("egress", "LambdaSg", 443, 443, "0.0.0.0/0"),
            ("ingress", "EndpointSg", 443, 443, "LambdaSg"),
        }
        if role == "dr-network":
            # The standby replica has no proxy before promotion (RDS Proxy fronts primaries).
            expected |= {
                ("egress", "LambdaSg", 5432, 5432, "DbSg"),
                ("ingress", "DbSg", 5432, 5432, "LambdaSg"),
            }
        assert _sg_rules(template) == expected, role


def test_db_subnets_nacl_admits_5432_from_app_subnets_only(engine_synth: EngineSynth) -> None:
    for role, network, template in _networks(engine_synth):
        entries = {
            (e["Egress"], e["CidrBlock"], e["PortRange"]["From"], e["PortRange"]["To"])
            for e in props(template, "AWS::EC2::NetworkAclEntry")
        }
        assert all(
            e["RuleAction"] == "allow" and e["Protocol"] == 6
            for e in props(template, "AWS::EC2::NetworkAclEntry")
        )
        expected = set()
        for cidr in network.app_subnet_cidrs:
            expected |= {(False, cidr, 5432, 5432), (True, cidr, 1024, 65535)}
        assert entries == expected, role
        db = set(_subnets_by_tier(template)["Db"])
        associated = {
            a["SubnetId"]["Ref"] for a in props(template, "AWS::EC2::SubnetNetworkAclAssociation")
        }
        assert associated == db, role


def test_endpoints_are_the_needed_ones_in_app_subnets(engine_synth: EngineSynth) -> None:
    for role, _, template in _networks(engine_synth):
        app = set(_subnets_by_tier(template)["App"])
        endpoints = props(template, "AWS::EC2::VPCEndpoint")
        services = set()
        for endpoint in endpoints:
            service = json.dumps(endpoint["ServiceName"])
            services.add(service.rsplit(".", 1)[-1].strip('"]}'))
            if endpoint.get("VpcEndpointType") == "Interface":
                assert {r["Ref"] for r in endpoint["SubnetIds"]} == app, role
                assert endpoint["PrivateDnsEnabled"] is True
        assert services == {
            "s3",
            "dynamodb",
            "secretsmanager",
            "kms",
            "sqs",
            "sns",
            "logs",
            "monitoring",
            "xray",
            "events",
        }, role


# --------------------------------------------------------------------------- keys


def test_every_key_is_multi_region_rotated_and_replicated_where_dr(
    engine_synth: EngineSynth,
) -> None:
    keys = resources(engine_synth.templates["keys"], "AWS::KMS::Key")
    assert len(keys) == 4
    for logical_id, key in keys.items():
        assert key["Properties"]["MultiRegion"] is True, logical_id
        assert key["Properties"]["EnableKeyRotation"] is True, logical_id
    if engine_synth.cfg.dr_enabled:
        replicas = props(engine_synth.templates["dr-keys"], "AWS::KMS::ReplicaKey")
        assert len(replicas) == len(keys)
        primaries = {json.dumps(r["PrimaryKeyArn"]) for r in replicas}
        # Each replica reads exactly one primary's ARN (named by its logical id).
        for logical_id in keys:
            assert sum(logical_id in primary for primary in primaries) == 1, logical_id
        assert engine_synth.stage.dr_keys is not None
        assert engine_synth.stage.dr_keys.region == DR_REGION
    else:
        assert "dr-keys" not in engine_synth.templates
        assert "dr-network" not in engine_synth.templates


# --------------------------------------------------------------------------- tables


def test_every_table_cmk_pitr_and_singapore_replica_only_where_dr(
    engine_synth: EngineSynth,
) -> None:
    cfg = engine_synth.cfg
    tables = props(engine_synth.templates["data"], "AWS::DynamoDB::GlobalTable")
    assert len(tables) == len(GLOBAL_TABLES) + len(REGIONAL_TABLES) == 7
    regional = {table_name(cfg, spec.logical_name) for spec in REGIONAL_TABLES}
    replicated = {REGION, DR_REGION} if cfg.dr_enabled else {REGION}
    for table in tables:
        assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS"}
        assert table["BillingMode"] == "PAY_PER_REQUEST"
        expected_regions = {REGION} if table["TableName"] in regional else replicated
        assert {r["Region"] for r in table["Replicas"]} == expected_regions
        for replica in table["Replicas"]:
            assert replica["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"]
            assert replica["SSESpecification"]["KMSMasterKeyId"], replica["Region"]
            assert replica.get("DeletionProtectionEnabled", False) is cfg.deletion_protection
            if replica["Region"] == DR_REGION:
                key = json.dumps(replica["SSESpecification"]["KMSMasterKeyId"])
                assert f"arn:aws:kms:{DR_REGION}:" in key


def test_tables_match_their_declarations(engine_synth: EngineSynth) -> None:
    tables = {
        json.dumps(t["KeySchema"]): t
        for t in props(engine_synth.templates["data"], "AWS::DynamoDB::GlobalTable")
    }
    for spec in ALL_TABLES:
        table = tables[json.dumps(spec.key_schema())]
        assert sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == sorted(
            spec.attribute_definitions(), key=lambda a: a["AttributeName"]
        )
        indexes = {i["IndexName"]: i["KeySchema"] for i in table.get("GlobalSecondaryIndexes", [])}
        assert indexes == {
            index.name: [
                {"AttributeName": index.partition_key.name, "KeyType": "HASH"},
                *(
                    [{"AttributeName": index.sort_key.name, "KeyType": "RANGE"}]
                    if index.sort_key
                    else []
                ),
            ]
            for index in spec.indexes
        }
        ttl = table.get("TimeToLiveSpecification")
        assert (ttl or {}).get("AttributeName") == spec.ttl_attribute
        stream = table.get("StreamSpecification", {}).get("StreamViewType")
        # Global-table replication runs on a NEW_AND_OLD_IMAGES stream: with a
        # replica, every global table has one whether or not its declaration asks.
        global_table = spec in GLOBAL_TABLES
        replicated = "NEW_AND_OLD_IMAGES" if engine_synth.cfg.dr_enabled and global_table else None
        assert stream == (spec.stream or replicated)


def test_transactions_shape_is_the_seeds(engine_synth: EngineSynth) -> None:
    from engine.tables import TRANSACTION_QUEUE, TRANSACTIONS

    assert TRANSACTIONS.stream == "NEW_AND_OLD_IMAGES"
    assert {i.name for i in TRANSACTIONS.indexes} == {"LoanAccountIndex", "StatusIndex"}
    indexes = {i.name: i for i in TRANSACTION_QUEUE.indexes}
    assert set(indexes) == {"RetryIndex", "StatusIndex"}
    retry = indexes["RetryIndex"]
    assert (retry.partition_key.type, retry.sort_key and retry.sort_key.type) == ("S", "N")
    assert TRANSACTION_QUEUE.ttl_attribute == "ttl"
    # Each new item reaches the LMS poster through the stream (engine.handlers.consumers).
    assert TRANSACTION_QUEUE.stream == "NEW_IMAGE"


# --------------------------------------------------------------------------- queues, topics, logs


def test_every_queue_is_encrypted_and_every_work_queue_has_a_dlq(
    engine_synth: EngineSynth,
) -> None:
    template = engine_synth.templates["data"]
    queues = resources(template, "AWS::SQS::Queue")
    work = {k: q for k, q in queues.items() if "RedrivePolicy" in q["Properties"]}
    dlqs = {k for k in queues if k not in work}
    # Notifications and the webhook replay; their two DLQs, the two stream mappings'
    # on-failure queues (TransactionsSyncDLQ, LmsPosterDLQ) and the scheduled jobs' DLQ. No
    # LMS posting queue: the poster's outbox is the TransactionQueue table.
    assert len(work) == 2 and len(dlqs) == 5
    names = {q["Properties"]["QueueName"] for q in queues.values()}
    assert not any("lms-posting" in name for name in names), names
    targets = {
        q["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]["Fn::GetAtt"][0]
        for q in work.values()
    }
    assert len(targets) == 2 and targets < dlqs
    for logical_id, queue in queues.items():
        assert "KmsMasterKeyId" in queue["Properties"], logical_id


def test_every_topic_is_cmk_encrypted_and_tls_only(engine_synth: EngineSynth) -> None:
    template = engine_synth.templates["data"]
    topics = props(template, "AWS::SNS::Topic")
    assert len(topics) == 2
    assert all("KmsMasterKeyId" in t for t in topics)
    policies = json.dumps(props(template, "AWS::SNS::TopicPolicy"))
    assert '"aws:SecureTransport": "false"' in policies


def test_event_bus_and_archive_use_the_cmk(engine_synth: EngineSynth) -> None:
    template = engine_synth.templates["data"]
    (bus,) = props(template, "AWS::Events::EventBus")
    (archive,) = props(template, "AWS::Events::Archive")
    assert "KmsKeyIdentifier" in bus
    assert "KmsKeyIdentifier" in archive
    assert archive["RetentionDays"] == engine_synth.cfg.event_archive_retention_days
    assert len(props(template, "AWS::Scheduler::ScheduleGroup")) == 1


def test_every_log_group_has_retention_and_a_cmk(engine_synth: EngineSynth) -> None:
    groups = [g for t in _all_templates(engine_synth) for g in props(t, "AWS::Logs::LogGroup")]
    assert groups
    for group in groups:
        assert group.get("RetentionInDays"), group
        assert group.get("KmsKeyId"), group


# --------------------------------------------------------------------------- stacks


def _artifacts(synth: EngineSynth) -> dict[str, dict[str, Any]]:
    return {
        a["properties"]["stackName"]: a
        for a in synth.manifest(nested=True)["artifacts"].values()
        if a["type"] == "aws:cloudformation:stack"
    }


# Stacks whose deletion would lose data (or a key to it, or staff accounts).
STATEFUL_ROLES = {
    "keys",
    "dr-keys",
    "network",
    "dr-network",
    "data",
    "dr-data",
    "database",
    "dr-database",
    "storage",
    "dr-storage",
    "backup",
    "dr-backup",
    "api",
    "dr-api",
}


def test_stacks_are_named_placed_tagged_and_protected(engine_synth: EngineSynth) -> None:
    cfg = engine_synth.cfg
    env = engine_synth.env_name
    artifacts = _artifacts(engine_synth)
    assert set(artifacts) == {f"engine-{env}-{role}" for role in roles_of(env)}
    for name, artifact in artifacts.items():
        role = name.removeprefix(f"engine-{env}-")
        region = DR_REGION if role.startswith("dr-") else REGION
        if role == "edge-waf":
            region = "us-east-1"  # CloudFront-scope web ACLs live there only
        assert artifact["environment"] == f"aws://{cfg.account}/{region}", name
        assert artifact["properties"]["tags"] == cfg.tags, name
        protected = artifact["properties"].get("terminationProtection", False)
        if role in STATEFUL_ROLES:
            assert protected is cfg.termination_protection, name


def test_deploy_order(engine_synth: EngineSynth) -> None:
    env = engine_synth.env_name
    by_id = dict(engine_synth.manifest(nested=True)["artifacts"].items())
    name_of = {a_id: a["properties"].get("stackName") for a_id, a in by_id.items()}

    def deps(role: str) -> set[str]:
        artifact = next(
            a for a in by_id.values() if a["properties"].get("stackName") == f"engine-{env}-{role}"
        )
        return {
            name_of[d].removeprefix(f"engine-{env}-")
            for d in artifact.get("dependencies", [])
            if name_of.get(d)
        }

    dr = engine_synth.cfg.dr_enabled

    def when_dr(*roles: str) -> set[str]:
        return set(roles) if dr else set()

    assert deps("keys") == set()
    assert deps("network") == {"keys"}
    assert deps("data") == {"keys", "network"} | when_dr("dr-keys")
    assert deps("database") == {"keys", "network"} | when_dr("dr-keys")
    # Replication destinations first (S3 checks them when replication is configured).
    assert deps("storage") == {"keys"} | when_dr("dr-storage")
    assert deps("edge") == {"edge-waf", "keys"} | when_dr("dr-storage")
    # The functions before the routes to them.
    assert deps("service") == {"keys", "network", "data", "database", "storage"}
    assert deps("api") == {"keys", "network", "data", "database", "service"}
    assert deps("backup") == {"keys", "data", "database", "storage"} | when_dr("dr-backup")
    assert deps("monitoring") == {"data", "database", "api"}
    if dr:
        assert deps("dr-keys") == {"keys"}
        assert deps("dr-network") == {"dr-keys"}
        assert deps("dr-data") == {"dr-keys"}
        assert deps("dr-storage") == {"dr-keys"}
        assert deps("dr-backup") == {"dr-keys"}
        # The replica after its source; the standby API after the replica.
        assert deps("dr-database") == {"database", "dr-network", "dr-keys"}
        # The Transactions table's Singapore replica (its stream) and the secrets' replicas
        # come with Mumbai's data stack.
        assert deps("dr-service") == {
            "dr-keys",
            "dr-network",
            "dr-data",
            "dr-database",
            "dr-storage",
            "data",
        }
        assert deps("dr-api") == {"dr-keys", "dr-network", "dr-database", "data", "dr-service"}
        assert deps("dr-runbook") == {"dr-keys", "dr-database", "dr-data"}
        assert deps("dr-monitoring") == {"dr-data", "dr-database", "dr-api"}


def test_stateful_resources_follow_the_removal_policy(engine_synth: EngineSynth) -> None:
    expected = "RetainExceptOnCreate" if engine_synth.cfg.retain_data else "Delete"
    checked = 0
    for template in _all_templates(engine_synth):
        for resource_type in (
            "AWS::KMS::Key",
            "AWS::KMS::ReplicaKey",
            "AWS::DynamoDB::GlobalTable",
            "AWS::SQS::Queue",
            "AWS::SNS::Topic",
            "AWS::Logs::LogGroup",
            "AWS::Events::EventBus",
        ):
            for logical_id, resource in resources(template, resource_type).items():
                assert resource.get("DeletionPolicy") == expected, logical_id
                checked += 1
    assert checked


def test_no_context_lookup_is_ever_missing(engine_synth: EngineSynth) -> None:
    assert "missing" not in engine_synth.manifest()
    assert "missing" not in engine_synth.manifest(nested=True)


def test_only_immutable_arns_cross_regions(engine_synth: EngineSynth) -> None:
    """Two cross-Region references (a few immutable ARNs only): the primary
    keys' ARNs, read by the DR keys stack, and the us-east-1 web ACL's, read by the edge
    stack. Everything else crossing regions is a name built from config."""
    expected_readers = {"edge"} | ({"dr-keys"} if engine_synth.cfg.dr_enabled else set())
    expected_writers = {"edge-waf"} | ({"keys"} if engine_synth.cfg.dr_enabled else set())
    readers = {
        role
        for role, template in engine_synth.templates.items()
        if resources(template, "Custom::CrossRegionExportReader")
    }
    writers = {
        role
        for role, template in engine_synth.templates.items()
        if resources(template, "Custom::CrossRegionExportWriter")
    }
    assert (readers, writers) == (expected_readers, expected_writers)


@pytest.mark.parametrize("env_name", ["dev", "qa"])
def test_dev_and_qa_have_no_dr_stacks(env_name: str, engine_synth_of: Any) -> None:
    stage = engine_synth_of(env_name).stage
    assert stage.dr_keys is None and stage.dr_network is None and stage.dr_api is None
    assert all(not role.startswith("dr-") for role in stage.roles)
