"""AWS Backup for the engine (seed §12.3.1): a daily plan over RDS, DynamoDB and S3 in
Mumbai, kept `backup_retention_days`, copied to a Singapore vault for
`backup_copy_retention_days` where DR is enabled.

Both stacks are stateful (the vaults hold the recovery points): termination
protection and the removal policy come from config, construct ids never change.
The Singapore vault has a fixed name, so the Mumbai plan names it by an ARN built
from config (`dr_vault_arn`) rather than by a cross-Region reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from constructs import Construct

from cdk_constructs.backup import (
    BackupVault,
    BackupVaultProps,
    DailyBackupPlan,
    DailyBackupPlanProps,
)
from cdk_constructs.stack_base import ConfiguredStack
from config.engine import EngineConfig


def vault_name(cfg: EngineConfig) -> str:
    """The vault's name in either Region (names are per Region)."""
    return cfg.resource_name("backup")


def dr_vault_arn(cfg: EngineConfig) -> str:
    return f"arn:aws:backup:{cfg.dr_region}:{cfg.account}:backup-vault:{vault_name(cfg)}"


class EngineDrBackupVaultStack(ConfiguredStack):
    """ap-southeast-1: the vault that receives the cross-Region copies.

    `backup_key_arn` is the Singapore replica of the Backup key (same key material
    as the Mumbai primary, so a copied snapshot can be restored here after a loss
    of Mumbai).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        backup_key_arn: str,
        **kwargs: Any,
    ) -> None:
        if not cfg.dr_enabled:
            raise ValueError(f"{cfg.env_name} has no DR Region: dr_enabled is False")
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("dr-backup"),
            description=f"Payments engine {cfg.env_name}: AWS Backup copy vault (DR Region)",
            env=cfg.dr_cdk_environment,
            availability_zones=cfg.dr_network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        key = kms.Key.from_key_arn(self, "BackupKeyRef", backup_key_arn)
        self.vault = BackupVault(
            self,
            "Vault",
            BackupVaultProps(
                vault_name=vault_name(cfg),
                encryption_key=key,
                removal_policy=cfg.removal_policy,
            ),
        )
        cdk.CfnOutput(self, "VaultArn", value=self.vault.vault_arn)


class EngineBackupStack(ConfiguredStack):
    """ap-south-1: the primary vault and the daily plan over `resource_arns`."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        backup_key_arn: str,
        resource_arns: Sequence[str],
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("backup"),
            description=f"Payments engine {cfg.env_name}: AWS Backup vault and daily plan",
            env=cfg.cdk_environment,
            availability_zones=cfg.network.availability_zones,
            termination_protection=cfg.termination_protection,
            **kwargs,
        )
        key = kms.Key.from_key_arn(self, "BackupKeyRef", backup_key_arn)
        self.vault = BackupVault(
            self,
            "Vault",
            BackupVaultProps(
                vault_name=vault_name(cfg),
                encryption_key=key,
                removal_policy=cfg.removal_policy,
            ),
        )
        self.plan = DailyBackupPlan(
            self,
            "DailyPlan",
            DailyBackupPlanProps(
                name=cfg.resource_name("daily"),
                vault=self.vault.vault,
                retention_days=cfg.backup_retention_days,
                resources=resource_arns,
                copy_to_vault_arn=dr_vault_arn(cfg) if cfg.dr_enabled else None,
                copy_retention_days=cfg.backup_copy_retention_days if cfg.dr_enabled else None,
            ),
        )
        cdk.CfnOutput(self, "VaultArn", value=self.vault.vault_arn)
        cdk.CfnOutput(self, "PlanId", value=self.plan.plan.backup_plan_id)
        cdk.CfnOutput(self, "RestoreRoleArn", value=self.plan.role.role_arn)
