"""Deploy (idempotently) and destroy the orchestrator: functions, roles, state machine, rule, schedule, alarm.

Never touches the FileFerry tables or role: those belong to the state machine's runs.
"""

from __future__ import annotations

import json
import time
from functools import partial
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import ClientError

from lambdas.core.desired import MANAGED_BY_TAG, DesiredState
from lambdas.core.diff import policy_regions
from lambdas.core.run_input import MUTATING
from lambdas.core.errors import NotYetVisible
from lambdas.core.run_lease import execution_name, has_ended, lease_holder
from lambdas.core.steps import RETIRED_STEP_NAMES
from provisioner.aws_clients import Clients
from provisioner.config import Settings
from provisioner.errors import DeployError
from provisioner.blueprint.iam_documents import Arns, function_role_suffix, legacy_role_name, role_suffixes
from provisioner.blueprint.orchestrator import (  # noqa: F401  (DRIFT_METRIC, METRICS_SERVICE: re-exported for tests)
    DRIFT_METRIC,
    METRICS_SERVICE,
    POLICY_NAME,
    FunctionDescription,
    Orchestrator,
    describe_orchestrator,
)
from provisioner.blueprint.packaging import LambdaPackage, build_package
# IAM is eventually consistent: for a while after a role or its policy is created or changed, the services
# that use it answer with these messages (Lambda's CreateFunction/UpdateFunctionConfiguration, Step Functions'
# CreateStateMachine/UpdateStateMachine and EventBridge Scheduler's CreateSchedule/UpdateSchedule; the texts are
# the ones AWS returns, as reported against Terraform's AWS provider, which retries them for up to two minutes).
PROPAGATION_CODES = frozenset({"InvalidParameterValueException", "AccessDeniedException", "ValidationException"})
PROPAGATION_MESSAGES = (
    "cannot be assumed by lambda",  # "The role defined for the function cannot be assumed by Lambda."
    "execution role does not have permissions to call",  # "... to call PutTraceSegments on XRAY"
    "authorized to assume the provided role",  # "Neither the global service principal states.amazonaws.com, nor ..."
    "not authorized to access the log destination",  # "The state machine IAM Role is not authorized to access ..."
    "not authorized to access the x-ray",  # Step Functions tracing, likewise
    "must allow aws eventbridge scheduler to assume the role",  # Scheduler's ValidationException
)
PROPAGATION_TIMEOUT_SECONDS = 120.0
PUT_TARGETS_ATTEMPTS = 5
PROPAGATION_MAX_DELAY_SECONDS = 10.0


def is_role_propagation_error(err: ClientError) -> bool:
    """True when AWS refuses a call only because a role it names has not propagated yet."""
    error = err.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") in PROPAGATION_CODES and any(text in message for text in PROPAGATION_MESSAGES)


class RunInFlight(DeployError):
    """deploy refused: a run that changes resources has not ended."""


@dataclass(frozen=True)
class InFlightRun:
    arn: str
    name: str
    action: str  # provision, teardown, rollback, or "drift-check (remediate)"


def _action_of(raw_input: str | None) -> str | None:
    """The mutating action an execution input asks for; None for a read-only run (or an input it refused)."""
    try:
        request = json.loads(raw_input or "{}")
    except ValueError:
        return None
    if not isinstance(request, dict):
        return None
    action = request.get("action", "provision")
    if action in MUTATING:
        return str(action)
    return "drift-check (remediate)" if request.get("remediate") is True else None


@dataclass
class Deployment:
    state_machine_arn: str
    function_arns: dict[str, str]
    changed: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"state_machine_arn": self.state_machine_arn, "function_arns": self.function_arns, "changed": self.changed}


