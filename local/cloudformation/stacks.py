"""CloudFormation stacks create what CloudFormation on AWS creates, for the orchestrator's template.

moto's CloudFormation differs from AWS's in four ways that matter for `render`'s template
(provisioner/blueprint/cloudformation.py), each corrected here for requests served by the emulator:

- TemplateURL. `aws cloudformation deploy --s3-bucket B` uploads the template and passes a
  path-style URL at the S3 endpoint it used (awscli's s3uploader `to_path_style_s3_url`): with the
  emulator that is `http://127.0.0.1:PORT/B/KEY`. AWS reads the object the URL names (CloudFormation
  API Reference, CreateStack/CreateChangeSet `TemplateURL`); moto took "127" for the bucket, because
  it parses path-style URLs only on amazonaws.com and "localhost" hosts.
- AWS::IAM::Role `Policies`. CloudFormation puts each `PolicyDocument` as the role's inline policy
  (AWS::IAM::Role Policy, CloudFormation User Guide), which GetRolePolicy returns as JSON (IAM API
  Reference, GetRolePolicy). moto stored the template's object and returned its Python repr.
- AWS::Lambda::Function. CloudFormation calls CreateFunction with the resource's properties (its
  `Tags` and `TracingConfig` too; resource reference in the CloudFormation User Guide). moto created
  the function in its Docker Lambda backend, while the emulator serves Lambda (and runs functions)
  from moto's no-Docker backend, so a stack's functions could not be found or invoked.
- AWS::StepFunctions::StateMachine. CloudFormation calls CreateStateMachine with the definition
  (`DefinitionString`, or `Definition`, with `DefinitionSubstitutions` applied), `RoleArn`,
  `StateMachineType`, `LoggingConfiguration`, `TracingConfiguration` and tags (resource reference in
  the CloudFormation User Guide). moto created the state machine in its plain Step Functions backend,
  which neither serves the API nor runs executions when executions are on, so the stack's state
  machine could not be found or started; and it dropped the logging and tracing configuration.

- IAM propagation. With `--consistency-lag`, a stack's resources meet IAM as deploy's calls do
  (local/faults/consistency.py): an AWS::IAM::Role's inline `Policies` are still propagating when the
  role completes, so a state machine with logging, a function with active tracing, created at once
  after it, fail with the error Step Functions / Lambda return while IAM propagates ("The state
  machine IAM Role is not authorized to access the Log Destination", reported from CloudFormation in
  aws/aws-cdk#26432 and by users whose role carried the permissions inline); CloudFormation does not
  retry it past its handler's attempts, and the stack rolls back (the resource CREATE_FAILED with
  "Resource handler returned message: ...", the stack ROLLBACK_COMPLETE, what it created deleted
  but for DeletionPolicy Retain). An AWS::IAM::RolePolicy completes once IAM has propagated it (the
  handler stabilises before it reports CREATE_COMPLETE), so a resource that DependsOn it is not
  refused. moto has no AWS::IAM::RolePolicy model; the emulator puts and deletes the policy. Only
  stack creation rolls back: a refusal while a stack updates is not emulated (none is checked).

- AWS::Scheduler::Schedule, AWS::CloudWatch::Alarm and AWS::SQS::QueuePolicy. CloudFormation calls
  CreateSchedule, PutMetricAlarm and SetQueueAttributes (Policy) with the resource's properties, which
  have the APIs' names and shapes (resource references in the CloudFormation User Guide; `Ref` returns
  the name), and deletes them with the stack. moto has no CloudFormation model for any of them: it
  skipped them with a warning.
"""

from __future__ import annotations

import copy
import json
import re
import uuid
from typing import Any
from urllib.parse import urlparse

