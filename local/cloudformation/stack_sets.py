"""CloudFormation StackSets with self-managed permissions, as AWS runs them.

AWS behaviour reproduced (CloudFormation API reference: CreateStackSet, UpdateStackSet, DeleteStackSet,
CreateStackInstances, UpdateStackInstances, DeleteStackInstances, DescribeStackSetOperation,
ListStackSetOperationResults, ListStackInstances, DescribeStackInstance, StopStackSetOperation, and the
StackSetOperationPreferences, StackInstance and StackSetOperationResultSummary data types; CloudFormation
User Guide: "Grant self-managed permissions", "StackSet operation options", "Troubleshooting CloudFormation
StackSets"):

- A StackSet lives in its administrator's account and Region; its template comes from TemplateBody or a
  TemplateURL (at the emulator's own address too, local/cloudformation/stacks.py). A template with IAM
  resources needs CAPABILITY_IAM, or CAPABILITY_NAMED_IAM when they are named (InsufficientCapabilities).
- Create/Update/DeleteStackInstances and UpdateStackSet start an operation and answer its OperationId at
  once; the operation then runs in the background (RUNNING, then SUCCEEDED, FAILED or STOPPED), one at a time
  per StackSet (OperationInProgressException). The OperationId is an idempotency token.
- In each target the operation runs as AWS's self-managed model runs it: CloudFormation assumes the
  administration role (it must exist in the administrator's account and trust cloudformation.amazonaws.com),
  which assumes the execution role (ExecutionRoleName) of the target account: that role must exist and trust
  the administration role or its account, and across accounts the administration role's own policy must
  allow sts:AssumeRole on it. Otherwise the target FAILS with AWS's StatusReason ("Account A should have
  'AWSCloudFormationStackSetAdministrationRole' role with trust relationship to CloudFormation service.",
  "Account T should have 'AWSCloudFormationStackSetExecutionRole' role with trust relationship to Role
  'AWSCloudFormationStackSetAdministrationRole'."). The execution role's session then calls
  cloudformation:CreateStack / UpdateStack / DeleteStack on the stack, evaluated against its policies.
- Each stack instance is a real stack, `StackSet-<name>-<uuid>`, in the target account and Region, created
  through the emulator's corrected resource handlers, with the StackSet's parameters, its instance's
  ParameterOverrides and the StackSet's tags; CloudFormation acts as the execution role (a function's code is
  read from S3 as that role). A stack that fails to create rolls back and is deleted; the instance's reason is
  "ResourceLogicalId:ID, ResourceType:TYPE, ResourceStatusReason:...".
- Operation preferences, per Region: at most MaxConcurrentCount (or MaxConcurrentPercentage) accounts at once
  (default 1); more than FailureToleranceCount (or FailureTolerancePercentage) failures (default 0) stop the
  operation in that Region, cancel what has not started ("Cancelled since failure tolerance has exceeded"),
  skip the Regions after it and end the operation FAILED. STRICT_FAILURE_TOLERANCE (the default) runs at
  most min(MaxConcurrentCount, FailureToleranceCount + 1 - failures so far) at once; SOFT_FAILURE_TOLERANCE at
  MaxConcurrentCount. Regions run one at a time in RegionOrder (SEQUENTIAL, the default) or all at once
  (PARALLEL). Failures within the tolerance end the operation SUCCEEDED.
- Instances: OUTDATED while their operation is pending or running ("User Initiated"), CURRENT once it
  succeeded, OUTDATED with the reason when it failed or was cancelled, INOPERABLE when a deletion failed;
  StackInstanceStatus.DetailedStatus PENDING, RUNNING, SUCCEEDED, FAILED, CANCELLED, INOPERABLE. A template or
  parameter change by UpdateStackSet makes every instance OUTDATED before the targeted ones are updated.
- Results: one per target, PENDING, RUNNING, SUCCEEDED, FAILED or CANCELLED with the reason, and the
  AccountGateResult (SKIPPED "AWSCloudFormationStackSetAccountGate function not found" where the roles held).

moto creates instance stacks synchronously and names them "StackSet:<name>" (not a valid stack name),
reports another stack ID than the stack's, ignores OperationPreferences, Capabilities, the roles,
RetainStacks and failures (every operation SUCCEEDED at once), and never updates the stacks' resources.
So every StackSet API action is answered here, for requests served by the emulator; state lives on moto's
CloudFormation backend, so a reset clears it. Not emulated: service-managed permissions (Organizations),
ManagedExecution queueing, the account gate function, drift detection, ImportStacksToStackSet, the
execution role's permissions for the resources the stack creates (only its cloudformation:* call is
evaluated), rolling back a failed stack update.
"""

from __future__ import annotations

import collections
import concurrent.futures
import copy
import datetime
import json
import logging
import math
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import botocore.session
import yaml
from moto.cloudformation import models as cloudformation_models
from moto.cloudformation.exceptions import (
    CloudFormationError,
    StackInstanceNotFound,
    StackSetNotEmpty,
    StackSetNotFoundException,
    ValidationError,
)
from moto.cloudformation.responses import CloudFormationResponse
from moto.cloudformation.utils import yaml_tag_constructor
from moto.core.responses import ActionResult, EmptyResult
from moto.iam.models import iam_backends

from local import patching
from local.cloudformation import stacks
from local.iam.enforcement import boundary_document, identity_documents
from local.iam.policy import EXPLICIT_DENY, AuthRequest, evaluate, evaluate_assume_role, evaluate_trust

LOG = logging.getLogger(__name__)

