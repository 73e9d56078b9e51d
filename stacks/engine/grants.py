"""Turns a function's declared access (stacks/engine/access.py) into IAM statements and its
environment, from one Region's resources given as names and ARNs.

Everything is named by string (tables, queues, the bus and the bucket by their fixed names;
keys, secrets, the streams and the database by what the caller passes), so the same code
serves Mumbai and Singapore without a cross-Region reference. Key actions are exact and
usable only through the service that needs them (kms:ViaService), never `kms:*` wildcards.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction
from cdk_constructs.keys import grant_via_service
from config.engine import EngineConfig
from engine.queues import QUEUES
from engine.tables import ALL_TABLES
from stacks.engine import access
from stacks.engine.access import FunctionAccess

_DYNAMODB_WRITES = frozenset({access.PUT, access.UPDATE})
_STREAM_READ = ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator")
_QUEUE_CONSUME = (
    "sqs:ReceiveMessage",
    "sqs:DeleteMessage",
    "sqs:ChangeMessageVisibility",
    "sqs:GetQueueAttributes",
)
_SMS_REASON = (
    "sns:Publish straight to a phone number (an OTP by SMS) has no resource to name: SNS "
    "documents Resource '*' as the only form for SMS. This policy holds that one statement, "
    "attached to PortalSessions alone; it sends no topic messages (no topic ARN is granted "
    "anywhere else), and the account's SNS SMS spend limit caps what it can cost."
)


@dataclass(frozen=True)
class SecretRef:
    # What the function passes as SecretId (the ARN in the primary Region, the name where
    # only the replica exists) and what IAM names (the ARN, or the name with its suffix open).
    secret_id: str
    resource_arn: str


@dataclass(frozen=True)
class Database:
    host: str
    port: int
    name: str
    # arn:aws:rds-db:<region>:<account>:dbuser:<proxy or instance resource id>/engine_app
    connect_arn: str


@dataclass(frozen=True)
class StaffPoolRef:
    """The Region's staff user pool, as its own stack names it (Ref and GetAtt)."""

    user_pool_id: str
    user_pool_arn: str


@dataclass(frozen=True)
class RegionResources:
    """One Region's resources a service function can be given."""

    cfg: EngineConfig
    data_key: kms.IKey
    table_names: dict[str, str]  # logical name -> name
    # Table logical name -> this Region's stream of it (its own table's, or its replica's),
    # for the tables whose stream a function here consumes or reads.
    stream_arns: dict[str, str]
    queue_names: dict[str, str]  # QueueSpec name -> name
    secrets: dict[str, SecretRef]  # SecretSpec env var -> reference
    documents_bucket: str
    event_bus_name: str
    database: Database
    audit_anchor_bucket: str
    # Only in the stack that holds the pool (stacks/engine/api.py): see access.beside_the_pool.
    staff_pool: StaffPoolRef | None = None