from moto.awslambda.models import LambdaFunction
from moto.awslambda.utils import get_backend as lambda_backend
from moto.cloudformation import parsing as cloudformation_parsing
from moto.cloudformation import responses as cloudformation_responses
from moto.cloudformation.models import CloudFormationBackend, Event
from moto.iam.models import iam_backends
from moto.cloudwatch.models import cloudwatch_backends
from moto.core.exceptions import JsonRESTError
from moto.iam.models import Role
from moto.scheduler.models import scheduler_backends
from moto.sqs.models import sqs_backends
from moto.stepfunctions.models import StateMachine
from moto.stepfunctions.parser.models import stepfunctions_parser_backends

from local import patching

_SUBSTITUTION = re.compile(r"\$\{([^}]+)\}")


def install() -> None:
    patching.patch(cloudformation_responses, "get_stack_from_s3_url", _template_from_url)
    patching.patch(Role, "create_from_cloudformation_json", classmethod(_create_role))
    patching.patch(LambdaFunction, "create_from_cloudformation_json", classmethod(_create_function))
    patching.patch(LambdaFunction, "delete", _delete_function)
    patching.patch(StateMachine, "create_from_cloudformation_json", classmethod(_create_state_machine))
    patching.patch(StateMachine, "delete_from_cloudformation_json", classmethod(_delete_state_machine))
    patching.patch(StateMachine, "update_from_cloudformation_json", classmethod(_update_state_machine))
    patching.patch(cloudformation_parsing, "resource_class_from_type", _resource_class_from_type)
    patching.patch(CloudFormationBackend, "create_stack", _create_stack)
    patching.patch(CloudFormationBackend, "execute_change_set", _execute_change_set)


# -- a resource handler that fails: the stack rolls back -----------------------------------------


class HandlerFailed(Exception):
    """A resource's handler failed: CloudFormation marks it CREATE_FAILED and rolls the stack back."""

    def __init__(self, logical_id: str, resource_type: str, reason: str):
        super().__init__(reason)
        self.logical_id, self.resource_type, self.reason = logical_id, resource_type, reason


def _refused_while_iam_propagates(service: str, operation: str, params: dict[str, Any], kwargs: dict[str, Any],
                                  sdk_service: str) -> None:
    """Raise HandlerFailed with the handler's message if AWS would refuse `operation` as IAM propagates."""
    emulator = patching.running_emulator()
    refusal = emulator.consistency.propagation_refusal(service, operation, params) if emulator else None
    if refusal is None:
        return
    code, message = refusal
    # The handler's message, as CloudFormation reports it (e.g. aws/aws-cdk#26432).
    raise HandlerFailed(
        kwargs.get("LogicalId", ""), kwargs.get("ResourceType", ""),
        f'Resource handler returned message: "{message} (Service: {sdk_service}, Status Code: 400, '
        f'Error Code: {code})" (HandlerErrorCode: AccessDenied)',
    )


# The resource handler's error code for each HTTP status of the service's refusal (CloudFormation's
# HandlerErrorCode values: AccessDenied, NotFound, InvalidRequest, ...).
_HANDLER_ERROR_CODES = {403: "AccessDenied", 404: "NotFound", 409: "AlreadyExists", 429: "Throttling"}


def handler_failed(kwargs: dict[str, Any], error: Exception, sdk_service: str) -> HandlerFailed:
    """A service's refusal of the handler's call, as CloudFormation reports it: 'Resource handler returned
    message: "MESSAGE (Service: Lambda, Status Code: 403, Request ID: ...)" (RequestToken: ..., HandlerErrorCode:
    AccessDenied)' (as CloudFormation users report it for a function whose code S3 refused)."""
    code = getattr(error, "code", 400)
    status = code if isinstance(code, int) else 400
    handler_code = _HANDLER_ERROR_CODES.get(status, "InternalFailure" if status >= 500 else "InvalidRequest")
    return HandlerFailed(
        kwargs.get("LogicalId", ""), kwargs.get("ResourceType", ""),
        f'Resource handler returned message: "{getattr(error, "message", None) or error} (Service: {sdk_service}, '
        f'Status Code: {status}, '
        f'Request ID: {uuid.uuid4()})" (RequestToken: {uuid.uuid4()}, HandlerErrorCode: {handler_code})',
    )


