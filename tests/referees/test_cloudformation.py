"""`render` writes the orchestrator as a CloudFormation template that cfn-lint passes and that declares
exactly what `deploy` creates (the same documents and settings: provisioner/blueprint/orchestrator.py).

cfn-lint runs once per module, in-process, over two files: the template as `render` writes it, and a
copy without the template's one suppression (E3601 on the state machine, see
provisioner/blueprint/cloudformation.py), its definition resolved as CloudFormation resolves it, and a few
planted mistakes that must be reported.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.core.steps import STEPS
from provisioner.blueprint.cloudformation import CFN_LINT_IGNORED, LAMBDA_ZIP, TEMPLATE_FILE, logical_id
from provisioner.config import resolve
from provisioner.blueprint.desired_state import desired_state
from provisioner.blueprint.iam_documents import Arns
from provisioner.blueprint.orchestrator import describe_orchestrator
from provisioner.blueprint.packaging import build_package
from provisioner.blueprint.rendering import render_documents
from cloudformation_resolution import resolved_in

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config" / "config.yaml"

# cfn-lint's proven false positives, behind the template's one suppression (CFN_LINT_IGNORED):
# (rule, message pattern, the Type of the state the pattern names, why). The test checks the Type.
CFN_LINT_FALSE_POSITIVES = [
    (
        "E3601",
        re.compile(r"\('OutputPath' was unexpected\) at '(?P<path>(?:[^']*/)?States/(?P<state>[^/']+))/OutputPath'"),
        "Succeed",
        "the States Language allows InputPath and OutputPath on a Succeed state "
        "(https://states-language.net/#succeed-state); cfn-lint's ASL schema omits them",
    ),
]
# Planted into the resolved copy; each must come back as a cfn-lint error.
PLANTED = {
    "E3034": "a Lambda Timeout above Lambda's 900-second maximum",
    "E3601": "a state of Type 'Tusk'",
}


@pytest.fixture(scope="module")
def resolved_settings():
    return resolve(CONFIG, endpoint_url="http://127.0.0.1:1")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, resolved_settings) -> Path:
    out = tmp_path_factory.mktemp("render")
    render_documents(resolved_settings, out)
    return out


@pytest.fixture(scope="module")
def orchestrator(resolved_settings):
    desired = desired_state(resolved_settings.settings)
    return describe_orchestrator(resolved_settings.settings, desired, Arns.for_state(desired, desired.account_id))


@pytest.fixture(scope="module")
def neutral(rendered: Path) -> dict[str, Any]:
    """The template as render writes it: for any account and Region."""
    return yaml.safe_load((rendered / "cloudformation" / TEMPLATE_FILE).read_text())


@pytest.fixture(scope="module")
def template(neutral: dict[str, Any], orchestrator) -> dict[str, Any]:
    """The template as CloudFormation resolves it in the configured account and Region, with its defaults."""
    arns = orchestrator.arns
    return resolved_in(neutral, arns.account_id, arns.region, arns.partition, {"CodeBucketPrefix": "artifacts"})


def resolve_definition(template: dict[str, Any], orchestrator) -> str:
    """The state machine definition as CloudFormation resolves it (DefinitionSubstitutions: each function's Arn)."""
    properties = template["Resources"]["StateMachine"]["Properties"]
    text = properties["DefinitionString"]
    arns = {logical_id(f.step, "Function"): orchestrator.arns.function(f.step) for f in orchestrator.functions}
    for name, value in properties["DefinitionSubstitutions"].items():
        if isinstance(value, str):  # a service integration, named in the partition
            assert value == f"arn:{orchestrator.arns.partition}:states:::lambda:invoke", name
            text = text.replace("${" + name + "}", value)
            continue
        assert value == {"Fn::GetAtt": [value["Fn::GetAtt"][0], "Arn"]}, name
        text = text.replace("${" + name + "}", arns[value["Fn::GetAtt"][0]])
    return text


def _plant(template: dict[str, Any], definition: str) -> dict[str, Any]:
    """The template without its cfn-lint suppression, the definition resolved, and planted mistakes."""
    planted = copy.deepcopy(template)
    resources = planted["Resources"]
    resources[logical_id(STEPS[0].name, "Function")]["Properties"]["Timeout"] = 901
    asl = json.loads(definition)
    asl["States"]["Planted"] = {"Type": "Tusk", "End": True}
    del resources["StateMachine"]["Metadata"]
    del resources["StateMachine"]["Properties"]["DefinitionSubstitutions"]
    resources["StateMachine"]["Properties"]["DefinitionString"] = json.dumps(asl, indent=2)
    return planted


@pytest.fixture(scope="module")
def cfn_lint(rendered: Path, template: dict[str, Any], orchestrator) -> dict[str, list[Any]]:
    """cfn-lint's matches for the rendered template and for the resolved, planted copy."""
    from cfnlint.api import ManualArgs, lint_file

    planted = rendered / "cloudformation" / "planted.yaml"
    planted.write_text(yaml.safe_dump(_plant(template, resolve_definition(template, orchestrator)), sort_keys=False))
    # The resolved template is linted as one stack would have it; the rendered one in several Regions.
    return {
        "rendered": lint_file(rendered / "cloudformation" / TEMPLATE_FILE, ManualArgs(regions=LINTED_REGIONS)),
        "planted": lint_file(planted, ManualArgs(regions=[orchestrator.arns.region])),
    }


# A fleet's template serves every commercial Region; these differ in what cfn-lint checks (services offered).
LINTED_REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]


