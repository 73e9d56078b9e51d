"""The one module that touches cdk-nag (v3, policy-validation plugins).

cdk-nag's API changed completely between v2 (Aspects and a suppressions helper) and v3
(`Validations` plugins + acknowledgments); keeping every call here means the next
change is absorbed in one file.

Two facts measured with cdk-nag 3.0.2 on aws-cdk-lib 2.275.0:

* Packs are registered once, on the App. Registered on each Stage, every pack
  reports every stage's findings again.
* An acknowledgment must use the `Pack::Rule` id printed by the report
  ("Acknowledge with 'AwsSolutions::AwsSolutions-IAM5[Resource::*]'"). CDK then moves
  the finding into `suppressedViolations` with the reason and the construct path,
  which is the audit trail. A bare `AwsSolutions-IAM5` is stored as an
  `Annotation::` acknowledgment: cdk-nag hides the finding, but no
  suppressed-violation record is written, so nobody can audit it. `acknowledge`
  therefore refuses ids without a pack prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from enum import Enum

import aws_cdk as cdk
import cdk_nag
from constructs import IConstruct


class Pack(Enum):
    """Packs by the plugin name they report under (the prefix of every id)."""

    AWS_SOLUTIONS = "AwsSolutions"
    PCI_DSS_321 = "PCI.DSS.321"
    SERVERLESS = "Serverless"
    NIST_800_53_R5 = "NIST.800.53.R5"


# Every pack applies to every stack of every system: packs are registered once, on
# the App, so a pack cannot be limited to one system's Stage (registering it per
# Stage reports every stage's findings again). NIST 800-53 R5 is required for the
# payments engine, so the payouts stacks pass it too.
DEFAULT_PACKS = (Pack.AWS_SOLUTIONS, Pack.PCI_DSS_321, Pack.SERVERLESS, Pack.NIST_800_53_R5)

_FACTORIES: dict[Pack, Callable[[IConstruct], cdk.IPolicyValidationPlugin]] = {
    Pack.AWS_SOLUTIONS: cdk_nag.AwsSolutionsChecks,
    Pack.PCI_DSS_321: cdk_nag.PCIDSS321Checks,
    Pack.SERVERLESS: cdk_nag.ServerlessChecks,
    Pack.NIST_800_53_R5: cdk_nag.NIST80053R5Checks,
}

_REGISTERED_MARK = "_payments_platform_nag_packs"


def register_packs(app: cdk.App, packs: Iterable[Pack] = DEFAULT_PACKS) -> None:
    """Register the packs once on the App; a second call is an error, not a no-op."""
    # Marked on the Python object: construct addresses are path-based and every
    # App has the same (empty) path.
    if getattr(app, _REGISTERED_MARK, False):
        raise RuntimeError("cdk-nag packs are already registered on this app")
    plugins = [_FACTORIES[pack](app) for pack in dict.fromkeys(packs)]
    cdk.Validations.of(app).add_plugins(*plugins)
    setattr(app, _REGISTERED_MARK, True)


def acknowledge(construct: IConstruct, rule_id: str, reason: str) -> None:
    """Acknowledge one finding at `construct` (and its children).

    `rule_id` is the rule as reported, e.g. `AwsSolutions-IAM5[Resource::*]`; the pack
    prefix is derived from it so callers cannot get the namespace wrong.
    """
    if not reason.strip():
        raise ValueError(f"acknowledging {rule_id} needs a reason")
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=qualified_id(rule_id), reason=reason)
    )


def qualified_id(rule_id: str) -> str:
    for pack in Pack:
        if rule_id.startswith(f"{pack.value}::"):
            return rule_id
        if rule_id.startswith(f"{pack.value}-"):
            return f"{pack.value}::{rule_id}"
    known = ", ".join(pack.value for pack in Pack)
    raise ValueError(f"{rule_id!r} does not start with a known pack ({known})")


# The plugin name CDK's built-in template validation ("CloudFormation Validate", which
# `cdk deploy` runs) reports under; its findings are acknowledged the same way as nag's.
TEMPLATE_CHECK = "CloudFormation-Validate"


def acknowledge_template_check(construct: IConstruct, rule: str, reason: str) -> None:
    """Acknowledge one rule of CDK's built-in template validation (e.g. `W3010`) at `construct`."""
    if not reason.strip():
        raise ValueError(f"acknowledging {rule} needs a reason")
    cdk.Validations.of(construct).acknowledge(
        cdk.Acknowledgment(id=f"{TEMPLATE_CHECK}::{rule}", reason=reason)
    )