# The SDK service names CloudFormation's handler messages give, by the resource type's service.
_SDK_SERVICES = {"IAM": "Iam", "StepFunctions": "Sfn", "DynamoDB": "DynamoDb", "SQS": "Sqs", "SNS": "Sns",
                 "Events": "EventBridge", "Logs": "CloudWatchLogs", "KMS": "Kms"}


def handler_failed_for(stack: Any, error: Exception) -> HandlerFailed:
    """A refusal raised while moto created the stack's resources, as the failure of the first resource of the
    template it had not created yet (the one whose handler was running)."""
    created = stack.resource_map._parsed_resources
    resources = stack.template_dict.get("Resources", {})
    logical_id = next((name for name in resources if name not in created), "")
    resource_type = resources.get(logical_id, {}).get("Type", "")
    service = resource_type.split("::")[1] if resource_type.count("::") == 2 else "CloudFormation"
    return handler_failed({"LogicalId": logical_id, "ResourceType": resource_type}, error,
                          _SDK_SERVICES.get(service, service))


def roll_back(backend: CloudFormationBackend, stack_id: str, failure: HandlerFailed) -> None:
    """The stack's creation failed at `failure`: CREATE_FAILED, rolled back, ROLLBACK_COMPLETE."""
    stack = backend.stacks[stack_id]
    stack.events.append(Event(stack_id=stack.stack_id, stack_name=stack.name, logical_resource_id=failure.logical_id,
                              physical_resource_id="", resource_type=failure.resource_type,
                              resource_status="CREATE_FAILED", resource_status_reason=failure.reason,
                              resource_properties=None))
    stack._add_stack_event("ROLLBACK_IN_PROGRESS", resource_status_reason=(
        f"The following resource(s) failed to create: [{failure.logical_id}]. Rollback requested by user."))
    stack.resource_map.delete()  # what it created (DeletionPolicy Retain kept)
    stack._add_stack_event("ROLLBACK_COMPLETE")
    stack.status = "ROLLBACK_COMPLETE"


def _create_stack(self: CloudFormationBackend, name: str, *args: Any, **kwargs: Any) -> Any:
    original = patching.original(CloudFormationBackend, "create_stack")
    if not patching.in_emulator_request():
        return original(self, name, *args, **kwargs)
    try:
        return original(self, name, *args, **kwargs)
    except HandlerFailed as failure:
        (stack,) = [stack for stack in self.stacks.values() if stack.name == name]
        roll_back(self, stack.stack_id, failure)
        return stack


def _execute_change_set(self: CloudFormationBackend, change_set_name: str, stack_name: str | None = None) -> None:
    original = patching.original(CloudFormationBackend, "execute_change_set")
    if not patching.in_emulator_request():
        return original(self, change_set_name, stack_name)
    change_set = self.change_sets.get(change_set_name) or next(
        (c for c in self.change_sets.values() if c.change_set_name == change_set_name), None)
    try:
        return original(self, change_set_name, stack_name)
    except HandlerFailed as failure:
        if change_set is None or change_set.change_set_type != "CREATE":
            raise
        roll_back(self, change_set.stack_id, failure)
        change_set.execution_status = "EXECUTE_FAILED"
        return None


# -- TemplateURL -------------------------------------------------------------------------------


def _template_from_url(template_url: str, account_id: str, partition: str) -> str:
    original = patching.original(cloudformation_responses, "get_stack_from_s3_url")
    host = urlparse(template_url).hostname or ""
    if not patching.in_emulator_request() or host.endswith("amazonaws.com"):
        return original(template_url, account_id, partition)
    # Path-style at the emulator's own address: /BUCKET/KEY. moto reads it that way for "localhost".
    path = urlparse(template_url)._replace(netloc="localhost").geturl()
    return original(path, account_id, partition)


