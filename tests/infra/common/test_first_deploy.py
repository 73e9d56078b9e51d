"""What a first deploy into a fresh account needs that cfn-lint and cdk-nag cannot see,
held over every environment of both systems (issue 11).

Each check reads every resource of the kinds it names, so a stack added later is held to
it without anyone remembering to write a test.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import redirect_stdout
from typing import Any

from engine import declarations as engine_fn
from engine import metrics as engine_metrics
from payouts import declarations as payouts_fn
from shared.declarations import FunctionSpec
from shared.metrics import MetricSpec
from stacks.payouts import monitoring as payouts_monitoring
from tests.infra.policy_eval import Ref, Request, TemplateSet, allows, template_set
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


# --------------------------------------------------------------------------- #4 queue keys

SEND, RECEIVE = "send", "receive"
# What SQS asks of the caller's role for a queue encrypted with a customer-managed key.
QUEUE_ACTIONS = {
    SEND: ("sqs:SendMessage", ("kms:GenerateDataKey", "kms:Decrypt")),
    RECEIVE: ("sqs:ReceiveMessage", ("kms:Decrypt",)),
}


def _queue_uses(templates: TemplateSet) -> Iterator[tuple[Ref, Ref, str, str]]:
    """(function, queue, send|receive, how) for every queue a function touches.

    Lambda reads an SQS event source, and writes a mapping's failure records and an
    asynchronous invocation's dead letters, with the function's own role; a queue named in
    the environment is one the code sends to.
    """
    functions = {Ref(r, i): f for r, i, f in templates.resources("AWS::Lambda::Function")}
    for role, _, mapping in templates.resources("AWS::Lambda::EventSourceMapping"):
        function = templates.resolve(role, mapping["Properties"]["FunctionName"])
        assert isinstance(function, Ref)
        source = mapping["Properties"].get("EventSourceArn")
        yield function, templates.resolve(role, source), RECEIVE, "event source"
        failure = mapping["Properties"].get("DestinationConfig", {}).get("OnFailure", {})
        if "Destination" in failure:
            destination = templates.resolve(role, failure["Destination"])
            yield function, destination, SEND, "on-failure destination"
    for ref, function in functions.items():
        dlq = function["Properties"].get("DeadLetterConfig", {}).get("TargetArn")
        if dlq is not None:
            yield ref, templates.resolve(ref.role, dlq), SEND, "dead-letter queue"
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        for name, value in variables.items():
            yield ref, templates.resolve(ref.role, value), SEND, f"${name}"
    for role, _, config in templates.resources("AWS::Lambda::EventInvokeConfig"):
        function = templates.resolve(role, {"Ref": config["Properties"]["FunctionName"]})
        for outcome in config["Properties"].get("DestinationConfig", {}).values():
            target = templates.resolve(role, outcome["Destination"])
            assert isinstance(function, Ref)
            yield function, target, SEND, "invoke destination"


def test_every_function_can_use_the_key_of_every_queue_it_touches(stage_synth: Synth) -> None:
    """Through SQS only (kms:ViaService) or unconditionally: a grant through DynamoDB does
    not let BalanceRestorer record a failed batch in BalanceRestoreDlq."""
    templates = template_set(stage_synth)
    checked, missing = [], []
    for function, target, use, how in _queue_uses(templates):
        if not isinstance(target, Ref) or templates.resource(target)["Type"] != "AWS::SQS::Queue":
            continue
        key = templates.resolve(
            target.role, templates.resource(target)["Properties"]["KmsMasterKeyId"]
        )
        role = templates.role_of_function(function)
        assert isinstance(key, Ref) and isinstance(role, Ref), (function, target)
        statements = templates.identity_statements(role)
        via_sqs = {"kms:ViaService": f"sqs.{templates.regions[function.role]}.amazonaws.com"}
        queue_action, key_actions = QUEUE_ACTIONS[use]
        requests = [Request(queue_action, target)]
        requests += [Request(action, key, context=via_sqs) for action in key_actions]
        name = f"{function.logical_id} -> {target.logical_id} ({how})"
        checked.append(name)
        missing += [
            f"{name}: {r.action}"
            for r in requests
            if not allows(templates, statements, r, function.role)
        ]
    assert missing == []
    if stage_synth.stage.cfg.system == "payouts":
        assert len(checked) >= 4, checked  # replay source, both DLQs, the restorer's


# --------------------------------------------------------------------------- #5 producers

# Per system: where its business metrics are declared (with their producers) and its functions.
DECLARATIONS: dict[str, tuple[Sequence[MetricSpec], Sequence[FunctionSpec]]] = {
    "engine": (engine_metrics.METRICS, engine_fn.FUNCTIONS),
    "payouts": (payouts_monitoring.DECLARED_METRICS, payouts_fn.FUNCTIONS),
}


def _alarm_metrics(alarm: dict[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric name) of every metric an alarm reads, plain or metric-math form."""
    if "MetricName" in alarm:
        return [(alarm["Namespace"], alarm["MetricName"])]
    stats = [m["MetricStat"]["Metric"] for m in alarm.get("Metrics", []) if "MetricStat" in m]
    return [(m["Namespace"], m["MetricName"]) for m in stats]


