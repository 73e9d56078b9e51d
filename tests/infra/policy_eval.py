"""Read references and policies off one stage's synthesized templates, as AWS would.

`TemplateSet` resolves what a property points at across the stage's stacks: a resource of
this template (`Ref`, `Fn::GetAtt`), another stack's export (`Fn::ImportValue`), a
cross-Region reference (CDK's SSM-backed reader and writer), or a plain string (with the
pseudo parameters rendered). `allows` evaluates one policy's statements for one request, for
the condition operators these stacks use; anything it cannot evaluate counts as no match, so
a test can only pass on a statement that really allows the request.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARTITION = "aws"


@dataclass(frozen=True)
class Ref:
    """A resource of the stage: the stack role and its logical id."""

    role: str
    logical_id: str


Resolved = Ref | str | None


@dataclass
class TemplateSet:
    templates: Mapping[str, dict[str, Any]]  # stack role -> template
    regions: Mapping[str, str]  # stack role -> region
    account: str
    _exports: dict[str, tuple[str, Any]] = field(default_factory=dict, init=False)
    _ssm: dict[str, tuple[str, Any]] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for role, template in self.templates.items():
            for output in template.get("Outputs", {}).values():
                name = output.get("Export", {}).get("Name")
                if isinstance(name, str):
                    self._exports[name] = (role, output["Value"])
            for resource in template.get("Resources", {}).values():
                if resource["Type"] == "Custom::CrossRegionExportWriter":
                    for name, value in resource["Properties"]["WriterProps"]["exports"].items():
                        self._ssm[name] = (role, value)

    def resources(self, *types: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(role, logical id, resource) of every resource of the given types."""
        for role, template in self.templates.items():
            for logical_id, resource in template.get("Resources", {}).items():
                if resource["Type"] in types:
                    yield role, logical_id, resource

    def resource(self, ref: Ref) -> dict[str, Any]:
        resource: dict[str, Any] = self.templates[ref.role]["Resources"][ref.logical_id]
        return resource

    def resolve(self, role: str, value: Any) -> Resolved:
        """What `value`, a property of a resource in stack `role`, names."""
        if isinstance(value, dict) and len(value) == 1:
            (function, argument), *_ = value.items()
            if function == "Ref":
                return self._ref(role, argument)
            if function == "Fn::GetAtt":
                return self._get_att(role, *argument)
            if function == "Fn::ImportValue" and isinstance(argument, str):
                return self._from(self._exports.get(argument))
        return self.render(role, value)

    def _ref(self, role: str, logical_id: str) -> Resolved:
        if logical_id in self.templates[role].get("Resources", {}):
            return Ref(role, logical_id)
        return self.render(role, {"Ref": logical_id})

    def _get_att(self, role: str, logical_id: str, attribute: str) -> Resolved:
        resource = self.templates[role].get("Resources", {}).get(logical_id)
        if resource is None:
            return None
        if resource["Type"] == "Custom::CrossRegionExportReader":
            return self._from(self._ssm.get(attribute))
        return Ref(role, logical_id)

    def _from(self, exported: tuple[str, Any] | None) -> Resolved:
        return None if exported is None else self.resolve(*exported)

    def render(self, role: str, value: Any) -> str | None:
        """A string with the pseudo parameters filled in; None if it holds anything else."""
        if isinstance(value, (str, int, float)):
            return str(value)
        function, argument = next(iter(value.items())) if isinstance(value, dict) else ("", None)
        if function == "Ref":
            return self._pseudo(role).get(argument)
        if function == "Fn::Join":
            separator, parts = argument
            rendered = [self.render(role, part) for part in parts]
            return None if None in rendered else separator.join(str(p) for p in rendered)
        return None

    def _pseudo(self, role: str) -> dict[str, str]:
        return {
            "AWS::Partition": PARTITION,
            "AWS::Region": self.regions[role],
            "AWS::AccountId": self.account,
            "AWS::URLSuffix": "amazonaws.com",
        }

    def role_of_function(self, ref: Ref) -> Ref | None:
        resolved = self.resolve(ref.role, self.resource(ref)["Properties"]["Role"])
        return resolved if isinstance(resolved, Ref) else None

    def identity_statements(self, role_ref: Ref) -> list[dict[str, Any]]:
        """Every statement of every policy attached to an IAM role of the stage."""
        statements: list[dict[str, Any]] = []
        role_resource = self.resource(role_ref)
        for policy in role_resource["Properties"].get("Policies", []):
            statements += _as_list(policy["PolicyDocument"]["Statement"])
        for role, _, resource in self.resources("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            attached = [self.resolve(role, r) for r in resource["Properties"].get("Roles", [])]
            if role_ref in attached:
                statements += [
                    {**s, "_role": role}
                    for s in _as_list(resource["Properties"]["PolicyDocument"]["Statement"])
                ]
        return statements


@dataclass(frozen=True)
class Request:
    """One API call as IAM sees it: the action, the resource and the request's context."""

    action: str
    resource: Resolved = "*"
    service_principal: str | None = None  # for resource (key) policies
    context: Mapping[str, str] = field(default_factory=dict)


def allows(
    templates: TemplateSet, statements: Sequence[dict[str, Any]], request: Request, role: str
) -> bool:
    """Whether some Allow statement matches `request` (no Deny is ever written here)."""
    return any(
        _matches(templates, statement, request, statement.get("_role", role))
        for statement in statements
        if statement.get("Effect") == "Allow"
    )


def _matches(
    templates: TemplateSet, statement: dict[str, Any], request: Request, role: str
) -> bool:
    actions = [str(a) for a in _as_list(statement.get("Action", []))]
    if not any(fnmatch.fnmatchcase(request.action, pattern) for pattern in actions):
        return False
    if request.service_principal is not None:
        services = _as_list(statement.get("Principal", {}).get("Service", []))
        if request.service_principal not in services:
            return False
    if not _resource_matches(templates, role, statement.get("Resource", []), request.resource):
        return False
    return all(
        _condition_holds(templates, role, operator, (key, expected), request.context)
        for operator, conditions in statement.get("Condition", {}).items()
        for key, expected in conditions.items()
    )


def _resource_matches(templates: TemplateSet, role: str, patterns: Any, wanted: Resolved) -> bool:
    for pattern in _as_list(patterns):
        resolved = templates.resolve(role, pattern)
        if resolved in ("*", wanted):
            return True
        both_strings = isinstance(resolved, str) and isinstance(wanted, str)
        if both_strings and fnmatch.fnmatchcase(str(wanted), str(resolved)):
            return True
    return False


def _condition_holds(
    templates: TemplateSet,
    role: str,
    operator: str,
    condition: tuple[str, Any],
    context: Mapping[str, str],
) -> bool:
    key, expected = condition
    if key not in context:
        return False
    actual = context[key]
    values = [templates.render(role, value) for value in _as_list(expected)]
    if operator in ("StringEquals", "ArnEquals"):
        return actual in values
    if operator in ("StringLike", "ArnLike"):
        return any(v is not None and fnmatch.fnmatchcase(actual, v) for v in values)
    return False  # an operator this helper does not know never counts as allowing


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def describe(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def template_set(synth: Any) -> TemplateSet:
    """The TemplateSet of a Synth (payouts) or EngineSynth: every stack of its stage."""
    cfg = synth.stage.cfg
    prefix = f"{cfg.system}-{cfg.env_name}-"
    regions = {stack.stack_name.removeprefix(prefix): stack.region for stack in synth.stage.stacks}
    return TemplateSet(templates=synth.templates, regions=regions, account=cfg.account)