# -- AWS::IAM::Role ----------------------------------------------------------------------------


def _create_role(cls: type[Role], resource_name: str, cloudformation_json: dict[str, Any], account_id: str,
                 region_name: str, **kwargs: Any) -> Role:
    original = patching.original(Role, "create_from_cloudformation_json").__get__(None, cls)
    if not patching.in_emulator_request():
        return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    cloudformation_json = copy.deepcopy(cloudformation_json)
    for policy in cloudformation_json["Properties"].get("Policies", []):
        if not isinstance(policy["PolicyDocument"], str):
            policy["PolicyDocument"] = json.dumps(policy["PolicyDocument"])
    role = original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    emulator = patching.running_emulator()
    if emulator is not None and cloudformation_json["Properties"].get("Policies"):
        # The role completes with its inline policies still on their way to the other services.
        emulator.consistency.role_permissions_changed(account_id, role.name)
    return role


# -- AWS::Lambda::Function ---------------------------------------------------------------------

_FUNCTION_PROPERTIES = (
    "Code", "FunctionName", "Handler", "Role", "Runtime", "Description", "MemorySize", "Timeout",
    "Environment", "TracingConfig", "Layers", "Architectures", "EphemeralStorage", "VpcConfig",
    "ReservedConcurrentExecutions", "PackageType",
)


def _create_function(cls: type[LambdaFunction], resource_name: str, cloudformation_json: dict[str, Any],
                     account_id: str, region_name: str, **kwargs: Any) -> LambdaFunction:
    if not patching.in_emulator_request():
        original = patching.original(LambdaFunction, "create_from_cloudformation_json").__get__(None, cls)
        return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = copy.deepcopy(cloudformation_json["Properties"])
    spec = {key: properties[key] for key in _FUNCTION_PROPERTIES if key in properties}
    spec.setdefault("FunctionName", resource_name)
    # CloudFormation's tags are a list of Key/Value pairs; CreateFunction's a map.
    spec["Tags"] = {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}
    _refused_while_iam_propagates("lambda", "CreateFunction", spec, kwargs, "Lambda")
    try:
        return lambda_backend(account_id, region_name).create_function(spec)
    except JsonRESTError as error:  # Lambda refused it (its code from S3, say): the resource fails
        raise handler_failed(kwargs, error, "Lambda") from None


def _delete_function(self: LambdaFunction, account_id: str, region: str) -> None:
    if not patching.in_emulator_request():
        return patching.original(LambdaFunction, "delete")(self, account_id, region)
    lambda_backend(account_id, region).delete_function(self.function_name)
    return None


# -- AWS::StepFunctions::StateMachine -----------------------------------------------------------


def _definition(properties: dict[str, Any]) -> str | None:
    definition = properties.get("DefinitionString")
    if definition is None and "Definition" in properties:
        definition = json.dumps(properties["Definition"])
    if definition is None:
        return None
    substitutions = properties.get("DefinitionSubstitutions") or {}
    return _SUBSTITUTION.sub(lambda m: str(substitutions.get(m.group(1), m.group(0))), definition)


def _api_shape(value: Any) -> Any:
    """CloudFormation spells Step Functions' configuration in Pascal case; the API in lower camel case."""
    if isinstance(value, dict):
        return {key[:1].lower() + key[1:]: _api_shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_api_shape(item) for item in value]
    return value


def _tags(properties: dict[str, Any]) -> list[dict[str, str]]:
    return [{"key": tag["Key"], "value": tag["Value"]} for tag in properties.get("Tags", [])]


