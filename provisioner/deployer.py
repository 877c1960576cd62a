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
from lambdas.core.steps import STEPS
from provisioner.aws_clients import Clients
from provisioner.config import Settings
from provisioner.iam_documents import Arns, orchestrator_roles, role_name, state_machine_log_group
from provisioner.packaging import LambdaPackage, build_package
from state_machine.asl import load_definition, substitute

RUNTIME = "python3.12"
MEMORY_MB = 256
POLICY_NAME = "least-privilege"
ROLLBACK_TRIGGER = "rollback-on-abort"
DRIFT_SCHEDULE = "drift-check"
DRIFT_METRIC = "DriftedResources"
METRICS_SERVICE = "fileferry-provisioner"
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

    def tags(self) -> dict[str, str]:
        return {MANAGED_BY_TAG: self.name}

    # -- deploy -----------------------------------------------------------------

    def deploy(self, package: LambdaPackage | None = None) -> Deployment:
        arns = self.arns()
        changed: list[str] = []
        role_arns = self._ensure_roles(arns, changed)
        package = package or build_package(self.desired)
        function_arns = {
            step.name: self._ensure_function(step, role_arns[f"{step.name}-fn"], package, changed) for step in STEPS
        }
        log_group_arn = self._ensure_log_group(state_machine_log_group(self.name))
        state_machine_arn = self._ensure_state_machine(function_arns, role_arns["states"], log_group_arn, changed)
        self._ensure_rollback_trigger(state_machine_arn, role_arns["events"])
        self._ensure_drift_schedule(state_machine_arn, role_arns["scheduler"])
        self._ensure_drift_alarm()
        return Deployment(state_machine_arn, function_arns, changed)

    def _ensure_roles(self, arns: Arns, changed: list[str]) -> dict[str, str]:
        iam = self.clients.iam
        result = {}
        for role in orchestrator_roles(arns, self.desired.tables[0].kms_key_id if self.desired.tables else None):
            name = role_name(self.name, role.suffix)
            trust = json.dumps(role.trust_policy)
            try:
                arn = iam.create_role(
                    RoleName=name,
                    AssumeRolePolicyDocument=trust,
                    Tags=[{"Key": k, "Value": v} for k, v in self.tags().items()],
                )["Role"]["Arn"]
                changed.append(f"role/{name}")
            except iam.exceptions.EntityAlreadyExistsException:
                arn = iam.get_role(RoleName=name)["Role"]["Arn"]
                iam.update_assume_role_policy(RoleName=name, PolicyDocument=trust)
            iam.put_role_policy(RoleName=name, PolicyName=POLICY_NAME, PolicyDocument=json.dumps(role.policy))
            result[role.suffix] = arn
        return result

    def _function_configuration(self, step_name: str, role_arn: str, timeout: int) -> dict[str, Any]:
        environment = {
            "POWERTOOLS_SERVICE_NAME": METRICS_SERVICE,
            "POWERTOOLS_METRICS_NAMESPACE": self.desired.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
        if not self.tracing:
            environment["POWERTOOLS_TRACE_DISABLED"] = "true"
        return {
            "Role": role_arn,
            "Handler": next(step.handler for step in STEPS if step.name == step_name),
            "Runtime": RUNTIME,
            "Timeout": timeout,
            "MemorySize": MEMORY_MB,
            "Environment": {"Variables": environment},
            "TracingConfig": {"Mode": "Active" if self.tracing else "PassThrough"},
        }

    def _ensure_function(self, step: Any, role_arn: str, package: LambdaPackage, changed: list[str]) -> str:
        client = self.clients.lambda_
        name = step.function_name(self.name)
        self._ensure_log_group(f"/aws/lambda/{name}")
        configuration = self._function_configuration(step.name, role_arn, step.timeout_seconds)
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
        self, function_arns: dict[str, str], role_arn: str, log_group_arn: str, changed: list[str]
    ) -> str:
        sfn = self.clients.stepfunctions
        definition = substitute(load_definition(), function_arns)
        common = {
            "definition": definition,
            "roleArn": role_arn,
            # Execution data holds table names and error causes, never item data; still, keep it out of logs.
            "loggingConfiguration": {
                "level": "ERROR",
                "includeExecutionData": False,
                "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
            },
            "tracingConfiguration": {"enabled": self.tracing},
        }
        arn = self.arns().state_machine()
        try:
            current = sfn.describe_state_machine(stateMachineArn=arn)
        except sfn.exceptions.StateMachineDoesNotExist:
            created = self._while_role_propagates(
                lambda: sfn.create_state_machine(
                    name=self.name, type="STANDARD", tags=[{"key": k, "value": v} for k, v in self.tags().items()], **common
                )
            )
            changed.append(f"stateMachine/{self.name}")
            return created["stateMachineArn"]
        if current["definition"] != definition or current["roleArn"] != role_arn:
            sfn.update_state_machine(stateMachineArn=arn, **common)
            changed.append(f"stateMachine/{self.name} definition")
        return arn

    def _ensure_rollback_trigger(self, state_machine_arn: str, role_arn: str) -> None:
        """Catch cannot fire for ABORTED or TIMED_OUT runs; this rule starts their rollback.

        A rollback run that fails is FAILED, which the pattern does not match: no loops.
        """
        events = self.clients.events
        rule = f"{self.name}-{ROLLBACK_TRIGGER}"
        pattern = {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [state_machine_arn]},
        }
        events.put_rule(
            Name=rule,
            EventPattern=json.dumps(pattern),
            State="ENABLED",
            Description="Roll back provisioning runs that were aborted or timed out",
            Tags=[{"Key": k, "Value": v} for k, v in self.tags().items()],
        )
        events.put_targets(
            Rule=rule,
            Targets=[
                {
                    "Id": "rollback",
                    "Arn": state_machine_arn,
                    "RoleArn": role_arn,
                    "InputTransformer": {
                        "InputPathsMap": {"execution": "$.detail.executionArn"},
                        "InputTemplate": '{"action": "rollback", "execution_arn": <execution>}',
                    },
                }
            ],
        )

    def _ensure_drift_schedule(self, state_machine_arn: str, role_arn: str) -> None:
        scheduler = self.clients.scheduler
        request = {
            "Name": f"{self.name}-{DRIFT_SCHEDULE}",
            "ScheduleExpression": self.settings.provisioner.drift_schedule,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "Target": {"Arn": state_machine_arn, "RoleArn": role_arn, "Input": json.dumps({"action": "drift-check"})},
            "Description": "Scheduled drift check of the FileFerry tables and role",
            "State": "ENABLED",
        }
        try:
            scheduler.create_schedule(**request)
        except scheduler.exceptions.ConflictException:
            scheduler.update_schedule(**request)

    def _ensure_drift_alarm(self) -> None:
        topic = self.settings.provisioner.alarm_topic_arn
        self.clients.cloudwatch.put_metric_alarm(
            AlarmName=f"{self.name}-drift",
            AlarmDescription="FileFerry tables or role differ from the spec (see the drift-check run's output)",
            Namespace=self.desired.metrics_namespace,
            MetricName=DRIFT_METRIC,
            Dimensions=[{"Name": "service", "Value": METRICS_SERVICE}],
            Statistic="Maximum",
            Period=3600,
            EvaluationPeriods=1,
            Threshold=0,
            ComparisonOperator="GreaterThanThreshold",
            TreatMissingData="notBreaching",
            AlarmActions=[topic] if topic else [],
        )

    # -- destroy ----------------------------------------------------------------

    def destroy(self) -> list[str]:
        """Remove the orchestrator; the FileFerry tables and role stay."""
        removed: list[str] = []
        arns = self.arns()
        sfn, events, scheduler = self.clients.stepfunctions, self.clients.events, self.clients.scheduler
        self._ignore_missing(lambda: scheduler.delete_schedule(Name=f"{self.name}-{DRIFT_SCHEDULE}"), removed, "schedule")
        rule = f"{self.name}-{ROLLBACK_TRIGGER}"
        self._ignore_missing(lambda: events.remove_targets(Rule=rule, Ids=["rollback"]), removed, None)
        self._ignore_missing(lambda: events.delete_rule(Name=rule), removed, f"rule/{rule}")
        self._ignore_missing(
            lambda: self.clients.cloudwatch.delete_alarms(AlarmNames=[f"{self.name}-drift"]), removed, "alarm"
        )
        self._ignore_missing(
            lambda: sfn.delete_state_machine(stateMachineArn=arns.state_machine()), removed, f"stateMachine/{self.name}"
        )
        for step in STEPS:
            name = step.function_name(self.name)
            self._ignore_missing(partial(self.clients.lambda_.delete_function, FunctionName=name), removed, f"function/{name}")
        iam = self.clients.iam
        for role in orchestrator_roles(arns):
            name = role_name(self.name, role.suffix)
            self._ignore_missing(partial(iam.delete_role_policy, RoleName=name, PolicyName=POLICY_NAME), removed, None)
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
