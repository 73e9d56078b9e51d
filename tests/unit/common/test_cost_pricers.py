"""One test per resource kind the cost model prices, each expectation worked by hand from
the cited price lines (cost_model/prices/<region>.json, 2025-06-01):

ap-south-1: KMS key $1.00/month; secret $0.40/month; alarm metric $0.10, high-resolution
$0.30; dashboard $3.00; web ACL $5.00 + $1.00 a rule; NAT $0.056/h; public IPv4 $0.005/h;
interface endpoint $0.011/h per AZ; db.r6g.large $0.250/h; gp3 $0.131/GB-month; RDS Proxy
$0.018/vCPU-h; Cognito Plus $0.02/MAU; Lambda arm64 $0.0000133334/GB-s + $0.20/M requests;
API Gateway $3.50/M; WAF $0.60/M; DynamoDB $0.1423/M RRU, $0.7116/M WRU (and replicated
WRU in ap-southeast-1); SQS $0.40/M. Global: Route 53 health check $0.75 + $2.00 a feature.
A month is 730 hours.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from config.cost import CostConfig, Footprint, Invocation, TableUse, Usage
from cost_model import fixed, usage
from cost_model.assembly import Resource, Stack
from cost_model.fixed import Environment

MUMBAI, SINGAPORE = "ap-south-1", "ap-southeast-1"
COST = CostConfig(operations_per_day=100, monthly_budget_usd=Decimal(100), active_staff_users=400)


def stack(*resources: Resource, region: str = MUMBAI) -> Stack:
    return Stack("engine-test-x", "engine", "test", region, tuple(resources))


def res(kind: str, logical_id: str = "Thing", **properties: Any) -> Resource:
    return Resource(logical_id, kind, properties)


def env(*stacks: Stack, cost: CostConfig = COST) -> Environment:
    return Environment("engine", "test", MUMBAI, cost, tuple(stacks))


def floor(*resources: Resource, region: str = MUMBAI) -> Decimal:
    return sum(
        (line.usd for line in fixed.floor_lines(env(stack(*resources, region=region)))), Decimal(0)
    )


def test_a_kms_key_or_replica_key_is_a_dollar_a_month() -> None:
    assert floor(res("AWS::KMS::Key"), res("AWS::KMS::ReplicaKey", "Replica")) == Decimal("2.00")


def test_a_secret_is_billed_once_in_each_region_it_is_replicated_to() -> None:
    secret = res("AWS::SecretsManager::Secret", ReplicaRegions=[{"Region": SINGAPORE}])
    lines = fixed.floor_lines(env(stack(secret)))
    assert [(line.region, line.usd) for line in lines] == [
        (MUMBAI, Decimal("0.40")),
        (SINGAPORE, Decimal("0.40")),
    ]


def test_alarms_are_billed_per_metric_they_read() -> None:
    plain = res("AWS::CloudWatch::Alarm", "Plain", MetricName="Errors", Period=60)
    math = res(
        "AWS::CloudWatch::Alarm",
        "Math",
        Metrics=[
            {"Id": "a", "MetricStat": {"Period": 300}},
            {"Id": "b", "MetricStat": {"Period": 300}},
            {"Id": "rate", "Expression": "a/b"},
        ],
    )
    fast = res("AWS::CloudWatch::Alarm", "Fast", MetricName="Errors", Period=10)
    # 0.10 + 2 x 0.10 + 0.30
    assert floor(plain, math, fast) == Decimal("0.60")


def test_a_dashboard_is_three_dollars() -> None:
    assert floor(res("AWS::CloudWatch::Dashboard")) == Decimal("3.00")


def test_a_web_acl_is_five_dollars_and_a_dollar_a_rule() -> None:
    acl = res("AWS::WAFv2::WebACL", Rules=[{"Name": "a"}, {"Name": "b"}, {"Name": "c"}])
    assert floor(acl) == Decimal("8.00")


def test_nat_gateway_and_its_address_run_every_hour() -> None:
    # 730 x 0.056 = 40.88; 730 x 0.005 = 3.65
    assert floor(res("AWS::EC2::NatGateway")) == Decimal("40.880")
    assert floor(res("AWS::EC2::EIP")) == Decimal("3.650")


def test_interface_endpoints_are_billed_per_zone_and_gateway_endpoints_are_free() -> None:
    interface = res("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a", "b"])
    gateway = res("AWS::EC2::VPCEndpoint", "S3", VpcEndpointType="Gateway")
    assert floor(interface) == Decimal("16.060")  # 2 x 730 x 0.011
    assert floor(gateway) == 0


def test_a_multi_az_database_bills_its_instance_and_storage_twice() -> None:
    database = res(
        "AWS::RDS::DBInstance",
        DBInstanceClass="db.r6g.large",
        MultiAZ=True,
        AllocatedStorage="100",
        StorageType="gp3",
    )
    # 2 x 730 x 0.250 = 365.00; 2 x 100 x 0.131 = 26.20
    assert floor(database) == Decimal("391.200")


def test_a_read_replica_stores_as_much_as_its_source() -> None:
    primary = res(
        "AWS::RDS::DBInstance", "Primary", DBInstanceClass="db.r6g.large", AllocatedStorage="100"
    )
    replica = res(
        "AWS::RDS::DBInstance", "Replica", DBInstanceClass="db.r6g.large", StorageType="gp2"
    )
    lines = fixed.db_instance(replica, stack(primary, replica), env(stack(primary, replica)))
    assert lines[1].usd == Decimal("13.100")  # 100 GB x 0.131


def test_rds_proxy_bills_the_proxied_vcpus_with_a_minimum_of_two() -> None:
    big = res("AWS::RDS::DBInstance", "Big", DBInstanceClass="db.r6g.xlarge")
    small = res("AWS::RDS::DBInstance", "Small", DBInstanceClass="db.t4g.medium")
    proxy = res("AWS::RDS::DBProxy", "Proxy")
    targets = res(
        "AWS::RDS::DBProxyTargetGroup",
        "Targets",
        DBProxyName={"Ref": "Proxy"},
        DBInstanceIdentifiers=[{"Ref": "Big"}],
    )
    # 4 vCPUs x 730 x 0.018 = 52.56
    assert fixed.db_proxy(proxy, stack(big, proxy, targets), env())[0].usd == Decimal("52.560")
    targets_small = res(
        "AWS::RDS::DBProxyTargetGroup",
        "Targets",
        DBProxyName={"Ref": "Proxy"},
        DBInstanceIdentifiers=[{"Ref": "Small"}],
    )
    # 2 vCPUs x 730 x 0.018 = 26.28
    assert fixed.db_proxy(proxy, stack(small, proxy, targets_small), env())[0].usd == Decimal(
        "26.280"
    )


def test_cognito_bills_active_staff_by_tier_and_nothing_in_the_standby_region() -> None:
    plus = res("AWS::Cognito::UserPool", UserPoolTier="PLUS")
    essentials = res("AWS::Cognito::UserPool", "Essentials", UserPoolTier="ESSENTIALS")
    assert floor(plus) == Decimal("8.00")  # 400 x 0.02, no free tier on Plus
    assert floor(essentials) == 0  # 400 is inside Essentials' 10,000 free
    assert floor(plus, region=SINGAPORE) == 0


def test_an_https_health_check_pays_for_its_optional_feature() -> None:
    check = res(
        "AWS::Route53::HealthCheck", HealthCheckConfig={"Type": "HTTPS", "RequestInterval": 30}
    )
    assert floor(check) == Decimal("2.75")  # 0.75 + 1 feature x 2.00


def test_checks_that_call_no_endpoint_are_basic_aws_endpoint_checks() -> None:
    calculated = res(
        "AWS::Route53::HealthCheck",
        HealthCheckConfig={"Type": "CALCULATED", "ChildHealthChecks": ["a"], "HealthThreshold": 1},
    )
    alarm = res(
        "AWS::Route53::HealthCheck",
        "Switch",
        HealthCheckConfig={"Type": "CLOUDWATCH_METRIC", "AlarmIdentifier": {"Name": "a"}},
    )
    assert floor(calculated) == floor(alarm) == Decimal("0.50")
    footprint = Footprint(
        system="engine", unit="op", steps=(), per_health_check=Usage(api_requests=Decimal(1))
    )
    assert usage.background_lines(footprint, env(stack(calculated, alarm))) == []


def pricer(*stacks: Stack) -> usage.UsagePricer:
    return usage.UsagePricer(env(*stacks))


def test_an_invocation_costs_its_gb_seconds_at_the_template_memory_and_a_request() -> None:
    function = res(
        "AWS::Lambda::Function", FunctionName="engine-test-worker", MemorySize=512,
        Architectures=["arm64"],
    )  # fmt: skip
    lines = pricer(stack(function)).invocation(Invocation(function="worker", duration_ms=800))
    # 0.5 GB x 0.8 s = 0.4 GB-s x 0.0000133334 + 0.20 / 1e6
    assert lines[0].usd == Decimal("0.4") * Decimal("0.0000133334") + Decimal("0.0000002")


def test_a_planned_function_is_priced_at_its_planned_memory_until_it_exists() -> None:
    call = Invocation(function="later", duration_ms=1000, planned_memory_mb=1024)
    (line,) = pricer(stack()).invocation(call)
    assert line.usd == Decimal("0.0000133334") + Decimal("0.0000002")
    assert "planned" in line.item
    with pytest.raises(LookupError, match="no function 'missing'"):
        pricer(stack()).invocation(Invocation(function="missing", duration_ms=1))


def test_a_global_table_pays_replicated_writes_in_each_other_region() -> None:
    table = res(
        "AWS::DynamoDB::GlobalTable",
        TableName="engine-test-orders",
        Replicas=[{"Region": MUMBAI}, {"Region": SINGAPORE}],
    )
    lines = pricer(stack(table)).table_use(
        TableUse(table="orders", read_units=Decimal(1), write_units=Decimal(4))
    )
    by_item = {line.item: line.usd for line in lines if line.usd}
    million = Decimal(1_000_000)
    assert by_item["orders requests"] == (Decimal("0.1423") + 4 * Decimal("0.7116")) / million
    assert by_item["orders replicated writes"] == 4 * Decimal("0.7116") / million


def test_an_api_request_pays_api_gateway_and_the_web_acl() -> None:
    lines = pricer(stack()).price(Usage(api_requests=Decimal(1_000_000)))
    assert {line.service: line.usd for line in lines} == {
        "API Gateway": Decimal("3.50"),
        "WAF": Decimal("0.60"),
    }


def test_a_rate_schedule_runs_730_hours_worth_a_month() -> None:
    assert usage.runs_per_month("rate(5 minutes)") == Decimal(8760)
    assert usage.runs_per_month("rate(1 hour)") == Decimal(730)


def test_a_daily_cron_runs_its_times_every_day_of_the_month() -> None:
    assert usage.runs_per_month("cron(30 20 * * ? *)") == usage.DAYS_PER_MONTH
    assert usage.runs_per_month("cron(0 12 ? * * *)") == usage.DAYS_PER_MONTH
    assert usage.runs_per_month("cron(0,30 1,13 * * ? *)") == 4 * usage.DAYS_PER_MONTH
    # Anything else is refused rather than guessed at.
    for expression in (
        "cron(0 12 ? * MON-FRI *)",
        "cron(0/5 * * * ? *)",
        "cron(0 12 1 * ? *)",
        "cron(0 12 * * * *)",
    ):
        with pytest.raises(ValueError, match=r"rate.*daily cron"):
            usage.runs_per_month(expression)


def test_lambda_long_polls_an_idle_sqs_source_all_month() -> None:
    mapping = res("AWS::Lambda::EventSourceMapping", EventSourceArn="arn:aws:sqs:x")
    stream = res("AWS::Lambda::EventSourceMapping", "Stream", StartingPosition="LATEST")
    footprint = Footprint(system="engine", unit="op", steps=())
    lines = usage.background_lines(footprint, env(stack(mapping, stream)))
    # 5 pollers x 2,628,000 s / 20 s = 657,000 requests x 0.40 / 1e6
    assert [line.usd for line in lines if line.service == "SQS"] == [Decimal("0.2628")]


def test_health_checks_bring_traffic_from_every_checker() -> None:
    check = res(
        "AWS::Route53::HealthCheck", HealthCheckConfig={"Type": "HTTPS", "RequestInterval": 30}
    )
    footprint = Footprint(
        system="engine", unit="op", steps=(), per_health_check=Usage(api_requests=Decimal(1))
    )
    lines = usage.background_lines(footprint, env(stack(check)))
    requests = Decimal(16) * Decimal(2_628_000) / 30  # 1,401,600
    api = next(line for line in lines if line.service == "API Gateway")
    assert api.usd == requests * Decimal("3.50") / 1_000_000


def test_a_composite_alarm_and_a_hosted_zone_are_fifty_cents_each() -> None:
    assert floor(res("AWS::CloudWatch::CompositeAlarm")) == Decimal("0.50")
    assert floor(res("AWS::Route53::HostedZone")) == Decimal("0.50")


GIB = 1024**3
MILLION = Decimal(1_000_000)


def by_item(lines: list[Any]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = {}
    for line in lines:
        totals[line.item] = totals.get(line.item, Decimal(0)) + line.usd
    return totals


def test_requests_to_the_smaller_services_are_priced_per_million() -> None:
    lines = pricer(stack()).price(
        Usage(
            kms_requests=MILLION,
            secrets_calls=MILLION,
            sqs_requests=MILLION,
            sns_publishes=MILLION,
            xray_traces=MILLION,
            custom_events=MILLION,
        )
    )
    assert {line.service: line.usd for line in lines} == {
        "KMS": Decimal("3.00"),  # 0.03 per 10,000
        "Secrets Manager": Decimal("5.00"),  # 0.05 per 10,000
        "SQS": Decimal("0.40"),
        "SNS": Decimal("0.50"),
        "X-Ray": Decimal("5.00"),
        "EventBridge": Decimal("1.00"),
    }


def test_archived_events_pay_processing_and_storage_to_the_horizon() -> None:
    archive = res("AWS::Events::Archive", RetentionDays=365)
    lines = pricer(stack(archive)).price(Usage(custom_events=MILLION))
    gigabytes = MILLION * 1024 / GIB
    # 0.10 a GB archived + 12 months x 0.025 a GB-month
    assert by_item(lines)["archive"] == gigabytes * (Decimal("0.10") + 12 * Decimal("0.025"))


def test_logs_pay_ingestion_and_compressed_storage_for_their_retention() -> None:
    group = res("AWS::Logs::LogGroup", RetentionInDays=90)
    flow = res("AWS::EC2::FlowLog", "Flow")
    lines = by_item(pricer(stack(group, flow)).price(Usage(log_bytes=GIB, nat_bytes=GIB)))
    assert lines["ingestion"] == Decimal("0.50")
    assert lines["storage"] == Decimal("0.15") * 3 * Decimal("0.03")  # 90 days = 3 months
    assert lines["VPC flow logs"] == Decimal("0.05") * Decimal("0.50")
    assert lines["NAT processing"] == Decimal("0.056")
    assert lines["internet out"] == Decimal("0.1093")


def test_cloudfront_is_priced_at_india_edge_rates_with_its_web_acl() -> None:
    lines = by_item(pricer(stack()).price(Usage(cdn_requests=Decimal(10_000), cdn_bytes=GIB)))
    assert lines["HTTPS requests"] == Decimal("0.0120")
    assert lines["data out"] == Decimal("0.109")
    assert lines["CloudFront requests"] == Decimal("0.006")  # WAF: 10,000 x 0.60 / 1e6


def test_replicated_objects_pay_put_storage_and_transfer_in_the_dr_region() -> None:
    bucket = res(
        "AWS::S3::Bucket",
        ReplicationConfiguration={
            "Rules": [{"Destination": {"Bucket": "arn:aws:s3:::docs-1-ap-southeast-1"}}]
        },
    )
    usage_ = Usage(s3_puts=Decimal(1000), s3_gets=Decimal(1000), s3_stored_bytes=GIB)
    lines = pricer(stack(bucket)).price(usage_)
    items = by_item(lines)
    assert items["requests"] == Decimal("0.0054")  # 0.005 + 0.0004 per 1,000
    assert items["storage"] == 12 * Decimal("0.025")
    assert items["replica PUTs"] == Decimal("0.005")
    assert items["replica storage"] == 12 * Decimal("0.025")
    assert items["S3 replication"] == Decimal("0.086")
    assert {line.region for line in lines if line.item.startswith("replica")} == {SINGAPORE}


DR_VAULT = "arn:aws:backup:ap-southeast-1:111111111111:backup-vault:dr"


def test_backed_up_tables_keep_daily_full_copies_and_copy_them_to_dr() -> None:
    table = res("AWS::DynamoDB::Table", TableName="engine-test-ledger")
    plan = res(
        "AWS::Backup::BackupPlan",
        "Plan",
        BackupPlan={
            "BackupPlanRule": [
                {
                    "Lifecycle": {"DeleteAfterDays": 35},
                    "CopyActions": [
                        {
                            "DestinationBackupVaultArn": DR_VAULT,
                            "Lifecycle": {"DeleteAfterDays": 7},
                        }
                    ],
                }
            ]
        },
    )
    lines = pricer(stack(table, plan)).table_use(TableUse(table="ledger", stored_bytes=GIB))
    items = by_item(lines)
    stored = Decimal(12)  # GB after 12 months of one GB a month
    assert items["ledger storage"] == stored * Decimal("0.285")  # no PITR on this table
    assert items["ledger daily backups"] == stored * 35 * Decimal("0.114")
    assert items["DR copies"] == stored * 7 * Decimal("0.114")
    days = Decimal(730) / 24
    assert items["backup copies"] == stored * days * Decimal("0.086")


def test_interface_endpoints_and_a_cross_region_replica_carry_the_functions_bytes() -> None:
    endpoint = res("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a"])
    replica = res(
        "AWS::RDS::DBInstance", "Replica", DBInstanceClass="db.r6g.large",
        SourceDBInstanceIdentifier="arn:aws:rds:ap-south-1:1:db:primary",
    )  # fmt: skip
    usage_ = Usage(endpoint_bytes=GIB, database_bytes=GIB)
    with_both = by_item(pricer(stack(endpoint), stack(replica, region=SINGAPORE)).price(usage_))
    assert with_both["interface endpoint processing"] == Decimal("0.01")
    assert with_both["database replication"] == Decimal("0.086")  # out of Mumbai
    assert by_item(pricer(stack()).price(usage_)) == {}


def test_performance_insights_beyond_its_free_week_is_refused_until_priced() -> None:
    database = res(
        "AWS::RDS::DBInstance", DBInstanceClass="db.r6g.large", AllocatedStorage="20",
        EnablePerformanceInsights=True, PerformanceInsightsRetentionPeriod=731,
    )  # fmt: skip
    with pytest.raises(KeyError, match="performance_insights"):
        floor(database)
