"""Creates the payments engine's AWS resources in moto from the same declarations as the stacks:
its tables (engine/tables.py), its queues (engine/queues.py), its secrets (RazorPay's, the OTP
hash key, the LMS and HRMS clients'), the staff user pool and its groups, the documents and
audit anchor buckets and the event bus."""

from __future__ import annotations

import json
import secrets as pysecrets
from dataclasses import dataclass, replace
from typing import Any

from engine.queues import QUEUES
from engine.tables import ALL_TABLES
from shared.declarations import QueueSpec


@dataclass(frozen=True)
class EngineResources:
    tables: dict[str, str]  # logical name -> table name
    queues: dict[str, str]  # QueueSpec name -> queue URL
    razorpay_secret_arn: str
    webhook_secret_arn: str
    otp_hash_key_arn: str
    documents_bucket: str
    event_bus_name: str
    # Empty in state saved before the LMS: `ensure_lms_secret` creates it then.
    lms_secret_arn: str = ""
    # Empty in state saved before the staff engine: `ensure_staff` creates them then.
    hrms_secret_arn: str = ""
    staff_user_pool_id: str = ""
    audit_anchor_bucket: str = ""

    def env(self) -> dict[str, str]:
        """The variables the stacks give the functions that point at resources."""
        env = {spec.env_var: self.tables[spec.logical_name] for spec in ALL_TABLES}
        env |= {spec.env_var: self.queues[spec.name] for spec in QUEUES}
        env |= {
            "RAZORPAY_SECRET_ARN": self.razorpay_secret_arn,
            "RAZORPAY_WEBHOOK_SECRET_ARN": self.webhook_secret_arn,
            "OTP_HASH_KEY_ARN": self.otp_hash_key_arn,
            "DOCUMENTS_BUCKET": self.documents_bucket,
            "EVENT_BUS_NAME": self.event_bus_name,
            "LMS_SECRET_ARN": self.lms_secret_arn,
            "HRMS_SECRET_ARN": self.hrms_secret_arn,
            "STAFF_USER_POOL_ID": self.staff_user_pool_id,
            "AUDIT_ANCHOR_BUCKET": self.audit_anchor_bucket,
        }
        return env


def provision(
    clients: Any,
    *,
    key_id: str,
    key_secret: str,
    webhook_secret: str,
    lms_client: dict[str, str],
    prefix: str = "local",
) -> EngineResources:
    """`clients(name)` returns a boto3 client; call inside a moto mock."""
    dynamodb = clients("dynamodb")
    tables = {}
    for spec in ALL_TABLES:
        name = f"{prefix}-engine-{spec.logical_name.lower()}"
        dynamodb.create_table(**spec.create_table_kwargs(name))
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
        tables[spec.logical_name] = name

    def secret(name: str, value: dict[str, str]) -> str:
        return _secret(clients, prefix, name, value)

    resources = EngineResources(
        tables=tables,
        queues=_queues(clients("sqs"), prefix),
        razorpay_secret_arn=secret("razorpay", {"key_id": key_id, "key_secret": key_secret}),
        webhook_secret_arn=secret("razorpay-webhook", {"current": webhook_secret}),
        otp_hash_key_arn=secret("otp-hash-key", {"key": pysecrets.token_urlsafe(48)}),
        documents_bucket=f"{prefix}-engine-documents",
        event_bus_name=f"{prefix}-engine-bus",
        lms_secret_arn=secret("lms", _lms_secret(lms_client)),
    )
    ensure_unsaved(clients, resources)
    return resources


def ensure_lms_secret(
    clients: Any, resources: EngineResources, lms_client: dict[str, str], prefix: str = "local"
) -> EngineResources:
    """State saved before the LMS has no LMS secret: create it (with these credentials)."""
    if resources.lms_secret_arn:
        return resources
    sm, name = clients("secretsmanager"), f"{prefix}/engine/lms"
    value = json.dumps(_lms_secret(lms_client))
    try:
        arn = str(sm.create_secret(Name=name, SecretString=value)["ARN"])
    except sm.exceptions.ResourceExistsException:  # saved without its ARN: take it over
        arn = str(sm.put_secret_value(SecretId=name, SecretString=value)["ARN"])
    return replace(resources, lms_secret_arn=arn)