def _create_state_machine(cls: type[StateMachine], resource_name: str, cloudformation_json: dict[str, Any],
                          account_id: str, region_name: str, **kwargs: Any) -> Any:
    if not patching.in_emulator_request():
        original = patching.original(StateMachine, "create_from_cloudformation_json").__get__(None, cls)
        return original(resource_name, cloudformation_json, account_id, region_name, **kwargs)
    properties = cloudformation_json["Properties"]
    backend = stepfunctions_parser_backends[account_id][region_name]
    optional = {
        "loggingConfiguration": _api_shape(properties["LoggingConfiguration"]) if "LoggingConfiguration" in properties else None,
        "tracingConfiguration": _api_shape(properties["TracingConfiguration"]) if "TracingConfiguration" in properties else None,
    }
    _refused_while_iam_propagates("states", "CreateStateMachine", {"roleArn": properties.get("RoleArn", ""), **optional},
                                  kwargs, "Sfn")
    return backend.create_state_machine(
        properties.get("StateMachineName", resource_name),
        _definition(properties) or "",
        properties.get("RoleArn", ""),
        tags=_tags(properties),
        **{key: value for key, value in optional.items() if value is not None},
    )


def _delete_state_machine(cls: type[StateMachine], resource_name: str, cloudformation_json: dict[str, Any],
                          account_id: str, region_name: str) -> None:
    if not patching.in_emulator_request():
        original = patching.original(StateMachine, "delete_from_cloudformation_json").__get__(None, cls)
        return original(resource_name, cloudformation_json, account_id, region_name)
    stepfunctions_parser_backends[account_id][region_name].delete_state_machine(resource_name)
    return None


def _update_state_machine(cls: type[StateMachine], original_resource: Any, new_resource_name: str,
                          cloudformation_json: dict[str, Any], account_id: str, region_name: str) -> Any:
    if not patching.in_emulator_request():
        original = patching.original(StateMachine, "update_from_cloudformation_json").__get__(None, cls)
        return original(original_resource, new_resource_name, cloudformation_json, account_id, region_name)
    properties = cloudformation_json.get("Properties", {})
    name = properties.get("StateMachineName", original_resource.name)
    if name != original_resource.name:  # a new name replaces the state machine
        created = _create_state_machine(cls, name, cloudformation_json, account_id, region_name)
        _delete_state_machine(cls, original_resource.arn, cloudformation_json, account_id, region_name)
        return created
    backend = stepfunctions_parser_backends[account_id][region_name]
    return backend.update_state_machine(
        original_resource.arn,
        definition=_definition(properties),
        role_arn=properties.get("RoleArn"),
        logging_configuration=_api_shape(properties.get("LoggingConfiguration")),
        tracing_configuration=_api_shape(properties.get("TracingConfiguration")),
    )


# -- AWS::Scheduler::Schedule and AWS::CloudWatch::Alarm -------------------------------------------


class _Created:
    """A stack's record of a resource moto has no model for: its physical id, and how to delete it."""

    def __init__(self, physical_resource_id: str, delete: Any):
        self.physical_resource_id = physical_resource_id
        self._delete = delete

    def is_created(self) -> bool:
        return True

    def delete(self, account_id: str, region_name: str) -> None:
        self._delete()


