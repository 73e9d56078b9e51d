"""AWS Backup: a CMK-encrypted vault whose recovery points only the account root can
delete early, and a daily plan that can copy every recovery point to another Region.

Why a plan on top of RDS automated backups and DynamoDB PITR: those live and die
with the source resource and its Region. Recovery points in a vault survive a
dropped table, a deleted instance or a lost Region (the cross-Region copy), and one
plan covers RDS, DynamoDB and S3 the same way.

Continuous backup (AWS Backup PITR) stays off: it would take over the RDS
instance's own automated backups (their retention is set by the database
construct), DynamoDB does not support it through AWS Backup (tables have their own
PITR), and the point-in-time need is already met by those two native features.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_backup as backup
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.removal import stateful

# 19:30 UTC is 01:00 IST: after the day's collections and the LMS posting run.
SCHEDULE_HOUR_UTC = "19"
SCHEDULE_MINUTE_UTC = "30"
START_WINDOW = cdk.Duration.hours(1)
COMPLETION_WINDOW = cdk.Duration.hours(8)

# Actions that shorten or end a recovery point's life, or loosen the vault's own
# guard. Lifecycle expiry by AWS Backup itself is not an API call by a principal and
# is not affected.
PROTECTED_ACTIONS = (
    "backup:DeleteRecoveryPoint",
    "backup:UpdateRecoveryPointLifecycle",
    "backup:DeleteBackupVaultAccessPolicy",
)

# The AWS managed policies of the AWS Backup service role, by what they allow.
SERVICE_ROLE_POLICIES = (
    "service-role/AWSBackupServiceRolePolicyForBackup",
    "service-role/AWSBackupServiceRolePolicyForRestores",
    "AWSBackupServiceRolePolicyForS3Backup",
    "AWSBackupServiceRolePolicyForS3Restore",
)

_VAULT_NAME = re.compile(r"^[a-zA-Z0-9\-_]{2,50}$")
_BACKUPABLE_ARN = re.compile(r"^arn:aws[a-z-]*:(rds|dynamodb|s3):")


@dataclass(frozen=True)
class BackupVaultProps:
    vault_name: str
    encryption_key: kms.IKey
    removal_policy: cdk.RemovalPolicy


class BackupVault(Construct):
    """A vault encrypted with a customer-managed key.

    Its access policy denies the actions in `PROTECTED_ACTIONS` to every principal
    but the account root: a compromised admin or deploy role cannot purge backups
    before the plan's retention ends (ransomware, insider). `PutBackupVaultAccessPolicy`
    is left to IAM so CloudFormation can still update this policy.
    """

    def __init__(self, scope: Construct, construct_id: str, props: BackupVaultProps) -> None:
        super().__init__(scope, construct_id)
        if not _VAULT_NAME.match(props.vault_name):
            raise ValueError(
                f"vault name {props.vault_name!r} must be 2-50 letters, digits, '-' or '_'"
            )
        stack = cdk.Stack.of(self)
        self.vault = backup.BackupVault(
            self,
            "Vault",
            backup_vault_name=props.vault_name,
            encryption_key=props.encryption_key,
            removal_policy=stateful(props.removal_policy),
            access_policy=_access_policy(stack.account),
        )
        self.vault_name = props.vault_name
        self.vault_arn = self.vault.backup_vault_arn


def _access_policy(account: str) -> iam.PolicyDocument:
    return iam.PolicyDocument(
        statements=[
            iam.PolicyStatement(
                sid="OnlyTheAccountRootShortensRecoveryPoints",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=list(PROTECTED_ACTIONS),
                resources=["*"],
                conditions={
                    "StringNotEquals": {"aws:PrincipalArn": f"arn:aws:iam::{account}:root"}
                },
            )
        ]
    )


@dataclass(frozen=True)
class DailyBackupPlanProps:
    name: str
    vault: backup.IBackupVault
    retention_days: int
    # ARNs of the RDS instances, DynamoDB tables and S3 buckets to back up.
    resources: Sequence[str]
    # Another Region's vault that receives a copy of every recovery point.
    copy_to_vault_arn: str | None = None
    copy_retention_days: int | None = None


class DailyBackupPlan(Construct):
    """One daily rule, kept `retention_days`, optionally copied to another vault.

    The selection's role carries the AWS managed backup and restore policies for the
    service role: AWS keeps their action lists in step with each service's backup
    API, which a hand-written copy would drift from. The same role is the one to
    pass to `StartRestoreJob`.
    """

    def __init__(self, scope: Construct, construct_id: str, props: DailyBackupPlanProps) -> None:
        super().__init__(scope, construct_id)
        _check_plan(props)
        copy_actions = []
        if props.copy_to_vault_arn is not None:
            destination = backup.BackupVault.from_backup_vault_arn(
                self, "CopyDestination", props.copy_to_vault_arn
            )
            copy_actions.append(
                backup.BackupPlanCopyActionProps(
                    destination_backup_vault=destination,
                    delete_after=cdk.Duration.days(props.copy_retention_days or 0),
                )
            )
        self.plan = backup.BackupPlan(
            self,
            "Plan",
            backup_plan_name=props.name,
            backup_plan_rules=[
                backup.BackupPlanRule(
                    rule_name="Daily",
                    backup_vault=props.vault,
                    schedule_expression=events.Schedule.cron(
                        minute=SCHEDULE_MINUTE_UTC, hour=SCHEDULE_HOUR_UTC
                    ),
                    start_window=START_WINDOW,
                    completion_window=COMPLETION_WINDOW,
                    delete_after=cdk.Duration.days(props.retention_days),
                    enable_continuous_backup=False,
                    copy_actions=copy_actions or None,
                )
            ],
        )
        self.role = self._role()
        self.selection = backup.BackupSelection(
            self,
            "Selection",
            backup_plan=self.plan,
            backup_selection_name=props.name,
            resources=[backup.BackupResource.from_arn(arn) for arn in props.resources],
            role=self.role,
            # Attached below, all four named, so that the acknowledgment is exact.
            disable_default_backup_policy=True,
        )

    def _role(self) -> iam.Role:
        role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("backup.amazonaws.com"),
            description="AWS Backup: back up and restore the plan's resources",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(name)
                for name in SERVICE_ROLE_POLICIES
            ],
        )
        for name in SERVICE_ROLE_POLICIES:
            nag.acknowledge(
                role,
                f"AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/{name}]",
                "AWS Backup service role policy (AWS managed): AWS updates its action list "
                "as RDS, DynamoDB and S3 backup and restore APIs evolve; the role can be "
                "assumed only by backup.amazonaws.com.",
            )
        return role


def _check_plan(props: DailyBackupPlanProps) -> None:
    if not 1 <= props.retention_days <= 36500:
        raise ValueError(f"retention_days must be 1 to 36500, got {props.retention_days}")
    if not props.resources:
        raise ValueError("a backup plan needs at least one resource ARN")
    for arn in props.resources:
        if not cdk.Token.is_unresolved(arn) and not _BACKUPABLE_ARN.match(arn):
            raise ValueError(f"{arn!r} is not an RDS, DynamoDB or S3 ARN")
    if len(set(props.resources)) != len(props.resources):
        raise ValueError("resource ARNs must be distinct")
    if (props.copy_to_vault_arn is None) != (props.copy_retention_days is None):
        raise ValueError("give copy_to_vault_arn and copy_retention_days together")
    if props.copy_retention_days is not None and props.copy_retention_days < 1:
        raise ValueError("copy_retention_days must be at least 1")
