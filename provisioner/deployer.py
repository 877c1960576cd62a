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

from lambdas.core.desired import DesiredState
from provisioner.aws_clients import Clients
from provisioner.config import Settings
from provisioner.iam_documents import Arns
from provisioner.orchestrator import (  # noqa: F401  (DRIFT_METRIC, METRICS_SERVICE: re-exported for tests)
    DRIFT_METRIC,
    METRICS_SERVICE,
    FunctionDescription,
    Orchestrator,
    describe_orchestrator,
)
from provisioner.packaging import LambdaPackage, build_package
# IAM is eventually consistent: Lambda may not be able to assume a role created seconds ago.
ROLE_PROPAGATION_ATTEMPTS = 12
PROPAGATION_CODES = ("InvalidParameterValueException", "AccessDeniedException", "ValidationException")


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
    ):
        self.clients = clients
        self.settings = settings
        self.desired = desired
        self.tracing = tracing
        self.sleep = sleep
        self.name = desired.provisioner_name

    def arns(self) -> Arns:
        return Arns.for_state(self.desired, self.clients.account_id, self.clients.partition)

    def orchestrator(self) -> Orchestrator:
        """What to create: the one description `render`'s CloudFormation template is made from too."""
        return describe_orchestrator(self.settings, self.desired, self.arns(), tracing=self.tracing)

    def tags(self) -> dict[str, str]:
        return self.orchestrator().tags

    # -- deploy -----------------------------------------------------------------

    def deploy(self, package: LambdaPackage | None = None) -> Deployment:
        orchestrator = self.orchestrator()
        changed: list[str] = []
        role_arns = self._ensure_roles(orchestrator, changed)
        package = package or build_package(self.desired)
        function_arns = {
            function.step: self._ensure_function(function, role_arns[function.role], package, changed)
            for function in orchestrator.functions
        }
        machine = orchestrator.state_machine
        log_group_arn = self._ensure_log_group(machine.log_group)
        state_machine_arn = self._ensure_state_machine(orchestrator, function_arns, role_arns[machine.role], log_group_arn, changed)
        self._ensure_rollback_trigger(orchestrator, state_machine_arn, role_arns[orchestrator.rollback_rule.role])
        self._ensure_drift_schedule(orchestrator, state_machine_arn, role_arns[orchestrator.drift_schedule.role])
        self._ensure_drift_alarm(orchestrator)
        return Deployment(state_machine_arn, function_arns, changed)

    def _ensure_roles(self, orchestrator: Orchestrator, changed: list[str]) -> dict[str, str]:
        iam = self.clients.iam
        result = {}
        for role in orchestrator.roles:
            name = role.name
            trust = json.dumps(role.trust_policy)
            try:
                arn = iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=trust,
                    Tags=[{"Key": k, "Value": v} for k, v in orchestrator.tags.items()],
                )["Role"]["Arn"]
                changed.append(f"role/{name}")
            except iam.exceptions.EntityAlreadyExistsException:
                arn = iam.get_role(RoleName=name)["Role"]["Arn"]
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            iam.put_role_policy(RoleName=name, PolicyName=role.policy_name, PolicyDocument=json.dumps(role.policy))
            result[role.key] = arn
        return result

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
        if any(current.get(key) != value for key, value in wanted.items()) or current.get("Environment", {}).get(
            "Variables", {}
        ) != configuration["Environment"]["Variables"]:
            client.update_function_configuration(FunctionName=name, **configuration)
            client.get_waiter("function_updated_v2").wait(FunctionName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 120})
            changed.append(f"function/{name} configuration")
        return current["FunctionArn"]

    def _while_role_propagates(self, call: Callable[[], Any]) -> Any:
        """Retry `call` while AWS says a role created moments ago cannot be assumed yet."""
        for attempt in range(ROLE_PROPAGATION_ATTEMPTS):
            try:
                return call()
            except ClientError as err:
                error = err.response.get("Error", {})
                propagating = error.get("Code") in PROPAGATION_CODES and "assume" in error.get("Message", "").lower()
                if not propagating or attempt == ROLE_PROPAGATION_ATTEMPTS - 1:
                    raise
                self.sleep(min(2**attempt, 10))
        raise AssertionError("unreachable")

    def _create_function(self, name: str, configuration: dict[str, Any], package: LambdaPackage) -> str:
        client = self.clients.lambda_
        created = self._while_role_propagates(
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
        definition = machine.definition(function_arns)
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
                lambda: sfn.create_state_machine(
                    name=machine.name,
                    type=machine.type,
                    tags=[{"key": k, "value": v} for k, v in orchestrator.tags.items()],
                    **common,
                )
            )
            changed.append(f"stateMachine/{self.name}")
            return created["stateMachineArn"]
        if current["definition"] != definition or current["roleArn"] != role_arn:
            sfn.update_state_machine(stateMachineArn=arn, **common)
            changed.append(f"stateMachine/{self.name} definition")
        return arn

    def _ensure_rollback_trigger(self, orchestrator: Orchestrator, state_machine_arn: str, role_arn: str) -> None:
        events = self.clients.events
        rule = orchestrator.rollback_rule
        events.put_rule(
            Name=rule.name,
            EventPattern=json.dumps(rule.pattern(state_machine_arn)),
            State=rule.state,
            Description=rule.description,
            Tags=[{"Key": k, "Value": v} for k, v in orchestrator.tags.items()],
        )
        events.put_targets(
            Rule=rule.name,
            Targets=[
                {
                    "Id": rule.target_id,
                    "Arn": state_machine_arn,
                    "RoleArn": role_arn,
                    "InputTransformer": {
                        "InputPathsMap": dict(rule.input_paths),
                        "InputTemplate": rule.input_template,
                    },
                }
            ],
        )

    def _ensure_drift_schedule(self, orchestrator: Orchestrator, state_machine_arn: str, role_arn: str) -> None:
        scheduler = self.clients.scheduler
        schedule = orchestrator.drift_schedule
        request = {
            "Name": schedule.name,
            "ScheduleExpression": schedule.expression,
            "FlexibleTimeWindow": {"Mode": schedule.flexible_time_window},
            "Target": {"Arn": state_machine_arn, "RoleArn": role_arn, "Input": schedule.input},
            "Description": schedule.description,
            "State": schedule.state,
        }
        try:
            scheduler.create_schedule(**request)
        except scheduler.exceptions.ConflictException:
            scheduler.update_schedule(**request)

    def _ensure_drift_alarm(self, orchestrator: Orchestrator) -> None:
        self.clients.cloudwatch.put_metric_alarm(**orchestrator.drift_alarm.parameters())

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
        alarm = orchestrator.drift_alarm.name
        self._ignore_missing(lambda: self.clients.cloudwatch.delete_alarms(AlarmNames=[alarm]), removed, "alarm")
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
