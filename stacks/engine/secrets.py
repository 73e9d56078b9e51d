"""The engine's secrets: RazorPay's API key, its webhook secrets, the OTP/session hash key,
the LMS and HRMS client credentials.

Each lives in Mumbai under the Data key and, where DR is enabled, is replicated by Secrets
Manager to Singapore under the Singapore replica of that key: the standby reads its own
Region's copy (same name) when Mumbai is gone. Operators set the values in Mumbai only
(`aws secretsmanager put-secret-value`); a replica is read-only and follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import aws_kms as kms
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.secret import PlaceholderSecret, PlaceholderSecretProps
from config.engine import EngineConfig


@dataclass(frozen=True)
class SecretSpec:
    construct_id: str
    name: str  # the part after engine/<env>/
    env_var: str  # the setting that carries its ARN (or, in the DR Region, its name)
    generated_key: str
    description: str
    # Why no rotation function rotates it (what rotates it instead).
    rotation: str
    template: dict[str, str] = field(default_factory=dict)


RAZORPAY_KEY = SecretSpec(
    construct_id="RazorpayKey",
    name="razorpay",
    env_var="RAZORPAY_SECRET_ARN",
    generated_key="key_secret",
    template={"key_id": "set-the-razorpay-key-id"},
    description="RazorPay API key: {key_id, key_secret} (HTTP Basic auth)",
    rotation=(
        "RazorPay issues API keys in its dashboard and has no API to rotate them, so no "
        "rotation function can; operators regenerate the key there and put both fields here "
        "in one put-secret-value (the runbook's key rotation), and on suspected compromise."
    ),
)
RAZORPAY_WEBHOOK = SecretSpec(
    construct_id="RazorpayWebhookSecret",
    name="razorpay-webhook",
    env_var="RAZORPAY_WEBHOOK_SECRET_ARN",
    generated_key="current",
    description="RazorPay webhook signing secrets: {current, previous} (both accepted)",
    rotation=(
        "The webhook secret is set in RazorPay's dashboard and must change there and here "
        "together: operators move the old value to `previous`, put the new one in `current` "
        "(both verify during the switch), then change it at RazorPay; a rotation function "
        "cannot reach RazorPay's dashboard."
    ),
)
OTP_HASH_KEY = SecretSpec(
    construct_id="OtpHashKey",
    name="otp-hash-key",
    env_var="OTP_HASH_KEY_ARN",
    generated_key="key",
    description="HMAC key hashing OTPs and session tokens before they are stored",
    rotation=(
        "Rotating the HMAC key invalidates every OTP and session hashed with it (at most 15 "
        "minutes of them), so it is rotated deliberately, at a quiet hour, by put-secret-value "
        "(the generated value is already random and never leaves Secrets Manager), not on a "
        "rotation function's schedule that would sign customers out mid-payment."
    ),
)
LMS_CLIENT = SecretSpec(
    construct_id="LmsClient",
    name="lms",
    env_var="LMS_SECRET_ARN",
    generated_key="client_secret",
    template={"client_id": "set-the-lms-client-id"},
    description="LMS (MuleSoft) OAuth2 client credentials: {client_id, client_secret}",
    rotation=(
        "The LMS client id and secret are issued by the lender's MuleSoft administrators "
        "(docs/lms-api.yml: client credentials at POST /oauth/token); no API lets a rotation "
        "function issue a new pair, so operators put both fields in one put-secret-value "
        "when the lender issues them (and on suspected compromise). A stale pair fails the "
        "token call, which LMSConnectivityFailure reports within minutes."
    ),
)
HRMS_CLIENT = SecretSpec(
    construct_id="HrmsClient",
    name="hrms",
    env_var="HRMS_SECRET_ARN",
    generated_key="api_password",
    template={"api_user": "set-the-hrms-api-user", "api_key": "set-the-hrms-api-key"},
    description=(
        "HRMS (DarwinBox) integration credentials: {api_user, api_password, api_key} "
        "(HTTP Basic and the X-Api-Key header, docs/hrms-api.yml)"
    ),
    rotation=(
        "The HRMS credentials are issued by the lender's DarwinBox administrators "
        "(docs/hrms-api.yml); no API lets a rotation function issue new ones, so operators "
        "put all three fields in one put-secret-value when DarwinBox issues them (and on "
        "suspected compromise). A stale set fails the nightly HrmsSync, whose error alarm "
        "reports it."
    ),
)
SECRETS: tuple[SecretSpec, ...] = (
    RAZORPAY_KEY,
    RAZORPAY_WEBHOOK,
    OTP_HASH_KEY,
    LMS_CLIENT,
    HRMS_CLIENT,
)


def secret_name(cfg: EngineConfig, spec: SecretSpec) -> str:
    """e.g. engine/prod/razorpay: the same name in both Regions (the replica keeps it)."""
    return f"{cfg.system}/{cfg.env_name}/{spec.name}"


def secret_arn_pattern(cfg: EngineConfig, spec: SecretSpec, region: str) -> str:
    """The secret's ARN with Secrets Manager's random six-character suffix left open: what
    IAM names in the Region whose copy has no ARN this stack can reference."""
    name = secret_name(cfg, spec)
    return f"arn:aws:secretsmanager:{region}:{cfg.account}:secret:{name}-??????"


class EngineSecrets(Construct):
    """The secrets, in the primary Region, with their DR replicas where DR is enabled."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: EngineConfig,
        key: kms.IKey,
        replica_key_arns: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.secrets: dict[str, secretsmanager.ISecret] = {}
        for spec in SECRETS:
            secret = PlaceholderSecret(
                self,
                spec.construct_id,
                PlaceholderSecretProps(
                    secret_name=secret_name(cfg, spec),
                    description=spec.description,
                    generated_key=spec.generated_key,
                    template=spec.template,
                    encryption_key=key,
                    removal_policy=cfg.removal_policy,
                    replica_key_arns=replica_key_arns,
                ),
            ).secret
            nag.acknowledge(secret, "AwsSolutions-SMG4", spec.rotation)
            nag.acknowledge(
                secret,
                "NIST.800.53.R5-SecretsManagerRotationEnabled",
                f"NIST 800-53 R5 SC-12, AC-4 (same finding as AwsSolutions-SMG4): {spec.rotation}",
            )
            self.secrets[spec.name] = secret
