"""The orchestrator as a CloudFormation template, made from the description `deploy` uses.

For accounts that accept only CloudFormation (and StackSets): `render --out DIR` writes
DIR/cloudformation/template.yaml and the Lambda zip it names by a relative path, ready for

    aws cloudformation package --template-file DIR/cloudformation/template.yaml --s3-bucket BUCKET --output-template-file packaged.yaml
    aws cloudformation deploy --template-file packaged.yaml --stack-name NAME --capabilities CAPABILITY_NAMED_IAM --s3-bucket BUCKET

(the template is over CloudFormation's 51,200-byte limit for an inline body, so deploy uploads it too).

Every setting and document comes from `provisioner.orchestrator.describe_orchestrator`; the
template only adds CloudFormation's wiring (logical ids, Ref/GetAtt, dependencies).
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from lambdas.core.steps import STEPS_BY_NAME
from provisioner.blueprint.orchestrator import Orchestrator
from state_machine.asl import load_definition

TEMPLATE_FILE = "template.yaml"
LAMBDA_ZIP = "lambda.zip"  # next to the template; `aws cloudformation package` uploads it
STATE_MACHINE = "StateMachine"
_SUBSTITUTION = re.compile(r"\$\{([^}]*)\}")


def logical_id(*words: str) -> str:
    """`("validate-input-fn", "Role")` -> `ValidateInputFnRole` (CloudFormation ids are alphanumeric)."""
    return "".join(part.capitalize() for word in words for part in re.split(r"[^A-Za-z0-9]+", word) if part)


def _get_arn(resource: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [resource, "Arn"]}


def _tags(orchestrator: Orchestrator) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in orchestrator.tags.items()]


def _pascal_keys(value: Any) -> Any:
    """Step Functions' API spells its fields in lower camel case; CloudFormation in Pascal case."""
    if isinstance(value, dict):
        return {key[:1].upper() + key[1:]: _pascal_keys(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_pascal_keys(item) for item in value]
    return value


_INTEGRATION = re.compile(r'"arn:aws:states:::([a-z0-9:.-]+)"')


def _definition_string(definition: str, partition: str) -> tuple[str, dict[str, str]]:
    """The definition with each service integration (`arn:aws:states:::lambda:invoke`) left to a
    DefinitionSubstitutions entry naming it in the configured partition (`arn:aws-cn:states:::...` in China).

    Through a substitution because cfn-lint's ASL schema (rule E3601) takes a Task's Resource for an
    `arn:aws:` ARN only, while Step Functions names integrations in its partition ("Amazon Resource Names
    in the China Regions"); cfn-lint leaves a Resource that is exactly a substitution alone."""
    substitutions: dict[str, str] = {}

    def placeholder(match: re.Match[str]) -> str:
        name = logical_id("integration", match.group(1))
        substitutions[name] = f"arn:{partition}:states:::{match.group(1)}"
        return '"${' + name + '}"'

    return _INTEGRATION.sub(placeholder, definition), substitutions


def _definition_substitutions() -> dict[str, Any]:
    """Each step placeholder of the committed ASL, bound to its function's ARN."""
    text = load_definition()  # the placeholders are the same whatever the configured poll
    substitutions = {}
    for name in sorted(set(_SUBSTITUTION.findall(text))):
        step = next((s for s in STEPS_BY_NAME.values() if s.placeholder == "${" + name + "}"), None)
        if step is None:
            raise ValueError(f"the ASL holds ${{{name}}}, which is no step's placeholder")
        substitutions[name] = _get_arn(logical_id(step.name, "Function"))
    return substitutions


# cfn-lint's ASL schema (rule E3601) rejects OutputPath on a Succeed state, which the States Language
# allows (https://states-language.net/#succeed-state) and DriftCheckDone uses. A resource-level
# ignore is the narrowest cfn-lint offers; tests/referees/test_cloudformation.py lints the definition
# without it and proves that false positive is the only E3601 finding.
CFN_LINT_IGNORED = {"cfn-lint": {"config": {"ignore_checks": ["E3601"]}}}


def _policy(role_key: str) -> str:
    return logical_id(role_key, "Policy")


def _log_group(name: str, orchestrator: Orchestrator) -> dict[str, Any]:
    return {
        "Type": "AWS::Logs::LogGroup",
        # The logs are the runs' record (what a rollback deleted, kept or could not undo): deleting or
        # replacing the stack must not delete them with it. Retention still ages them out.
        "DeletionPolicy": "Retain",
        "UpdateReplacePolicy": "Retain",
        "Properties": {
            "LogGroupName": name,
            "RetentionInDays": orchestrator.log_retention_days,
            "Tags": _tags(orchestrator),
        },
    }


def _resources(orchestrator: Orchestrator) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    for role in orchestrator.roles:
        resources[logical_id(role.key, "Role")] = {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "RoleName": role.name,
                "AssumeRolePolicyDocument": role.trust_policy,
                "Tags": _tags(orchestrator),
            },
        }
        # The permissions as a resource of their own, which each user of the role DependsOn: CloudFormation
        # completes an AWS::IAM::RolePolicy once IAM has propagated it, while a role's inline `Policies` may
        # still be propagating when the role completes, and Step Functions then refuses the state machine
        # ("The state machine IAM Role is not authorized to access the Log Destination", which CloudFormation
        # does not retry as deploy does: aws/aws-cdk#26432).
        resources[_policy(role.key)] = {
            "Type": "AWS::IAM::RolePolicy",
            "Properties": {
                "RoleName": {"Ref": logical_id(role.key, "Role")},
                "PolicyName": role.policy_name,
                "PolicyDocument": role.policy,
            },
        }
    for function in orchestrator.functions:
        log_group = logical_id(function.step, "LogGroup")
        resources[log_group] = _log_group(function.log_group, orchestrator)
        resources[logical_id(function.step, "Function")] = {
            "Type": "AWS::Lambda::Function",
            # deploy creates the log group (with its retention) before the function, so does this.
            "DependsOn": [log_group, _policy(function.role)],
            "Properties": {
                "FunctionName": function.name,
                "Code": LAMBDA_ZIP,
                **function.configuration(_get_arn(logical_id(function.role, "Role"))),
                "Tags": _tags(orchestrator),
            },
        }
    machine = orchestrator.state_machine
    definition, integrations = _definition_string(machine.configured_definition(), orchestrator.arns.partition)
    resources["StateMachineLogGroup"] = _log_group(machine.log_group, orchestrator)
    resources[STATE_MACHINE] = {
        "Type": "AWS::StepFunctions::StateMachine",
        "DependsOn": [_policy(machine.role)],
        "Metadata": CFN_LINT_IGNORED,
        "Properties": {
            "StateMachineName": machine.name,
            "StateMachineType": machine.type,
            "DefinitionString": definition,
            "DefinitionSubstitutions": {**_definition_substitutions(), **integrations},
            "RoleArn": _get_arn(logical_id(machine.role, "Role")),
            "LoggingConfiguration": _pascal_keys(machine.logging_configuration(_get_arn("StateMachineLogGroup"))),
            "TracingConfiguration": {"Enabled": machine.tracing},
            "Tags": _tags(orchestrator),
        },
    }
    state_machine_arn = {"Ref": STATE_MACHINE}
    queue = orchestrator.undelivered_queue
    attributes = queue.attributes()
    resources["UndeliveredQueue"] = {
        "Type": "AWS::SQS::Queue",
        "Properties": {
            "QueueName": queue.name,
            "MessageRetentionPeriod": int(attributes["MessageRetentionPeriod"]),
            "SqsManagedSseEnabled": attributes["SqsManagedSseEnabled"] == "true",
            "Tags": _tags(orchestrator),
        },
    }
    resources["UndeliveredQueuePolicy"] = {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {"Queues": [{"Ref": "UndeliveredQueue"}], "PolicyDocument": queue.policy},
    }
    queue_arn = _get_arn("UndeliveredQueue")
    rule = orchestrator.rollback_rule
    resources["RollbackOnAbortRule"] = {
        "Type": "AWS::Events::Rule",
        "DependsOn": [_policy(rule.role), "UndeliveredQueuePolicy"],
        "Properties": {
            "Name": rule.name,
            "Description": rule.description,
            "State": rule.state,
            "EventPattern": rule.pattern(state_machine_arn),
            "Targets": [rule.target(state_machine_arn, _get_arn(logical_id(rule.role, "Role")), queue_arn)],
        },
    }
    schedule = orchestrator.drift_schedule
    resources["DriftCheckSchedule"] = {
        "Type": "AWS::Scheduler::Schedule",
        "DependsOn": [_policy(schedule.role)],
        "Properties": {
            "Name": schedule.name,
            "Description": schedule.description,
            "ScheduleExpression": schedule.expression,
            "FlexibleTimeWindow": {"Mode": schedule.flexible_time_window},
            "State": schedule.state,
            "Target": schedule.target(state_machine_arn, _get_arn(logical_id(schedule.role, "Role")), queue_arn),
        },
    }
    resources["DriftAlarm"] = {"Type": "AWS::CloudWatch::Alarm", "Properties": orchestrator.drift_alarm.parameters()}
    for alarm in orchestrator.delivery_alarms:
        resources[logical_id(alarm.name.removeprefix(orchestrator.name), "Alarm")] = {
            "Type": "AWS::CloudWatch::Alarm", "Properties": alarm.parameters()}
    lease = orchestrator.lease_table
    resources["RunLeaseTable"] = {
        "Type": "AWS::DynamoDB::Table",
        # One item naming the last run that changed resources: nothing to keep once the stack is gone.
        "DeletionPolicy": "Delete",
        "UpdateReplacePolicy": "Delete",
        "Properties": {"TableName": lease.name, **lease.key(), "Tags": _tags(orchestrator)},
    }
    # The first run takes the lease: the state machine is complete only once the table is.
    resources[STATE_MACHINE]["DependsOn"].append("RunLeaseTable")
    return resources