def ensure_staff(
    clients: Any, resources: EngineResources, hrms: dict[str, str], prefix: str = "local"
) -> EngineResources:
    """The staff engine's resources: the HRMS credentials (stacks/engine/secrets.py
    HRMS_CLIENT's shape), the staff user pool with one group per role (as stacks.engine.api
    builds it), and the audit anchors bucket name (created by `ensure_unsaved`)."""
    if not resources.hrms_secret_arn:
        sm, name = clients("secretsmanager"), f"{prefix}/engine/hrms"
        value = json.dumps(hrms)
        try:
            arn = str(sm.create_secret(Name=name, SecretString=value)["ARN"])
        except sm.exceptions.ResourceExistsException:
            arn = str(sm.put_secret_value(SecretId=name, SecretString=value)["ARN"])
        resources = replace(resources, hrms_secret_arn=arn)
    pools = clients("cognito-idp").list_user_pools(MaxResults=60).get("UserPools", [])
    if resources.staff_user_pool_id not in {p["Id"] for p in pools}:
        # moto's Cognito is not kept by --data-dir (local/state.py): made again on restart.
        resources = replace(resources, staff_user_pool_id=_staff_pool(clients, prefix))
    if not resources.audit_anchor_bucket:
        resources = replace(resources, audit_anchor_bucket=f"{prefix}-engine-audit-anchors")
    return resources


def _staff_pool(clients: Any, prefix: str) -> str:
    from engine.declarations import STAFF_ROLES  # noqa: PLC0415 - declarations import models

    idp = clients("cognito-idp")
    pool_id = str(idp.create_user_pool(PoolName=f"{prefix}-engine-staff")["UserPool"]["Id"])
    for name, description, precedence in STAFF_ROLES:
        idp.create_group(
            UserPoolId=pool_id, GroupName=name, Description=description, Precedence=precedence
        )
    return pool_id


def _lms_secret(lms_client: dict[str, str]) -> dict[str, str]:
    """The secret's shape (stacks/engine/secrets.py LMS_CLIENT): {client_id, client_secret}."""
    return {"client_id": lms_client["client_id"], "client_secret": lms_client["client_secret"]}


def _secret(clients: Any, prefix: str, name: str, value: dict[str, str]) -> str:
    sm = clients("secretsmanager")
    created = sm.create_secret(Name=f"{prefix}/engine/{name}", SecretString=json.dumps(value))
    return str(created["ARN"])


def ensure_unsaved(clients: Any, resources: EngineResources) -> None:
    """The bucket and the bus, which --data-dir does not keep: created when missing."""
    s3 = clients("s3")
    buckets = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
    region = s3.meta.region_name
    if resources.documents_bucket not in buckets:
        s3.create_bucket(
            Bucket=resources.documents_bucket,
            CreateBucketConfiguration={"LocationConstraint": region},
        )
    anchors = resources.audit_anchor_bucket
    if anchors and anchors not in buckets:
        # Object Lock as in the stacks (versioned, every anchor version kept).
        s3.create_bucket(
            Bucket=anchors,
            CreateBucketConfiguration={"LocationConstraint": region},
            ObjectLockEnabledForBucket=True,
        )
    events = clients("events")
    buses = {b["Name"] for b in events.list_event_buses().get("EventBuses", [])}
    if resources.event_bus_name not in buses:
        events.create_event_bus(Name=resources.event_bus_name)


def _queues(sqs: Any, prefix: str) -> dict[str, str]:
    urls: dict[str, str] = {}
    # Dead-letter queues first: a queue's redrive policy names its DLQ's ARN.
    for spec in sorted(QUEUES, key=lambda q: q.dead_letter_queue is not None):
        urls[spec.name] = sqs.create_queue(
            QueueName=f"{prefix}-engine-{spec.name.lower()}",
            Attributes=_attributes(sqs, spec, urls),
        )["QueueUrl"]
    return urls


def _attributes(sqs: Any, spec: QueueSpec, urls: dict[str, str]) -> dict[str, str]:
    attributes = {"VisibilityTimeout": str(spec.visibility_timeout_seconds)}
    if spec.dead_letter_queue:
        dlq = sqs.get_queue_attributes(
            QueueUrl=urls[spec.dead_letter_queue], AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        policy = {"deadLetterTargetArn": dlq, "maxReceiveCount": str(spec.max_receive_count)}
        attributes["RedrivePolicy"] = json.dumps(policy)
    return attributes
