"""Every IAM document the orchestrator itself uses: least privilege, one place.

Each step's function gets its own role allowing only the calls that step makes, on the
configured tables and the one managed role. `render` writes all of these out for linting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lambdas.core.access import wrong_external_id
from lambdas.core.desired import DesiredState
from lambdas.core.run_lease import lease_table_name
from lambdas.core.steps import STEPS
from provisioner.config import dns_suffix_for, partition_for

VERSION = "2012-10-17"
ROLE_NAME_LIMIT = 64  # IAM's limit on a role name
# The roles of the state machine, the rollback rule's target and the drift schedule; each step's function
# has its own, `<step>-fn` (function_role_suffix).
SERVICE_ROLE_SUFFIXES = ("states", "events", "scheduler")

TABLE_READ = ["dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive"]
ROLE_READ = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]
ROLE_DELETE = ["iam:DeleteRole", "iam:DeleteRolePolicy", "iam:DetachRolePolicy"]


@dataclass(frozen=True)
class Arns:
    """The ARNs the orchestrator's policies are scoped to."""

    partition: str
    region: str
    account_id: str
    provisioner_name: str
    table_names: tuple[str, ...]
    managed_role_name: str

    @classmethod
    def for_state(cls, desired: DesiredState, account_id: str, partition: str | None = None) -> Arns:
        """`partition`: the caller's (deploy asks STS); None: the one botocore knows for the Region (render)."""
        partition = partition or partition_for(desired.region)
        return cls(partition, desired.region, account_id, desired.provisioner_name, tuple(desired.table_names()), desired.role.name)

    @property
    def dns_suffix(self) -> str:
        """The Region's service domain: dynamodb.cn-north-1.amazonaws.com.cn, not .amazonaws.com."""
        if self.region.startswith("${"):  # the template's symbolic Region: CloudFormation knows its domain
            return "${AWS::URLSuffix}"
        return dns_suffix_for(self.region)

    def service_endpoint(self, service: str) -> str:
        return f"{service}.{self.region}.{self.dns_suffix}"

    def tables(self) -> list[str]:
        return [f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{name}" for name in self.table_names]

    def lease_table(self) -> str:
        """The orchestrator's run-lease table (lambdas.core.run_lease), not a FileFerry table."""
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account_id}:table/{lease_table_name(self.provisioner_name)}"

    def table_backups(self) -> list[str]:
        return [f"{arn}/backup/*" for arn in self.tables()]

    def managed_role(self) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{self.managed_role_name}"

    def state_machine(self) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account_id}:stateMachine:{self.provisioner_name}"

    def executions(self) -> str:
        return f"arn:{self.partition}:states:{self.region}:{self.account_id}:execution:{self.provisioner_name}:*"

    def function(self, step_name: str) -> str:
        return f"arn:{self.partition}:lambda:{self.region}:{self.account_id}:function:{self.provisioner_name}-{step_name}"

    def function_log_group(self, step_name: str) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:/aws/lambda/{self.provisioner_name}-{step_name}"

    def orchestrator_role(self, suffix: str) -> str:
        return f"arn:{self.partition}:iam::{self.account_id}:role/{role_name(self.provisioner_name, self.region, suffix)}"

    def undelivered_queue(self) -> str:
        """The dead-letter queue of the rollback rule's and the drift schedule's targets."""
        return f"arn:{self.partition}:sqs:{self.region}:{self.account_id}:{undelivered_queue_name(self.provisioner_name)}"

    def rollback_rule(self) -> str:
        return f"arn:{self.partition}:events:{self.region}:{self.account_id}:rule/{self.provisioner_name}-rollback-on-abort"

    def state_machine_log_group(self) -> str:
        return f"arn:{self.partition}:logs:{self.region}:{self.account_id}:log-group:{state_machine_log_group(self.provisioner_name)}"


