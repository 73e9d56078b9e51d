"""Tags on every resource of a scope, except the types CloudFormation takes no tags on.

`Tags.of(scope).add` reaches every L1 that aws-cdk-lib generates as taggable, and for some
types that disagrees with the schema CloudFormation validates against: CDK's built-in
template validation (which `cdk deploy` runs) rejects `Tags` on AWS::RDS::DBProxyTargetGroup
("Additional properties are not allowed"), and the registry marks the type as not taggable
on create. The target group belongs to its proxy, which is tagged, so nothing is lost.
A test runs CDK's validation over every template, so a new such type fails there first.
"""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from constructs import IConstruct

UNTAGGABLE_TYPES = ("AWS::RDS::DBProxyTargetGroup",)


def tag_every_resource(scope: IConstruct, tags: Mapping[str, str]) -> None:
    for key, value in tags.items():
        cdk.Tags.of(scope).add(key, value, exclude_resource_types=list(UNTAGGABLE_TYPES))