CLOUDFORMATION_SERVICE = "cloudformation.amazonaws.com"
DEFAULT_ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
DEFAULT_EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
TOLERANCE_EXCEEDED = "Cancelled since failure tolerance has exceeded"
USER_INITIATED = "User Initiated"
GATE_SKIPPED = {"Status": "SKIPPED", "StatusReason": "AWSCloudFormationStackSetAccountGate function not found"}
SERVICE_MANAGED_REFUSAL = ("You must be the management account or delegated admin account of an organization "
                           "before operating a SERVICE_MANAGED stack set")
_NAME = re.compile(r"^[a-zA-Z][-a-zA-Z0-9]{0,127}$")
_ACCOUNT = re.compile(r"^[0-9]{12}$")
# CreateStackSet's Capabilities: the IAM resources that need CAPABILITY_IAM, and the name property that makes
# them need CAPABILITY_NAMED_IAM.
_IAM_RESOURCES = {"AWS::IAM::AccessKey": None, "AWS::IAM::Group": "GroupName",
                  "AWS::IAM::InstanceProfile": "InstanceProfileName", "AWS::IAM::Policy": None,
                  "AWS::IAM::Role": "RoleName", "AWS::IAM::User": "UserName", "AWS::IAM::UserToGroupAddition": None}
_ACTIONS = ("create_stack_set", "update_stack_set", "delete_stack_set", "describe_stack_set", "list_stack_sets",
            "create_stack_instances", "update_stack_instances", "delete_stack_instances", "describe_stack_instance",
            "list_stack_instances", "describe_stack_set_operation", "list_stack_set_operations",
            "list_stack_set_operation_results", "stop_stack_set_operation")


class OperationInProgress(CloudFormationError):
    code = "OperationInProgressException"


class OperationNotFound(CloudFormationError):
    code = "OperationNotFoundException"


class NameAlreadyExists(CloudFormationError):
    code = "NameAlreadyExistsException"


class InsufficientCapabilities(CloudFormationError):
    code = "InsufficientCapabilitiesException"


class InvalidOperation(CloudFormationError):
    code = "InvalidOperationException"


class OperationIdAlreadyExists(CloudFormationError):
    code = "OperationIdAlreadyExistsException"


def install() -> None:
    for action in _ACTIONS:
        patching.patch(CloudFormationResponse, action, _answered_here(action))


def _answered_here(action: str) -> Any:
    handler = globals()[f"_{action}"]

    def respond(self: CloudFormationResponse) -> Any:
        if not patching.in_emulator_request():
            return patching.original(CloudFormationResponse, action)(self)
        return handler(self)

    respond.__name__ = action
    return respond


# -- state --------------------------------------------------------------------------------------


def _now() -> datetime.datetime:
    emulator = patching.running_emulator()
    return emulator.clock.now() if emulator is not None else datetime.datetime.now(datetime.UTC)


@dataclass
class StackInstance:
    account: str
    region: str
    overrides: list[dict[str, Any]] = field(default_factory=list)
    stack_id: str | None = None
    status: str = "OUTDATED"
    reason: str | None = USER_INITIATED
    detailed: str = "PENDING"
    last_operation_id: str | None = None

    def summary(self, stack_set: StackSet, full: bool = False) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StackSetId": stack_set.id, "Region": self.region, "Account": self.account, "Status": self.status,
            "StackInstanceStatus": {"DetailedStatus": self.detailed}, "DriftStatus": "NOT_CHECKED",
        }
        if self.stack_id:
            described["StackId"] = self.stack_id
        if self.reason:
            described["StatusReason"] = self.reason
        if self.last_operation_id:
            described["LastOperationId"] = self.last_operation_id
        if full:
            described["ParameterOverrides"] = copy.deepcopy(self.overrides)
        return described


@dataclass
class Result:
    account: str
    region: str
    status: str = "PENDING"
    reason: str | None = None
    gate: dict[str, str] | None = None

    def summary(self) -> dict[str, Any]:
        described: dict[str, Any] = {"Account": self.account, "Region": self.region, "Status": self.status}
        if self.reason:
            described["StatusReason"] = self.reason
        if self.gate:
            described["AccountGateResult"] = dict(self.gate)
        return described


@dataclass(eq=False)
class Operation:
    id: str
    action: str  # CREATE | UPDATE | DELETE
    preferences: dict[str, Any]
    administration_role_arn: str
    execution_role_name: str
    results: list[Result]
    retain_stacks: bool | None = None
    status: str = "RUNNING"
    created: datetime.datetime = field(default_factory=_now)
    ended: datetime.datetime | None = None
    stop_requested: bool = False
    abandoned: bool = False
    thread: threading.Thread | None = None

    def summary(self, full: bool = False) -> dict[str, Any]:
        described: dict[str, Any] = {
            "OperationId": self.id, "Action": self.action, "Status": self.status, "CreationTimestamp": self.created,
            "OperationPreferences": copy.deepcopy(self.preferences),
            "StatusDetails": {"FailedStackInstancesCount": sum(r.status == "FAILED" for r in self.results),
                              "TotalStackInstancesCount": len(self.results),
                              "TotalAccountsCount": len({r.account for r in self.results})},
        }
        if self.ended is not None:
            described["EndTimestamp"] = self.ended
        if full:
            described.update({"AdministrationRoleARN": self.administration_role_arn,
                              "ExecutionRoleName": self.execution_role_name})
            if self.retain_stacks is not None:
                described["RetainStacks"] = self.retain_stacks
        return described


