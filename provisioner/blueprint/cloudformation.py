"""The orchestrator as one CloudFormation template for any account and Region, made from the description `deploy` uses.

For accounts that accept only CloudFormation, and for StackSets (docs/fleet.md): `render --out DIR` writes
DIR/cloudformation/template.yaml and the Lambda zip it deploys. The template names no account or Region:
every ARN is built from AWS::Partition, AWS::Region and AWS::AccountId, and what a target may hold
differently (the ExternalId, readable buckets, KMS key, protected tables, drift schedule, alarm topic) is a
Parameter whose default is the config's value. The functions' code comes from the bucket
`<CodeBucketPrefix>-<Region>` (Lambda reads code only from a bucket in the function's own Region), at
`CodeKey`, whose default names the zip by its content:

    aws s3 cp DIR/cloudformation/lambda.zip s3://PREFIX-REGION/KEY        (KEY: the CodeKey default)
    aws cloudformation deploy --template-file DIR/cloudformation/template.yaml --stack-name NAME \
        --capabilities CAPABILITY_NAMED_IAM --s3-bucket PREFIX-REGION --parameter-overrides CodeBucketPrefix=PREFIX

(the template is over CloudFormation's 51,200-byte limit for an inline body, so deploy uploads it too).

Every setting and document comes from `provisioner.orchestrator.describe_orchestrator`, described for a
symbolic target (`${AWS::AccountId}`, `${ExternalId}`, ...); the template only adds CloudFormation's wiring
(logical ids, Ref/GetAtt/Fn::Sub, conditions, dependencies).
"""

from __future__ import annotations

import dataclasses
import json
import re
from typing import Any

import yaml

from lambdas.core.desired import DesiredState
from lambdas.core.steps import STEPS_BY_NAME
from lambdas.core.target import Target, for_target
from provisioner.blueprint.iam_documents import Arns
from provisioner.blueprint.orchestrator import Orchestrator, describe_orchestrator
from provisioner.config import Settings
from state_machine.asl import load_definition

TEMPLATE_FILE = "template.yaml"
LAMBDA_ZIP = "lambda.zip"  # next to the template; uploaded to each Region's code bucket
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
                "Code": {"S3Bucket": "${CodeBucketPrefix}-${AWS::Region}", "S3Key": {"Ref": "CodeKey"}},
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


# The symbolic target the template is described for: CloudFormation fills each in per stack (Fn::Sub).
PARTITION, REGION, ACCOUNT = "${AWS::Partition}", "${AWS::Region}", "${AWS::AccountId}"
TEMPLATE_TARGET = Target(
    account_id=ACCOUNT, region=REGION, external_id="${ExternalId}", readable_buckets=("${ReadableBuckets}",),
    kms_key_id="${KmsKeyId}", point_in_time_recovery_tables=("${PointInTimeRecoveryTables}",),
    deletion_protected_tables=("${DeletionProtectedTables}",),
)
# The KMS key decides statements, not only values (none without a key; an alias is matched by condition):
# the policies are described for each kind of key, with these standing in for the parameter.
_KMS_KEY_ARN = "arn:aws:kms:us-east-1:000000000000:key/00000000-0000-4000-8000-00000000c0de"
_KMS_ALIAS = "alias/fileferry-template-kms-key-parameter"
_BUCKET = r"(\*|[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])"
_KMS_PARAMETER = r"^$|^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+$|^alias/[A-Za-z0-9/_-]+$"
CODE_BUCKET_PREFIX = r"^[a-z0-9][a-z0-9.-]{1,46}[a-z0-9]$"  # <prefix>-<region> within S3's 63 characters
# Keys of the strings CloudFormation must not substitute: the definition's ${...} are DefinitionSubstitutions.
_LITERAL_KEYS = {"DefinitionString"}


def _listed(names: list[str]) -> str:
    """AllowedPattern of a comma-separated list of some of `names` (empty allowed)."""
    one = "(" + "|".join(re.escape(name) for name in names) + ")"
    return f"^({one}(,{one})*)?$"


