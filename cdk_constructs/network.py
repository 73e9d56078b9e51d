"""A three-tier VPC on exact subnet CIDRs, closed by default.

Tiers: public (NAT gateways and the internet gateway route only), private-app
(functions and the RDS proxy; egress through NAT) and private-db (isolated: no
route out at all). Always, whatever the props:

* the subnet CIDRs are the ones given (CDK's allocator would pick its own);
* public subnets never hand out public IPs;
* flow logs (all traffic) go to a CMK-encrypted log group that expires, through
  a role whose one permission is writing to that log group;
* S3 and DynamoDB are reached through gateway endpoints, the other AWS APIs the
  functions call through interface endpoints reachable only from `lambda_sg`;
* the DB subnets' network ACL admits PostgreSQL (5432) from the app subnets only,
  and lets out only the ephemeral-port replies to them;
* security groups: `lambda_sg` -> `proxy_sg` on 5432 -> `db_sg` on 5432. The only
  other rules are `lambda_sg`'s HTTPS egress (AWS endpoints and, through NAT,
  the providers' HTTPS APIs) and the endpoints' HTTPS ingress from `lambda_sg`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from constructs import Construct

from cdk_constructs import nag
from cdk_constructs.log_group import EncryptedLogGroup, EncryptedLogGroupProps

POSTGRES_PORT = 5432
HTTPS_PORT = 443
EPHEMERAL_PORTS = (1024, 65535)

PUBLIC, APP, DB = "Public", "App", "Db"

# The AWS APIs the engine's functions call from inside the VPC; nothing else gets
# an interface endpoint (each costs money per zone). RDS is reached on its own
# endpoint in the DB subnets; the RDS *API* is not called by the functions.
INTERFACE_ENDPOINTS: dict[str, ec2.InterfaceVpcEndpointAwsService] = {
    "SecretsManager": ec2.InterfaceVpcEndpointAwsService.SECRETS_MANAGER,
    "Kms": ec2.InterfaceVpcEndpointAwsService.KMS,
    "Sqs": ec2.InterfaceVpcEndpointAwsService.SQS,
    "Sns": ec2.InterfaceVpcEndpointAwsService.SNS,
    "Logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "Monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "XRay": ec2.InterfaceVpcEndpointAwsService.XRAY,
    "Events": ec2.InterfaceVpcEndpointAwsService.EVENTBRIDGE,
}

PUBLIC_ROUTE_REASON = (
    "The only route to the internet gateway is the public subnets' default route, and "
    "the public subnets hold nothing but the NAT gateways (no instance, no public IP "
    "on launch): the NAT gateways need it to give the app subnets outbound-only "
    "access to the providers' HTTPS APIs (LMS, RazorPay, JusPay)."
)

DEFAULT_SG_REASON = (
    "No resource is ever placed in the VPC's default security group: every ENI this "
    "platform creates (functions, proxy, database, endpoints) names one of this "
    "construct's security groups, which allow only the lambda->proxy->db 5432 path "
    "and HTTPS. Emptying the default group's rules needs a custom-resource Lambda "
    "(restrict_default_security_group), more to secure than it removes."
)
PINNED_ZONES_REASON = (
    "W3010 (avoid hardcoding availability zones): the zones are config on purpose. Each "
    "subnet's CIDR is pinned to a zone, the database and proxy subnet groups name the same "
    "zones in both Regions, and reading them from Fn::GetAZs would need a context lookup "
    "with AWS credentials at synth."
)
NACL_REASON = (
    "Deliberate second layer under the security groups, on the DB subnets only: "
    "PostgreSQL (5432) in from the app subnets and the ephemeral-port replies back to "
    "them, nothing else; the security groups stay the primary control (SC-7 defence "
    "in depth for the cardholder and loan data)."
)


@dataclass(frozen=True)
class ThreeTierVpcProps:
    vpc_cidr: str
    availability_zones: Sequence[str]
    public_subnet_cidrs: Sequence[str]
    app_subnet_cidrs: Sequence[str]
    db_subnet_cidrs: Sequence[str]
    nat_gateways: int
    flow_log_key: kms.IKey
    flow_log_retention: logs.RetentionDays
    removal_policy: cdk.RemovalPolicy
    # The DR region's standby: a read replica has no RDS proxy in front of it (RDS Proxy
    # targets primaries only), so its health checks connect to PostgreSQL directly.
    functions_reach_database_directly: bool = False


class ThreeTierVpc(Construct):
    def __init__(self, scope: Construct, construct_id: str, props: ThreeTierVpcProps) -> None:
        super().__init__(scope, construct_id)
        _check(props)
        self.props = props
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(props.vpc_cidr),
            availability_zones=list(props.availability_zones),
            nat_gateways=props.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=PUBLIC,
                    subnet_type=ec2.SubnetType.PUBLIC,
                    cidr_mask=24,
                    map_public_ip_on_launch=False,
                ),
                ec2.SubnetConfiguration(
                    name=APP, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name=DB, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                ),
            ],
            enable_dns_hostnames=True,
            enable_dns_support=True,
            restrict_default_security_group=False,
        )
        self._pin_subnet_cidrs()
        self._close_default_security_group()
        self.public_subnets = self.vpc.public_subnets
        self.app_subnets = self.vpc.private_subnets
        self.db_subnets = self.vpc.isolated_subnets
        self.flow_log_group = self._flow_logs()
        self._security_groups()
        self._endpoints()
        self.db_network_acl = self._db_network_acl()
        for subnet in self.public_subnets:
            route = subnet.node.find_child("DefaultRoute")
            for rule in ("NIST.800.53.R5", "PCI.DSS.321"):
                nag.acknowledge(route, f"{rule}-VPCNoUnrestrictedRouteToIGW", PUBLIC_ROUTE_REASON)

    # ----------------------------------------------------------------- subnets

    def _pin_subnet_cidrs(self) -> None:
        """Override CDK's allocation with the given CIDRs, tier by tier, zone by zone."""
        props = self.props
        for subnets, cidrs in (
            (self.vpc.public_subnets, props.public_subnet_cidrs),
            (self.vpc.private_subnets, props.app_subnet_cidrs),
            (self.vpc.isolated_subnets, props.db_subnet_cidrs),
        ):
            for subnet, cidr in zip(subnets, cidrs, strict=True):
                cfn_subnet = cast(ec2.CfnSubnet, subnet.node.default_child)
                cfn_subnet.cidr_block = cidr
                nag.acknowledge_template_check(cfn_subnet, "W3010", PINNED_ZONES_REASON)

    def _close_default_security_group(self) -> None:
        """Nothing uses the VPC's default security group; NIST asks that it allow nothing.

        CDK's `restrict_default_security_group` does it with a custom-resource Lambda;
        the rule (VPCDefaultSecurityGroupClosed) cannot see that, and a Lambda to delete
        two rules is more to secure than it removes, so the finding is acknowledged
        with the operational control instead.
        """
        for rule in ("NIST.800.53.R5", "PCI.DSS.321"):
            nag.acknowledge(self.vpc, f"{rule}-VPCDefaultSecurityGroupClosed", DEFAULT_SG_REASON)

    # ----------------------------------------------------------------- flow logs

    def _flow_logs(self) -> logs.ILogGroup:
        props = self.props
        log_group = EncryptedLogGroup(
            self,
            "FlowLogs",
            EncryptedLogGroupProps(
                encryption_key=props.flow_log_key,
                retention=props.flow_log_retention,
                removal_policy=props.removal_policy,
            ),
        ).log_group
        role = iam.Role(
            self,
            "FlowLogsRole",
            assumed_by=iam.ServicePrincipal("vpc-flow-logs.amazonaws.com"),
            description="VPC flow logs: write to the flow log group only",
        )
        # A managed policy, not the role's inline DefaultPolicy (PCI IAMNoInlinePolicy).
        iam.ManagedPolicy(
            self,
            "FlowLogsPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    actions=[
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                    ],
                    # The L2's ARN already ends in ':*': this group's streams, no other.
                    resources=[log_group.log_group_arn],
                )
            ],
        )
        ec2.CfnFlowLog(
            self,
            "FlowLog",
            resource_id=self.vpc.vpc_id,
            resource_type="VPC",
            traffic_type="ALL",
            log_destination_type="cloud-watch-logs",
            log_group_name=log_group.log_group_name,
            deliver_logs_permission_arn=role.role_arn,
        )
        return log_group

    # ----------------------------------------------------------------- security groups

    def _security_groups(self) -> None:
        vpc = self.vpc
        self.lambda_sg = ec2.SecurityGroup(
            self,
            "LambdaSg",
            vpc=vpc,
            description="Functions: 5432 to the RDS proxy, HTTPS out; no ingress",
            allow_all_outbound=False,
        )
        self.proxy_sg = ec2.SecurityGroup(
            self,
            "ProxySg",
            vpc=vpc,
            description="RDS proxy: 5432 from functions, 5432 to the database",
            allow_all_outbound=False,
        )
        self.db_sg = ec2.SecurityGroup(
            self,
            "DbSg",
            vpc=vpc,
            description="PostgreSQL: 5432 from the RDS proxy only",
            allow_all_outbound=False,
        )
        self.endpoint_sg = ec2.SecurityGroup(
            self,
            "EndpointSg",
            vpc=vpc,
            description="Interface endpoints: HTTPS from functions only",
            allow_all_outbound=False,
        )
        pg = ec2.Port.tcp(POSTGRES_PORT)
        self.lambda_sg.connections.allow_to(self.proxy_sg, pg, "Functions to the RDS proxy")
        self.proxy_sg.connections.allow_to(self.db_sg, pg, "RDS proxy to PostgreSQL")
        if self.props.functions_reach_database_directly:
            self.lambda_sg.connections.allow_to(
                self.db_sg, pg, "Functions to the standby replica (no proxy before promotion)"
            )
        self.endpoint_sg.add_ingress_rule(
            self.lambda_sg, ec2.Port.tcp(HTTPS_PORT), "Functions to AWS APIs"
        )
        self.lambda_sg.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(HTTPS_PORT),
            "HTTPS: AWS endpoints (gateway ones have no fixed address) and providers via NAT",
        )

    # ----------------------------------------------------------------- endpoints

    def _endpoints(self) -> None:
        vpc = self.vpc
        app = ec2.SubnetSelection(subnet_group_name=APP)
        self.gateway_endpoints = {
            "S3": vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[app]
            ),
            "DynamoDb": vpc.add_gateway_endpoint(
                "DynamoDbEndpoint",
                service=ec2.GatewayVpcEndpointAwsService.DYNAMODB,
                subnets=[app],
            ),
        }
        self.interface_endpoints = {
            name: vpc.add_interface_endpoint(
                f"{name}Endpoint",
                service=service,
                subnets=app,
                security_groups=[self.endpoint_sg],
                open=False,
                private_dns_enabled=True,
            )
            for name, service in INTERFACE_ENDPOINTS.items()
        }

    # ----------------------------------------------------------------- NACL

    def _db_network_acl(self) -> ec2.NetworkAcl:
        acl = ec2.NetworkAcl(
            self,
            "DbAcl",
            vpc=self.vpc,
            subnet_selection=ec2.SubnetSelection(subnet_group_name=DB),
        )
        nag.acknowledge(acl, "AwsSolutions-VPC3", NACL_REASON)
        low, high = EPHEMERAL_PORTS
        for number, cidr in enumerate(self.props.app_subnet_cidrs):
            acl.add_entry(
                f"PostgresFromApp{number}",
                cidr=ec2.AclCidr.ipv4(cidr),
                rule_number=100 + number,
                traffic=ec2.AclTraffic.tcp_port(POSTGRES_PORT),
                direction=ec2.TrafficDirection.INGRESS,
                rule_action=ec2.Action.ALLOW,
            )
            acl.add_entry(
                f"RepliesToApp{number}",
                cidr=ec2.AclCidr.ipv4(cidr),
                rule_number=100 + number,
                traffic=ec2.AclTraffic.tcp_port_range(low, high),
                direction=ec2.TrafficDirection.EGRESS,
                rule_action=ec2.Action.ALLOW,
            )
        return acl


def _check(props: ThreeTierVpcProps) -> None:
    zones = len(props.availability_zones)
    for tier, cidrs in (
        ("public", props.public_subnet_cidrs),
        ("app", props.app_subnet_cidrs),
        ("db", props.db_subnet_cidrs),
    ):
        if len(cidrs) != zones:
            raise ValueError(f"{tier}: {len(cidrs)} subnet CIDRs for {zones} zones")
    if not 1 <= props.nat_gateways <= zones:
        raise ValueError(f"nat_gateways must be 1 to {zones}")
    if props.flow_log_retention == logs.RetentionDays.INFINITE:
        raise ValueError("flow logs must expire")
