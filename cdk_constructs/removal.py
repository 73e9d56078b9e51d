"""The removal policy every stateful construct here accepts: never plain RETAIN.

CloudFormation's `Retain` keeps a resource even when the stack operation that created it
rolls back. With the fixed names these stacks use (tables, buckets, secrets, log groups, the
database), a failed first create then leaves orphans and the retry fails with "already
exists". `RETAIN_ON_UPDATE_OR_DELETE` (CloudFormation's `RetainExceptOnCreate`) keeps the
resource on every update and on stack deletion, and deletes only what a rolled-back create
made, which held no data yet. `DESTROY` stays allowed for disposable environments.
"""

from __future__ import annotations

import aws_cdk as cdk


def stateful(policy: cdk.RemovalPolicy) -> cdk.RemovalPolicy:
    """`policy`, refused if it is plain RETAIN (give RETAIN_ON_UPDATE_OR_DELETE instead)."""
    if policy == cdk.RemovalPolicy.RETAIN:
        raise ValueError(
            "RemovalPolicy.RETAIN would keep what a failed first create made, and the "
            "retry would fail on the fixed names: use RETAIN_ON_UPDATE_OR_DELETE"
        )
    return policy
