"""Construct-level behaviour that the stack snapshots cannot show directly."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from contextlib import redirect_stdout
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction, SecureFunctionProps, package_code
from cdk_constructs.queue import DeadLetterQueue, DeadLetterQueueProps
from cdk_constructs.stack_base import ConfiguredStack
from cdk_constructs.table import DataTable, DataTableProps
from payouts import declarations as fn
from payouts.tables import TRANSACTIONS
from tests.infra.synth import ROOT, Synth

ZONES = ("ap-southeast-2a", "ap-southeast-2b")


def _stack() -> ConfiguredStack:
    return ConfiguredStack(
        cdk.App(),
        "Test",
        env=cdk.Environment(account="111111111111", region="ap-southeast-2"),
        availability_zones=ZONES,
    )


# --------------------------------------------------------------------------- function code


def test_function_asset_holds_only_the_runtime_packages(synth_of: Callable[[str], Synth]) -> None:
    synth = synth_of("dev")
    functions = [
        r["Properties"]
        for r in synth.templates["service"]["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function"
    ]
    keys = {f["Code"]["S3Key"] for f in functions}
    assert len(keys) == 1, "all functions share one code asset"
    staged = synth.outdir / f"asset.{keys.pop().removesuffix('.zip')}"
    assert sorted(p.name for p in staged.iterdir()) == ["payouts", "shared"]
    files = [p.relative_to(staged) for p in staged.rglob("*")]
    assert not [f for f in files if "__pycache__" in f.parts or f.suffix == ".pyc"]
    assert not [f for f in files if "tests" in f.parts or f.name.startswith("requirements")]
    for spec in fn.FUNCTIONS:
        module = spec.handler.rsplit(".", 1)[0].replace(".", "/")
        assert (staged / f"{module}.py").exists() or not (
            ROOT / "lambda_src" / f"{module}.py"
        ).exists()


def test_package_code_refuses_unknown_packages(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no_such_package"):
        package_code(ROOT / "lambda_src", ("payouts", "no_such_package"))


def _function_props(stack: cdk.Stack, **changes: object) -> SecureFunctionProps:
    base: dict[str, object] = {
        "spec": fn.QUERY_PAYOUTS,
        "code": cdk.aws_lambda.Code.from_inline("def handler(e, c): return e"),
        "log_encryption_key": kms.Key(stack, f"LogKey{len(stack.node.children)}"),
        "log_retention": logs.RetentionDays.ONE_WEEK,
        "log_removal_policy": cdk.RemovalPolicy.DESTROY,
        "no_dlq_reason": "synchronous only, errors go back to the caller",
        "no_vpc_reason": "talks to public AWS endpoints only, nothing private to reach",
    }
    return SecureFunctionProps(**(base | changes))  # type: ignore[arg-type]


def test_secure_function_needs_a_reason_for_no_vpc_and_no_dlq() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="no_vpc_reason"):
        SecureFunction(stack, "A", _function_props(stack, no_vpc_reason=None))
    with pytest.raises(ValueError, match="no_dlq_reason"):
        SecureFunction(stack, "B", _function_props(stack, no_dlq_reason=None))
    with pytest.raises(ValueError, match="at least 1"):
        SecureFunction(stack, "C", _function_props(stack, reserved_concurrency=0))


def test_secure_function_refuses_log_groups_that_never_expire() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="must expire"):
        SecureFunction(
            stack, "A", _function_props(stack, log_retention=logs.RetentionDays.INFINITE)
        )


# --------------------------------------------------------------------------- tables


def test_table_grants_refuse_wildcards_and_unknown_indexes() -> None:
    stack = _stack()
    table = DataTable(
        stack,
        "T",
        DataTableProps(
            spec=TRANSACTIONS,
            encryption_key=kms.Key(stack, "K"),
            removal_policy=cdk.RemovalPolicy.DESTROY,
            deletion_protection=False,
        ),
    )
    function = SecureFunction(stack, "F", _function_props(stack))
    with pytest.raises(ValueError, match="explicit dynamodb"):
        table.grant(function.function, "dynamodb:*")
    with pytest.raises(ValueError, match="no index"):
        table.grant(function.function, "dynamodb:GetItem", query_indexes=("missing-index",))


def test_stateful_constructs_refuse_plain_retain() -> None:
    """Plain RETAIN keeps what a failed first create made (issue 11 #3)."""
    stack = _stack()
    key = kms.Key(stack, "K")
    with pytest.raises(ValueError, match="RETAIN_ON_UPDATE_OR_DELETE"):
        DataTable(
            stack,
            "T",
            DataTableProps(
                spec=TRANSACTIONS,
                encryption_key=key,
                removal_policy=cdk.RemovalPolicy.RETAIN,
                deletion_protection=True,
            ),
        )
    with pytest.raises(ValueError, match="RETAIN_ON_UPDATE_OR_DELETE"):
        DeadLetterQueue(
            stack, "Q", DeadLetterQueueProps(key, removal_policy=cdk.RemovalPolicy.RETAIN)
        )
    kept = DataTable(
        stack,
        "Kept",
        DataTableProps(
            spec=TRANSACTIONS,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
            deletion_protection=True,
        ),
    )
    cfn = kept.table.node.default_child
    assert isinstance(cfn, cdk.CfnResource)
    assert cfn.cfn_options.deletion_policy == cdk.CfnDeletionPolicy.RETAIN_EXCEPT_ON_CREATE


# --------------------------------------------------------------------------- stack base


def test_configured_stack_answers_zones_without_a_lookup() -> None:
    stack = _stack()
    assert stack.availability_zones == list(ZONES)
    with pytest.raises(ValueError, match="availability zone"):
        ConfiguredStack(cdk.App(), "Empty", availability_zones=())


# --------------------------------------------------------------------------- nag module


def test_acknowledgment_ids_are_always_pack_qualified() -> None:
    assert (
        nag.qualified_id("AwsSolutions-IAM5[Resource::*]")
        == "AwsSolutions::AwsSolutions-IAM5[Resource::*]"
    )
    assert (
        nag.qualified_id("PCI.DSS.321-LambdaInsideVPC")
        == "PCI.DSS.321::PCI.DSS.321-LambdaInsideVPC"
    )
    assert (
        nag.qualified_id("Serverless::Serverless-LambdaDLQ") == "Serverless::Serverless-LambdaDLQ"
    )
    with pytest.raises(ValueError, match="known pack"):
        nag.qualified_id("IAM5")


def test_acknowledgments_need_a_reason_and_packs_register_once() -> None:
    stack = _stack()
    with pytest.raises(ValueError, match="needs a reason"):
        nag.acknowledge(stack, "AwsSolutions-IAM5", "  ")
    app = cdk.App()
    nag.register_packs(app)
    with pytest.raises(RuntimeError, match="already registered"):
        nag.register_packs(app)


# --------------------------------------------------------------------------- summary script


def test_synth_summary_reports_every_stack(synth_of: Callable[[str], Synth]) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import synth_summary

    synth = synth_of("prod")
    out = io.StringIO()
    with redirect_stdout(out):
        code = synth_summary.main(["synth_summary.py", str(synth.outdir)])
    assert code == 0
    lines = out.getvalue().splitlines()
    for role in ("stateful", "service", "monitoring"):
        row = next(line for line in lines if line.startswith(f"payouts-prod-{role}"))
        assert "ap-southeast-2" in row and "pass" in row