class _Schedule:
    """AWS::Scheduler::Schedule: CreateSchedule, and DeleteSchedule with the stack."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        _refused_while_iam_propagates("scheduler", "CreateSchedule", {"Target": p["Target"]}, kwargs, "Scheduler")
        backend = scheduler_backends[account_id][region_name]
        schedule = backend.create_schedule(
            description=p.get("Description"), end_date=p.get("EndDate"),
            flexible_time_window=p["FlexibleTimeWindow"], group_name=p.get("GroupName"),
            kms_key_arn=p.get("KmsKeyArn"), name=p.get("Name", resource_name),
            schedule_expression=p["ScheduleExpression"],
            schedule_expression_timezone=p.get("ScheduleExpressionTimezone"), start_date=p.get("StartDate"),
            state=p.get("State", "ENABLED"), target=p["Target"], action_after_completion=p.get("ActionAfterCompletion"),
        )
        return _Created(schedule.name, lambda: backend.delete_schedule(p.get("GroupName"), schedule.name))


class _Alarm:
    """AWS::CloudWatch::Alarm (a metric alarm): PutMetricAlarm, and DeleteAlarms with the stack."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        backend = cloudwatch_backends[account_id][region_name]
        alarm = backend.put_metric_alarm(
            name=p.get("AlarmName", resource_name), namespace=p.get("Namespace"), metric_name=p.get("MetricName"),
            comparison_operator=p["ComparisonOperator"], evaluation_periods=p["EvaluationPeriods"],
            period=p.get("Period"), threshold=p.get("Threshold"), statistic=p.get("Statistic"),
            description=p.get("AlarmDescription"), dimensions=p.get("Dimensions", []),
            alarm_actions=p.get("AlarmActions", []), ok_actions=p.get("OKActions", []),
            insufficient_data_actions=p.get("InsufficientDataActions", []),
            datapoints_to_alarm=p.get("DatapointsToAlarm"), extended_statistic=p.get("ExtendedStatistic"),
            unit=p.get("Unit"), actions_enabled=p.get("ActionsEnabled", True),
            treat_missing_data=p.get("TreatMissingData"),
        )
        return _Created(alarm.name, lambda: backend.delete_alarms([alarm.name]))


class _RolePolicy:
    """AWS::IAM::RolePolicy: PutRolePolicy, complete once IAM has propagated it; DeleteRolePolicy with the stack."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        role, name, document = p["RoleName"], p["PolicyName"], p["PolicyDocument"]
        backend = iam_backends[account_id][_partition(region_name)]
        backend.put_role_policy(role, name, document if isinstance(document, str) else json.dumps(document))
        emulator = patching.running_emulator()
        if emulator is not None:
            emulator.consistency.role_propagated(account_id, role)
        return _Created(f"{name}|{role}", lambda: _delete_role_policy(backend, role, name))


def _delete_role_policy(backend: Any, role: str, name: str) -> None:
    # CloudFormation deletes the policy before the role it names; moto's stack may delete the role (and
    # its inline policies with it) first.
    if any(r.name == role for r in backend.roles.values()):
        backend.delete_role_policy(role, name)


class _QueuePolicy:
    """AWS::SQS::QueuePolicy: SetQueueAttributes Policy on each queue (by URL, what a queue's `Ref` gives),
    and the policy removed with the stack (resource reference in the CloudFormation User Guide)."""

    @classmethod
    def create_from_cloudformation_json(cls, resource_name: str, cloudformation_json: dict[str, Any],
                                        account_id: str, region_name: str, **kwargs: Any) -> _Created:
        p = cloudformation_json["Properties"]
        backend = sqs_backends[account_id][region_name]
        document = p["PolicyDocument"] if isinstance(p["PolicyDocument"], str) else json.dumps(p["PolicyDocument"])
        names = [str(url).rstrip("/").rsplit("/", 1)[-1] for url in p["Queues"]]
        for name in names:
            backend.set_queue_attributes(name, {"Policy": document})
        return _Created(resource_name, lambda: _remove_queue_policies(backend, names))


def _remove_queue_policies(backend: Any, names: list[str]) -> None:
    for name in names:
        if name in backend.queues:  # the stack may delete the queue first
            backend.set_queue_attributes(name, {"Policy": ""})


def _partition(region_name: str) -> str:
    from moto.utilities.utils import get_partition

    return get_partition(region_name)


_MODELS_MOTO_LACKS = {"AWS::Scheduler::Schedule": _Schedule, "AWS::CloudWatch::Alarm": _Alarm,
                      "AWS::IAM::RolePolicy": _RolePolicy, "AWS::SQS::QueuePolicy": _QueuePolicy}


def _resource_class_from_type(resource_type: str) -> Any:
    if patching.in_emulator_request() and resource_type in _MODELS_MOTO_LACKS:
        return _MODELS_MOTO_LACKS[resource_type]
    return patching.original(cloudformation_parsing, "resource_class_from_type")(resource_type)
