"""Everything `deploy.py render` writes passes parliament and statelint, and is least privilege.

parliament runs with its community auditors and this project's private auditor; a finding
passes only if `provisioner/blueprint/iam_lint.py` justifies exactly that (document, issue, action).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.core.steps import STEPS
from provisioner.config import resolve
from provisioner.blueprint.desired_state import DYNAMODB_ITEM_ACTIONS
from provisioner.blueprint.iam_lint import check, lint_policy, lint_rendered
from provisioner.blueprint.rendering import render_documents

REPO = Path(__file__).resolve().parents[2]
ACCOUNT = "123456789012"
NAME = "fileferry-provisioner"
ROLES = f"{NAME}-us-east-1"  # the orchestrator's role names: <name>-<region>-<suffix>
TABLES = [
    "FileFerry-ActiveSessions",
    "FileFerry-UserContext",
    "FileFerry-TransferRequests",
    "FileFerry-AgentLearning",
    "FileFerry-S3FileCache",
]
TABLE_ARNS = [f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{name}" for name in TABLES]
MANAGED_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole"
STATE_MACHINE_ARN = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{NAME}"
LEASE_TABLE_ARN = f"arn:aws:dynamodb:us-east-1:{ACCOUNT}:table/{NAME}-run-lease"
# Actions whose AWS APIs support no resource-level permissions (so "*" is the only resource).
RESOURCELESS = {
    "dynamodb:ListBackups",
    "xray:PutTelemetryRecords",
    "xray:PutTraceSegments",
    "xray:GetSamplingRules",
    "xray:GetSamplingTargets",
}


def _render(tmp_path: Path, kms_key_id: str = "") -> Path:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["dynamodb"]["kms_key_id"] = kms_key_id
    config_path = tmp_path / f"config-{abs(hash(kms_key_id))}.yaml"
    config_path.write_text(yaml.safe_dump(config))
    out = tmp_path / f"render-{abs(hash(kms_key_id))}"
    render_documents(resolve(config_path, endpoint_url="http://127.0.0.1:1"), out)
    return out


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(tmp_path_factory.mktemp("render"))


def _doc(rendered: Path, name: str) -> dict[str, Any]:
    return json.loads((rendered / "iam" / f"{name}.json").read_text())


def _statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return document["Statement"]


def _list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


# -- parliament and statelint over everything render writes -----------------------------------


def test_parliament_finds_nothing_unjustified_in_anything_render_writes(tmp_path: Path, rendered: Path) -> None:
    findings = []
    for out in (
        rendered,
        _render(tmp_path, "alias/fileferry-sessions"),
        _render(tmp_path, f"arn:aws:kms:us-east-1:{ACCOUNT}:key/12345678-1234-1234-1234-123456789012"),
    ):
        # Each orchestrator role's and the read-only role's trust and policy; the operator's policy; the fleet's
        # execution and administration roles' policy and trust.
        assert len(list((out / "iam").glob("*.json"))) == 2 * (len(STEPS) + 3 + 1) + 1 + 4
        findings += lint_rendered(out / "iam", NAME, ACCOUNT)
    result = check(findings)
    assert [str(f) for f in result.unjustified] == []
    assert result.stale_justifications == [], "a justification no finding needs any more: delete it"


def test_the_lint_catches_a_planted_star_action(rendered: Path) -> None:
    policy = _doc(rendered, f"{ROLES}-verify-fn.policy")
    on_tables = json.loads(json.dumps(policy))
    on_tables["Statement"][0]["Action"] = "*"  # "*" on the table ARNs: the private auditor's catch
    everything = json.loads(json.dumps(policy))
    everything["Statement"].append({"Sid": "Planted", "Effect": "Allow", "Action": "*", "Resource": "*"})
    service_wide = json.loads(json.dumps(policy))
    service_wide["Statement"][0]["Action"] = ["dynamodb:*"]
    passrole = json.loads(json.dumps(policy))
    passrole["Statement"][1]["Action"].append("iam:PassRole")

    assert check(lint_policy(json.dumps(policy), "verify-fn.policy")).unjustified == []
    for planted in (on_tables, everything, service_wide, passrole):
        unjustified = check(lint_policy(json.dumps(planted), "verify-fn.policy")).unjustified
        assert unjustified, f"parliament let this through: {planted['Statement']}"
    issues = {f.issue for f in check(lint_policy(json.dumps(everything), "verify-fn.policy")).unjustified}
    assert "WILDCARD_ACTION" in issues


def test_the_lint_refuses_a_passrole_to_any_service_or_of_any_role_even_where_passrole_is_justified(rendered: Path) -> None:
    policy = _doc(rendered, "operator.policy")
    assert check(lint_policy(json.dumps(policy), "operator.policy")).unjustified == []
    (to_lambda,) = [s for s in policy["Statement"] if s["Sid"] == "PassRolesToLambda"]
    any_service = json.loads(json.dumps(policy))
    any_service["Statement"] = [{**s, "Condition": {}} if s["Sid"] == to_lambda["Sid"] else s for s in policy["Statement"]]
    any_service["Statement"] = [{k: v for k, v in s.items() if v != {}} for s in any_service["Statement"]]
    any_role = json.loads(json.dumps(policy))
    any_role["Statement"] = [{**s, "Resource": "*"} if s["Sid"] == to_lambda["Sid"] else s for s in policy["Statement"]]

    assert {f.issue for f in check(lint_policy(json.dumps(any_service), "operator.policy")).unjustified} == {
        "PASSROLE_TO_ANY_SERVICE"}
    assert "PASSROLE_ANY_ROLE" in {f.issue for f in check(lint_policy(json.dumps(any_role), "operator.policy")).unjustified}


def test_statelint_accepts_the_rendered_asl(rendered: Path) -> None:
    from statelint.linter import Linter

    asl = json.loads((rendered / "state_machine.asl.json").read_text())
    assert Linter.validate(asl) == []
    tasks = [s for s in asl["States"].values() if s.get("Type") == "Task"]
    assert tasks and all(f":{ACCOUNT}:function:{NAME}-" in json.dumps(s) for s in tasks)


# -- least privilege for the orchestrator's own roles -----------------------------------------


def test_each_function_role_touches_only_the_configured_tables_and_the_managed_role(rendered: Path) -> None:
    for step in STEPS:
        for statement in _statements(_doc(rendered, f"{ROLES}-{step.name}-fn.policy")):
            actions, resources = _list(statement["Action"]), _list(statement["Resource"])
            assert statement["Effect"] == "Allow"
            assert not any("*" in action for action in actions), (step.name, actions)
            assert "iam:PassRole" not in actions
            if resources == ["*"]:
                assert set(actions) <= RESOURCELESS, (step.name, actions)
            for action in actions:
                service = action.split(":")[0]
                if service == "dynamodb" and action not in RESOURCELESS:
                    allowed = TABLE_ARNS + [f"{arn}/backup/*" for arn in TABLE_ARNS]
                    if step.name == "validate-input":  # the orchestrator's own run-lease table, and only it
                        allowed = [LEASE_TABLE_ARN]
                    assert set(resources) <= set(allowed), (step.name, action, resources)
                if service == "iam":
                    assert resources == [MANAGED_ROLE_ARN], (step.name, action, resources)
                if service == "logs":
                    group = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/lambda/{NAME}-{step.name}"
                    assert set(resources) <= {group, f"{group}:*"}
        trust = _doc(rendered, f"{ROLES}-{step.name}-fn.trust")["Statement"]
        assert [s["Principal"] for s in trust] == [{"Service": "lambda.amazonaws.com"}]


def test_the_state_machine_role_only_invokes_its_functions_and_writes_logs_and_traces(rendered: Path) -> None:
    statements = {s["Sid"]: s for s in _statements(_doc(rendered, f"{ROLES}-states.policy"))}
    assert set(statements) == {"InvokeSteps", "DeliverLogs", "Tracing"}
    assert statements["InvokeSteps"]["Action"] == ["lambda:InvokeFunction"]
    functions = {f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{NAME}-{step.name}" for step in STEPS}
    assert set(statements["InvokeSteps"]["Resource"]) == functions | {f"{arn}:*" for arn in functions}
    assert all(a.startswith("logs:") for a in statements["DeliverLogs"]["Action"])
    assert all(a.startswith("xray:") for a in statements["Tracing"]["Action"])


@pytest.mark.parametrize("suffix, service", [("events", "events.amazonaws.com"), ("scheduler", "scheduler.amazonaws.com")])
def test_the_rule_and_schedule_roles_may_only_start_this_state_machine(rendered: Path, suffix: str, service: str) -> None:
    statements = _statements(_doc(rendered, f"{ROLES}-{suffix}.policy"))
    assert [(s["Effect"], s["Action"], s["Resource"]) for s in statements] == [
        ("Allow", ["states:StartExecution"], [STATE_MACHINE_ARN]),
        # Scheduler sends what it could not deliver with the schedule's role; EventBridge by the queue's policy.
        *([("Allow", ["sqs:SendMessage"], [f"arn:aws:sqs:us-east-1:{ACCOUNT}:{NAME}-undelivered"])] if suffix == "scheduler" else []),
    ]
    (trust,) = _statements(_doc(rendered, f"{ROLES}-{suffix}.trust"))
    assert trust["Principal"] == {"Service": service}
    assert trust["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


# -- the managed role is what the spec says and no more ----------------------------------------


def test_the_managed_role_matches_the_spec_and_no_more(rendered: Path) -> None:
    statements = _statements(_doc(rendered, "FileFerryReadOnlyRole.policy"))
    denies = [s for s in statements if s["Effect"] == "Deny"]
    assert [(sorted(_list(s["Action"])), s["Resource"]) for s in denies] == [(["s3:DeleteObject", "s3:PutObject"], "*")]

    allows = [s for s in statements if s["Effect"] == "Allow"]
    actions = {a for s in allows for a in _list(s["Action"])}
    assert actions == {"s3:GetObject", "s3:ListBucket", "cloudwatch:PutMetricData", "xray:PutTelemetryRecords", "xray:PutTraceSegments"} | set(
        DYNAMODB_ITEM_ACTIONS
    )
    (dynamodb,) = [s for s in allows if any(a.startswith("dynamodb:") for a in _list(s["Action"]))]
    assert set(dynamodb["Resource"]) == set(TABLE_ARNS) | {f"{arn}/index/*" for arn in TABLE_ARNS}
    assert not {"dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable"} & set(_list(dynamodb["Action"]))
    (metrics,) = [s for s in allows if "cloudwatch:PutMetricData" in _list(s["Action"])]
    assert metrics["Condition"] == {"StringEquals": {"cloudwatch:namespace": "FileFerry"}}

    trust = _statements(_doc(rendered, "FileFerryReadOnlyRole.trust"))
    by_principal = {json.dumps(s["Principal"], sort_keys=True): s for s in trust}
    account = by_principal[json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT}:root"})]
    assert account["Condition"] == {"StringEquals": {"sts:ExternalId": "fileferry-sso-handler"}}
    assert set(by_principal) == {json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}), json.dumps({"Service": "lambda.amazonaws.com"})}


def test_a_customer_managed_key_is_usable_only_through_dynamodb(tmp_path: Path) -> None:
    key = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/12345678-1234-1234-1234-123456789012"
    by_key = _doc(_render(tmp_path, key), f"{ROLES}-create-or-adopt-table-fn.policy")
    (kms,) = [s for s in by_key["Statement"] if s["Sid"] == "CustomerManagedKey"]
    assert kms["Resource"] == [key]
    assert kms["Condition"] == {"StringEquals": {"kms:ViaService": "dynamodb.us-east-1.amazonaws.com"}}

    by_alias = _doc(_render(tmp_path, "alias/fileferry-sessions"), f"{ROLES}-create-or-adopt-table-fn.policy")
    (kms,) = [s for s in by_alias["Statement"] if s["Sid"] == "CustomerManagedKey"]
    # IAM never matches an alias ARN as a key resource; the alias becomes a condition instead.
    assert kms["Resource"] == [f"arn:aws:kms:us-east-1:{ACCOUNT}:key/*"]
    assert kms["Condition"]["ForAnyValue:StringEquals"] == {"kms:ResourceAliases": "alias/fileferry-sessions"}

    default = _doc(_render(tmp_path, ""), f"{ROLES}-create-or-adopt-table-fn.policy")
    assert not [s for s in default["Statement"] if any(a.startswith("kms:") for a in _list(s["Action"]))]
