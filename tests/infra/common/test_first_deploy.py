"""What a first deploy into a fresh account needs that cfn-lint and cdk-nag cannot see,
held over every environment of both systems (issue 11).

Each check reads every resource of the kinds it names, so a stack added later is held to
it without anyone remembering to write a test.
"""

from __future__ import annotations

from tests.infra.policy_eval import TemplateSet, template_set
from tests.infra.synth import Synth

# What holds data or identity: kept where config keeps data, deleted with dev.
STATEFUL_TYPES = (
    "AWS::KMS::Key",
    "AWS::KMS::ReplicaKey",
    "AWS::DynamoDB::Table",
    "AWS::DynamoDB::GlobalTable",
    "AWS::SQS::Queue",
    "AWS::Logs::LogGroup",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::RDS::DBInstance",
    "AWS::RDS::DBSubnetGroup",  # kept with the instance that uses it
    "AWS::Cognito::UserPool",
    "AWS::Backup::BackupVault",
    "AWS::Events::EventBus",
    "AWS::Events::Archive",
)


# --------------------------------------------------------------------------- #3 retention


def test_nothing_is_retained_after_a_failed_first_create(stage_synth: Synth) -> None:
    """Plain Retain keeps what a rolled-back create made; the retry then fails on the
    fixed names ("already exists"). RetainExceptOnCreate keeps data on updates and stack
    deletion only."""
    templates = template_set(stage_synth)
    retained = [
        f"{role}/{logical_id}"
        for role, logical_id, resource in templates.resources(*_all_types(templates))
        if resource.get("DeletionPolicy") == "Retain"
    ]
    assert retained == []


def test_every_stateful_resource_follows_the_configured_retention(stage_synth: Synth) -> None:
    cfg = stage_synth.stage.cfg
    expected = ("RetainExceptOnCreate", "Retain") if cfg.retain_data else ("Delete", "Delete")
    templates = template_set(stage_synth)
    found = {
        f"{role}/{logical_id} ({resource['Type']})": (
            resource.get("DeletionPolicy"),
            resource.get("UpdateReplacePolicy"),
        )
        for role, logical_id, resource in templates.resources(*STATEFUL_TYPES)
    }
    assert len(found) >= 10
    wrong = {name: policies for name, policies in found.items() if policies != expected}
    assert wrong == {}


def _all_types(templates: TemplateSet) -> set[str]:
    return {
        resource["Type"]
        for template in templates.templates.values()
        for resource in template.get("Resources", {}).values()
    }
