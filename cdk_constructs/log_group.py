"""Log groups that are always encrypted with a CMK and always expire."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs.removal import stateful


@dataclass(frozen=True)
class EncryptedLogGroupProps:
    encryption_key: kms.IKey
    retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy
    log_group_name: str | None = None


class EncryptedLogGroup(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: EncryptedLogGroupProps) -> None:
        super().__init__(scope, construct_id)
        if props.retention == logs.RetentionDays.INFINITE:
            raise ValueError("log groups must expire; pick a finite retention")
        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            log_group_name=props.log_group_name,
            encryption_key=props.encryption_key,
            retention=props.retention,
            removal_policy=stateful(props.removal_policy),
        )