def test_every_business_alarm_has_a_producer_in_its_region(stage_synth: Synth) -> None:
    """No alarm may page for a metric that nothing deployed emits: a business alarm (on a
    namespace outside AWS/) needs a function in the same Region of this environment that
    publishes to that namespace and is a declared producer of that metric."""
    cfg = stage_synth.stage.cfg
    declared, functions = DECLARATIONS[cfg.system]
    by_description = {spec.description: spec.name for spec in functions}
    templates = template_set(stage_synth)
    publishers: dict[tuple[str, str], set[str]] = {}
    for role, _, function in templates.resources("AWS::Lambda::Function"):
        properties = function["Properties"]
        namespace = (
            properties.get("Environment", {})
            .get("Variables", {})
            .get("POWERTOOLS_METRICS_NAMESPACE")
        )
        name = by_description.get(properties.get("Description", ""))
        if namespace and name:
            publishers.setdefault((templates.regions[role], namespace), set()).add(name)
    orphans = []
    for role, logical_id, alarm in templates.resources("AWS::CloudWatch::Alarm"):
        for namespace, metric_name in _alarm_metrics(alarm["Properties"]):
            if namespace.startswith("AWS/"):
                continue
            specs = [spec for spec in declared if spec.name == metric_name]
            running = publishers.get((templates.regions[role], namespace), set())
            if not (specs and specs[0].emitted_by_any(running)):
                orphans.append(f"{role}/{logical_id}: {namespace} {metric_name}")
    assert orphans == []


# --------------------------------------------------------------------------- #2 concurrency


def test_the_synth_summary_gives_each_regions_reserved_concurrency(stage_synth: Synth) -> None:
    """Lambda keeps 100 unreserved, and new accounts often start at a limit of 10: the
    summary says, per Region, what the environment reserves and the limit it needs."""
    from scripts import synth_summary

    cfg = stage_synth.stage.cfg
    templates = template_set(stage_synth)
    expected: dict[str, int] = {}
    for role, _, function in templates.resources("AWS::Lambda::Function"):
        reserved = function["Properties"].get("ReservedConcurrentExecutions", 0)
        region = templates.regions[role]
        expected[region] = expected.get(region, 0) + reserved
    out = io.StringIO()
    with redirect_stdout(out):
        assert synth_summary.main(["synth_summary", str(stage_synth.outdir)]) == 0
    rows = {
        cells[2]: (int(cells[3]), cells[5])
        for cells in (line.split() for line in out.getvalue().splitlines())
        if cells[:2] == [cfg.system, cfg.env_name]
    }
    assert rows == {region: (n, str(n + 100)) for region, n in expected.items() if n}
    assert any(expected.values())
