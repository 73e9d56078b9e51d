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
    with pytest.raises(ValueError, match="rate"):
        usage.runs_per_month("cron(0 12 * * ? *)")


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