class Granter:
    """Applies declarations to functions of one stack in one Region."""

    def __init__(self, stack: cdk.Stack, resources: RegionResources) -> None:
        self.stack = stack
        self.r = resources

    # ------------------------------------------------------------------ names and ARNs

    def arn(self, service: str, resource: str) -> str:
        """A literal ARN in this stack's Region (no partition token: it reads in a policy)."""
        return f"arn:aws:{service}:{self.stack.region}:{self.stack.account}:{resource}"

    def table_arn(self, logical_name: str) -> str:
        return self.arn("dynamodb", f"table/{self.r.table_names[logical_name]}")

    def queue_arn(self, name: str) -> str:
        return self.arn("sqs", self.r.queue_names[name])

    def queue_url(self, name: str) -> str:
        stack = self.stack
        return (
            f"https://sqs.{stack.region}.amazonaws.com/{stack.account}/{self.r.queue_names[name]}"
        )

    def bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.r.documents_bucket}"

    def anchor_bucket_arn(self) -> str:
        return f"arn:aws:s3:::{self.r.audit_anchor_bucket}"

    def staff_pool(self) -> StaffPoolRef:
        if self.r.staff_pool is None:
            raise ValueError(
                f"{self.stack.stack_name} has no staff user pool: a function that names it is "
                "built beside the pool (access.beside_the_pool)"
            )
        return self.r.staff_pool

    def stream_arn(self, logical_name: str) -> str:
        try:
            return self.r.stream_arns[logical_name]
        except KeyError:
            raise ValueError(
                f"no stream ARN for {logical_name} in {self.stack.stack_name}: "
                f"the region's resources give {sorted(self.r.stream_arns)}"
            ) from None

    # ------------------------------------------------------------------ environment

    def environment(self, declared: FunctionAccess) -> dict[str, str]:
        r = self.r
        values = access.config_values(r.cfg)
        values |= {t.env_var: r.table_names[t.logical_name] for t in ALL_TABLES}
        values |= {q.env_var: self.queue_url(q.name) for q in QUEUES if q.name in r.queue_names}
        values |= {env_var: ref.secret_id for env_var, ref in r.secrets.items()}
        if r.staff_pool is not None:
            values[access.STAFF_POOL_ENV] = r.staff_pool.user_pool_id
        values |= {
            access.DOCUMENTS_ENV: r.documents_bucket,
            access.ANCHORS_ENV: r.audit_anchor_bucket,
            access.EVENT_BUS_ENV: r.event_bus_name,
            "DB_PROXY_ENDPOINT": r.database.host,
            "DB_PORT": str(r.database.port),
            "DB_NAME": r.database.name,
            "DB_USER": access.DATABASE_USER,
        }
        env = access.environment(declared, values)
        if declared.browser and r.cfg.portal_origin:
            env[access.CORS_ENV] = r.cfg.portal_origin
        return env

    # ------------------------------------------------------------------ grants

    def grant(self, function: SecureFunction, declared: FunctionAccess) -> None:
        principal = function.function
        key_actions: dict[str, set[str]] = defaultdict(set)
        for table in declared.tables:
            self._allow(principal, table.actions, [self.table_arn(table.table.logical_name)])
            if table.query_indexes:
                indexes = [
                    f"{self.table_arn(table.table.logical_name)}/index/{name}"
                    for name in table.query_indexes
                ]
                self._allow(principal, [access.QUERY], indexes)
            key_actions["dynamodb"] |= {"kms:Decrypt", "kms:DescribeKey"}
            if _DYNAMODB_WRITES.intersection(table.actions):
                key_actions["dynamodb"] |= {"kms:Encrypt", "kms:GenerateDataKey"}
        if declared.reads_stream is not None:
            stream = self.stream_arn(declared.reads_stream.logical_name)
            self._allow(principal, _STREAM_READ, [stream])
            key_actions["dynamodb"] |= {"kms:Decrypt", "kms:DescribeKey"}
        for queue in declared.queues:
            self._allow(principal, queue.actions, [self.queue_arn(queue.queue.name)])
            key_actions["sqs"] |= self.queue_key_actions(queue.actions)
        for spec in declared.secrets:
            ref = self.r.secrets[spec.env_var]
            self._allow(principal, ["secretsmanager:GetSecretValue"], [ref.resource_arn])
            key_actions["secretsmanager"].add("kms:Decrypt")
        self._grant_objects(function, declared, key_actions)
        if declared.staff_pool:
            self._allow(principal, declared.staff_pool, [self.staff_pool().user_pool_arn])
        if declared.publishes_events:
            bus = self.arn("events", f"event-bus/{self.r.event_bus_name}")
            self._allow(principal, ["events:PutEvents"], [bus])
        if declared.database:
            self._allow(principal, ["rds-db:connect"], [self.r.database.connect_arn])
        for service, actions in sorted(key_actions.items()):
            grant_via_service(principal, self.r.data_key, service, sorted(actions))
        if declared.sends_sms:
            self._grant_sms(function)

    def allow_stream_read(self, principal: iam.IGrantable, logical_name: str) -> None:
        """What an event source mapping reads a table's stream with (the function's role):
        Lambda's documented four, on that one stream (as CDK's own grant names them)."""
        actions = (*_STREAM_READ, "dynamodb:ListStreams")
        self._allow(principal, actions, [self.stream_arn(logical_name)])
        grant_via_service(principal, self.r.data_key, "dynamodb", ["kms:Decrypt"])

    def allow_queue_consume(self, principal: iam.IGrantable, queue: str) -> None:
        """What an SQS event source mapping polls with (the function's role)."""
        self._allow(principal, _QUEUE_CONSUME, [self.queue_arn(queue)])
        grant_via_service(principal, self.r.data_key, "sqs", ["kms:Decrypt"])

    @staticmethod
    def queue_key_actions(actions: tuple[str, ...] | list[str]) -> set[str]:
        """What SQS asks of a caller's role for a queue under a customer-managed key."""
        return {"kms:Decrypt", "kms:GenerateDataKey"} if access.SEND in actions else {"kms:Decrypt"}

    def _grant_documents(
        self, principal: iam.IGrantable, actions: tuple[str, ...], keys: dict[str, set[str]]
    ) -> None:
        objects = [a for a in actions if a != "s3:ListBucket"]
        self._allow(principal, objects, [f"{self.bucket_arn()}/{access.RECEIPTS_PREFIX}*"])
        if "s3:ListBucket" in actions:
            self._allow(principal, ["s3:ListBucket"], [self.bucket_arn()])
        if "s3:GetObject" in objects:
            keys["s3"].add("kms:Decrypt")
        if "s3:PutObject" in objects:
            keys["s3"] |= {"kms:GenerateDataKey", "kms:Decrypt"}

    def _grant_objects(
        self, function: SecureFunction, declared: FunctionAccess, keys: dict[str, set[str]]
    ) -> None:
        """The documents bucket's receipts and the anchor bucket's anchors, as declared."""
        if declared.documents:
            self._grant_documents(function.function, declared.documents, keys)
            self._acknowledge_receipts(function)
        if declared.anchors:
            self._grant_anchors(function.function, declared.anchors, keys)
            self._acknowledge_anchors(function)

    def _grant_anchors(
        self, principal: iam.IGrantable, actions: tuple[str, ...], keys: dict[str, set[str]]
    ) -> None:
        """Objects under audit-anchors/ only; listing their versions only under that prefix
        (engine.clients.anchors lists a day's prefix). Nothing may delete or unlock one."""
        objects = [a for a in actions if a != access.LIST_VERSIONS]
        if objects:
            arn = f"{self.anchor_bucket_arn()}/{access.ANCHORS_PREFIX}*"
            self._allow(principal, objects, [arn])
        if access.LIST_VERSIONS in actions:
            iam.Grant.add_to_principal(
                grantee=principal,
                actions=[access.LIST_VERSIONS],
                resource_arns=[self.anchor_bucket_arn()],
                conditions={"StringLike": {"s3:prefix": [f"{access.ANCHORS_PREFIX}*"]}},
            )
        if {"s3:GetObject", "s3:GetObjectVersion"} & set(objects):
            keys["s3"].add("kms:Decrypt")
        if "s3:PutObject" in objects:
            keys["s3"] |= {"kms:GenerateDataKey", "kms:Decrypt"}

    def _acknowledge_anchors(self, function: SecureFunction) -> None:
        policy = function.role.grants_policy
        assert policy is not None
        nag.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{self.anchor_bucket_arn()}/{access.ANCHORS_PREFIX}*]",
            "Audit anchors are objects named after their chain (audit-anchors/<date>/<branch>"
            ".json), one a day per branch, created by the day's first audited action: no "
            "object ARN exists to name in advance. The statement covers only that prefix of "
            "the anchor bucket, with its put (writers) or reads (the audit API), never a "
            "delete, retention or legal-hold action (Object Lock keeps every version anyway).",
        )

    def _acknowledge_receipts(self, function: SecureFunction) -> None:
        policy = function.role.grants_policy
        assert policy is not None
        nag.acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{self.bucket_arn()}/{access.RECEIPTS_PREFIX}*]",
            "Receipt PDFs are objects named after their payment (receipts/<payment id>.pdf), "
            "created on a payment's first download: no object ARN exists to name in advance. "
            "The statement covers only the receipts/ prefix of the documents bucket (not its "
            "mandate forms), with get and put, never delete.",
        )

    def _grant_sms(self, function: SecureFunction) -> None:
        """In a policy of its own, so its acknowledgment cannot hide any other statement."""
        policy = iam.ManagedPolicy(
            function,
            "SmsPolicy",
            roles=[function.role],
            statements=[iam.PolicyStatement(actions=["sns:Publish"], resources=["*"])],
        )
        function.function.node.add_dependency(policy)
        nag.acknowledge(policy, "AwsSolutions-IAM5[Resource::*]", _SMS_REASON)

    @staticmethod
    def _allow(principal: iam.IGrantable, actions: Iterable[str], resources: list[str]) -> None:
        iam.Grant.add_to_principal(
            grantee=principal, actions=sorted(set(actions)), resource_arns=resources
        )