def _describe(matches: list[Any]) -> list[str]:
    return [f"{m.rule.id} {m.message} at {'/'.join(map(str, m.path))}" for m in matches]


def _state_type(definition: dict[str, Any], path: str) -> str | None:
    node: Any = definition
    for part in path.split("/"):
        node = node.get(part) if isinstance(node, dict) else None
    return node.get("Type") if isinstance(node, dict) else None


def _false_positive(match: Any, definition: dict[str, Any]) -> bool:
    for rule, pattern, state_type, _why in CFN_LINT_FALSE_POSITIVES:
        found = pattern.search(match.message)
        if match.rule.id == rule and found and _state_type(definition, found["path"]) == state_type:
            return True
    return False


# -- cfn-lint ------------------------------------------------------------------------------------------


def test_cfn_lint_finds_nothing_in_the_rendered_template(cfn_lint: dict[str, list[Any]]) -> None:
    assert _describe(cfn_lint["rendered"]) == []


def test_the_template_names_no_account_or_region_and_takes_the_configs_values_as_defaults(
    rendered: Path, neutral: dict[str, Any], resolved_settings
) -> None:
    text = (rendered / "cloudformation" / TEMPLATE_FILE).read_text()
    settings = resolved_settings.settings
    assert re.findall(r"\b\d{12}\b", text) == []
    assert settings.dynamodb.region not in text and "Rules" not in neutral
    defaults = {name: p.get("Default") for name, p in neutral["Parameters"].items()}
    assert defaults["ExternalId"] == settings.sso.external_id
    assert defaults["ReadableBuckets"] == ",".join(settings.sso.readable_buckets)
    assert defaults["DriftSchedule"] == settings.provisioner.drift_schedule
    assert defaults["CodeBucketPrefix"] is None  # each fleet (or stack) names its code buckets


def test_the_template_resolves_to_other_documents_in_another_account_and_region(neutral: dict[str, Any]) -> None:
    here = json.dumps(resolved_in(neutral, "111111111111", "us-east-1", "aws", {"CodeBucketPrefix": "code"}))
    there = json.dumps(resolved_in(neutral, "222222222222", "eu-west-1", "aws", {"CodeBucketPrefix": "code"}))
    assert "222222222222" not in here and "111111111111" not in there
    assert ":eu-west-1:" in there and ":eu-west-1:" not in here
    assert '"S3Bucket": "code-eu-west-1"' in there


