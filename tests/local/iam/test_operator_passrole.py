"""A call that hands a role to a service needs iam:PassRole on that role, for that service (iam:PassedToService),
as every AWS service checks it: refused, it answers with its own AccessDenied naming iam:PassRole, and creates
nothing. A role session of the operator is evaluated like any other (local/iam/requests.py, passed_role_requests)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from emulated_samples import ACCOUNT, trust_policy

PASSED = "passed-role"
PASSED_ARN = f"arn:aws:iam::{ACCOUNT}:role/{PASSED}"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})
TEMPLATE = json.dumps({"Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "from-stack"}}}})


def _machine_arn(name: str) -> str:
    return f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:{name}"


def _create_function(clients: Callable[[str], Any], lambda_zip: bytes) -> Any:
    return clients("lambda").create_function(FunctionName="handed", Role=PASSED_ARN, Runtime="python3.12",
                                             Handler="testpkg.handlers.echo", Code={"ZipFile": lambda_zip})


def _functions(aws: Any) -> list[str]:
    return [f["FunctionName"] for f in aws("lambda").list_functions()["Functions"]]


def _put_targets(clients: Callable[[str], Any], _zip: bytes) -> Any:
    answer = clients("events").put_targets(Rule="watched", Targets=[
        {"Id": "start", "Arn": _machine_arn("anything"), "RoleArn": PASSED_ARN}])
    assert answer.get("FailedEntryCount", 0) == 0, answer
    return answer


# (the service the role is handed to, the call, what the call would have created, as read with full access)
CASES = {
    "lambda:CreateFunction": ("lambda.amazonaws.com", "lambda:CreateFunction", _create_function, _functions),
    "states:CreateStateMachine": (
        "states.amazonaws.com", "states:CreateStateMachine",
        lambda clients, _zip: clients("stepfunctions").create_state_machine(name="handed", definition=DEFINITION,
                                                                             roleArn=PASSED_ARN),
        lambda aws: [m["name"] for m in aws("stepfunctions").list_state_machines()["stateMachines"]]),
    "events:PutTargets": (
        "events.amazonaws.com", "events:PutTargets", _put_targets,
        lambda aws: [t["Id"] for t in aws("events").list_targets_by_rule(Rule="watched")["Targets"]]),
    "scheduler:CreateSchedule": (
        "scheduler.amazonaws.com", "scheduler:CreateSchedule",
        lambda clients, _zip: clients("scheduler").create_schedule(
            Name="handed", ScheduleExpression="rate(1 day)", FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": _machine_arn("anything"), "RoleArn": PASSED_ARN}),
        lambda aws: [s["Name"] for s in aws("scheduler").list_schedules()["Schedules"]]),
    "cloudformation:CreateStack": (
        "cloudformation.amazonaws.com", "cloudformation:CreateStack",
        lambda clients, _zip: clients("cloudformation").create_stack(StackName="handed", TemplateBody=TEMPLATE,
                                                                      RoleARN=PASSED_ARN),
        lambda aws: [s["StackName"] for s in aws("cloudformation").list_stacks()["StackSummaries"]]),
    "cloudformation:CreateStackSet": (
        "cloudformation.amazonaws.com", "cloudformation:CreateStackSet",
        lambda clients, _zip: clients("cloudformation").create_stack_set(
            StackSetName="handed", TemplateBody=TEMPLATE, AdministrationRoleARN=PASSED_ARN,
            PermissionModel="SELF_MANAGED"),
        lambda aws: [s["StackSetName"] for s in aws("cloudformation").list_stack_sets(Status="ACTIVE")["Summaries"]]),
}
# The error each service answers a refused request with (botocore's shapes; local/iam/enforcement.py).
DENIAL = {"lambda": ("AccessDeniedException", 403), "states": ("AccessDeniedException", 400),
          "events": ("AccessDeniedException", 400), "scheduler": ("AccessDeniedException", 403),
          "cloudformation": ("AccessDenied", 403)}


def _policy(action: str, passed_to: str | None) -> dict[str, Any]:
    statements = [{"Effect": "Allow", "Action": action, "Resource": "*"}]
    if passed_to is not None:
        statements.append({"Effect": "Allow", "Action": "iam:PassRole", "Resource": PASSED_ARN,
                           "Condition": {"StringEquals": {"iam:PassedToService": passed_to}}})
    return {"Version": "2012-10-17", "Statement": statements}


@pytest.fixture
def handing(aws, role_session, lambda_zip):
    """handing(case, passed_to) -> (call it as a session whose policy allows the action and, if `passed_to`,
    iam:PassRole on the role for that service; what the call created)."""
    def make(case: str, passed_to: str | None, session: str) -> tuple[Callable[[], Any], Callable[[], list[str]]]:
        service, action, call, created = CASES[case]
        aws("iam").create_role(RoleName=PASSED, AssumeRolePolicyDocument=trust_policy(service))
        if case == "events:PutTargets":
            aws("events").put_rule(Name="watched", EventPattern=json.dumps({"source": ["aws.states"]}))
        clients = role_session(session, _policy(action, passed_to))
        return (lambda: call(clients, lambda_zip)), (lambda: created(aws))

    return make


def _refusal(call: Callable[[], Any]) -> dict[str, Any]:
    with pytest.raises(ClientError) as raised:
        call()
    return raised.value.response


@pytest.mark.parametrize("case", CASES)
def test_handing_over_a_role_without_iam_passrole_is_refused_naming_it(case, handing) -> None:
    call, created = handing(case, None, "no-passrole")

    error = _refusal(call)

    assert (error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]) == DENIAL[case.split(":")[0]]
    assert error["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/no-passrole/test-session is not authorized to perform: "
        f"iam:PassRole on resource: {PASSED_ARN} because no identity-based policy allows the iam:PassRole action")
    assert created() == []


@pytest.mark.parametrize("case", ["lambda:CreateFunction", "events:PutTargets", "cloudformation:CreateStack"])
def test_iam_passrole_for_another_service_does_not_count(case, handing) -> None:
    call, created = handing(case, "ec2.amazonaws.com", "passes-to-ec2")

    assert "iam:PassRole" in _refusal(call)["Error"]["Message"]
    assert created() == []


@pytest.mark.parametrize("case", CASES)
def test_iam_passrole_for_the_service_lets_the_call_through(case, handing) -> None:
    call, created = handing(case, CASES[case][0], "may-pass")

    call()

    assert created() != []


def test_an_update_that_names_no_role_needs_no_iam_passrole(aws, role_session, lambda_zip) -> None:
    aws("iam").create_role(RoleName=PASSED, AssumeRolePolicyDocument=trust_policy("lambda.amazonaws.com"))
    aws("lambda").create_function(FunctionName="handed", Role=PASSED_ARN, Runtime="python3.12",
                                  Handler="testpkg.handlers.echo", Code={"ZipFile": lambda_zip})
    functions = role_session("no-passrole", _policy("lambda:UpdateFunctionConfiguration", None))("lambda")

    functions.update_function_configuration(FunctionName="handed", Timeout=30)
    error = _refusal(lambda: functions.update_function_configuration(FunctionName="handed", Role=PASSED_ARN))

    assert "iam:PassRole" in error["Error"]["Message"]
    assert aws("lambda").get_function_configuration(FunctionName="handed")["Timeout"] == 30