class Deployer:
    def __init__(
        self,
        clients: Clients,
        settings: Settings,
        desired: DesiredState,
        tracing: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        progress: Callable[[str], None] = lambda message: None,
    ):
        self.clients = clients
        self.settings = settings
        self.desired = desired
        self.tracing = tracing
        self.sleep = sleep
        self.progress = progress
        self.name = desired.provisioner_name

    def arns(self) -> Arns:
        return Arns.for_state(self.desired, self.clients.account_id, self.clients.partition)

    def orchestrator(self) -> Orchestrator:
        """What to create: the one description `render`'s CloudFormation template is made from too."""
        return describe_orchestrator(self.settings, self.desired, self.arns(), tracing=self.tracing)

    def tags(self) -> dict[str, str]:
        return self.orchestrator().tags

    # -- deploy -----------------------------------------------------------------

    def deploy(self, package: LambdaPackage | None = None, force: bool = False) -> Deployment:
        """Create or update everything; refused while a run that changes resources is in flight, unless `force`."""
        orchestrator = self.orchestrator()
        in_flight = self.runs_changing_resources(orchestrator)
        if in_flight:
            named = ", ".join(f"{run.name} ({run.action})" for run in in_flight)
            consequence = ("its steps are invoked by name, so a deploy now would swap their code and desired "
                           "state under it")
            if not force:
                follow = f"deploy.py status {in_flight[0].arn} --follow"
                raise RunInFlight(f"a run that changes resources is in flight: {named}; {consequence}. Wait for it "
                                  f"(`{follow}`) or stop it, then deploy; `--force` deploys anyway")
            self.progress(f"warning: deploying over a run in flight (--force): {named}; {consequence}")
        changed: list[str] = []
        role_arns, policies_written = self._ensure_roles(orchestrator, changed)
        self._ensure_lease_table(orchestrator, changed)
        package = package or build_package(self.desired)
        function_arns = {
            function.step: self._ensure_function(function, role_arns[function.role], package, changed)
            for function in orchestrator.functions
        }
        machine = orchestrator.state_machine
        log_group_arn = self._ensure_log_group(machine.log_group)
        state_machine_arn = self._ensure_state_machine(orchestrator, function_arns, role_arns[machine.role], log_group_arn, changed)
        queue_arn = self._ensure_undelivered_queue(orchestrator, changed)
        self._ensure_rollback_trigger(orchestrator, state_machine_arn, role_arns[orchestrator.rollback_rule.role], queue_arn)
        self._ensure_drift_schedule(orchestrator, state_machine_arn, role_arns[orchestrator.drift_schedule.role], queue_arn)
        self._ensure_alarms(orchestrator)
        self._remove_retired_steps(changed)  # after the state machine stopped naming them
        self._remove_legacy_roles(changed)  # after the functions, state machine, rule and schedule moved to the new roles
        self._await_permissions(policies_written)  # last: the rest of the deploy overlaps the propagation
        return Deployment(state_machine_arn, function_arns, changed)

    def runs_changing_resources(self, orchestrator: Orchestrator) -> list[InFlightRun]:
        """Runs of this state machine that change resources and have not ended.

        The lease's holder is the one a ListExecutions right after its start may not show yet (the listing
        is eventually consistent); the listing adds runs started before the lease existed. Each is taken
        as ended only when its own history says so.
        """
        sfn, found = self.clients.stepfunctions, {}
        try:
            holder = lease_holder(self.clients.dynamodb, orchestrator.lease_table.name)
        except NotYetVisible:
            holder = None  # no lease table yet (first deploy), or one still CREATING: nobody holds it
        candidates = [holder] if holder else []
        try:
            pages = sfn.get_paginator("list_executions").paginate(
                stateMachineArn=orchestrator.arns.state_machine(), statusFilter="RUNNING")
            candidates += [execution["executionArn"] for page in pages for execution in page["executions"]]
        except sfn.exceptions.StateMachineDoesNotExist:
            pass
        for arn in dict.fromkeys(candidates):
            try:
                described = sfn.describe_execution(executionArn=arn)
            except sfn.exceptions.ExecutionDoesNotExist:
                continue
            action = _action_of(described.get("input"))
            if action is not None and not has_ended(sfn, arn):
                found[arn] = InFlightRun(arn, described.get("name") or execution_name(arn), action)
        return list(found.values())

    def _ensure_lease_table(self, orchestrator: Orchestrator, changed: list[str]) -> None:
        """The run lease's table (lambdas.core.run_lease). Not waited for: a run that meets it still CREATING
        waits in its first step (NotYetVisible, retried), and the rest of the deploy overlaps its creation."""
        dynamodb, lease = self.clients.dynamodb, orchestrator.lease_table
        try:
            dynamodb.describe_table(TableName=lease.name)
            return
        except dynamodb.exceptions.ResourceNotFoundException:
            pass
        try:
            dynamodb.create_table(TableName=lease.name, **lease.key(),
                                  Tags=[{"Key": k, "Value": v} for k, v in orchestrator.tags.items()])
            changed.append(f"table/{lease.name}")
        except dynamodb.exceptions.ResourceInUseException:  # DescribeTable lagged its CreateTable, or another deploy
            pass

    def _remove_retired_steps(self, removed: list[str]) -> None:
        """Functions of steps an earlier version deployed and this one no longer has (their roles, named as
        earlier versions named them, go with the other legacy roles: `_remove_legacy_roles`)."""
        for step_name in RETIRED_STEP_NAMES:
            function = f"{self.name}-{step_name}"
            self._ignore_missing(partial(self.clients.lambda_.delete_function, FunctionName=function), removed, f"function/{function}")

    def _remove_legacy_roles(self, removed: list[str]) -> None:
        """This Region's roles of earlier versions, named without a Region (`<name>-<suffix>`).

        IAM is global: under that naming every Region's orchestrator of this name shared one set of roles,
        and each deploy rewrote their policies for its own Region. A legacy role is this Region's when
        deploy made it (its `fileferry:managed-by` tag names this provisioner) and its policy names no other
        Region; one whose policy names another Region is kept (that Region's orchestrator may still run an
        earlier version, with that role), and said: a deploy there removes it. Called once nothing here
        uses the legacy roles any more (the functions, state machine, rule and schedule have the new ones).
        """
        iam, region = self.clients.iam, self.arns().region
        suffixes = role_suffixes() + [function_role_suffix(step_name) for step_name in RETIRED_STEP_NAMES]
        in_use = {role.name for role in self.orchestrator().roles}
        for name in dict.fromkeys(legacy_role_name(self.name, suffix) for suffix in suffixes):
            if name in in_use:
                continue
            try:
                role = iam.get_role(RoleName=name)["Role"]
            except iam.exceptions.NoSuchEntityException:
                continue
            tags = {tag["Key"]: tag["Value"] for tag in role.get("Tags", [])}
            if tags.get(MANAGED_BY_TAG) != self.name:
                continue  # not made by deploy for this provisioner (another provisioner's role, or someone's)
            others = sorted(policy_regions(self._inline_policy(name, POLICY_NAME)) - {region})
            if others:
                self.progress(f"kept role {name} (an earlier version's name, without a Region): its policy is for "
                              f"the orchestrator in {', '.join(others)}; a deploy or destroy there removes it")
                continue
            self._ignore_missing(partial(iam.delete_role_policy, RoleName=name, PolicyName=POLICY_NAME), removed, None)
            try:
                self._ignore_missing(partial(iam.delete_role, RoleName=name), removed, f"role/{name}")
            except iam.exceptions.DeleteConflictException:
                self.progress(f"kept role {name} (an earlier version's name, without a Region): it has policies "
                              f"deploy did not give it; delete it by hand once they are not needed")

    def _ensure_roles(self, orchestrator: Orchestrator, changed: list[str]) -> tuple[dict[str, str], dict[str, Any]]:
        """Each role with its trust and inline policy; returns the ARNs and the policies this deploy wrote.

        A document IAM already shows is not written again: every write starts a new propagation
        (services refuse the role, its sessions meet the old permissions, for a while).
        """
        iam = self.clients.iam
        result, written = {}, {}
        for role in orchestrator.roles:
            name = role.name
            trust = json.loads(json.dumps(role.trust_policy))
            policy = json.loads(json.dumps(role.policy))
            try:
                arn = iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=json.dumps(trust),
                    Tags=[{"Key": k, "Value": v} for k, v in orchestrator.tags.items()],
                )["Role"]["Arn"]
                changed.append(f"role/{name}")
                current_policy = None
            except iam.exceptions.EntityAlreadyExistsException:
                current = iam.get_role(RoleName=name)["Role"]
                arn = current["Arn"]
                if current.get("AssumeRolePolicyDocument") != trust:
                    iam.update_assume_role_policy(RoleName=name, PolicyDocument=json.dumps(trust))
                current_policy = self._inline_policy(name, role.policy_name)
            if current_policy != policy:
                iam.put_role_policy(RoleName=name, PolicyName=role.policy_name, PolicyDocument=json.dumps(policy))
                written[name] = (role.policy_name, policy)
            result[role.key] = arn
        return result, written

    def _inline_policy(self, role: str, policy_name: str) -> Any:
        """The role's inline policy document as IAM shows it; None if it has none by that name."""
        iam = self.clients.iam
        try:
            return iam.get_role_policy(RoleName=role, PolicyName=policy_name)["PolicyDocument"]
        except iam.exceptions.NoSuchEntityException:
            return None

    def _await_permissions(self, written: dict[str, Any]) -> None:
        """Wait until IAM shows every policy this deploy wrote, for at most two minutes.

        A run started sooner meets its steps' old permissions (IAM User Guide: changes "are not always
        immediately visible"), and AccessDenied fails a run for good. AWS offers no call that says a
        change has reached every service; reading it back is the witness IAM gives.
        """
        waited, delay = 0.0, 1.0
        pending = dict(written)
        while True:
            pending = {role: (name, policy) for role, (name, policy) in pending.items()
                       if self._inline_policy(role, name) != policy}
            if not pending:
                return
            roles = ", ".join(sorted(pending))
            if waited + delay > PROPAGATION_TIMEOUT_SECONDS:
                raise DeployError(
                    f"IAM still showed the old policy of {roles} after {waited:.0f} s; a run started now could be "
                    f"denied what its steps need: re-run deploy in a minute"
                )
            self.progress(f"waiting for IAM to propagate the new policy of {roles} ({waited:.0f} s so far, at most "
                          f"{PROPAGATION_TIMEOUT_SECONDS:.0f} s)")
            self.sleep(delay)
            waited += delay
            delay = min(delay * 2, PROPAGATION_MAX_DELAY_SECONDS)

    def _ensure_function(
        self, function: FunctionDescription, role_arn: str, package: LambdaPackage, changed: list[str]
    ) -> str:
        client = self.clients.lambda_
        name = function.name
        self._ensure_log_group(function.log_group)
        configuration = function.configuration(role_arn)
        try:
            current = client.get_function(FunctionName=name)["Configuration"]
        except client.exceptions.ResourceNotFoundException:
            arn = self._create_function(name, configuration, package)
            changed.append(f"function/{name}")
            return arn
        if current["CodeSha256"] != package.code_sha256:
            client.update_function_code(FunctionName=name, ZipFile=package.zip_bytes)
            client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            changed.append(f"function/{name} code")
        wanted = {key: configuration[key] for key in ("Role", "Handler", "Runtime", "Timeout", "MemorySize")}
        if (
            any(current.get(key) != value for key, value in wanted.items())
            or current.get("Environment", {}).get("Variables", {}) != configuration["Environment"]["Variables"]
            or current.get("TracingConfig", {}).get("Mode", "PassThrough") != configuration["TracingConfig"]["Mode"]
        ):
            self._while_role_propagates(
                f"function {name}", lambda: client.update_function_configuration(FunctionName=name, **configuration)
            )
            client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            changed.append(f"function/{name} configuration")
        return current["FunctionArn"]

    def _while_role_propagates(self, what: str, call: Callable[[], Any]) -> Any:
        """Retry `call` while AWS says a role it names has not propagated yet, for at most two minutes."""
        waited, delay = 0.0, 1.0
        while True:
            try:
                return call()
            except ClientError as err:
                if not is_role_propagation_error(err):
                    raise
                if waited + delay > PROPAGATION_TIMEOUT_SECONDS:
                    message = err.response.get("Error", {}).get("Message", "")
                    raise DeployError(
                        f"{what}: IAM changes had not reached {err.operation_name} after {waited:.0f} s "
                        f"(AWS still says: {message}); re-run deploy in a minute"
                    ) from err
                self.progress(f"waiting for IAM to propagate the role of {what} ({waited:.0f} s so far, at most "
                              f"{PROPAGATION_TIMEOUT_SECONDS:.0f} s)")
                self.sleep(delay)
                waited += delay
                delay = min(delay * 2, PROPAGATION_MAX_DELAY_SECONDS)

    def _create_function(self, name: str, configuration: dict[str, Any], package: LambdaPackage) -> str:
        client = self.clients.lambda_
        created = self._while_role_propagates(
            f"function {name}",
            lambda: client.create_function(
                FunctionName=name, Code={"ZipFile": package.zip_bytes}, Tags=self.tags(), **configuration
            )
        )
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        return created["FunctionArn"]

    def _ensure_log_group(self, name: str) -> str:
        logs = self.clients.logs
        try:
            logs.create_log_group(logGroupName=name, tags=self.tags())
        except logs.exceptions.ResourceAlreadyExistsException:
            pass
        logs.put_retention_policy(logGroupName=name, retentionInDays=self.settings.provisioner.log_retention_days)
        arns = self.arns()
        return f"arn:{arns.partition}:logs:{arns.region}:{arns.account_id}:log-group:{name}:*"

    def _ensure_state_machine(
        self,
        orchestrator: Orchestrator,
        function_arns: dict[str, str],
        role_arn: str,
        log_group_arn: str,
        changed: list[str],
    ) -> str:
        sfn = self.clients.stepfunctions
        machine = orchestrator.state_machine
        definition = machine.definition(function_arns, self.arns().partition)
        common = {
            "definition": definition,
            "roleArn": role_arn,
            "loggingConfiguration": machine.logging_configuration(log_group_arn),
            "tracingConfiguration": {"enabled": machine.tracing},
        }
        arn = self.arns().state_machine()
        try:
            current = sfn.describe_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            created = self._while_role_propagates(
                f"state machine {self.name}",
                lambda: sfn.create_state_machine(
                    name=machine.name,
                    type=machine.type,
                    tags=[{"key": k, "value": v} for k, v in orchestrator.tags.items()],
                    **common,
                )
            )
            changed.append(f"stateMachine/{self.name}")
            return created["stateMachineArn"]
        if any(current.get(key) != value for key, value in common.items()):  # definition, role, logging, tracing
            self._while_role_propagates(
                f"state machine {self.name}", lambda: sfn.update_state_machine(stateMachineArn=arn, **common)
            )
            changed.append(f"stateMachine/{self.name} definition")
        return arn

    def _ensure_undelivered_queue(self, orchestrator: Orchestrator, changed: list[str]) -> str:
        """The targets' dead-letter queue, with its policy; returns its ARN."""
        sqs, queue = self.clients.sqs, orchestrator.undelivered_queue
        attributes = queue.attributes()
        try:
            url = sqs.get_queue_url(QueueName=queue.name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            url = sqs.create_queue(QueueName=queue.name, Attributes=attributes, tags=dict(orchestrator.tags))["QueueUrl"]
            changed.append(f"queue/{queue.name}")
        else:
            current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
            if any(current.get(key) != value for key, value in attributes.items() if key != "Policy") or \
                    json.loads(current.get("Policy") or "{}") != queue.policy:
                sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
                changed.append(f"queue/{queue.name} attributes")
        return orchestrator.arns.undelivered_queue()

    def _ensure_rollback_trigger(self, orchestrator: Orchestrator, state_machine_arn: str, role_arn: str,
                                 queue_arn: str) -> None:
        events = self.clients.events
        rule = orchestrator.rollback_rule
        events.put_rule(
            Name=rule.name,
            EventPattern=json.dumps(rule.pattern(state_machine_arn)),
            State=rule.state,
            Description=rule.description,
            Tags=[{"Key": k, "Value": v} for k, v in orchestrator.tags.items()],
        )
        target = rule.target(state_machine_arn, role_arn, queue_arn)
        # PutTargets answers 200 even when it attached nothing: refusals are in FailedEntries, and AWS says it
        # "can partially fail if too many requests are made at the same time", so they are retried.
        for attempt in range(PUT_TARGETS_ATTEMPTS):
            answer = events.put_targets(Rule=rule.name, Targets=[target])
            if not answer.get("FailedEntryCount"):
                return
            if attempt < PUT_TARGETS_ATTEMPTS - 1:
                self.sleep(2**attempt)
        refused = "; ".join(
            f"{entry.get('TargetId')}: {entry.get('ErrorCode')}: {entry.get('ErrorMessage')}"
            for entry in answer.get("FailedEntries", [])
        )
        raise DeployError(
            f"rule {rule.name}: EventBridge did not attach the rollback target after {PUT_TARGETS_ATTEMPTS} tries "
            f"({refused}); aborted or timed-out runs would not be rolled back: re-run deploy"
        )

    def _ensure_drift_schedule(self, orchestrator: Orchestrator, state_machine_arn: str, role_arn: str,
                               queue_arn: str) -> None:
        scheduler = self.clients.scheduler
        schedule = orchestrator.drift_schedule
        request = {
            "Name": schedule.name,
            "ScheduleExpression": schedule.expression,
            "FlexibleTimeWindow": {"Mode": schedule.flexible_time_window},
            "Target": schedule.target(state_machine_arn, role_arn, queue_arn),
            "Description": schedule.description,
            "State": schedule.state,
        }
        what = f"schedule {request['Name']}"
        try:
            self._while_role_propagates(what, lambda: scheduler.create_schedule(**request))
        except scheduler.exceptions.ConflictException:
            self._while_role_propagates(what, lambda: scheduler.update_schedule(**request))

    def _ensure_alarms(self, orchestrator: Orchestrator) -> None:
        for alarm in orchestrator.alarms:
            self.clients.cloudwatch.put_metric_alarm(**alarm.parameters())

    # -- destroy ----------------------------------------------------------------

    def destroy(self) -> list[str]:
        """Remove the orchestrator; the FileFerry tables and role stay."""
        removed: list[str] = []
        orchestrator = self.orchestrator()
        sfn, events, scheduler = self.clients.stepfunctions, self.clients.events, self.clients.scheduler
        schedule = orchestrator.drift_schedule.name
        self._ignore_missing(lambda: scheduler.delete_schedule(Name=schedule), removed, "schedule")
        rule = orchestrator.rollback_rule
        self._ignore_missing(lambda: events.remove_targets(Rule=rule.name, Ids=[rule.target_id]), removed, None)
        self._ignore_missing(lambda: events.delete_rule(Name=rule.name), removed, f"rule/{rule.name}")
        alarms = [alarm.name for alarm in orchestrator.alarms]
        self._ignore_missing(lambda: self.clients.cloudwatch.delete_alarms(AlarmNames=alarms), removed, "alarms")
        self._ignore_missing(
            lambda: sfn.delete_state_machine(stateMachineArn=orchestrator.arns.state_machine()),
            removed,
            f"stateMachine/{self.name}",
        )
        for function in orchestrator.functions:
            name = function.name
            self._ignore_missing(partial(self.clients.lambda_.delete_function, FunctionName=name), removed, f"function/{name}")
        iam = self.clients.iam
        for role in orchestrator.roles:
            name = role.name
            self._ignore_missing(partial(iam.delete_role_policy, RoleName=name, PolicyName=role.policy_name), removed, None)
            self._ignore_missing(partial(iam.delete_role, RoleName=name), removed, f"role/{name}")
        self._remove_retired_steps(removed)
        self._remove_legacy_roles(removed)
        sqs, queue = self.clients.sqs, orchestrator.undelivered_queue.name
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=queue)["QueueUrl"])
            removed.append(f"queue/{queue}")
        except sqs.exceptions.QueueDoesNotExist:
            pass
        lease = orchestrator.lease_table.name  # last: a run started meanwhile is refused, not let through
        self._ignore_missing(lambda: self.clients.dynamodb.delete_table(TableName=lease), removed, f"table/{lease}")
        return removed

    @staticmethod
    def _ignore_missing(call: Callable[[], Any], removed: list[str], label: str | None) -> None:
        try:
            call()
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code", "")
            if code in ("ResourceNotFoundException", "NoSuchEntity", "StateMachineDoesNotExist", "ResourceNotFound"):
                return
            raise
        if label:
            removed.append(label)