def test_cfn_lint_passes_the_definition_as_cloudformation_resolves_it_and_reports_planted_mistakes(
    cfn_lint: dict[str, list[Any]], template: dict[str, Any], orchestrator
) -> None:
    definition = json.loads(resolve_definition(template, orchestrator))
    errors = [m for m in cfn_lint["planted"] if m.rule.severity == "error"]
    planted = [m for m in errors if "Planted" in m.path or m.path[-1] == "Timeout"]
    assert {m.rule.id for m in planted} == set(PLANTED), _describe(errors)
    allowed = [m for m in errors if m not in planted and _false_positive(m, definition)]
    assert _describe([m for m in errors if m not in planted and m not in allowed]) == []
    used = {rule for rule, *_ in CFN_LINT_FALSE_POSITIVES if any(m.rule.id == rule for m in allowed)}
    assert used == {rule for rule, *_ in CFN_LINT_FALSE_POSITIVES}, "an allowed false positive cfn-lint no longer reports: delete it"
    # The template suppresses exactly the rules whose false positives are proven here, on the state machine only.
    suppressed = [(name, r["Metadata"]) for name, r in template["Resources"].items() if "Metadata" in r]
    assert suppressed == [("StateMachine", CFN_LINT_IGNORED)]
    assert CFN_LINT_IGNORED["cfn-lint"]["config"]["ignore_checks"] == sorted(used)


# -- the template declares what deploy creates ---------------------------------------------------------


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in template["Resources"].items() if r["Type"] == kind}


def test_the_roles_carry_exactly_the_documents_render_writes(template: dict[str, Any], rendered: Path, orchestrator) -> None:
    roles = {r["Properties"]["RoleName"]: r["Properties"] for r in _of_type(template, "AWS::IAM::Role").values()}
    assert set(roles) == {role.name for role in orchestrator.roles}
    assert len(roles) == len(STEPS) + 3
    policies = {r["Properties"]["RoleName"]["Ref"]: r["Properties"] for r in _of_type(template, "AWS::IAM::RolePolicy").values()}
    by_name = {r["Properties"]["RoleName"]: logical for logical, r in _of_type(template, "AWS::IAM::Role").items()}
    for name, properties in roles.items():
        assert properties["AssumeRolePolicyDocument"] == json.loads((rendered / "iam" / f"{name}.trust.json").read_text())
        # The permissions are a resource of their own (see test_every_user_of_a_role_depends_on_its_policy).
        assert "Policies" not in properties and "ManagedPolicyArns" not in properties
        policy = policies[by_name[name]]
        assert policy["PolicyDocument"] == json.loads((rendered / "iam" / f"{name}.policy.json").read_text())
        assert policy["PolicyName"] == "least-privilege"