def role_name(provisioner_name: str, region: str, suffix: str) -> str:
    """`<name>-<region>-<suffix>`: IAM is global, so each Region's orchestrator has roles of its own (two
    Regions of one account would otherwise overwrite each other's policies, and `destroy` in one would
    delete the other's). The config refuses a name too long for it (provisioner.config.check_provisioner_name)."""
    name = f"{provisioner_name}-{region}-{suffix}"
    if len(name) > ROLE_NAME_LIMIT:
        raise ValueError(f"role name {name!r} is {len(name)} characters, over IAM's {ROLE_NAME_LIMIT}")
    return name


def function_role_suffix(step_name: str) -> str:
    return f"{step_name}-fn"


def role_suffixes() -> list[str]:
    """The suffix of every role deploy creates for the orchestrator."""
    return [function_role_suffix(step.name) for step in STEPS] + list(SERVICE_ROLE_SUFFIXES)


def legacy_role_name(provisioner_name: str, suffix: str) -> str:
    """The name an earlier version gave the role (no Region in it); deploy and destroy remove such roles."""
    return f"{provisioner_name}-{suffix}"[:ROLE_NAME_LIMIT]


def undelivered_queue_name(provisioner_name: str) -> str:
    return f"{provisioner_name}-undelivered"[:80]


def state_machine_log_group(provisioner_name: str) -> str:
    return f"/aws/vendedlogs/states/{provisioner_name}"


def _statement(sid: str, actions: list[str], resources: list[str] | str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(actions), "Resource": resources, **extra}


def trust(service: str, arns: Arns | None = None) -> dict[str, Any]:
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if arns is not None:
        # Confused-deputy guard: only this account's service may assume the role.
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": arns.account_id}}
    return {"Version": VERSION, "Statement": [statement]}


def _key_scope(kms_key_id: str, arns: Arns) -> tuple[str, dict[str, Any]]:
    """The IAM resource a configured key (ARN, id or alias) is authorized on, and the condition that picks it.

    IAM authorizes the key, never its alias: an alias allows this account's keys that carry it."""
    alias = kms_key_id.split(":", 5)[5] if kms_key_id.startswith("arn:") else kms_key_id
    if alias.startswith("alias/"):
        return (f"arn:{arns.partition}:kms:{arns.region}:{arns.account_id}:key/*",
                {"ForAnyValue:StringEquals": {"kms:ResourceAliases": alias}})
    key = kms_key_id if kms_key_id.startswith("arn:") else f"arn:{arns.partition}:kms:{arns.region}:{arns.account_id}:key/{kms_key_id}"
    return key, {}


def _kms_statements(kms_key_id: str | None, arns: Arns) -> list[dict[str, Any]]:
    """A customer-managed key, usable only through DynamoDB (it creates a grant for the table it encrypts)."""
    if not kms_key_id:
        return []
    # AWS KMS Developer Guide, "How Amazon DynamoDB uses AWS KMS" (authorizing a customer managed key):
    # DynamoDB uses the key with the caller's permissions for the actions it lists (GenerateDataKey* and
    # ReEncrypt* included); named one by one here, so no wildcard grants the key-pair variants.
    actions = [
        "kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey",
        "kms:GenerateDataKeyWithoutPlaintext", "kms:ReEncryptFrom", "kms:ReEncryptTo",
    ]
    # kms:ViaService names the service's endpoint in its partition's domain (amazonaws.com.cn in China).
    key, condition = _key_scope(kms_key_id, arns)
    condition = {"StringEquals": {"kms:ViaService": arns.service_endpoint("dynamodb")}, **condition}
    return [_statement("CustomerManagedKey", actions, [key], Condition=condition)]


def _key_health_statements(kms_key_id: str | None, arns: Arns) -> list[dict[str, Any]]:
    """kms:DescribeKey on the customer managed key: verify and the drift check read its state (disabled or
    pending deletion makes the tables unreadable)."""
    if not kms_key_id:
        return []
    key, condition = _key_scope(kms_key_id, arns)
    return [_statement("ReadKeyState", ["kms:DescribeKey"], [key], **({"Condition": condition} if condition else {}))]