def default_kms_key(settings: Settings, desired: DesiredState) -> str:
    """The config's key as the KmsKeyId parameter takes it: a key ARN or an alias name (or empty)."""
    key = settings.dynamodb.kms_key_id
    if not key or key.startswith("alias/"):
        return key
    if key.startswith("arn:"):
        resource = key.split(":", 5)[5]
        return resource if resource.startswith("alias/") else key  # an alias ARN: its alias in each account
    return f"arn:{Arns.for_state(desired, desired.account_id).partition}:kms:{desired.region}:{desired.account_id}:key/{key}"


def code_key(name: str, zip_sha256_hex: str) -> str:
    """Where the zip lives in each code bucket: named by its content, so a new zip is a change CloudFormation sees."""
    return f"{name}/lambda-{zip_sha256_hex[:20]}.zip"


def parameters(settings: Settings, desired: DesiredState, zip_sha256_hex: str) -> dict[str, Any]:
    tables = desired.table_names()
    target = Target.of(desired)
    return {
        "CodeBucketPrefix": {
            "Type": "String", "AllowedPattern": CODE_BUCKET_PREFIX,
            "Description": "The functions' code is read from the bucket <CodeBucketPrefix>-<Region> of each target Region",
            "ConstraintDescription": "3-48 lowercase letters, digits, dots and hyphens (the Region is appended)",
        },
        "CodeKey": {"Type": "String", "Default": code_key(desired.provisioner_name, zip_sha256_hex), "MinLength": 1,
                    "Description": "The Lambda zip's key in each code bucket"},
        "ExternalId": {"Type": "String", "Default": target.external_id, "MinLength": 2, "MaxLength": 1224,
                       "AllowedPattern": r"^[A-Za-z0-9_+=,.@:/-]+$",
                       "Description": "The ExternalId FileFerryReadOnlyRole's trust policy requires (sso.external_id)"},
        "ReadableBuckets": {"Type": "String", "Default": ",".join(target.readable_buckets),
                            "AllowedPattern": f"^{_BUCKET}(,{_BUCKET})*$",
                            "Description": "Comma-separated buckets the role may read, or * (sso.readable_buckets)"},
        "KmsKeyId": {"Type": "String", "Default": default_kms_key(settings, desired), "AllowedPattern": _KMS_PARAMETER,
                     "Description": "The tables' customer managed key (a key ARN or alias/NAME); empty: the AWS managed key"},
        "PointInTimeRecoveryTables": {
            "Type": "String", "Default": ",".join(target.point_in_time_recovery_tables), "AllowedPattern": _listed(tables),
            "Description": "Comma-separated tables with point-in-time recovery (dynamodb.point_in_time_recovery)"},
        "DeletionProtectedTables": {
            "Type": "String", "Default": ",".join(target.deletion_protected_tables), "AllowedPattern": _listed(tables),
            "Description": "Comma-separated tables with deletion protection (dynamodb.deletion_protection)"},
        "DriftSchedule": {"Type": "String", "Default": settings.provisioner.drift_schedule,
                          "AllowedPattern": r"^(rate|cron)\(.+\)$",
                          "Description": "When the drift check runs: an EventBridge Scheduler rate(...) or cron(...)"},
        "AlarmTopicArn": {"Type": "String", "Default": settings.provisioner.alarm_topic_arn,
                          "AllowedPattern": r"^$|^arn:aws[a-z-]*:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]{1,256}$",
                          "Description": "SNS topic the alarms notify; empty: alarm only (provisioner.alarm_topic_arn)"},
    }