@dataclass(eq=False)
class StackSet:
    id: str
    name: str
    arn: str
    account: str
    region: str
    partition: str
    template: str
    parameters: list[dict[str, Any]]
    capabilities: list[str]
    tags: list[dict[str, str]]
    administration_role_arn: str
    execution_role_name: str
    description: str | None = None
    status: str = "ACTIVE"
    managed_execution: dict[str, Any] = field(default_factory=lambda: {"Active": False})
    instances: dict[tuple[str, str], StackInstance] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "StackSetName": self.name, "StackSetId": self.id, "Status": self.status, "TemplateBody": self.template,
            # As dicts: moto's serializer turns these two into the API's Key/Value lists.
            "Parameters": {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.parameters},
            "Capabilities": list(self.capabilities),
            "Tags": {t["Key"]: t["Value"] for t in self.tags}, "StackSetARN": self.arn,
            "AdministrationRoleARN": self.administration_role_arn, "ExecutionRoleName": self.execution_role_name,
            "PermissionModel": "SELF_MANAGED", "ManagedExecution": dict(self.managed_execution),
            "Regions": sorted({region for _, region in self.instances}),
        }
        if self.description is not None:
            described["Description"] = self.description
        return described

    def summary(self) -> dict[str, Any]:
        described = {"StackSetName": self.name, "StackSetId": self.id, "Status": self.status,
                     "PermissionModel": "SELF_MANAGED", "DriftStatus": "NOT_CHECKED",
                     "ManagedExecution": dict(self.managed_execution)}
        if self.description is not None:
            described["Description"] = self.description
        return described

    def running(self) -> Operation | None:
        return next((op for op in self.operations if op.status in ("RUNNING", "STOPPING")), None)

    def operation(self, operation_id: str) -> Operation:
        for op in self.operations:
            if op.id == operation_id:
                return op
        raise OperationNotFound(f"Operation {operation_id} not found")


def _stack_sets(backend: Any) -> dict[str, StackSet]:
    """The StackSets of one account and Region, kept on moto's backend (a reset recreates it, and clears them)."""
    return backend.__dict__.setdefault("_fileferry_stack_sets", {})


def _find(response: CloudFormationResponse, name_or_id: str | None) -> StackSet:
    for stack_set in _stack_sets(response.cloudformation_backend).values():
        if stack_set.status == "ACTIVE" and name_or_id in (stack_set.name, stack_set.id):
            return stack_set
    raise StackSetNotFoundException(name_or_id or "")


_running: set[Operation] = set()  # operations whose thread runs, for a reset to end them
_running_lock = threading.Lock()


def abandon_running_operations(timeout: float = 30.0) -> None:
    """Before a reset or a stop: running operations start nothing more, and end (their in-flight stacks finish)."""
    with _running_lock:
        operations = list(_running)
    for operation in operations:
        operation.abandoned = True
    for operation in operations:
        if operation.thread is not None:
            operation.thread.join(timeout)


# -- request parsing and validation -----------------------------------------------------------------


def _template(response: CloudFormationResponse, required: bool = True) -> str | None:
    body, url = response._get_param("TemplateBody"), response._get_param("TemplateURL")
    if body and url:
        raise ValidationError(message="Specify exactly one of TemplateBody or TemplateUrl.")
    if url:
        return response._get_stack_from_s3_url(url)
    if body is None and required:
        raise ValidationError(message="Either Template URL or Template Body must be specified.")
    return body


def _parsed(template: str) -> dict[str, Any]:
    yaml.add_multi_constructor("", yaml_tag_constructor, Loader=yaml.SafeLoader)
    try:
        parsed = json.loads(template)
    except ValueError:
        try:
            parsed = yaml.safe_load(template)
        except yaml.YAMLError as error:
            raise ValidationError(message=f"Template format error: {error}") from None
    if not isinstance(parsed, dict) or not isinstance(parsed.get("Resources"), dict) or not parsed["Resources"]:
        raise ValidationError(message="Template format error: At least one Resources member must be defined.")
    return parsed


def _check_capabilities(template: str, capabilities: list[str]) -> None:
    """InsufficientCapabilities unless the template's IAM resources are acknowledged (CreateStackSet API
    reference, Capabilities)."""
    needed: set[str] = set()
    for resource in _parsed(template)["Resources"].values():
        kind = resource.get("Type") if isinstance(resource, dict) else None
        if kind in _IAM_RESOURCES:
            name = _IAM_RESOURCES[kind]
            needed.add("CAPABILITY_NAMED_IAM" if name and name in (resource.get("Properties") or {}) else "CAPABILITY_IAM")
    if "CAPABILITY_NAMED_IAM" in needed and "CAPABILITY_NAMED_IAM" not in capabilities:
        raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_NAMED_IAM]")
    if needed and not {"CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"} & set(capabilities):
        raise InsufficientCapabilities("Requires capabilities : [CAPABILITY_IAM]")


def _known_regions(partition: str) -> set[str]:
    session = botocore.session.get_session()
    return set(session.get_available_regions("cloudformation", partition))


def _targets(response: CloudFormationResponse, stack_set: StackSet) -> tuple[list[str], list[str]]:
    accounts = list(dict.fromkeys(response._get_param("Accounts", []) or []))
    regions = list(dict.fromkeys(response._get_param("Regions", []) or []))
    if response._get_param("DeploymentTargets"):
        raise ValidationError(message="StackSets with SELF_MANAGED permission model can only have accounts as target")
    bad = [account for account in accounts if not _ACCOUNT.match(str(account))]
    if bad:
        raise ValidationError(message=(
            f"1 validation error detected: Value '[{', '.join(map(str, bad))}]' at 'accounts' failed to satisfy "
            "constraint: Member must satisfy constraint: [Member must satisfy regular expression pattern: ^[0-9]{12}$]"))
    unknown = [region for region in regions if region not in _known_regions(stack_set.partition)]
    if unknown:
        raise ValidationError(message=f"Region(s) {', '.join(unknown)} are not supported")
    return accounts, regions


