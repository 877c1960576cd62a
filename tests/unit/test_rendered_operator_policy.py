"""The operator's policy and the fleet's StackSet roles, as `render` writes them: scoped to the orchestrator's own
resources, iam:PassRole to exactly the service each role is for. (What they allow is judged by iam-simulate in
tests/referees/iam_claims.py; that the CLI works under the operator's policy, on the embedded AWS, in
tests/e2e/test_operator_policy.py.)"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from provisioner.blueprint.rendering import render_documents
from provisioner.config import resolve

REPO = Path(__file__).resolve().parents[2]
ACCOUNT, NAME = "123456789012", "fileferry-provisioner"
# Actions whose AWS APIs authorize no resource type (Service Authorization Reference): "*" is their only resource.
RESOURCELESS = {"cloudformation:CreateStackSet", "logs:DescribeLogGroups"}


@pytest.fixture(scope="module")
def iam(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("render")
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    (directory / "config.yaml").write_text(yaml.safe_dump(config))
    render_documents(resolve(directory / "config.yaml", endpoint_url="http://127.0.0.1:1"), directory / "out")
    return directory / "out" / "iam"


def _doc(iam: Path, stem: str) -> dict[str, Any]:
    return json.loads((iam / f"{stem}.json").read_text())


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


@pytest.mark.parametrize("stem, account", [("operator.policy", ACCOUNT), ("fleet-execution.policy", "*")])
def test_each_statement_names_the_orchestrators_own_resources(iam: Path, stem: str, account: str) -> None:
    for statement in _doc(iam, stem)["Statement"]:
        actions, resources = _list(statement["Action"]), _list(statement["Resource"])
        assert statement["Effect"] == "Allow"
        assert not any("*" in action for action in actions), statement["Sid"]
        if resources == ["*"]:
            assert set(actions) <= RESOURCELESS, statement["Sid"]
            continue
        for resource in resources:
            service = resource.split(":")[2]
            if service == "s3":
                # The per-Region code buckets (provisioner/fleet/stack_set.py: fileferry-code-ACCOUNT-REGION).
                assert resource.startswith(f"arn:aws:s3:::fileferry-code-{ACCOUNT}-"), resource
            elif resource.endswith(":role/AWSCloudFormationStackSetExecutionRole"):
                assert actions == ["sts:AssumeRole"]  # in each target account
            elif ":type/resource/AWS-" not in resource:
                assert resource.split(":")[4] == account, resource
                assert NAME in resource or "FileFerry" in resource or "AWSCloudFormationStackSet" in resource, resource


def test_passrole_hands_each_role_to_the_one_service_it_is_for(iam: Path) -> None:
    passes = {}
    for statement in _doc(iam, "operator.policy")["Statement"]:
        if "iam:PassRole" in _list(statement["Action"]):
            assert _list(statement["Action"]) == ["iam:PassRole"]
            (service,) = _list(statement["Condition"]["StringEquals"]["iam:PassedToService"])
            for resource in _list(statement["Resource"]):
                passes[resource.split(":role/")[1]] = service
    assert passes == {
        f"{NAME}-*-fn": "lambda.amazonaws.com",
        f"{NAME}-*states": "states.amazonaws.com",
        f"{NAME}-*events": "events.amazonaws.com",
        f"{NAME}-*scheduler": "scheduler.amazonaws.com",
        "AWSCloudFormationStackSetAdministrationRole": "cloudformation.amazonaws.com",
    }


def test_the_stack_set_is_created_only_with_the_administration_role(iam: Path) -> None:
    (create,) = [s for s in _doc(iam, "operator.policy")["Statement"] if "cloudformation:CreateStackSet" in _list(s["Action"])]
    assert create["Condition"] == {"ArnEquals": {
        "cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/AWSCloudFormationStackSetAdministrationRole"}}


def test_the_stack_instance_operations_name_the_templates_resource_types(iam: Path) -> None:
    (instances,) = [s for s in _doc(iam, "operator.policy")["Statement"] if s["Sid"] == "FleetStackInstances"]
    types = {r.rsplit("/", 1)[1] for r in instances["Resource"] if ":type/resource/" in r}
    assert {"AWS-IAM-Role", "AWS-Lambda-Function", "AWS-StepFunctions-StateMachine", "AWS-DynamoDB-Table"} <= types
    assert f"arn:aws:cloudformation:*:{ACCOUNT}:stackset/{NAME}:*" in instances["Resource"]
    assert f"arn:aws:cloudformation:*:{ACCOUNT}:stackset-target/{NAME}:*" in instances["Resource"]


def test_the_fleet_roles_trust_whom_aws_documents(iam: Path) -> None:
    (execution,) = _doc(iam, "fleet-execution.trust")["Statement"]
    assert execution["Principal"] == {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}
    (administration,) = _doc(iam, "fleet-administration.trust")["Statement"]
    assert administration["Principal"] == {"Service": "cloudformation.amazonaws.com"}
    assert administration["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    (assume,) = _doc(iam, "fleet-administration.policy")["Statement"]
    assert (assume["Action"], assume["Resource"]) == (
        ["sts:AssumeRole"], ["arn:aws:iam::*:role/AWSCloudFormationStackSetExecutionRole"])


def test_the_execution_role_runs_and_reads_the_targets_state_machine(iam: Path) -> None:
    statements = {s["Sid"]: s for s in _doc(iam, "fleet-execution.policy")["Statement"]}
    assert statements["FleetRuns"]["Action"] == ["states:ListExecutions", "states:StartExecution"]
    assert statements["FleetRuns"]["Resource"] == [f"arn:aws:states:*:*:stateMachine:{NAME}"]
    assert statements["FleetRunHistory"]["Resource"] == [f"arn:aws:states:*:*:execution:{NAME}:*"]
    assert statements["StackSetInstanceStack"]["Resource"] == [f"arn:aws:cloudformation:*:*:stack/StackSet-{NAME}-*/*"]