def _access_check_statements(arns: Arns, external_id: str) -> list[dict[str, Any]]:
    """The effective-access check (lambdas.core.access): assume the read-only role with the ExternalId (and with
    the one wrong ExternalId it proves the trust policy refuses), read the tables' resource policies, and ask
    IAM's evaluator about the role."""
    return [
        _statement("AssumeReadOnlyRole", ["sts:AssumeRole"], [arns.managed_role()],
                   Condition={"StringEquals": {"sts:ExternalId": sorted([external_id, wrong_external_id(external_id)])}}),
        _statement("ReadTablePolicies", ["dynamodb:GetResourcePolicy"], arns.tables()),
        _statement("SimulateReadOnlyRole", ["iam:SimulatePrincipalPolicy"], [arns.managed_role()]),
    ]


def step_statements(step_name: str, arns: Arns, kms_key_id: str | None = None, external_id: str = "") -> list[dict[str, Any]]:
    """What one step's function may do, beyond writing its own logs and traces."""
    tables, role = arns.tables(), [arns.managed_role()]
    by_step: dict[str, list[dict[str, Any]]] = {
        "validate-input": [
            # One run at a time changes resources: a conditional write takes the lease from a run whose
            # history shows it has ended.
            _statement("RunLease", ["dynamodb:GetItem", "dynamodb:PutItem"], [arns.lease_table()]),
            _statement("DescribeRuns", ["states:DescribeExecution", "states:GetExecutionHistory"], [arns.executions()]),
        ],
        "create-or-adopt-table": [
            _statement(
                "CreateOrAdoptTables",
                TABLE_READ + ["dynamodb:CreateTable", "dynamodb:TagResource", "dynamodb:UpdateTable"],
                tables,
            ),
            *_kms_statements(kms_key_id, arns),
        ],
        # The poll loop and TTL in one step: exactly what the poll (DescribeTable) and the TTL step
        # (DescribeTable, DescribeTimeToLive, UpdateTimeToLive) had, on the same tables.
        # ...and turns point-in-time recovery on where the config wants it (never off).
        "await-table": [_statement("AwaitTablesAndTimeToLive", TABLE_READ + ["dynamodb:UpdateContinuousBackups",
                                                                            "dynamodb:UpdateTimeToLive"], tables)],
        "ensure-role": [
            _statement(
                "EnsureManagedRole",
                ROLE_READ
                + [
                    # Its own undo (restore_role) re-attaches the managed policies it detached.
                    "iam:AttachRolePolicy",
                    "iam:CreateRole",
                    "iam:DeleteRolePolicy",
                    "iam:DetachRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:TagRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:UpdateRole",
                ],
                role,
            )
        ],
        "prove-access": _access_check_statements(arns, external_id),
        "verify": [
            _statement("ReadTables", TABLE_READ, tables),
            _statement("ReadManagedRole", ROLE_READ, role),
            *_key_health_statements(kms_key_id, arns),
        ],
        "drift-check": [
            _statement("ReadTables", TABLE_READ, tables),
            _statement("ReadManagedRole", ROLE_READ, role),
            *_key_health_statements(kms_key_id, arns),
        ],
        "rollback": [
            # UpdateTable lifts the deletion protection of a table the run created protected, to delete it.
            _statement("RollBackTables", TABLE_READ + ["dynamodb:DeleteTable", "dynamodb:ListTagsOfResource",
                                                       "dynamodb:UpdateTable"], tables),
            _statement(
                "RollBackManagedRole",
                ROLE_READ
                + ROLE_DELETE
                + ["iam:AttachRolePolicy", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole"],
                role,
            ),
            _statement("ReadRunHistory", ["states:GetExecutionHistory"], [arns.executions()]),
        ],
        "teardown-table": [
            _statement(
                "BackUpAndDeleteTables",
                # UpdateTable: lifting deletion protection, only when the teardown's input asks for it.
                TABLE_READ + ["dynamodb:CreateBackup", "dynamodb:DeleteTable", "dynamodb:Scan", "dynamodb:UpdateTable"],
                tables,
            ),
            # ListBackups supports no resource-level permissions.
            _statement("ListBackups", ["dynamodb:ListBackups"], "*"),
            _statement("ReadBackups", ["dynamodb:DescribeBackup"], arns.table_backups()),
        ],
        "teardown-role": [_statement("DeleteManagedRole", ROLE_READ + ROLE_DELETE, role)],
    }
    return by_step[step_name]


def function_policy(step_name: str, arns: Arns, kms_key_id: str | None = None, external_id: str = "") -> dict[str, Any]:
    log_group = arns.function_log_group(step_name)
    return {
        "Version": VERSION,
        "Statement": [
            *step_statements(step_name, arns, kms_key_id, external_id),
            _statement("OwnLogs", ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], [log_group, f"{log_group}:*"]),
            # X-Ray's trace APIs support no resource-level permissions.
            _statement("Tracing", ["xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
        ],
    }


def state_machine_policy(arns: Arns) -> dict[str, Any]:
    functions = [arns.function(step.name) for step in STEPS]
    return {
        "Version": VERSION,
        "Statement": [
            _statement("InvokeSteps", ["lambda:InvokeFunction"], sorted(functions + [f"{arn}:*" for arn in functions])),
            # CloudWatch Logs log delivery for Step Functions supports no resource-level permissions.
            _statement(
                "DeliverLogs",
                [
                    "logs:CreateLogDelivery",
                    "logs:DeleteLogDelivery",
                    "logs:DescribeLogGroups",
                    "logs:DescribeResourcePolicies",
                    "logs:GetLogDelivery",
                    "logs:ListLogDeliveries",
                    "logs:PutResourcePolicy",
                    "logs:UpdateLogDelivery",
                ],
                "*",
            ),
            _statement("Tracing", ["xray:GetSamplingRules", "xray:GetSamplingTargets", "xray:PutTelemetryRecords", "xray:PutTraceSegments"], "*"),
        ],
    }


def start_execution_policy(arns: Arns, dead_letters: bool = False) -> dict[str, Any]:
    """For the EventBridge rule and the Scheduler schedule: start this state machine, nothing else.

    `dead_letters`: also send what could not be delivered to the dead-letter queue (Scheduler sends with
    the schedule's execution role; EventBridge rules send as the service, by the queue's policy)."""
    statements = [_statement("StartProvisioner", ["states:StartExecution"], [arns.state_machine()])]
    if dead_letters:
        statements.append(_statement("SendUndelivered", ["sqs:SendMessage"], [arns.undelivered_queue()]))
    return {"Version": VERSION, "Statement": statements}


def undelivered_queue_policy(arns: Arns) -> dict[str, Any]:
    """The dead-letter queue's resource policy: EventBridge may send to it for the rollback rule only
    (EventBridge User Guide, "Granting permissions to the dead-letter queue")."""
    return {
        "Version": VERSION,
        "Statement": [{
            "Sid": "RollbackRuleDeadLetters",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": arns.undelivered_queue(),
            "Condition": {"ArnEquals": {"aws:SourceArn": arns.rollback_rule()}},
        }],
    }


@dataclass(frozen=True)
class OrchestratorRole:
    suffix: str
    trust_policy: dict[str, Any]
    policy: dict[str, Any]


def orchestrator_roles(arns: Arns, kms_key_id: str | None = None, external_id: str = "") -> list[OrchestratorRole]:
    """Every role deploy creates for the orchestrator; `external_id`: the one the read-only role requires."""
    roles = [
        OrchestratorRole(function_role_suffix(step.name), trust("lambda.amazonaws.com", arns),
                         function_policy(step.name, arns, kms_key_id, external_id))
        for step in STEPS
    ]
    roles.append(OrchestratorRole("states", trust("states.amazonaws.com", arns), state_machine_policy(arns)))
    roles.append(OrchestratorRole("events", trust("events.amazonaws.com", arns), start_execution_policy(arns)))
    roles.append(OrchestratorRole("scheduler", trust("scheduler.amazonaws.com", arns), start_execution_policy(arns, dead_letters=True)))
    return roles
