"""The orchestrator, described once: what `deploy` creates and what the CloudFormation template declares.

`deploy` (provisioner/deployer.py) turns this description into API calls; `render`
(provisioner/blueprint/cloudformation.py) turns the same description into a template. Neither holds a
setting or a document of its own, so the two cannot drift apart.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any

from lambdas.core.access import configured_external_id
from lambdas.core.desired import MANAGED_BY_TAG, DesiredState
from lambdas.core.run_lease import LEASE_KEY, lease_table_name
from lambdas.core.steps import STEPS
from lambdas.core.target import Target
from provisioner.config import Settings
from provisioner.blueprint.iam_documents import (
    Arns,
    function_role_suffix,
    orchestrator_roles,
    role_name,
    state_machine_log_group,
    undelivered_queue_name,
    undelivered_queue_policy,
)
from state_machine.asl import configure_polling, in_partition, load_definition, substitute
from state_machine.time_model import DEFAULT_SHAPE, RunShape, configure_timeout

RUNTIME = "python3.12"
# Chosen by measurement (python -m bench, cold-start model): each step's init phase takes about 0.24 s
# of CPU (0.4 s before the zip carried its bytecode); at 1,769 MB a function has one full vCPU, so a
# first run's five cold starts take about 1.2 s instead of 8 s at 256 MB, for about $0.0001 more per
# run (docs/benchmark.md).
MEMORY_MB = 1769
POLICY_NAME = "least-privilege"
ROLLBACK_TRIGGER = "rollback-on-abort"
DRIFT_SCHEDULE = "drift-check"
DRIFT_METRIC = "DriftedResources"
METRICS_SERVICE = "fileferry-provisioner"


@dataclass(frozen=True)
class RoleDescription:
    key: str  # "<step>-fn", "states", "events" or "scheduler"
    name: str  # <provisioner name>-<region>-<key>
    trust_policy: dict[str, Any]
    policy_name: str
    policy: dict[str, Any]


@dataclass(frozen=True)
class FunctionDescription:
    step: str
    name: str
    role: str  # RoleDescription.key
    log_group: str
    handler: str
    timeout: int
    environment: dict[str, str]
    tracing_mode: str
    runtime: str = RUNTIME
    memory_size: int = MEMORY_MB

    def configuration(self, role_arn: Any) -> dict[str, Any]:
        """Lambda's CreateFunction/UpdateFunctionConfiguration fields (also the template's properties)."""
        return {
            "Role": role_arn,
            "Handler": self.handler,
            "Runtime": self.runtime,
            "Timeout": self.timeout,
            "MemorySize": self.memory_size,
            "Environment": {"Variables": dict(self.environment)},
            "TracingConfig": {"Mode": self.tracing_mode},
        }


@dataclass(frozen=True)
class StateMachineDescription:
    name: str
    role: str
    log_group: str
    tracing: bool
    type: str = "STANDARD"
    # Execution data holds table names and error causes, never item data; still, keep it out of logs.
    log_level: str = "ERROR"
    include_execution_data: bool = False
    # The table poll (provisioner.poll_interval_seconds / max_polls); None: the committed ASL's defaults.
    poll_interval_seconds: int | None = None
    max_polls: int | None = None
    # What the execution's TimeoutSeconds is derived for (tables, max_concurrency, backup_wait_seconds);
    # None: the committed ASL's defaults.
    run_shape: RunShape | None = None

    def configured_definition(self, partition: str = "aws") -> str:
        """The committed ASL with the configured table poll and the execution's TimeoutSeconds derived from
        the configured worst case (state_machine.time_model), its service integrations named in
        `partition`, placeholders left in (CloudFormation's DefinitionString)."""
        text = in_partition(load_definition(), partition)
        polling = self.poll_interval_seconds is not None and self.max_polls is not None
        if polling:
            text = configure_polling(text, self.poll_interval_seconds, self.max_polls)
        if polling or self.run_shape is not None:
            text = configure_timeout(text, self.run_shape or DEFAULT_SHAPE)
        return text

    def definition(self, function_arns: dict[str, str], partition: str = "aws") -> str:
        """The configured ASL with each step's function ARN filled in, its integrations named in `partition`."""
        return substitute(self.configured_definition(partition), function_arns, partition)

    def logging_configuration(self, log_group_arn: Any) -> dict[str, Any]:
        """In Step Functions' API shape (lower camel case)."""
        return {
            "level": self.log_level,
            "includeExecutionData": self.include_execution_data,
            "destinations": [{"cloudWatchLogsLogGroup": {"logGroupArn": log_group_arn}}],
        }


@dataclass(frozen=True)
class RollbackRuleDescription:
    """Catch cannot fire for ABORTED or TIMED_OUT runs; this rule starts their rollback.

    A rollback run that fails is FAILED, which the pattern does not match: no loops.
    """

    name: str
    role: str
    target_id: str = "rollback"
    description: str = "Roll back provisioning runs that were aborted or timed out"
    state: str = "ENABLED"
    input_paths: tuple[tuple[str, str], ...] = (("execution", "$.detail.executionArn"),)
    input_template: str = '{"action": "rollback", "execution_arn": <execution>}'

    def target(self, state_machine_arn: Any, role_arn: Any, queue_arn: Any) -> dict[str, Any]:
        """EventBridge's PutTargets target (also the template's)."""
        return {
            "Id": self.target_id,
            "Arn": state_machine_arn,
            "RoleArn": role_arn,
            "InputTransformer": {"InputPathsMap": dict(self.input_paths), "InputTemplate": self.input_template},
            "RetryPolicy": dict(DELIVERY_RETRY_POLICY),
            "DeadLetterConfig": {"Arn": queue_arn},
        }

    @staticmethod
    def pattern(state_machine_arn: Any) -> dict[str, Any]:
        return {
            "source": ["aws.states"],
            "detail-type": ["Step Functions Execution Status Change"],
            "detail": {"status": ["ABORTED", "TIMED_OUT"], "stateMachineArn": [state_machine_arn]},
        }


# How long EventBridge and Scheduler keep trying to start a run before the event goes to the dead-letter
# queue: AWS's own defaults (24 hours, 185 attempts), written out so that the template and deploy say them.
DELIVERY_RETRY_POLICY = {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}


@dataclass(frozen=True)
class UndeliveredQueueDescription:
    """The dead-letter queue of the rollback rule's and the drift schedule's targets: a rollback or a drift
    check that could not be started lands here (with why), instead of being dropped without a word."""

    name: str
    policy: dict[str, Any]
    retention_seconds: int = 14 * 24 * 3600  # SQS's longest: two weeks to notice and replay

    def attributes(self) -> dict[str, str]:
        """SQS CreateQueue/SetQueueAttributes attributes (the template's properties, typed)."""
        return {
            "MessageRetentionPeriod": str(self.retention_seconds),
            "SqsManagedSseEnabled": "true",
            "Policy": json.dumps(self.policy, sort_keys=True),
        }


@dataclass(frozen=True)
class DriftScheduleDescription:
    name: str
    role: str
    expression: str
    input: str = json.dumps({"action": "drift-check"})
    flexible_time_window: str = "OFF"
    description: str = "Scheduled drift check of the FileFerry tables and role"
    state: str = "ENABLED"

    def target(self, state_machine_arn: Any, role_arn: Any, queue_arn: Any) -> dict[str, Any]:
        """Scheduler's schedule target (also the template's)."""
        return {"Arn": state_machine_arn, "RoleArn": role_arn, "Input": self.input,
                "RetryPolicy": dict(DELIVERY_RETRY_POLICY), "DeadLetterConfig": {"Arn": queue_arn}}


@dataclass(frozen=True)
class AlarmDescription:
    name: str
    namespace: str
    alarm_actions: tuple[str, ...]
    description: str = "FileFerry tables or role differ from the spec (see the drift-check run's output)"
    metric_name: str = DRIFT_METRIC
    dimensions: tuple[tuple[str, str], ...] = (("service", METRICS_SERVICE),)
    statistic: str = "Maximum"
    period: int = 3600
    evaluation_periods: int = 1
    threshold: float = 0
    comparison_operator: str = "GreaterThanThreshold"
    treat_missing_data: str = "notBreaching"

    def parameters(self) -> dict[str, Any]:
        """CloudWatch's PutMetricAlarm fields (also the template's properties)."""
        return {
            "AlarmName": self.name,
            "AlarmDescription": self.description,
            "Namespace": self.namespace,
            "MetricName": self.metric_name,
            "Dimensions": [{"Name": name, "Value": value} for name, value in self.dimensions],
            "Statistic": self.statistic,
            "Period": self.period,
            "EvaluationPeriods": self.evaluation_periods,
            "Threshold": self.threshold,
            "ComparisonOperator": self.comparison_operator,
            "TreatMissingData": self.treat_missing_data,
            "AlarmActions": list(self.alarm_actions),
        }


@dataclass(frozen=True)
class LeaseTableDescription:
    """The run lease (lambdas.core.run_lease): one item naming the run that changes resources."""

    name: str
    billing_mode: str = "PAY_PER_REQUEST"

    def key(self) -> dict[str, Any]:
        """DynamoDB's CreateTable KeySchema and AttributeDefinitions (also the template's properties)."""
        return {
            "KeySchema": [{"AttributeName": LEASE_KEY, "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": LEASE_KEY, "AttributeType": "S"}],
            "BillingMode": self.billing_mode,
        }


@dataclass(frozen=True)
class Orchestrator:
    """Everything `deploy` creates for one provisioner, in the order it creates it."""

    name: str
    arns: Arns
    tags: dict[str, str]
    log_retention_days: int
    roles: tuple[RoleDescription, ...]
    functions: tuple[FunctionDescription, ...]
    state_machine: StateMachineDescription
    rollback_rule: RollbackRuleDescription
    drift_schedule: DriftScheduleDescription
    drift_alarm: AlarmDescription
    lease_table: LeaseTableDescription
    undelivered_queue: UndeliveredQueueDescription
    # The runs nobody would see fail to start: undelivered events, and the rule's failed invocations.
    delivery_alarms: tuple[AlarmDescription, ...]

    @property
    def alarms(self) -> tuple[AlarmDescription, ...]:
        return (self.drift_alarm, *self.delivery_alarms)

    def role(self, key: str) -> RoleDescription:
        return next(role for role in self.roles if role.key == key)


def describe_orchestrator(settings: Settings, desired: DesiredState, arns: Arns, tracing: bool = True,
                          target: Target | None = None) -> Orchestrator:
    """The orchestrator for `desired`, scoped to `arns` (the caller's account for deploy, the configured one for
    render); `target`: what its functions' environment names (default: `desired`'s, in `arns`'s account)."""
    name = desired.provisioner_name
    target = target or dataclasses.replace(Target.of(desired), account_id=arns.account_id, region=arns.region)
    kms_key_id = desired.tables[0].kms_key_id if desired.tables else None
    roles = tuple(
        RoleDescription(role.suffix, role_name(name, arns.region, role.suffix), role.trust_policy, POLICY_NAME, role.policy)
        for role in orchestrator_roles(arns, kms_key_id, configured_external_id(desired))
    )
    environment = {
        "POWERTOOLS_SERVICE_NAME": METRICS_SERVICE,
        "POWERTOOLS_METRICS_NAMESPACE": desired.metrics_namespace,
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **target.environment(),
    }
    if not tracing:
        environment["POWERTOOLS_TRACE_DISABLED"] = "true"
    functions = tuple(
        FunctionDescription(
            step=step.name,
            name=step.function_name(name),
            role=function_role_suffix(step.name),
            log_group=f"/aws/lambda/{step.function_name(name)}",
            handler=step.handler,
            timeout=step.timeout_seconds,
            environment=environment,
            tracing_mode="Active" if tracing else "PassThrough",
        )
        for step in STEPS
    )
    p = settings.provisioner
    topics = (p.alarm_topic_arn,) if p.alarm_topic_arn else ()
    return Orchestrator(
        name=name,
        arns=arns,
        tags={MANAGED_BY_TAG: name},
        log_retention_days=p.log_retention_days,
        roles=roles,
        functions=functions,
        state_machine=StateMachineDescription(
            name,
            "states",
            state_machine_log_group(name),
            tracing,
            poll_interval_seconds=desired.poll_interval_seconds,
            max_polls=desired.max_polls,
            run_shape=RunShape(len(desired.tables), desired.max_concurrency, desired.backup_wait_seconds),
        ),
        rollback_rule=RollbackRuleDescription(f"{name}-{ROLLBACK_TRIGGER}", "events"),
        drift_schedule=DriftScheduleDescription(f"{name}-{DRIFT_SCHEDULE}", "scheduler", p.drift_schedule),
        drift_alarm=AlarmDescription(f"{name}-drift", desired.metrics_namespace, topics),
        lease_table=LeaseTableDescription(lease_table_name(name)),
        undelivered_queue=UndeliveredQueueDescription(undelivered_queue_name(name), undelivered_queue_policy(arns)),
        delivery_alarms=(
            AlarmDescription(
                f"{name}-undelivered", "AWS/SQS", topics,
                description=("A rollback of an aborted run or a scheduled drift check could not be started: "
                             f"read the message in SQS queue {undelivered_queue_name(name)} (why, and the event)"),
                metric_name="ApproximateNumberOfMessagesVisible",
                dimensions=(("QueueName", undelivered_queue_name(name)),), period=300,
            ),
            AlarmDescription(
                f"{name}-rollback-rule-failed", "AWS/Events", topics,
                description=(f"EventBridge rule {name}-{ROLLBACK_TRIGGER} failed to start the rollback of an aborted "
                             "or timed-out run (it retries for a day, then the event goes to the undelivered queue)"),
                metric_name="FailedInvocations", dimensions=(("RuleName", f"{name}-{ROLLBACK_TRIGGER}"),),
                statistic="Sum", period=300,
            ),
        ),
    )