def _preferences(response: CloudFormationResponse, regions: list[str]) -> dict[str, Any]:
    given = dict(response._get_param("OperationPreferences") or {})
    if "FailureToleranceCount" in given and "FailureTolerancePercentage" in given:
        raise ValidationError(message="You can specify either FailureToleranceCount or FailureTolerancePercentage, but not both.")
    if "MaxConcurrentCount" in given and "MaxConcurrentPercentage" in given:
        raise ValidationError(message="You can specify either MaxConcurrentCount or MaxConcurrentPercentage, but not both.")
    order = list(given.get("RegionOrder") or [])
    preferences: dict[str, Any] = {
        "RegionConcurrencyType": given.get("RegionConcurrencyType") or "SEQUENTIAL",
        "RegionOrder": order + [region for region in regions if region not in order],
        "ConcurrencyMode": given.get("ConcurrencyMode") or "STRICT_FAILURE_TOLERANCE",
    }
    for count, percentage, default in (("FailureToleranceCount", "FailureTolerancePercentage", 0),
                                       ("MaxConcurrentCount", "MaxConcurrentPercentage", 1)):
        value = given.get(percentage)
        if value is not None:
            preferences[percentage] = int(value)
        else:
            preferences[count] = int(given.get(count, default))
    if preferences.get("MaxConcurrentCount", 1) < 1 or preferences.get("FailureToleranceCount", 0) < 0:
        raise ValidationError(message="MaxConcurrentCount must be at least 1 and FailureToleranceCount at least 0.")
    return preferences