def test_every_user_of_a_role_depends_on_its_policy_and_the_log_groups_are_retained(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    policy_of_role = {r["Properties"]["RoleName"]["Ref"]: logical for logical, r in _of_type(template, "AWS::IAM::RolePolicy").items()}
    users = 0
    for logical, resource in resources.items():
        for role in _role_references(resource.get("Properties", {})):
            users += 1
            assert policy_of_role[role] in resource.get("DependsOn", []), logical
    assert users == len(STEPS) + 3  # the functions, the state machine, the rule's target, the schedule
    for logical, group in _of_type(template, "AWS::Logs::LogGroup").items():
        assert (group.get("DeletionPolicy"), group.get("UpdateReplacePolicy")) == ("Retain", "Retain"), logical


def _role_references(value: Any) -> list[str]:
    """The roles whose Arn `value` takes (Fn::GetAtt [ROLE, Arn]) anywhere inside it."""
    if isinstance(value, dict):
        got = value.get("Fn::GetAtt")
        if isinstance(got, list) and got[1:] == ["Arn"] and got[0].endswith("Role"):
            return [got[0]]
        return [role for item in value.values() for role in _role_references(item)]
    if isinstance(value, list):
        return [role for item in value for role in _role_references(item)]
    return []


def test_each_function_is_configured_as_deploy_configures_it(template: dict[str, Any], orchestrator) -> None:
    functions = _of_type(template, "AWS::Lambda::Function")
    assert {f["Properties"]["FunctionName"] for f in functions.values()} == {f.name for f in orchestrator.functions}
    for function in orchestrator.functions:
        properties = functions[logical_id(function.step, "Function")]["Properties"]
        role = {"Fn::GetAtt": [logical_id(function.role, "Role"), "Arn"]}
        assert {k: properties[k] for k in function.configuration(role)} == function.configuration(role)
        assert properties["TracingConfig"] == {"Mode": "Active"}
        assert properties["Code"]["S3Bucket"] == f"artifacts-{orchestrator.arns.region}"
    log_groups = {g["Properties"]["LogGroupName"]: g["Properties"] for g in _of_type(template, "AWS::Logs::LogGroup").values()}
    assert set(log_groups) == {f.log_group for f in orchestrator.functions} | {orchestrator.state_machine.log_group}
    assert {g["RetentionInDays"] for g in log_groups.values()} == {orchestrator.log_retention_days}


def test_the_state_machine_runs_the_rendered_definition_with_its_role_logging_and_tracing(
    template: dict[str, Any], rendered: Path, orchestrator
) -> None:
    properties = template["Resources"]["StateMachine"]["Properties"]
    assert resolve_definition(template, orchestrator) == (rendered / "state_machine.asl.json").read_text()
    assert properties["RoleArn"] == {"Fn::GetAtt": [logical_id("states", "Role"), "Arn"]}
    assert properties["StateMachineType"] == "STANDARD"
    assert properties["LoggingConfiguration"] == {
        "Level": "ERROR",
        "IncludeExecutionData": False,
        "Destinations": [{"CloudWatchLogsLogGroup": {"LogGroupArn": {"Fn::GetAtt": ["StateMachineLogGroup", "Arn"]}}}],
    }
    assert properties["TracingConfiguration"] == {"Enabled": True}


def test_the_rule_schedule_and_alarm_are_deploys(template: dict[str, Any], orchestrator) -> None:
    (rule,) = _of_type(template, "AWS::Events::Rule").values()
    machine = {"Ref": "StateMachine"}
    assert rule["Properties"]["EventPattern"]["detail"] == {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [machine]}
    (target,) = rule["Properties"]["Targets"]
    assert target["Arn"] == machine and target["RoleArn"] == {"Fn::GetAtt": ["EventsRole", "Arn"]}
    assert target["InputTransformer"]["InputPathsMap"] == {"execution": "$.detail.executionArn"}
    queue = {"Fn::GetAtt": ["UndeliveredQueue", "Arn"]}
    assert target["DeadLetterConfig"] == {"Arn": queue}
    (schedule,) = _of_type(template, "AWS::Scheduler::Schedule").values()
    assert schedule["Properties"]["ScheduleExpression"] == orchestrator.drift_schedule.expression
    assert schedule["Properties"]["Target"] == {
        "Arn": machine,
        "RoleArn": {"Fn::GetAtt": ["SchedulerRole", "Arn"]},
        "Input": json.dumps({"action": "drift-check"}),
        "RetryPolicy": {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185},
        "DeadLetterConfig": {"Arn": queue},
    }
    alarms = {alarm["Properties"]["AlarmName"]: alarm["Properties"] for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values()}
    assert alarms == {alarm.name: alarm.parameters() for alarm in orchestrator.alarms}
    assert alarms[orchestrator.drift_alarm.name]["Namespace"] == "FileFerry"
    (policy,) = _of_type(template, "AWS::SQS::QueuePolicy").values()
    assert policy["Properties"] == {"Queues": [{"Ref": "UndeliveredQueue"}], "PolicyDocument": orchestrator.undelivered_queue.policy}


def test_render_writes_the_zip_deploy_uploads(rendered: Path, resolved_settings) -> None:
    zipped = (rendered / "cloudformation" / LAMBDA_ZIP).read_bytes()
    assert zipped == build_package(desired_state(resolved_settings.settings)).zip_bytes
