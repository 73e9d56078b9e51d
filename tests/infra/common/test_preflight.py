"""`make preflight`: an account's quotas against an environment's synthesized stacks (issue 11 #2).

Against moto, with the account values moto cannot model (Lambda's account settings, the SNS
SMS sandbox, SES's account, the EC2 Elastic IP quota) set per test on the client that reads
them: a new account with a limit of 10, one with room, a redeploy, full VPC quota, the
messaging sandboxes.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from scripts import preflight
from scripts.preflight_checks import OK, REQUEST
from tests.infra.engine_synth import EngineSynth
from tests.infra.synth import ROOT, Synth

MOTO_ACCOUNT = "123456789012"


class Override:
    """A moto client with some methods answered by the test instead."""

    def __init__(self, client: Any, **methods: Callable[..., Any]) -> None:
        self._client = client
        self._methods = methods

    def __getattr__(self, name: str) -> Any:
        return self._methods.get(name) or getattr(self._client, name)


class Account:
    """The account under test: moto, plus what moto cannot model."""

    def __init__(self, *, limit: int = 1000, unreserved: int | None = None) -> None:
        self.limit = limit
        self.unreserved = limit if unreserved is None else unreserved
        self.sms_sandbox = True
        self.ses_production = False
        self.ses_per_day = 200.0
        self.deployed: dict[tuple[str, str], str] = {}  # (stack, logical id) -> function
        self.ec2_quotas_readable = True

    def __call__(self, service: str, region: str) -> Any:
        client = boto3.client(service, region_name=region)
        overrides: dict[str, dict[str, Callable[..., Any]]] = {
            "lambda": {"get_account_settings": self._lambda_settings},
            "sns": {"get_sms_sandbox_account_status": lambda: {"IsInSandbox": self.sms_sandbox}},
            "sesv2": {"get_account": self._ses_account},
            "service-quotas": {"get_service_quota": self._quota(client)},
            "cloudformation": {"describe_stack_resource": self._stack_resource(client)},
        }
        return Override(client, **overrides.get(service, {}))

    def _lambda_settings(self) -> dict[str, Any]:
        return {
            "AccountLimit": {
                "ConcurrentExecutions": self.limit,
                "UnreservedConcurrentExecutions": self.unreserved,
            }
        }

    def _ses_account(self) -> dict[str, Any]:
        return {
            "ProductionAccessEnabled": self.ses_production,
            "SendQuota": {"Max24HourSend": self.ses_per_day},
        }

    def _quota(self, client: Any) -> Callable[..., Any]:
        def get_service_quota(ServiceCode: str, QuotaCode: str) -> Any:
            if ServiceCode == "ec2" and self.ec2_quotas_readable:  # moto has vpc's only
                return {"Quota": {"Value": 5.0}}
            return client.get_service_quota(ServiceCode=ServiceCode, QuotaCode=QuotaCode)

        return get_service_quota

    def _stack_resource(self, client: Any) -> Callable[..., Any]:
        def describe_stack_resource(StackName: str, LogicalResourceId: str) -> Any:
            function = self.deployed.get((StackName, LogicalResourceId))
            if function is None:  # moto's own answer: the stack does not exist
                return client.describe_stack_resource(
                    StackName=StackName, LogicalResourceId=LogicalResourceId
                )
            return {"StackResourceDetail": {"PhysicalResourceId": function}}

        return describe_stack_resource


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "ap-south-1",
        # The environments deploy to moto's account.
        "CDK_ACCOUNT_ENGINE_PROD": MOTO_ACCOUNT,
        "CDK_ACCOUNT_PAYOUTS_PROD": MOTO_ACCOUNT,
        "CDK_ACCOUNT_PAYOUTS_DEV": MOTO_ACCOUNT,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def _run(args: list[str], account: Account) -> tuple[int, list[str]]:
    out = io.StringIO()
    with redirect_stdout(out):
        code = preflight.main(args, clients=account)
    return code, out.getvalue().splitlines()


def _engine(engine_synth_of: Callable[[str], EngineSynth]) -> list[str]:
    return ["--env", "prod", "--system", "engine", "--cdk-out", str(engine_synth_of("prod").outdir)]


def _line(lines: list[str], region: str, subject: str) -> str:
    start = lines.index(region)
    following = lines[start + 1 :]
    end = next((i for i, line in enumerate(following) if not line.startswith("  ")), None)
    return next(line for line in following[:end] if f" {subject}: " in line)


# --------------------------------------------------------------------------- Lambda


def test_a_new_account_with_a_limit_of_10_is_told_what_to_request(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    code, lines = _run(_engine(engine_synth_of), Account(limit=10))
    assert code == 1
    mumbai = _line(lines, "ap-south-1", "Lambda concurrency")
    assert mumbai.split()[0] == REQUEST
    # 125 reserved in Mumbai (two health functions 20, the migrator 1, the business functions
    # 104: the LMS poster 2, its sweep and heartbeat 1 each, InternalLms 2 and LoanSync 1,
    # and the staff engine's 22: InternalCollections 10, StaffSignIn 5, InternalDcr,
    # InternalAudit and InternalUsers 2 each, HrmsSync 1) + Lambda's 100 unreserved; Singapore
    # the same, with the stream lookup in place of the migrator.
    assert "reserve 125" in mumbai
    assert "'Concurrent executions'" in mumbai and "L-B99A9384" in mumbai
    assert mumbai.endswith("in ap-south-1 to at least 225")
    singapore = _line(lines, "ap-southeast-1", "Lambda concurrency")
    assert singapore.endswith("in ap-southeast-1 to at least 225")
    # Lambda, and the SMS and e-mail sandboxes, in both regions.
    assert lines[-1].startswith("6 to request and 0 to check by hand")


def test_an_account_with_room_passes_the_lambda_check(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    _, lines = _run(_engine(engine_synth_of), Account(limit=1000))
    for region in ("ap-south-1", "ap-southeast-1"):
        assert _line(lines, region, "Lambda concurrency").split()[0] == OK


def test_a_redeploy_counts_back_what_its_own_functions_reserve(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    """Limit 230 with the stacks' 125 already deployed: 105 unreserved, and after the deploy
    still 105. Without counting them back it would ask for a limit the account has."""
    synth = engine_synth_of("prod")
    account = Account(limit=230, unreserved=105)
    for role in ("api", "database", "service"):
        stack = synth.stage.roles[role]
        for logical_id, resource in synth.templates[role]["Resources"].items():
            if resource["Type"] != "AWS::Lambda::Function":
                continue
            name = resource["Properties"]["FunctionName"]
            _deploy_function(name, resource["Properties"]["ReservedConcurrentExecutions"])
            account.deployed[stack.stack_name, logical_id] = name
    _, lines = _run(_engine(engine_synth_of), account)
    mumbai = _line(lines, "ap-south-1", "Lambda concurrency")
    assert mumbai.split()[0] == OK, mumbai
    assert "(125 of it already deployed)" in mumbai


def _deploy_function(name: str, reserved: int) -> None:
    role = boto3.client("iam").create_role(RoleName=f"{name}-role", AssumeRolePolicyDocument="{}")[
        "Role"
    ]["Arn"]
    client = boto3.client("lambda", region_name="ap-south-1")
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role,
        Handler="index.handler",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
    )
    client.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)


# --------------------------------------------------------------------------- network, API


def test_a_full_vpc_quota_is_a_request(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    ec2 = boto3.client("ec2", region_name="ap-south-1")
    for index in range(4):  # moto starts with the default VPC: 5 in use
        ec2.create_vpc(CidrBlock=f"172.{16 + index}.0.0/16")
    _, lines = _run(_engine(engine_synth_of), Account())
    vpcs = _line(lines, "ap-south-1", "VPCs per Region")
    assert vpcs.split()[0] == REQUEST
    assert "5 in use, these stacks add 1, the quota is 5" in vpcs
    assert vpcs.endswith("L-F678F1CE) in ap-south-1 to at least 6")
    assert _line(lines, "ap-southeast-1", "VPCs per Region").split()[0] == OK
    for subject in (
        "EC2-VPC Elastic IPs",
        "NAT gateways per Availability Zone",
        "Interface VPC endpoints per VPC",
        "API Gateway throttle",
    ):
        assert _line(lines, "ap-south-1", subject).split()[0] == OK, subject


def test_a_quota_the_account_will_not_tell_is_a_check_by_hand(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    account = Account()
    account.ec2_quotas_readable = False  # as moto, or a role without servicequotas:Get*
    code, lines = _run(_engine(engine_synth_of), account)
    assert code == 1
    line = _line(lines, "ap-south-1", "EC2-VPC Elastic IPs")
    assert line.split()[0] == "CHECK" and line.endswith("check it by hand")


# --------------------------------------------------------------------------- messaging


def test_the_sms_and_email_sandboxes_and_the_sms_spend_limit_are_requests(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    _, lines = _run(_engine(engine_synth_of), Account())
    for region in ("ap-south-1", "ap-southeast-1"):  # Singapore sends after a failover
        sms = _line(lines, region, "SNS SMS")
        assert sms.split()[0] == REQUEST
        assert "Exit SMS sandbox" in sms
        assert "spend limit is 1 USD a month" in sms and "at least 10000 USD" in sms
        email = _line(lines, region, "SES e-mail")
        assert "Request production access" in email and "at least 100000" in email


def test_out_of_the_sandboxes_with_a_raised_spend_limit_the_messaging_checks_pass(
    aws: None, engine_synth_of: Callable[[str], EngineSynth]
) -> None:
    account = Account()
    account.sms_sandbox, account.ses_production, account.ses_per_day = False, True, 200_000.0
    for region in ("ap-south-1", "ap-southeast-1"):
        boto3.client("sns", region_name=region).set_sms_attributes(
            attributes={"MonthlySpendLimit": "10000"}
        )
    _, lines = _run(_engine(engine_synth_of), account)
    for region in ("ap-south-1", "ap-southeast-1"):
        assert _line(lines, region, "SNS SMS").split()[0] == OK
        assert _line(lines, region, "SES e-mail").split()[0] == OK


# --------------------------------------------------------------------------- the whole run


def test_payouts_with_room_passes_every_check_and_sends_no_messages(
    aws: None, synth_of: Callable[[str], Synth]
) -> None:
    args = ["--env", "prod", "--cdk-out", str(synth_of("prod").outdir)]
    code, lines = _run(args, Account())
    assert code == 0, lines
    assert lines[0] == f"preflight: payouts prod in account {MOTO_ACCOUNT}"
    lambda_line = _line(lines, "ap-southeast-2", "Lambda concurrency")
    assert "reserve 41" in lambda_line
    assert not [line for line in lines if "SNS" in line or "SES" in line]
    assert lines[-1] == "every check passed: the account allows what these stacks assume"


def test_it_synthesizes_the_environment_when_given_no_assembly(aws: None) -> None:
    code, lines = _run(["--env", "dev"], Account(limit=10))
    assert code == 1
    assert _line(lines, "ap-southeast-2", "Lambda concurrency").endswith("to at least 141")


def test_credentials_for_another_account_are_refused(
    aws: None, engine_synth_of: Callable[[str], EngineSynth], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CDK_ACCOUNT_ENGINE_PROD", "777777777777")
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    code, lines = _run(_engine(engine_synth_of), Account())
    assert code == 2 and lines == []
    assert err.getvalue().strip() == (
        f"preflight: the credentials are for account {MOTO_ACCOUNT}, but engine prod deploys "
        f"to 777777777777 (set CDK_ACCOUNT_ENGINE_PROD to deploy it to {MOTO_ACCOUNT})"
    )


def test_without_credentials_it_fails_at_once_with_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    result = subprocess.run(
        [sys.executable, "-m", "scripts.preflight", "--env", "prod", "--system", "engine"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [preflight.NO_CREDENTIALS]


def test_make_preflight_needs_an_environment() -> None:
    result = subprocess.run(
        ["make", "--no-print-directory", "preflight"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode != 0
    assert "usage: make preflight ENV=" in result.stdout
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "preflight", "ENV=prod", "SYSTEM=engine"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert "-m scripts.preflight --env prod --system engine" in dry_run.stdout


def test_make_preflight_without_system_checks_payouts() -> None:
    dry_run = subprocess.run(
        ["make", "--no-print-directory", "-n", "preflight", "ENV=dev"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    (line,) = [text for text in dry_run.stdout.splitlines() if "-m scripts.preflight" in text]
    assert line.split("-m scripts.preflight", 1)[1].split() == ["--env", "dev"]
    assert preflight._parser().parse_args(["--env", "dev"]).system == "payouts"


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (
            ["--env", "qa"],
            "unknown environment 'qa'; valid environments: payouts: dev, staging, prod",
        ),
        (["--env", "uat", "--system", "engine"], "unknown environment 'uat'; valid environments: "),
    ],
)
def test_an_unknown_environment_is_one_line_before_any_aws_call(
    argv: list[str], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert preflight.main(argv, clients=None) == 2
    (printed,) = capsys.readouterr().err.splitlines()
    assert printed.startswith(f"preflight: {line}")
