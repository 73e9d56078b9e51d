"""Functions, the REST API and the event wiring of one environment.

Stateless: it can be destroyed and redeployed at any time. Resources of the
stateful stack arrive as references; the queues the functions only send to are
imported without their key, so CDK's send grants do not add `kms:ReEncrypt*`/
`kms:GenerateDataKey*`, and the exact key actions are granted here instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.function import SecureFunction, SecureFunctionProps, package_code
from cdk_constructs.keys import grant_via_service
from cdk_constructs.python_layer import PythonDependenciesLayer, PythonLayerProps
from cdk_constructs.queue import grant_queue_key
from cdk_constructs.rest_api import SecureRestApi, SecureRestApiProps
from cdk_constructs.stack_base import ConfiguredStack
from config.payouts import PayoutsConfig
from payouts import declarations as fn
from payouts.models.status import Status
from shared.declarations import FunctionSpec
from shared.fieldcrypto import CONTEXT as PII_CONTEXT
from stacks.payouts import access
from stacks.payouts.stateful import PayoutsStatefulStack

LAMBDA_SRC = Path(__file__).resolve().parents[2] / "lambda_src"
RUNTIME_PACKAGES = ("payouts", "shared")

NO_VPC_REASON = (
    "The payouts functions run outside a VPC by design, to avoid NAT gateway "
    "cost: they call only AWS public endpoints (DynamoDB, KMS, Secrets Manager, SQS) "
    "with IAM auth over TLS and Monoova's public API over TLS, and there is no private "
    "network resource (database, cache) for a VPC to protect."
)
WEBHOOK_ROUTE_REASON = (
    "Monoova's webhooks cannot carry Cognito tokens. The handler authenticates every "
    "call itself: a constant-time compare of the Authorization header against "
    "MonoovaWebhookSecret and an RSA signature check against Monoova's public keys; "
    "WAF and stage throttling still apply."
)
NO_CACHE_REASON = (
    "Responses are never cached: payout status changes with every webhook and "
    "responses are per caller, so a cache would serve stale balances and statuses. "
    "With caching off there is no cache to encrypt."
)
NO_CLIENT_CERTIFICATE_REASON = (
    "Client certificates let an HTTP backend verify that calls come from API Gateway. "
    "Every integration of this API is a Lambda proxy, invoked through "
    "lambda:InvokeFunction permissions scoped to this API, so there is no HTTP backend "
    "to present a certificate to."
)


def nist(controls: str, reason: str) -> str:
    """The reason a sibling pack's finding is acknowledged, restated for NIST 800-53 R5.

    The NIST rules below check exactly what the PCI DSS, Serverless and AwsSolutions
    rules already acknowledged at the same construct check; the reason is the same,
    with the NIST controls it answers for named.
    """
    return f"NIST 800-53 R5 {controls}: {reason}"


FINAL_STATUSES = (Status.COMPLETED.value, Status.REJECTED.value, Status.RETURNED.value)


class PayoutsServiceStack(ConfiguredStack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cfg: PayoutsConfig,
        stateful: PayoutsStatefulStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            scope,
            construct_id,
            stack_name=cfg.stack_name("service"),
            description=f"Payouts {cfg.env_name}: functions, REST API, schedules, streams",
            env=cfg.cdk_environment,
            availability_zones=cfg.availability_zones,
            **kwargs,
        )
        self.cfg = cfg
        self.stateful = stateful
        self._import_send_only_queues()
        self.layer = PythonDependenciesLayer(
            self,
            "Dependencies",
            PythonLayerProps(
                requirements_file=LAMBDA_SRC / "requirements.txt",
                description="Payouts runtime dependencies (Powertools, cryptography)",
            ),
        ).layer
        self.code = package_code(LAMBDA_SRC, RUNTIME_PACKAGES)
        self.functions = {spec.name: self._function(spec) for spec in fn.FUNCTIONS}
        self.api = self._api()
        self._schedules()
        self._stream_to_balance_restorer()
        self._replay_queue_to_webhook_replay()
        self._outputs()

    def _import_send_only_queues(self) -> None:
        """Queues CDK grants sends to (event targets, destinations, function DLQs)."""

        def imported(construct_id: str, queue: sqs.IQueue) -> sqs.IQueue:
            return sqs.Queue.from_queue_attributes(
                self, construct_id, queue_arn=queue.queue_arn, queue_url=queue.queue_url
            )

        stateful = self.stateful
        self.balance_restore_dlq = imported(
            "BalanceRestoreDlqRef", stateful.balance_restore_dlq.queue
        )
        self.reconciler_dlq = imported("ReconcilerDlqRef", stateful.reconciler_dlq.queue)

    def _function(self, spec: FunctionSpec) -> SecureFunction:
        grants = access.ACCESS[spec.name]
        concurrency = (
            getattr(self.cfg, grants.reserved_concurrency_field)
            if grants.reserved_concurrency_field
            else None
        )
        function = SecureFunction(
            self,
            spec.name,
            SecureFunctionProps(
                spec=spec,
                code=self.code,
                layers=[self.layer],
                environment=self._environment(grants),
                application_log_level=self.cfg.powertools_log_level,
                log_encryption_key=self.stateful.logs_key,
                log_retention=self.cfg.lambda_log_retention,
                log_removal_policy=self.cfg.removal_policy,
                reserved_concurrency=concurrency,
                dead_letter_queue=self.reconciler_dlq if grants.async_dlq else None,
                no_dlq_reason=grants.no_dlq_reason,
                no_vpc_reason=NO_VPC_REASON,
            ),
        )
        self._grant(function, grants)
        self._acknowledge_nist(function, grants)
        return function

    def _acknowledge_nist(self, function: SecureFunction, grants: access.FunctionAccess) -> None:
        """Mirror SecureFunction's PCI DSS / Serverless acknowledgments for NIST."""
        nag.acknowledge(
            function.function,
            "NIST.800.53.R5-LambdaInsideVPC",
            nist("SC-7 (boundary protection), AC-4", NO_VPC_REASON),
        )
        if grants.no_dlq_reason:
            nag.acknowledge(
                function.function,
                "NIST.800.53.R5-LambdaDLQ",
                nist("SI-2a, SC-36(1)(a), CA-7", grants.no_dlq_reason),
            )

    def _environment(self, grants: access.FunctionAccess) -> dict[str, str]:
        stateful = self.stateful
        resources = {
            "MONOOVA_API_SECRET_ARN": stateful.monoova_api_secret.secret_arn,
            "MONOOVA_WEBHOOK_SECRET_ARN": stateful.monoova_webhook_secret.secret_arn,
            "WEBHOOK_DLQ_URL": stateful.webhook_dlq.queue.queue_url,
            "PII_KEY_ARN": stateful.pii_key.key_arn,
        }
        values = access.config_values(self.cfg) | resources
        env = access.common_env(self.cfg)
        env |= {
            g.table.env_var: stateful.tables[g.table.logical_name].table.table_name
            for g in grants.tables
        }
        env |= {name: values[name] for name in access.env_names(grants)}
        return env

    def _grant(self, secure_function: SecureFunction, grants: access.FunctionAccess) -> None:
        stateful = self.stateful
        function = secure_function.function
        for grant in grants.tables:
            stateful.tables[grant.table.logical_name].grant(
                function, *grant.actions, query_indexes=grant.query_indexes
            )
        if grants.decrypt_pii:
            stateful.pii_key.grant_decrypt(function)
        if grants.encrypt_pii:
            iam.Grant.add_to_principal(
                grantee=function,
                actions=["kms:GenerateDataKey"],
                resource_arns=[stateful.pii_key.key_arn],
                # Only the data keys the field crypto asks for (shared/fieldcrypto.py).
                conditions={
                    "StringEquals": {
                        f"kms:EncryptionContext:{k}": v for k, v in PII_CONTEXT.items()
                    }
                },
            )
        if grants.read_api_secret:
            self._grant_secret(function, stateful.monoova_api_secret.secret_arn)
        if grants.read_webhook_secret:
            self._grant_secret(function, stateful.monoova_webhook_secret.secret_arn)
        if grants.send_to_webhook_dlq:
            # Only SendMessage: CDK's grant_send_messages adds GetQueueAttributes/Url too.
            iam.Grant.add_to_principal(
                grantee=function,
                actions=["sqs:SendMessage"],
                resource_arns=[stateful.webhook_dlq.queue.queue_arn],
            )
        if grants.send_to_webhook_dlq or grants.async_dlq:
            self._grant_queue_key(function)

    def _grant_secret(self, function: lambda_.IFunction, secret_arn: str) -> None:
        iam.Grant.add_to_principal(
            grantee=function, actions=["secretsmanager:GetSecretValue"], resource_arns=[secret_arn]
        )
        grant_via_service(function, self.stateful.data_key, "secretsmanager", ["kms:Decrypt"])

    def _grant_queue_key(self, function: lambda_.IFunction) -> None:
        grant_queue_key(function, self.stateful.data_key, send=True)

    def _api(self) -> SecureRestApi:
        cfg = self.cfg
        api = SecureRestApi(
            self,
            "Api",
            SecureRestApiProps(
                api_name=cfg.resource_name("api"),
                description=f"Payouts {cfg.env_name} admin and webhook API",
                routes=fn.ROUTES,
                functions={name: f.function for name, f in self.functions.items()},
                user_pool=self.stateful.user_pool.user_pool,
                throttle_rate_limit=cfg.api_throttle_rate_limit,
                throttle_burst_limit=cfg.api_throttle_burst_limit,
                execution_logging_level=cfg.api_execution_logging_level,
                waf_rate_limit_per_5min_per_ip=cfg.waf_rate_limit_per_5min_per_ip,
                log_encryption_key=self.stateful.logs_key,
                log_retention=cfg.api_log_retention,
                log_removal_policy=cfg.removal_policy,
                no_cache_reason=NO_CACHE_REASON,
                public_route_reasons={"POST /webhooks/monoova": WEBHOOK_ROUTE_REASON},
            ),
        )
        # The same two findings SecureRestApi acknowledges for PCI DSS 3.2.1.
        nag.acknowledge(
            api.stage,
            "NIST.800.53.R5-APIGWSSLEnabled",
            nist("SC-8, SC-23, AC-17(2)", NO_CLIENT_CERTIFICATE_REASON),
        )
        nag.acknowledge(
            api.stage,
            "NIST.800.53.R5-APIGWCacheEnabledAndEncrypted",
            nist("SC-28(1), SC-8(3), AU-9(3)", NO_CACHE_REASON),
        )
        return api

    def _schedules(self) -> None:
        cfg = self.cfg
        self.reconcile_rule = self._schedule(
            "ReconcileSchedule",
            "reconcile",
            fn.RECONCILER,
            cfg.reconcile_interval_minutes,
            "Resolves Pending and UNKNOWN payouts through Monoova's status API",
        )
        self._schedule(
            "ReturnCheckSchedule",
            "return-check",
            fn.RECONCILER,
            cfg.return_check_interval_minutes,
            "Asks Monoova about completed payouts inside the NPP return window",
            event={"job": fn.RETURN_CHECK_JOB},
        )
        self._schedule(
            "RefundSweepSchedule",
            "refund-sweep",
            fn.REFUND_SWEEPER,
            cfg.refund_sweep_interval_minutes,
            "Credits Rejected/Returned payouts the table stream did not credit",
        )

    def _schedule(
        self,
        construct_id: str,
        job: str,
        spec: FunctionSpec,
        minutes: int,
        description: str,
        *,
        event: dict[str, str] | None = None,
    ) -> events.Rule:
        target = targets.LambdaFunction(
            self.functions[spec.name].function,
            retry_attempts=2,
            dead_letter_queue=self.reconciler_dlq,
            event=events.RuleTargetInput.from_object(event) if event else None,
        )
        return events.Rule(
            self,
            construct_id,
            rule_name=self.stateful.schedule_rule_names[job],
            description=description,
            schedule=events.Schedule.rate(cdk.Duration.minutes(minutes)),
            targets=[target],
        )

    def _stream_to_balance_restorer(self) -> None:
        restorer = self.functions[fn.BALANCE_RESTORER.name].function
        transactions = self.stateful.tables["Transactions"].table
        restorer.add_event_source(
            sources.DynamoEventSource(
                transactions,
                starting_position=lambda_.StartingPosition.TRIM_HORIZON,
                batch_size=10,
                bisect_batch_on_error=True,
                retry_attempts=5,
                report_batch_item_failures=True,
                # Lambda records a failed batch with the function's own role.
                on_failure=sources.SqsDlq(self.balance_restore_dlq),
                filters=[
                    lambda_.FilterCriteria.filter(
                        {
                            "dynamodb": {
                                "NewImage": {
                                    # Completed too: the consumer times payouts to their
                                    # final state; it credits only Rejected and Returned.
                                    "status": {"S": lambda_.FilterRule.or_(*FINAL_STATUSES)},
                                    "refunded_at": {"S": lambda_.FilterRule.not_exists()},
                                }
                            }
                        }
                    )
                ],
            )
        )
        self._grant_queue_key(restorer)

    def _replay_queue_to_webhook_replay(self) -> None:
        replay = self.functions[fn.WEBHOOK_REPLAY.name].function
        mapping_source = sources.SqsEventSource(
            self.stateful.webhook_replay_queue.queue, batch_size=10, report_batch_item_failures=True
        )
        replay.add_event_source(mapping_source)
        mapping = next(c for c in replay.node.children if isinstance(c, lambda_.EventSourceMapping))
        nag.acknowledge(
            mapping,
            "Serverless-LambdaEventSourceMappingDestination",
            "SQS event source mappings take no on-failure destination; failed messages "
            "return to WebhookReplayQueue, whose redrive policy moves them to WebhookDlq "
            "after the configured receive count.",
        )

    def _outputs(self) -> None:
        # Stateful ids and URLs are outputs of the stateful stack (re-exporting an
        # import here is what cfn-lint W6001 warns about).
        cdk.CfnOutput(self, "ApiUrl", value=self.api.url)
        cdk.CfnOutput(self, "RestApiId", value=self.api.api.rest_api_id)