def template(orchestrator: Orchestrator) -> dict[str, Any]:
    """The template as data (see `template_yaml` for the text `render` writes)."""
    arns = orchestrator.arns
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"FileFerry provisioner orchestrator {orchestrator.name!r} for account {arns.account_id}, region "
            f"{arns.region} (written by `deploy.py render`; what `deploy.py deploy` creates)"
        ),
        # Every policy and ARN in the template names the configured account and region.
        "Rules": {
            "ConfiguredAccountAndRegion": {
                "Assertions": [
                    {
                        "Assert": {"Fn::Equals": [{"Ref": "AWS::AccountId"}, arns.account_id]},
                        "AssertDescription": f"the template was rendered for account {arns.account_id} (sso.account_id)",
                    },
                    {
                        "Assert": {"Fn::Equals": [{"Ref": "AWS::Region"}, arns.region]},
                        "AssertDescription": f"the template was rendered for region {arns.region} (dynamodb.region)",
                    },
                ]
            }
        },
        "Resources": _resources(orchestrator),
        "Outputs": {
            "StateMachineArn": {"Description": "Start provisioning runs here", "Value": {"Ref": STATE_MACHINE}},
        },
    }


class _Dumper(yaml.SafeDumper):
    pass


def _text(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # The ASL reads best as a block; PyYAML falls back to a quoted style when a block cannot hold it.
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)


_Dumper.add_representer(str, _text)


def template_yaml(orchestrator: Orchestrator) -> str:
    return yaml.dump(template(orchestrator), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=False)
