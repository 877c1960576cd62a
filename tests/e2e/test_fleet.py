"""The fleet on the embedded AWS as a multi-account AWS: an operator account deploys the orchestrator to two
accounts x two Regions through a CloudFormation StackSet, provisions and checks drift in all four, and each
target is read back with that account's own credentials. The operator signs with a session of a role that
holds exactly render's operator policy; the execution roles hold exactly its fleet-execution policy."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
import yaml

from provisioner.blueprint.rendering import render_documents
from provisioner.config import resolve

OPERATOR = "111111111111"
ACCOUNTS = ("222222222222", "333333333333")
REGIONS = ("us-east-1", "eu-west-1")
TARGETS = [f"{account}/{region}" for account in ACCOUNTS for region in REGIONS]
ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
TABLES = {"FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning",
          "FileFerry-S3FileCache"}


def _client(aws, account: str, service: str, region: str = "us-east-1"):
    """A client of `account`: its 12-digit access key acts as that account's operator."""
    session = boto3.Session(aws_access_key_id=account, aws_secret_access_key="any", region_name=region)
    return session.client(service, endpoint_url=aws.endpoint_url)


@pytest.fixture
def config_path(config_path: Path) -> Path:
    """The e2e config, rendered for the operator's account (its operator policy is the operator's)."""
    config = yaml.safe_load(config_path.read_text())
    config["sso"]["account_id"] = OPERATOR
    config_path.write_text(yaml.safe_dump(config))
    return config_path