CONDITIONS = {
    "HasKmsKey": {"Fn::Not": [{"Fn::Equals": [{"Ref": "KmsKeyId"}, ""]}]},
    "KmsKeyIsAlias": {"Fn::Equals": [{"Fn::Select": [0, {"Fn::Split": ["/", {"Ref": "KmsKeyId"}]}]}, "alias"]},
    "HasAlarmTopic": {"Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]},
}


def describe_for_template(settings: Settings, desired: DesiredState, kms_key_id: str | None = _KMS_KEY_ARN) -> Orchestrator:
    """The orchestrator described for the symbolic target, with `kms_key_id` standing in for the KmsKeyId parameter."""
    state = for_target(desired, dataclasses.replace(TEMPLATE_TARGET, kms_key_id=kms_key_id), partition=PARTITION, check=False)
    arns = Arns.for_state(state, ACCOUNT, PARTITION)
    return describe_orchestrator(settings, state, arns, target=TEMPLATE_TARGET)


def _kms_parameter(document: Any) -> Any:
    text = json.dumps(document).replace(_KMS_KEY_ARN, "${KmsKeyId}").replace(_KMS_ALIAS, "${KmsKeyId}")
    return json.loads(text)


def _policies_by_key(settings: Settings, desired: DesiredState) -> dict[str, Any]:
    """Each role's policy document, as one for every kind of key where the kind matters (Fn::If)."""
    without = {r.key: r.policy for r in describe_for_template(settings, desired, None).roles}
    by_arn = {r.key: _kms_parameter(r.policy) for r in describe_for_template(settings, desired, _KMS_KEY_ARN).roles}
    by_alias = {r.key: _kms_parameter(r.policy) for r in describe_for_template(settings, desired, _KMS_ALIAS).roles}
    chosen: dict[str, Any] = {}
    for key, policy in without.items():
        if policy == by_arn[key] == by_alias[key]:
            chosen[key] = policy
        else:
            chosen[key] = {"Fn::If": ["HasKmsKey", {"Fn::If": ["KmsKeyIsAlias", by_alias[key], by_arn[key]]}, policy]}
    return chosen


def _substituted(value: Any, key: str | None = None) -> Any:
    """Every string that names a pseudo parameter or a Parameter (`${...}`) as an Fn::Sub."""
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Fn::Sub", "Ref", "Fn::GetAtt"):
            return value
        return {k: (item if k in _LITERAL_KEYS else _substituted(item, k)) for k, item in value.items()}
    if isinstance(value, list):
        return [_substituted(item, key) for item in value]
    if isinstance(value, str) and "${" in value:
        return {"Fn::Sub": value}
    return value


def template(settings: Settings, desired: DesiredState, zip_sha256_hex: str) -> dict[str, Any]:
    """The template as data (see `template_yaml` for the text `render` writes)."""
    orchestrator = describe_for_template(settings, desired, None)
    resources = _resources(orchestrator)
    for key, policy in _policies_by_key(settings, desired).items():
        resources[_policy(key)]["Properties"]["PolicyDocument"] = policy
    for function in orchestrator.functions:
        environment = resources[logical_id(function.step, "Function")]["Properties"]["Environment"]["Variables"]
        environment.update(TEMPLATE_TARGET.environment())
    resources["DriftCheckSchedule"]["Properties"]["ScheduleExpression"] = {"Ref": "DriftSchedule"}
    for alarm in resources.values():
        if alarm["Type"] == "AWS::CloudWatch::Alarm":
            alarm["Properties"]["AlarmActions"] = {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], []]}
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            f"FileFerry provisioner orchestrator {orchestrator.name!r}, for any account and Region (written by "
            "`deploy.py render`; what `deploy.py deploy` creates; a StackSet's template for `deploy.py fleet`)"
        ),
        "Parameters": parameters(settings, desired, zip_sha256_hex),
        "Conditions": CONDITIONS,
        "Resources": _substituted(resources),
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


def template_yaml(settings: Settings, desired: DesiredState, zip_sha256_hex: str) -> str:
    return yaml.dump(template(settings, desired, zip_sha256_hex), Dumper=_Dumper, sort_keys=False, width=120,
                     allow_unicode=False)
