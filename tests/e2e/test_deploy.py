"""deploy on the embedded AWS: one Region for everything, the rollback rule's target, redeploys, read back."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.deployer import DeployError
from provisioner.factory import CLIFactory


def _client(aws: Any, service: str, region: str) -> Any:
    return boto3.client(service, region_name=region, endpoint_url=aws.endpoint_url,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_region_flag_puts_the_tables_role_policy_and_orchestrator_in_that_region(aws, config_path) -> None:
    factory = CLIFactory(resolve(config_path, region="eu-west-1", endpoint_url=aws.endpoint_url), local=True)
    deployment = factory.deployer().deploy()
    sfn = factory.clients().stepfunctions
    result = runs.Follower(sfn, poll_seconds=0.2).follow(runs.start(sfn, deployment.state_machine_arn, {}))

    assert result.status == "SUCCEEDED", result.error
    assert ":eu-west-1:" in deployment.state_machine_arn
    names = factory.settings.table_names()
    assert sorted([name for name in _client(aws, "dynamodb", "eu-west-1").list_tables()["TableNames"] if name.startswith("FileFerry-")]) == sorted(names)
    assert _client(aws, "dynamodb", "us-east-1").list_tables()["TableNames"] == []  # nothing of it elsewhere
    iam = _client(aws, "iam", "us-east-1")
    role = factory.settings.sso.role_name
    policy_name = iam.list_role_policies(RoleName=role)["PolicyNames"][0]
    document = json.dumps(iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"])
    assert "arn:aws:dynamodb:eu-west-1:" in document
    assert "us-east-1" not in document


def test_a_rollback_target_refused_once_is_attached_on_the_next_try(aws, config_path) -> None:
    aws.set_faults(["events:PutTargets=ConcurrentModificationException*1"])
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True, sleep=aws.clock.advance)

    factory.deployer().deploy()

    rule = f"{factory.settings.provisioner.name}-rollback-on-abort"
    targets = _client(aws, "events", "us-east-1").list_targets_by_rule(Rule=rule)["Targets"]
    assert [target["Id"] for target in targets] == ["rollback"]


def test_a_rollback_target_that_is_never_attached_fails_the_deploy_naming_the_rule(aws, config_path) -> None:
    aws.set_faults(["events:PutTargets=ConcurrentModificationException"])
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True, sleep=aws.clock.advance)

    with pytest.raises(DeployError, match="rollback-on-abort.*ConcurrentModificationException"):
        factory.deployer().deploy()

    rule = f"{factory.settings.provisioner.name}-rollback-on-abort"
    assert _client(aws, "events", "us-east-1").list_targets_by_rule(Rule=rule)["Targets"] == []


def test_turning_tracing_on_redeploys_the_functions_and_the_state_machine(aws, config_path) -> None:
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True)
    deployer = factory.deployer()
    deployer.deploy()
    deployer.tracing = True

    deployment = deployer.deploy()

    sfn = factory.clients().stepfunctions
    assert sfn.describe_state_machine(stateMachineArn=deployment.state_machine_arn)["tracingConfiguration"] == {
        "enabled": True
    }
    lambda_ = factory.clients().lambda_
    modes = {lambda_.get_function_configuration(FunctionName=arn)["TracingConfig"]["Mode"]
             for arn in deployment.function_arns.values()}
    assert modes == {"Active"}


def test_an_unchanged_redeploy_changes_nothing(aws, config_path) -> None:
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True)
    factory.deployer().deploy()

    assert factory.deployer().deploy().changed == []


def _deployer_on_a_lagging_iam(aws: Any, config_path: Any, lag: float) -> tuple[Any, list[str]]:
    """A deployer whose waits move the emulator's clock instead of sleeping, and the lines it prints."""
    aws.set_consistency_lag(lag)
    factory = CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True, sleep=aws.clock.advance)
    deployer = factory.deployer()
    deployer.tracing = True  # Lambda's X-Ray permission message, too
    printed: list[str] = []
    deployer.progress = printed.append
    return deployer, printed


def test_deploy_waits_while_new_roles_propagate_and_says_what_it_waits_for(aws, config_path) -> None:
    deployer, printed = _deployer_on_a_lagging_iam(aws, config_path, lag=20)
    try:
        deployment = deployer.deploy()
    finally:
        aws.set_consistency_lag(0)

    clients = deployer.clients
    assert clients.stepfunctions.describe_state_machine(stateMachineArn=deployment.state_machine_arn)["status"] == "ACTIVE"
    for arn in deployment.function_arns.values():
        assert clients.lambda_.get_function_configuration(FunctionName=arn)["TracingConfig"]["Mode"] == "Active"
    schedule = f"{deployer.settings.provisioner.name}-drift-check"
    assert clients.scheduler.get_schedule(Name=schedule)["Target"]["Arn"] == deployment.state_machine_arn
    assert any(line.startswith("waiting for IAM to propagate the role of function ") for line in printed)


def test_deploy_gives_up_after_two_minutes_of_propagation_naming_what_aws_said(aws, config_path) -> None:
    deployer, _ = _deployer_on_a_lagging_iam(aws, config_path, lag=3600)
    try:
        with pytest.raises(DeployError, match="after 1[0-9][0-9] s .*cannot be assumed by Lambda"):
            deployer.deploy()
    finally:
        aws.set_consistency_lag(0)

    assert deployer.clients.lambda_.list_functions()["Functions"] == []