def _parameters(given: list[dict[str, Any]], previous: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A parameter list as CloudFormation keeps it: a value, or UsePreviousValue taking the previous one."""
    before = {p["ParameterKey"]: p for p in previous}
    resolved = []
    for parameter in given:
        key = parameter["ParameterKey"]
        if parameter.get("UsePreviousValue") in (True, "true", "True"):
            if "ParameterValue" in parameter:
                raise ValidationError(message=f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as "
                                              "true and non empty value for a parameter")
            if key in before:
                resolved.append(copy.deepcopy(before[key]))
            continue
        resolved.append({"ParameterKey": key, "ParameterValue": parameter.get("ParameterValue", "")})
    return resolved


def _new_operation(stack_set: StackSet, response: CloudFormationResponse, action: str,
                   targets: list[tuple[str, str]], preferences: dict[str, Any],
                   retain_stacks: bool | None = None) -> tuple[Operation, bool]:
    """The operation the request starts; (the existing one, False) when its OperationId was used before."""
    operation_id = response._get_param("OperationId") or str(uuid.uuid4())
    for existing in stack_set.operations:
        if existing.id == operation_id:
            if existing.action != action:
                raise OperationIdAlreadyExists(f"The operation id {operation_id} already exists")
            return existing, False
    if stack_set.running() is not None:
        raise OperationInProgress(f"Another Operation on StackSet {stack_set.arn} is in progress")
    operation = Operation(operation_id, action, preferences, stack_set.administration_role_arn,
                          stack_set.execution_role_name, [Result(account, region) for account, region in targets],
                          retain_stacks)
    stack_set.operations.append(operation)
    return operation, True


def _ordered(targets: list[tuple[str, str]], preferences: dict[str, Any]) -> list[tuple[str, str]]:
    order = {region: index for index, region in enumerate(preferences["RegionOrder"])}
    return sorted(targets, key=lambda target: order.get(target[1], len(order)))


# -- the API -----------------------------------------------------------------------------------------


def _create_stack_set(self: CloudFormationResponse) -> ActionResult:
    name = self._get_param("StackSetName") or ""
    if not _NAME.match(name):
        raise ValidationError(message=(
            f"1 validation error detected: Value '{name}' at 'stackSetName' failed to satisfy constraint: Member must "
            "satisfy regular expression pattern: [a-zA-Z][-a-zA-Z0-9]*"))
    if (self._get_param("PermissionModel") or "SELF_MANAGED") != "SELF_MANAGED":
        raise ValidationError(message=SERVICE_MANAGED_REFUSAL)
    stack_sets = _stack_sets(self.cloudformation_backend)
    if any(s.name == name and s.status == "ACTIVE" for s in stack_sets.values()):
        raise NameAlreadyExists(f"StackSet {name} already exists")
    template = _template(self)
    capabilities = list(self._get_param("Capabilities", []) or [])
    _check_capabilities(template, capabilities)
    stack_set_id = f"{name}:{uuid.uuid4()}"
    account, region, partition = self.current_account, self.region, self.partition
    stack_set = StackSet(
        id=stack_set_id, name=name, arn=f"arn:{partition}:cloudformation:{region}:{account}:stackset/{stack_set_id}",
        account=account, region=region, partition=partition, template=template,
        parameters=_parameters(self._get_param("Parameters", []) or [], []), capabilities=capabilities,
        tags=[{"Key": t["Key"], "Value": t["Value"]} for t in self._get_param("Tags", []) or []],
        administration_role_arn=self._get_param("AdministrationRoleARN")
        or f"arn:{partition}:iam::{account}:role/{DEFAULT_ADMINISTRATION_ROLE}",
        execution_role_name=self._get_param("ExecutionRoleName") or DEFAULT_EXECUTION_ROLE,
        description=self._get_param("Description"),
        managed_execution={"Active": bool((self._get_param("ManagedExecution") or {}).get("Active", False))},
    )
    stack_sets[stack_set_id] = stack_set
    return ActionResult({"StackSetId": stack_set_id})


def _describe_stack_set(self: CloudFormationResponse) -> ActionResult:
    return ActionResult({"StackSet": _find(self, self._get_param("StackSetName")).describe()})


def _list_stack_sets(self: CloudFormationResponse) -> ActionResult:
    status = self._get_param("Status")
    summaries = [s.summary() for s in _stack_sets(self.cloudformation_backend).values() if not status or s.status == status]
    return _paged(self, "Summaries", summaries)


def _delete_stack_set(self: CloudFormationResponse) -> EmptyResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    with stack_set.lock:
        if stack_set.running() is not None:
            raise OperationInProgress(f"Another Operation on StackSet {stack_set.arn} is in progress")
        if stack_set.instances:
            raise StackSetNotEmpty()
        stack_set.status = "DELETED"
    return EmptyResult()


def _update_stack_set(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    use_previous = self._get_param("UsePreviousTemplate") in (True, "true")
    template = _template(self, required=not use_previous)
    if use_previous and template is not None:
        raise ValidationError(message="Specify exactly one of TemplateBody, TemplateUrl or UsePreviousTemplate.")
    template = stack_set.template if template is None else template
    capabilities = list(self._get_param("Capabilities", []) or [])
    _check_capabilities(template, capabilities)
    accounts, regions = _targets(self, stack_set)
    if bool(accounts) != bool(regions):
        raise ValidationError(message="Accounts and Regions must both be specified, or neither.")
    given = self._get_param("Parameters")
    parameters = stack_set.parameters if given is None else _parameters(given, stack_set.parameters)
    with stack_set.lock:
        if accounts:
            targets = [(a, r) for r in regions for a in accounts]
            missing = [t for t in targets if t not in stack_set.instances]
            if missing:
                raise StackInstanceNotFound()
        else:
            targets = list(stack_set.instances)
        preferences = _preferences(self, regions or list(dict.fromkeys(r for _, r in targets)))
        changed = template != stack_set.template or parameters != stack_set.parameters
        stack_set.template, stack_set.parameters, stack_set.capabilities = template, parameters, capabilities
        if self._get_param("Description") is not None:
            stack_set.description = self._get_param("Description")
        if self._get_param("Tags") is not None:
            stack_set.tags = [{"Key": t["Key"], "Value": t["Value"]} for t in self._get_param("Tags")]
        stack_set.administration_role_arn = self._get_param("AdministrationRoleARN") or stack_set.administration_role_arn
        stack_set.execution_role_name = self._get_param("ExecutionRoleName") or stack_set.execution_role_name
        operation, new = _new_operation(stack_set, self, "UPDATE", _ordered(targets, preferences), preferences)
        if new:
            if changed:  # UpdateStackSet API reference: every instance is OUTDATED before the targeted ones update
                for instance in stack_set.instances.values():
                    instance.status = "OUTDATED"
            _start(stack_set, operation)
    return ActionResult({"OperationId": operation.id})


def _create_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    accounts, regions = _targets(self, stack_set)
    if not accounts or not regions:
        raise ValidationError(message="Accounts and Regions must both be specified.")
    preferences = _preferences(self, regions)
    overrides = self._get_param("ParameterOverrides")
    with stack_set.lock:
        targets = _ordered([(a, r) for r in regions for a in accounts], preferences)
        operation, new = _new_operation(stack_set, self, "CREATE", targets, preferences)
        if new:
            for target in targets:
                instance = stack_set.instances.setdefault(target, StackInstance(*target))
                if overrides is not None:
                    instance.overrides = _parameters(overrides, instance.overrides)
                if instance.detailed != "SUCCEEDED" or instance.status != "CURRENT":
                    instance.status, instance.reason, instance.detailed = "OUTDATED", USER_INITIATED, "PENDING"
            _start(stack_set, operation)
    return ActionResult({"OperationId": operation.id})


def _update_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    accounts, regions = _targets(self, stack_set)
    preferences = _preferences(self, regions)
    overrides = self._get_param("ParameterOverrides")
    with stack_set.lock:
        targets = _ordered([(a, r) for r in regions for a in accounts], preferences)
        if any(target not in stack_set.instances for target in targets):
            raise StackInstanceNotFound()
        operation, new = _new_operation(stack_set, self, "UPDATE", targets, preferences)
        if new:
            for target in targets:
                instance = stack_set.instances[target]
                if overrides is not None:
                    instance.overrides = _parameters(overrides, instance.overrides)
            _start(stack_set, operation)
    return ActionResult({"OperationId": operation.id})


def _delete_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    accounts, regions = _targets(self, stack_set)
    retain = self._get_param("RetainStacks")
    if retain is None:
        raise ValidationError(message="1 validation error detected: Value null at 'retainStacks' failed to satisfy "
                                      "constraint: Member must not be null")
    retain = retain in (True, "true", "True")
    preferences = _preferences(self, regions)
    with stack_set.lock:
        targets = _ordered([(a, r) for r in regions for a in accounts if (a, r) in stack_set.instances], preferences)
        operation, new = _new_operation(stack_set, self, "DELETE", targets, preferences, retain_stacks=retain)
        if new:
            _start(stack_set, operation)
    return ActionResult({"OperationId": operation.id})


def _describe_stack_instance(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    target = (self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion"))
    with stack_set.lock:
        instance = stack_set.instances.get(target)
        if instance is None:
            raise StackInstanceNotFound()
        return ActionResult({"StackInstance": instance.summary(stack_set, full=True)})


_INSTANCE_FILTERS = {"DETAILED_STATUS": lambda i: i.detailed, "LAST_OPERATION_ID": lambda i: i.last_operation_id,
                     "DRIFT_STATUS": lambda i: "NOT_CHECKED"}


def _list_stack_instances(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    account, region = self._get_param("StackInstanceAccount"), self._get_param("StackInstanceRegion")
    filters = self._get_param("Filters", []) or []
    with stack_set.lock:
        instances = [i for i in stack_set.instances.values()
                     if (not account or i.account == account) and (not region or i.region == region)
                     and all(_INSTANCE_FILTERS[f["Name"]](i) == f["Values"] for f in filters)]
        summaries = [i.summary(stack_set) for i in instances]
    return _paged(self, "Summaries", summaries)


def _describe_stack_set_operation(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    with stack_set.lock:
        operation = stack_set.operation(self._get_param("OperationId"))
        described = operation.summary(full=True)
    described["StackSetId"] = stack_set.id
    return ActionResult({"StackSetOperation": described})


def _list_stack_set_operations(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    with stack_set.lock:
        summaries = [op.summary() for op in reversed(stack_set.operations)]  # the latest first
    return _paged(self, "Summaries", summaries)


def _list_stack_set_operation_results(self: CloudFormationResponse) -> ActionResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    wanted = [f["Values"] for f in self._get_param("Filters", []) or [] if f.get("Name") == "OPERATION_RESULT_STATUS"]
    with stack_set.lock:
        operation = stack_set.operation(self._get_param("OperationId"))
        summaries = [r.summary() for r in operation.results if not wanted or r.status in wanted]
    return _paged(self, "Summaries", summaries)


def _stop_stack_set_operation(self: CloudFormationResponse) -> EmptyResult:
    stack_set = _find(self, self._get_param("StackSetName"))
    with stack_set.lock:
        operation = stack_set.operation(self._get_param("OperationId"))
        if operation.status != "RUNNING":
            raise InvalidOperation(f"Operation {operation.id} is not in progress")
        operation.stop_requested = True
        operation.status = "STOPPING"
    return EmptyResult()


def _paged(self: CloudFormationResponse, key: str, items: list[dict[str, Any]]) -> ActionResult:
    start = int(self._get_param("NextToken") or 0) if str(self._get_param("NextToken") or "0").isdigit() else 0
    size = int(self._get_param("MaxResults") or 100)
    page: dict[str, Any] = {key: items[start:start + size]}
    if start + size < len(items):
        page["NextToken"] = str(start + size)
    return ActionResult(page)


# -- running an operation ------------------------------------------------------------------------------


def _start(stack_set: StackSet, operation: Operation) -> None:
    thread = threading.Thread(target=_run, args=(stack_set, operation), daemon=True,
                              name=f"stackset-{stack_set.name}-{operation.id[:8]}")
    operation.thread = thread
    with _running_lock:
        _running.add(operation)
    thread.start()


def _run(stack_set: StackSet, operation: Operation) -> None:
    try:
        by_region: dict[str, list[Result]] = collections.defaultdict(list)
        for result in operation.results:
            by_region[result.region].append(result)
        regions = [r for r in operation.preferences["RegionOrder"] if r in by_region]
        failed = threading.Event()
        if operation.preferences["RegionConcurrencyType"] == "PARALLEL":
            with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(regions))) as pool:
                for future in [pool.submit(_run_region, stack_set, operation, by_region[r], failed) for r in regions]:
                    future.result()
        else:
            for region in regions:
                _run_region(stack_set, operation, by_region[region], failed)
        with stack_set.lock:
            for result in operation.results:  # Regions not attempted after a failed one (or a stop)
                if result.status == "PENDING":
                    _cancel(stack_set, operation, result, None if operation.stop_requested else TOLERANCE_EXCEEDED)
            operation.status = "STOPPED" if operation.stop_requested else "FAILED" if failed.is_set() else "SUCCEEDED"
            operation.ended = _now()
    except Exception:  # never leave an operation RUNNING for ever
        LOG.exception("StackSet %s: operation %s failed in the emulator", stack_set.name, operation.id)
        with stack_set.lock:
            operation.status, operation.ended = "FAILED", _now()
    finally:
        with _running_lock:
            _running.discard(operation)


def _run_region(stack_set: StackSet, operation: Operation, results: list[Result], failed: threading.Event) -> None:
    """One Region's targets, at most the preferences' concurrency at once, until the failure tolerance is exceeded."""
    preferences = operation.preferences
    targets = len(results)
    if "FailureTolerancePercentage" in preferences:
        tolerance = math.floor(targets * preferences["FailureTolerancePercentage"] / 100)
    else:
        tolerance = preferences["FailureToleranceCount"]
    if "MaxConcurrentPercentage" in preferences:
        most = max(1, math.floor(targets * preferences["MaxConcurrentPercentage"] / 100))
    else:
        most = preferences["MaxConcurrentCount"]
    strict = preferences["ConcurrencyMode"] != "SOFT_FAILURE_TOLERANCE"
    pending = collections.deque(results)
    running: dict[concurrent.futures.Future[bool], Result] = {}
    failures = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=most) as pool:
        while pending or running:
            limit = min(most, tolerance + 1 - failures) if strict else most
            while pending and len(running) < limit and not _halted(operation, failed):
                result = pending.popleft()
                with stack_set.lock:
                    result.status = "RUNNING"
                    _instance_running(stack_set, operation, result)
                running[pool.submit(_deploy, stack_set, operation, result)] = result
            if not running:
                break
            done, _ = concurrent.futures.wait(running, return_when=concurrent.futures.FIRST_COMPLETED)
            for future in done:
                del running[future]
                if not future.result():
                    failures += 1
            if failures > tolerance:
                failed.set()
    with stack_set.lock:
        for result in pending:
            _cancel(stack_set, operation, result, None if operation.stop_requested else TOLERANCE_EXCEEDED)


def _halted(operation: Operation, failed: threading.Event) -> bool:
    return failed.is_set() or operation.stop_requested or operation.abandoned


def _instance_running(stack_set: StackSet, operation: Operation, result: Result) -> None:
    instance = stack_set.instances.get((result.account, result.region))
    if instance is not None and operation.action == "CREATE" and instance.status == "CURRENT":
        instance.last_operation_id = operation.id  # already created and current: nothing to do there
    elif instance is not None:
        instance.status, instance.reason, instance.detailed = "OUTDATED", USER_INITIATED, "RUNNING"
        instance.last_operation_id = operation.id


def _cancel(stack_set: StackSet, operation: Operation, result: Result, reason: str | None) -> None:
    result.status, result.reason = "CANCELLED", reason
    instance = stack_set.instances.get((result.account, result.region))
    if instance is not None:
        instance.status, instance.reason, instance.detailed = "OUTDATED", reason, "CANCELLED"
        instance.last_operation_id = operation.id


def _take_time(operation: Operation) -> None:
    """A target's deployment takes the emulator's stack instance latency, on its clock (tests move it on)."""
    emulator = patching.running_emulator()
    if emulator is None or not emulator.stack_instance_latency:
        return
    until = emulator.clock.time() + emulator.stack_instance_latency
    while emulator.clock.time() < until and not operation.abandoned:
        time.sleep(0.02)


def _deploy(stack_set: StackSet, operation: Operation, result: Result) -> bool:
    """One target: the roles, then the stack. True if it succeeded."""
    try:
        _take_time(operation)
        if operation.abandoned:  # the emulator is being reset or stopped: start nothing more
            return _finish(stack_set, operation, result, False, "Cancelled: the embedded AWS was reset", gate=GATE_SKIPPED)
        outcome = _assume_roles(stack_set, operation, result.account)
        if isinstance(outcome, str):
            return _finish(stack_set, operation, result, False, outcome, gate={"Status": "FAILED", "StatusReason": outcome})
        with patching.serving_request(caller=outcome):
            if operation.action == "DELETE":
                succeeded, reason = _delete_instance(stack_set, operation, result, outcome)
            else:
                succeeded, reason = _create_or_update_instance(stack_set, operation, result, outcome)
        return _finish(stack_set, operation, result, succeeded, reason, gate=GATE_SKIPPED)
    except Exception as error:
        LOG.exception("StackSet %s: %s/%s failed in the emulator", stack_set.name, result.account, result.region)
        return _finish(stack_set, operation, result, False, f"Internal failure: {error}", gate=GATE_SKIPPED)


def _finish(stack_set: StackSet, operation: Operation, result: Result, succeeded: bool, reason: str | None,
            gate: dict[str, str]) -> bool:
    with stack_set.lock:
        result.status, result.reason, result.gate = ("SUCCEEDED" if succeeded else "FAILED"), reason, gate
        key = (result.account, result.region)
        instance = stack_set.instances.get(key)
        if instance is None:
            return succeeded
        instance.last_operation_id = operation.id
        if operation.action == "DELETE":
            if succeeded:
                del stack_set.instances[key]
            else:
                instance.status, instance.reason, instance.detailed = "INOPERABLE", reason, "INOPERABLE"
        elif succeeded:
            instance.status, instance.reason, instance.detailed = "CURRENT", None, "SUCCEEDED"
        else:
            instance.status, instance.reason, instance.detailed = "OUTDATED", reason, "FAILED"
    return succeeded


# -- the roles ---------------------------------------------------------------------------------------


def _role_documents(account: str, role: Any) -> list[Any]:
    """The role's identity policies, as its sessions meet them while a change propagates (local/faults/consistency.py)."""
    emulator = patching.running_emulator()
    lagging = emulator.consistency.permissions_before(account, role.name) if emulator is not None else None
    return identity_documents(role) if lagging is None else lagging


def _allowed(account: str, role: Any, request: AuthRequest) -> tuple[bool, bool]:
    """(allowed, explicitly denied) for a session of `role`: its identity policies, capped by its boundary."""
    decision = evaluate(_role_documents(account, role), request)
    boundary = boundary_document(role)
    capped = evaluate([boundary], request) if boundary is not None else None
    explicit = decision.result == EXPLICIT_DENY or (capped is not None and capped.result == EXPLICIT_DENY)
    return decision.allowed and (capped is None or capped.allowed), explicit


def _role(account: str, partition: str, name_or_arn: str) -> Any | None:
    try:
        backend = iam_backends[account][partition]
        return backend.get_role_by_arn(name_or_arn) if name_or_arn.startswith("arn:") else backend.get_role(name_or_arn)
    except Exception:
        return None


def _context(principal_arn: str, account: str, region: str, **more: Any) -> dict[str, Any]:
    now = _now()
    return {"aws:PrincipalArn": principal_arn, "aws:PrincipalAccount": account, "aws:PrincipalType": "AssumedRole",
            "aws:RequestedRegion": region, "aws:CurrentTime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:EpochTime": str(int(now.timestamp())), "aws:SecureTransport": True, **more}


def _assume_roles(stack_set: StackSet, operation: Operation, target: str) -> tuple[str, str] | str:
    """CloudFormation assumes the administration role, and it the target's execution role: the execution role
    session's (ARN, role ARN), or the StatusReason AWS gives when either cannot be assumed."""
    admin_arn = operation.administration_role_arn
    admin_name = admin_arn.rsplit("/", 1)[-1]
    admin_account = admin_arn.split(":")[4] if admin_arn.count(":") >= 5 else stack_set.account
    admin_refused = (f"Account {stack_set.account} should have '{admin_name}' role with trust relationship to "
                     "CloudFormation service.")
    admin = _role(stack_set.account, stack_set.partition, admin_arn) if admin_account == stack_set.account else None
    if admin is None:
        return admin_refused
    trust = evaluate_trust(admin.assume_role_policy_document, {"Service": CLOUDFORMATION_SERVICE}, AuthRequest(
        "sts:AssumeRole", admin.arn, {"aws:SourceAccount": stack_set.account, "aws:SourceArn": stack_set.arn,
                                      "aws:PrincipalServiceName": CLOUDFORMATION_SERVICE}))
    if not trust.allowed:
        return admin_refused
    execution_refused = (f"Account {target} should have '{operation.execution_role_name}' role with trust "
                         f"relationship to Role '{admin_name}'.")
    execution = _role(target, stack_set.partition, operation.execution_role_name)
    if execution is None:
        return execution_refused
    admin_session = f"arn:{stack_set.partition}:sts::{stack_set.account}:assumed-role/{admin_name}/{operation.id}"
    request = AuthRequest("sts:AssumeRole", execution.arn, _context(
        admin.arn, stack_set.account, stack_set.region, **{"sts:RoleSessionName": operation.id}))
    decision = evaluate_assume_role(_role_documents(stack_set.account, admin), execution.assume_role_policy_document,
                                    [admin.arn, admin_session], request, cross_account=target != stack_set.account)
    boundary = boundary_document(admin)
    if not decision.allowed or (boundary is not None and not evaluate([boundary], request).allowed):
        return execution_refused
    session = f"arn:{stack_set.partition}:sts::{target}:assumed-role/{execution.name}/{operation.id}"
    return session, execution.arn


def _refused_by_execution_role(stack_set: StackSet, result: Result, caller: tuple[str, str], action: str,
                               stack_arn: str) -> str | None:
    """The execution role's session calls CloudFormation in the target: its AccessDenied text if refused."""
    execution = _role(result.account, stack_set.partition, caller[1])
    if execution is None:
        return f"User: {caller[0]} is not authorized to perform: {action} on resource: {stack_arn}"
    allowed, explicit = _allowed(result.account, execution, AuthRequest(action, stack_arn, _context(
        execution.arn, result.account, result.region)))
    if allowed:
        return None
    why = ("with an explicit deny in an identity-based policy" if explicit
           else f"because no identity-based policy allows the {action} action")
    return f"User: {caller[0]} is not authorized to perform: {action} on resource: {stack_arn} {why}"


# -- the stacks ----------------------------------------------------------------------------------------


def _instance_parameters(stack_set: StackSet, instance: StackInstance | None) -> dict[str, str]:
    values = {p["ParameterKey"]: p.get("ParameterValue", "") for p in stack_set.parameters}
    for override in instance.overrides if instance is not None else []:
        values[override["ParameterKey"]] = override.get("ParameterValue", "")
    return values


def _backend(result: Result) -> Any:
    return cloudformation_models.cloudformation_backends[result.account][result.region]


def _live_stack(backend: Any, stack_id: str | None) -> Any | None:
    return backend.stacks.get(stack_id) if stack_id else None


def _create_or_update_instance(stack_set: StackSet, operation: Operation, result: Result,
                               caller: tuple[str, str]) -> tuple[bool, str | None]:
    with stack_set.lock:
        instance = stack_set.instances.get((result.account, result.region))
        template, parameters = stack_set.template, _instance_parameters(stack_set, instance)
        tags = {t["Key"]: t["Value"] for t in stack_set.tags}
        stack_id = instance.stack_id if instance is not None else None
    backend = _backend(result)
    stack = _live_stack(backend, stack_id)
    if stack is not None and operation.action == "CREATE" and instance is not None and instance.status == "CURRENT":
        return True, None  # CreateStackInstances of an instance that is already current changes nothing
    if stack is None:
        name = f"StackSet-{stack_set.name}-{uuid.uuid4()}"
        arn = f"arn:{stack_set.partition}:cloudformation:{result.region}:{result.account}:stack/{name}/*"
        refused = _refused_by_execution_role(stack_set, result, caller, "cloudformation:CreateStack", arn)
        if refused:
            return False, refused
        return _create_stack(stack_set, result, backend, name, template, parameters, tags)
    refused = _refused_by_execution_role(stack_set, result, caller, "cloudformation:UpdateStack", stack.stack_id)
    if refused:
        return False, refused
    try:
        stack.update(template, None, parameters=parameters, tags=tags)
    except Exception as error:  # the update failed: AWS would roll it back (not emulated beyond the status)
        stack.status = "UPDATE_ROLLBACK_COMPLETE"
        return False, _error_text(error)
    return True, None


def _create_stack(stack_set: StackSet, result: Result, backend: Any, name: str, template: str,
                  parameters: dict[str, str], tags: dict[str, str]) -> tuple[bool, str | None]:
    def record(stack_id: str | None) -> None:
        with stack_set.lock:
            instance = stack_set.instances.get((result.account, result.region))
            if instance is not None:
                instance.stack_id = stack_id

    try:
        stack = backend.create_stack(name=name, template=template, parameters=parameters, tags=tags)
    except Exception as error:
        stack = next((s for s in backend.stacks.values() if s.name == name), None)
        if stack is None:  # refused before any resource (a parameter, the template)
            return False, _error_text(error)
        stacks.roll_back(backend, stack.stack_id, stacks.handler_failed_for(stack, error))
    record(stack.stack_id)
    if stack.status == "ROLLBACK_COMPLETE":
        failed = next((e for e in reversed(stack.events) if e.resource_status == "CREATE_FAILED"), None)
        backend.delete_stack(stack.stack_id)  # StackSets deletes a stack whose creation failed
        if failed is None:
            return False, "The stack failed to create"
        return False, (f"ResourceLogicalId:{failed.logical_resource_id}, ResourceType:{failed.resource_type}, "
                       f"ResourceStatusReason:{failed.resource_status_reason}.")
    return True, None


def _delete_instance(stack_set: StackSet, operation: Operation, result: Result,
                     caller: tuple[str, str]) -> tuple[bool, str | None]:
    with stack_set.lock:
        instance = stack_set.instances.get((result.account, result.region))
        stack_id = instance.stack_id if instance is not None else None
    backend = _backend(result)
    stack = _live_stack(backend, stack_id)
    if operation.retain_stacks or stack is None:
        return True, None
    refused = _refused_by_execution_role(stack_set, result, caller, "cloudformation:DeleteStack", stack.stack_id)
    if refused:
        return False, refused
    try:
        backend.delete_stack(stack.stack_id)
    except Exception as error:
        return False, _error_text(error)
    return True, None


def _error_text(error: Exception) -> str:
    return str(getattr(error, "message", None) or error)
