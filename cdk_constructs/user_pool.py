"""Cognito user pool for staff (admins): invite-only, TOTP MFA required.

Plus tier with full-function threat protection blocks risky sign-ins and
compromised passwords instead of only reporting them (AwsSolutions-COG2/COG8).
The app client is public (no secret: it runs in the browser) and uses SRP, so
passwords never cross the wire.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from cdk_constructs.removal import stateful

_PASSWORD_POLICY = cognito.PasswordPolicy(
    min_length=14,
    require_lowercase=True,
    require_uppercase=True,
    require_digits=True,
    require_symbols=True,
    temp_password_validity=cdk.Duration.days(1),
    password_history_size=12,
)


@dataclass(frozen=True)
class StaffGroup:
    """A role as a Cognito group; `precedence` decides which role wins in the token (lower)."""

    name: str
    description: str
    precedence: int


@dataclass(frozen=True)
class AdminUserPoolProps:
    user_pool_name: str
    removal_policy: cdk.RemovalPolicy
    deletion_protection: bool
    # Roles; MFA is required for every member, privileged or not (stricter than per-group).
    groups: Sequence[StaffGroup] = ()


class AdminUserPool(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: AdminUserPoolProps) -> None:
        super().__init__(scope, construct_id)
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=props.user_pool_name,
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True, username=False),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=_PASSWORD_POLICY,
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=props.deletion_protection,
            removal_policy=stateful(props.removal_policy),
        )
        self.groups = {
            group.name: cognito.CfnUserPoolGroup(
                self,
                f"Group{group.name}",
                user_pool_id=self.user_pool.user_pool_id,
                group_name=group.name,
                description=group.description,
                precedence=group.precedence,
            )
            for group in props.groups
        }
        self.client = self.user_pool.add_client(
            "AdminWebClient",
            generate_secret=False,
            auth_flows=cognito.AuthFlow(user_srp=True),
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            access_token_validity=cdk.Duration.minutes(30),
            id_token_validity=cdk.Duration.minutes(30),
            refresh_token_validity=cdk.Duration.hours(8),
        )