@pytest.fixture
def organisation(aws, config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """What an organisation sets up once for self-managed StackSets: the administration role in the operator's
    account, the execution role (with render's policy for it) in each target account; and the operator, a role
    of the operator's account that holds exactly render's operator policy, whose session the CLI signs with."""
    rendered = tmp_path / "render"
    render_documents(resolve(config_path, endpoint_url=aws.endpoint_url), rendered)
    execution_policy = (rendered / "iam" / "fleet-execution.policy.json").read_text()
    iam = _client(aws, OPERATOR, "iam")
    iam.create_role(RoleName="fleet-operator", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OPERATOR}:root"}, "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName="fleet-operator", PolicyName="operator",
                        PolicyDocument=(rendered / "iam" / "operator.policy.json").read_text())
    iam.create_role(RoleName=ADMINISTRATION_ROLE, AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "cloudformation.amazonaws.com"},
                       "Action": "sts:AssumeRole"}]}))
    iam.put_role_policy(RoleName=ADMINISTRATION_ROLE, PolicyName="assume-execution-roles", PolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                       "Resource": f"arn:aws:iam::*:role/{EXECUTION_ROLE}"}]}))
    for account in ACCOUNTS:
        target_iam = _client(aws, account, "iam")
        target_iam.create_role(RoleName=EXECUTION_ROLE, AssumeRolePolicyDocument=json.dumps({
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{OPERATOR}:root"},
                           "Action": "sts:AssumeRole"}]}))
        target_iam.put_role_policy(RoleName=EXECUTION_ROLE, PolicyName="fileferry-fleet", PolicyDocument=execution_policy)
    aws.clock.advance(aws.consistency.seconds + 1)  # the roles' policies have propagated (reads lag writes)
    credentials = _client(aws, OPERATOR, "sts").assume_role(
        RoleArn=f"arn:aws:iam::{OPERATOR}:role/fleet-operator", RoleSessionName="operator")["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])  # the CLI runs as the operator
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
    return rendered


def _targets(*targets: str) -> list[str]:
    return [arg for target in targets for arg in ("--target", target)]


def test_a_fleet_of_two_accounts_in_two_regions_is_deployed_provisioned_and_drift_checked(aws, cli, organisation) -> None:
    code, out = cli("fleet", "deploy", *_targets(*TARGETS), "--max-concurrent", "4")
    assert code == 0, out
    stack_set = _client(aws, OPERATOR, "cloudformation").describe_stack_set(StackSetName="fileferry-provisioner")["StackSet"]
    assert "111111111111" not in stack_set["TemplateBody"] and "123456789012" not in stack_set["TemplateBody"]
    # Deployed again unchanged: StackSets is asked to do nothing.
    code, out = cli("--json", "fleet", "deploy", *_targets(*TARGETS))
    assert code == 0, out
    again = json.loads(out[out.index("{"):])
    assert again["operations"] == [] and {t["status"] for t in again["targets"]} == {"SUCCEEDED"}
    code, out = cli("fleet", "run", "provision", *_targets(*TARGETS), "--max-concurrent", "4")
    assert code == 0, out

    for account in ACCOUNTS:
        role = _client(aws, account, "iam").get_role(RoleName="FileFerryReadOnlyRole")["Role"]
        assert role["Arn"] == f"arn:aws:iam::{account}:role/FileFerryReadOnlyRole"
        policies = _client(aws, account, "iam").list_role_policies(RoleName="FileFerryReadOnlyRole")["PolicyNames"]
        assert len(policies) == len(REGIONS)  # one per Region: neither run undid the other's
        for region in REGIONS:
            tables = set(_client(aws, account, "dynamodb", region).list_tables()["TableNames"])
            assert TABLES <= tables, (account, region)
            for name in TABLES:
                described = _client(aws, account, "dynamodb", region).describe_table(TableName=name)["Table"]
                assert described["TableArn"].startswith(f"arn:aws:dynamodb:{region}:{account}:table/")
    # Nothing of the fleet's targets in the operator's account.
    for region in REGIONS:
        assert not TABLES & set(_client(aws, OPERATOR, "dynamodb", region).list_tables()["TableNames"])
    with pytest.raises(Exception, match="NoSuchEntity"):
        _client(aws, OPERATOR, "iam").get_role(RoleName="FileFerryReadOnlyRole")

    code, out = cli("fleet", "run", "drift-check", *_targets(*TARGETS), "--max-concurrent", "4")
    assert code == 0, out

    # A hand-made drift in one target: a protected table's deletion protection turned off.
    drifted_account, drifted_region = ACCOUNTS[1], REGIONS[1]
    _client(aws, drifted_account, "dynamodb", drifted_region).update_table(
        TableName="FileFerry-UserContext", DeletionProtectionEnabled=False)
    code, out = cli("--json", "fleet", "run", "drift-check", *_targets(*TARGETS), "--max-concurrent", "4")
    assert code == 3, out
    report = json.loads(out[out.index("{"):])
    assert report["kind"] == "fleet-run" and report["drifted"] == [f"{drifted_account}/{drifted_region}"]
    by_target = {run["target"]: run for run in report["targets"]}
    drifted = by_target[f"{drifted_account}/{drifted_region}"]
    assert {d["resource"] for d in drifted["differences"]} == {"table/FileFerry-UserContext"}
    assert all(not run["drifted"] and run["status"] == "SUCCEEDED"
               for target, run in by_target.items() if target != f"{drifted_account}/{drifted_region}")

    code, out = cli("--json", "fleet", "status", *_targets(*TARGETS))
    assert code == 0, out
    last = {(row["target"], row["action"]): row for row in json.loads(out[out.index("{"):])["runs"]}
    assert set(last) == {(target, action) for target in TARGETS for action in ("provision", "drift-check")}
    assert all(row["status"] == "SUCCEEDED" for row in last.values())
    assert all(f":{row['region']}:{row['account']}:execution:" in row["execution_arn"] for row in last.values())


def test_a_target_whose_execution_role_cannot_be_assumed_fails_alone_with_awss_words(aws, cli, organisation) -> None:
    code, out = cli("--json", "fleet", "run", "drift-check", *_targets("444444444444/us-east-1"))
    assert code == 1, out
    (run,) = json.loads(out[out.index("{"):])["targets"]
    assert run["status"] == "FAILED" and run["error"] == "AccessDenied"
    assert f"arn:aws:iam::444444444444:role/{EXECUTION_ROLE}" in run["cause"]


def test_no_run_starts_once_more_targets_failed_than_the_failure_tolerance(aws, cli, organisation) -> None:
    targets = ["444444444444/us-east-1", "555555555555/us-east-1", f"{ACCOUNTS[0]}/us-east-1"]
    code, out = cli("--json", "fleet", "run", "drift-check", *_targets(*targets), "--max-concurrent", "1",
                    "--failure-tolerance", "0")
    assert code == 1, out
    statuses = [run["status"] for run in json.loads(out[out.index("{"):])["targets"]]
    assert statuses == ["FAILED", "NOT_STARTED", "NOT_STARTED"]
    # Not started means not asked: no AssumeRole into the third target's account (one was the operator's own).
    assert aws.api_calls().get("sts:AssumeRole", 0) == 2
