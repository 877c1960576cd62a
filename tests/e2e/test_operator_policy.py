"""The operator's policy `render` writes is what the CLI needs, and all it needs: on the embedded AWS (which
evaluates an assumed operator role like any other session, iam:PassRole included), a role holding exactly
iam/operator.policy.json deploys, provisions (`up`), follows, plans, reads outputs and destroys; a role whose policy
withholds one of its actions fails `deploy` with AccessDenied naming that action, and creates nothing after it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from provisioner.blueprint.rendering import render_documents
from provisioner.config import resolve

ACCOUNT = "123456789012"
TABLES = {"FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache"}


def _operator_policy(config_path: Path, directory: Path) -> dict[str, Any]:
    render_documents(resolve(config_path, endpoint_url="http://127.0.0.1:1"), directory)
    return json.loads((directory / "iam" / "operator.policy.json").read_text())


def _without(policy: dict[str, Any], action: str) -> dict[str, Any]:
    statements = []
    for statement in policy["Statement"]:
        actions = [a for a in statement["Action"] if a != action]
        if actions:
            statements.append({**statement, "Action": actions})
    assert statements != policy["Statement"], f"the operator's policy has no {action} to withhold"
    return {**policy, "Statement": statements}


@pytest.fixture
def as_operator(aws, clients, monkeypatch):
    """as_operator(name, policy): from now on the CLI signs with a session of a role of the operator's account
    that holds exactly `policy` (and trusts the account), as an administrator would hand it out."""

    def become(name: str, policy: dict[str, Any]) -> str:
        trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                          "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}]}
        clients.iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))
        clients.iam.put_role_policy(RoleName=name, PolicyName="operator", PolicyDocument=json.dumps(policy))
        aws.clock.advance(aws.consistency.seconds + 1)  # the new policy has propagated (reads lag writes)
        credentials = clients.sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/{name}",
                                              RoleSessionName="operator")["Credentials"]
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
        monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])
        return f"arn:aws:sts::{ACCOUNT}:assumed-role/{name}/operator"

    return become


def _tables(clients: Any) -> set[str]:
    return {name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")}


def _state_machines(clients: Any) -> list[str]:
    return [machine["name"] for machine in clients.stepfunctions.list_state_machines()["stateMachines"]]


def _functions(clients: Any, name: str) -> list[str]:
    return [f["FunctionName"] for f in clients.lambda_.list_functions()["Functions"] if f["FunctionName"].startswith(name)]


def test_the_rendered_operator_policy_is_enough_for_every_command(aws, config_path, factory, clients, cli, as_operator,
                                                                  tmp_path) -> None:
    as_operator("fileferry-operator", _operator_policy(config_path, tmp_path / "render"))
    name = factory.settings.provisioner.name

    deployed, deploy_output = cli("deploy")
    provisioned, up_output = cli("up")

    assert (deployed, provisioned) == (0, 0), deploy_output + up_output
    assert "Verification passed" in up_output
    assert "AccessDenied" not in deploy_output + up_output
    # Read back with full access: the orchestrator, and what its run provisioned.
    assert _state_machines(clients) == [name]
    assert len(_functions(clients, f"{name}-")) >= 9
    assert _tables(clients) == TABLES
    assert clients.iam.get_role(RoleName="FileFerryReadOnlyRole")["Role"]["Arn"]
    (execution,) = re.findall(r"^Execution (arn:\S+)$", up_output, flags=re.MULTILINE)

    listed, listing = cli("status")
    detailed, detail = cli("status", execution)
    planned, plan = cli("plan")
    shown, outputs = cli("outputs")
    destroyed, removed = cli("destroy", "--yes")

    assert (listed, detailed, planned, shown, destroyed) == (0, 0, 0, 0, 0), listing + detail + plan + outputs + removed
    assert "Verification passed" in detail  # the run's path and result, read back with the operator's credentials
    assert f"stateMachine:{name}" in outputs
    assert _state_machines(clients) == [] and _functions(clients, f"{name}-") == []
    assert _tables(clients) == TABLES  # destroy never touches the FileFerry tables


@pytest.mark.parametrize("withheld, refused_call, functions_created, none_created", [
    # The roles and the run lease come first; the first function is refused, so no function, state machine, queue,
    # rule, schedule or alarm exists.
    ("iam:PassRole", "CreateFunction", False, ["function", "state machine", "queue", "rule", "schedule", "alarm"]),
    # Every function exists; the state machine is refused, so nothing after it does.
    ("states:CreateStateMachine", "CreateStateMachine", True, ["state machine", "queue", "rule", "schedule", "alarm"]),
], ids=["iam:PassRole", "states:CreateStateMachine"])
def test_a_policy_without_one_of_its_actions_fails_deploy_naming_it(aws, config_path, factory, clients, cli,
                                                                     as_operator, tmp_path, withheld, refused_call,
                                                                     functions_created, none_created) -> None:
    session = as_operator("short-operator", _without(_operator_policy(config_path, tmp_path / "render"), withheld))
    name = factory.settings.provisioner.name

    code, output = cli("deploy")

    assert code == 1, output
    assert f"error: AWS refused {refused_call}: AccessDenied" in output
    assert f"User: {session} is not authorized to perform: {withheld} on resource: " in output
    assert "your credentials lack this permission" in output
    roles = [r["RoleName"] for r in clients.iam.list_roles()["Roles"] if r["RoleName"].startswith(name)]
    assert len(roles) >= 12  # created before the refusal
    if functions_created:
        assert len(_functions(clients, f"{name}-")) >= 9
        # The emulator initialises new functions in the background; let that end with this test.
        assert aws.lambda_runner.wait_for_initialisation(timeout=120)
    existing = {
        "function": _functions(clients, f"{name}-"),
        "state machine": _state_machines(clients),
        "queue": clients.sqs.list_queues(QueueNamePrefix=name).get("QueueUrls", []),
        "rule": clients.events.list_rules(NamePrefix=name)["Rules"],
        "schedule": clients.scheduler.list_schedules(NamePrefix=name)["Schedules"],
        "alarm": clients.cloudwatch.describe_alarms(AlarmNamePrefix=name)["MetricAlarms"],
    }
    assert {kind: existing[kind] for kind in none_created} == {kind: [] for kind in none_created}
    assert _tables(clients) == set()  # no run was started
