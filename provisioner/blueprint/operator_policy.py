"""What the operator's own credentials need, and the StackSet roles of a fleet: least privilege, written down.

`render` writes these beside the orchestrator's own documents (docs/operator-permissions.md):

- `iam/operator.policy.json`: every call `deploy`, `up`, `run`, `status`, `plan`, `outputs`, `destroy` and
  `fleet` make with the operator's credentials (read from provisioner/deployer.py, provisioner/runs/,
  provisioner/cli/commands.py, provisioner/factory.py), each on the orchestrator's own resources by ARN.
  `iam:PassRole` names each orchestrator role with the one service it is handed to (`iam:PassedToService`).
  The embedded AWS enforces it on an assumed operator role (tests/e2e/test_operator_policy.py).
- `iam/fleet-execution.policy.json` / `.trust.json`: the StackSet execution role in each target: what
  CloudFormation needs to create, update and delete the template's resources there (each resource type's
  create/read/update/delete handler permissions in the CloudFormation registry schema, for the properties the
  template sets), and what `fleet run` / `fleet status` do there with it; trusted by the administration account.
- `iam/fleet-administration.policy.json` / `.trust.json`: the StackSet administration role in the operator's
  account (AWS's documented shape: CloudFormation assumes it, it assumes the execution role in the targets).

Action names, resource types and condition keys are the Service Authorization Reference's. The orchestrator
lives in any Region of the account (one account, several Regions): ARNs name every Region (`*`) and this
account, and the orchestrator's names (`<name>`, `<name>-*`). Its IAM roles are named `<name>-<region>-<suffix>`
(the single-Region `<name>-<suffix>` matches the same patterns).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from provisioner.blueprint.iam_documents import VERSION, Arns, state_machine_log_group
from provisioner.blueprint.orchestrator import Orchestrator

ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
CLOUDFORMATION_SERVICE = "cloudformation.amazonaws.com"
OPERATOR_POLICY = "operator.policy.json"
FLEET_EXECUTION = "fleet-execution"
FLEET_ADMINISTRATION = "fleet-administration"

# Role reads CloudFormation's AWS::IAM::Role handlers make (read, and delete: inline and attached policies go first).
_ROLE_READ = ["iam:GetRole", "iam:GetRolePolicy", "iam:ListAttachedRolePolicies", "iam:ListRolePolicies"]


@dataclass(frozen=True)
class Fleet:
    """The names the fleet's StackSet uses (the shared names in docs/fleet.md)."""

    execution_role_name: str
    code_bucket_prefix: str  # per-Region artifact buckets `<prefix>-<region>` (template parameter CodeBucketPrefix)
    administration_role_name: str = ADMINISTRATION_ROLE


def fleet_names(settings: Any, arns: Arns) -> Fleet:
    """The fleet's names from the config's `fleet` section (provisioner/fleet/stack_set.py uses the same)."""
    from provisioner.fleet.stack_set import default_code_bucket_prefix

    fleet = settings.fleet
    return Fleet(fleet.execution_role_name, fleet.code_bucket_prefix or default_code_bucket_prefix(arns.account_id),
                 fleet.administration_role_name)


def _statement(sid: str, actions: list[str], resources: list[str] | str, **extra: Any) -> dict[str, Any]:
    return {"Sid": sid, "Effect": "Allow", "Action": sorted(set(actions)), "Resource": resources, **extra}


class _Names:
    """ARNs of the orchestrator's resources in every Region of one account (`account` "*": any target's)."""

    def __init__(self, orchestrator: Orchestrator, account: str | None = None):
        arns = orchestrator.arns
        self.o, self.p, self.account = orchestrator, arns.partition, account or arns.account_id
        self.name = orchestrator.name

    def arn(self, service: str, resource: str) -> str:
        return f"arn:{self.p}:{service}:*:{self.account}:{resource}"

    def role(self, name: str, account: str | None = None) -> str:
        return f"arn:{self.p}:iam::{account or self.account}:role/{name}"

    def roles(self) -> str:
        return self.role(f"{self.name}-*")

    def functions(self) -> str:
        # The steps' functions, and those of retired steps deploy removes (`<name>-<step>`).
        return self.arn("lambda", f"function:{self.name}-*")

    def log_groups(self) -> list[str]:
        machine = state_machine_log_group(self.name)
        return [self.arn("logs", f"log-group:/aws/lambda/{self.name}-*"),
                self.arn("logs", f"log-group:{machine}"), self.arn("logs", f"log-group:{machine}:*")]

    def state_machine(self) -> str:
        return self.arn("states", f"stateMachine:{self.o.state_machine.name}")

    def executions(self) -> str:
        return self.arn("states", f"execution:{self.o.state_machine.name}:*")

    def rule(self) -> str:
        return self.arn("events", f"rule/{self.o.rollback_rule.name}")

    def schedule(self) -> str:
        return self.arn("scheduler", f"schedule/default/{self.o.drift_schedule.name}")

    def alarms(self) -> list[str]:
        return [self.arn("cloudwatch", f"alarm:{alarm.name}") for alarm in self.o.alarms]

    def queue(self) -> str:
        return self.arn("sqs", self.o.undelivered_queue.name)

    def lease_table(self) -> str:
        return self.arn("dynamodb", f"table/{self.o.lease_table.name}")

    def buckets(self, fleet: Fleet) -> tuple[str, str]:
        """The per-Region code buckets `<prefix>-<region>`, and what the fleet keeps there (`<name>/...`)."""
        bucket = f"arn:{self.p}:s3:::{fleet.code_bucket_prefix}-*"
        return bucket, f"{bucket}/{self.name}/*"

    def pass_role_statements(self) -> list[dict[str, Any]]:
        """iam:PassRole on each kind of orchestrator role, to the one service that role is made for (its trust)."""
        by_service: dict[str, set[str]] = {}
        for role in self.o.roles:
            (trusted,) = {statement["Principal"]["Service"] for statement in role.trust_policy["Statement"]}
            # `<name>-<region>-<step>-fn`, `<name>-<region>-states`, ... (and the single-Region `<name>-states`).
            tail = "-fn" if role.key.endswith("-fn") else role.key
            by_service.setdefault(trusted, set()).add(self.role(f"{self.name}-*{tail}"))
        return [
            _statement(f"PassRolesTo{service.split('.')[0].capitalize()}", ["iam:PassRole"], sorted(resources),
                       Condition={"StringEquals": {"iam:PassedToService": service}})
            for service, resources in sorted(by_service.items())
        ]


def resource_types(template: dict[str, Any]) -> list[str]:
    """The template's resource types (`AWS::IAM::Role`), which StackSets authorizes as `type/resource/AWS-IAM-Role`."""
    return sorted({resource["Type"] for resource in template["Resources"].values()})


def operator_policy(orchestrator: Orchestrator, fleet: Fleet, template_resource_types: list[str]) -> dict[str, Any]:
    """The operator's least-privilege policy: every call the CLI makes with the operator's own credentials
    (`template_resource_types`: those of the fleet's StackSet template)."""
    n, arns = _Names(orchestrator), orchestrator.arns
    stackset = n.arn("cloudformation", f"stackset/{n.name}:*")
    bucket, objects = n.buckets(fleet)
    statements = [
        # deploy: the orchestrator's roles (`<name>-...`), their trust and inline policy; destroy, and deploy for
        # roles of retired steps, delete them. CreateRole carries tags (TagRole).
        _statement("OrchestratorRoles", ["iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy", "iam:GetRole",
                                         "iam:GetRolePolicy", "iam:PutRolePolicy", "iam:TagRole",
                                         "iam:UpdateAssumeRolePolicy"], [n.roles()]),
        *n.pass_role_statements(),
        # The step functions (GetFunction also serves boto3's function_active_v2 / function_updated_v2 waiters).
        _statement("StepFunctions", ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
                                     "lambda:TagResource", "lambda:UpdateFunctionCode",
                                     "lambda:UpdateFunctionConfiguration"], [n.functions()]),
        _statement("LogGroups", ["logs:CreateLogGroup", "logs:PutRetentionPolicy", "logs:TagResource"], n.log_groups()),
        # The state machine; StartExecution for up and run, ListExecutions for status and deploy's check for a run
        # in flight.
        _statement("StateMachine", ["states:CreateStateMachine", "states:DeleteStateMachine",
                                    "states:DescribeStateMachine", "states:ListExecutions", "states:StartExecution",
                                    "states:TagResource", "states:UpdateStateMachine"], [n.state_machine()]),
        # Following a run (up, run, status ARN), the path it took (status ARN), whether a run in flight changes
        # resources (deploy).
        _statement("Runs", ["states:DescribeExecution", "states:DescribeStateMachineForExecution",
                            "states:GetExecutionHistory"], [n.executions()]),
        _statement("RollbackRule", ["events:DeleteRule", "events:PutRule", "events:PutTargets", "events:RemoveTargets",
                                    "events:TagResource"], [n.rule()]),
        _statement("DriftSchedule", ["scheduler:CreateSchedule", "scheduler:DeleteSchedule",
                                     "scheduler:UpdateSchedule"], [n.schedule()]),
        _statement("Alarms", ["cloudwatch:DeleteAlarms", "cloudwatch:PutMetricAlarm"], n.alarms()),
        # The rule's and the schedule's dead-letter queue; SetQueueAttributes writes its policy.
        _statement("UndeliveredQueue", ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes",
                                        "sqs:GetQueueUrl", "sqs:SetQueueAttributes", "sqs:TagQueue"], [n.queue()]),
        # The run lease: its table, and who holds it (a run in flight refuses the deploy).
        _statement("RunLease", ["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeTable",
                                "dynamodb:GetItem", "dynamodb:TagResource"], [n.lease_table()]),
        # plan and outputs read the FileFerry tables and role; only the state machine's steps change them.
        _statement("ReadSpecTables", ["dynamodb:DescribeContinuousBackups", "dynamodb:DescribeTable",
                                      "dynamodb:DescribeTimeToLive"],
                   [n.arn("dynamodb", f"table/{table}") for table in arns.table_names]),
        _statement("ReadManagedRole", _ROLE_READ, [n.role(arns.managed_role_name)]),
        # fleet deploy: the StackSet `<name>` (self-managed), its instances in the targets, its operations.
        # CreateStackSet authorizes no resource type: it is allowed only with our administration role.
        _statement("FleetCreateStackSet", ["cloudformation:CreateStackSet"], "*",
                   Condition={"ArnEquals": {"cloudformation:RoleArn": n.role(fleet.administration_role_name)}}),
        _statement("FleetStackInstances", ["cloudformation:CreateStackInstances", "cloudformation:DeleteStackInstances",
                                           "cloudformation:UpdateStackInstances", "cloudformation:UpdateStackSet"],
                   [stackset, n.arn("cloudformation", f"stackset-target/{n.name}:*"),
                    *[f"arn:{n.p}:cloudformation:*:*:type/resource/{kind.replace('::', '-')}"
                      for kind in template_resource_types]]),
        # CreateStackSet tags the StackSet (fileferry:managed-by).
        _statement("FleetTagStackSet", ["cloudformation:TagResource"], [stackset]),
        _statement("FleetFollowStackSet", ["cloudformation:DescribeStackInstance", "cloudformation:DescribeStackSet",
                                           "cloudformation:DescribeStackSetOperation",
                                           "cloudformation:ListStackInstances",
                                           "cloudformation:ListStackSetOperationResults",
                                           "cloudformation:ListStackSetOperations"], [stackset]),
        _statement("FleetPassAdministrationRole", ["iam:PassRole"], [n.role(fleet.administration_role_name)],
                   Condition={"StringEquals": {"iam:PassedToService": CLOUDFORMATION_SERVICE}}),
        # The code buckets, one per target Region: created private (public access blocked), readable by the
        # targets by their policy; HeadBucket is s3:ListBucket.
        _statement("FleetArtifactBuckets", ["s3:CreateBucket", "s3:ListBucket", "s3:PutBucketPolicy",
                                            "s3:PutBucketPublicAccessBlock"], [bucket]),
        # The Lambda zip (HeadObject is s3:GetObject) and the template, which CloudFormation reads with the caller's
        # credentials (TemplateURL).
        _statement("FleetArtifacts", ["s3:GetObject", "s3:PutObject"], [objects]),
        # fleet run / fleet status: the execution role in each target starts and reads that target's runs.
        _statement("FleetTargets", ["sts:AssumeRole"], [n.role(fleet.execution_role_name, account="*")]),
    ]
    return {"Version": VERSION, "Statement": statements}


def fleet_execution_policy(orchestrator: Orchestrator, fleet: Fleet) -> dict[str, Any]:
    """The StackSet execution role in each target (`fleet.execution_role_name`): CloudFormation creates, updates
    and deletes the stack `StackSet-<name>-...` and its resources with it; `fleet run` / `fleet status` start and
    read the target's runs with it. Its account is each target's own (`*`: one document for every target)."""
    n = _Names(orchestrator, account="*")
    _, objects = n.buckets(fleet)
    statements = [
        _statement("StackSetInstanceStack", [
            "cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents",
            "cloudformation:DescribeStackResources", "cloudformation:DescribeStacks", "cloudformation:GetTemplate",
            "cloudformation:TagResource", "cloudformation:UntagResource", "cloudformation:UpdateStack",
        ], [n.arn("cloudformation", f"stack/StackSet-{n.name}-*/*")]),
        # AWS::IAM::Role and AWS::IAM::RolePolicy.
        _statement("OrchestratorRoles", [*_ROLE_READ, "iam:CreateRole", "iam:DeleteRole", "iam:DeleteRolePolicy",
                                         "iam:PutRolePolicy", "iam:TagRole", "iam:UntagRole",
                                         "iam:UpdateAssumeRolePolicy"], [n.roles()]),
        *n.pass_role_statements(),
        # AWS::Lambda::Function; its code from the Region's artifact bucket (the bucket policy lets targets read).
        _statement("StepFunctions", ["lambda:CreateFunction", "lambda:DeleteFunction", "lambda:GetFunction",
                                     "lambda:GetFunctionCodeSigningConfig", "lambda:GetRuntimeManagementConfig",
                                     "lambda:ListTags", "lambda:TagResource", "lambda:UntagResource",
                                     "lambda:UpdateFunctionCode", "lambda:UpdateFunctionConfiguration"],
                   [n.functions()]),
        _statement("FunctionCode", ["s3:GetObject", "s3:GetObjectVersion"], [objects]),
        # AWS::Logs::LogGroup (DeletionPolicy Retain: never deleted by the stack).
        _statement("LogGroups", ["logs:CreateLogGroup", "logs:DeleteRetentionPolicy", "logs:ListTagsForResource",
                                 "logs:PutRetentionPolicy", "logs:TagResource", "logs:UntagResource"], n.log_groups()),
        # The handler reads the group back with DescribeLogGroups, which authorizes no resource type.
        _statement("DescribeLogGroups", ["logs:DescribeLogGroups"], "*"),
        _statement("StateMachine", ["states:CreateStateMachine", "states:DeleteStateMachine",
                                    "states:DescribeStateMachine", "states:ListTagsForResource", "states:TagResource",
                                    "states:UntagResource", "states:UpdateStateMachine"], [n.state_machine()]),
        # fleet run / fleet status.
        _statement("FleetRuns", ["states:ListExecutions", "states:StartExecution"], [n.state_machine()]),
        _statement("FleetRunHistory", ["states:DescribeExecution", "states:GetExecutionHistory"], [n.executions()]),
        _statement("UndeliveredQueue", ["sqs:CreateQueue", "sqs:DeleteQueue", "sqs:GetQueueAttributes",
                                        "sqs:GetQueueUrl", "sqs:ListQueueTags", "sqs:SetQueueAttributes",
                                        "sqs:TagQueue", "sqs:UntagQueue"], [n.queue()]),
        _statement("RollbackRule", ["events:DeleteRule", "events:DescribeRule", "events:ListTargetsByRule",
                                    "events:PutRule", "events:PutTargets", "events:RemoveTargets"], [n.rule()]),
        _statement("DriftSchedule", ["scheduler:CreateSchedule", "scheduler:DeleteSchedule", "scheduler:GetSchedule",
                                     "scheduler:UpdateSchedule"], [n.schedule()]),
        _statement("Alarms", ["cloudwatch:DeleteAlarms", "cloudwatch:DescribeAlarms", "cloudwatch:ListTagsForResource",
                              "cloudwatch:PutMetricAlarm", "cloudwatch:TagResource", "cloudwatch:UntagResource"],
                   n.alarms()),
        _statement("RunLease", ["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:DescribeContinuousBackups",
                                "dynamodb:DescribeContributorInsights", "dynamodb:DescribeKinesisStreamingDestination",
                                "dynamodb:DescribeTable", "dynamodb:DescribeTimeToLive", "dynamodb:GetResourcePolicy",
                                "dynamodb:ListTagsOfResource", "dynamodb:TagResource", "dynamodb:UntagResource",
                                "dynamodb:UpdateTable"], [n.lease_table()]),
    ]
    return {"Version": VERSION, "Statement": statements}


def fleet_execution_trust(arns: Arns) -> dict[str, Any]:
    """The execution role trusts the administration account (AWS's documented trust): its administration role and
    the operator's credentials (`fleet run`) may assume it where their own policies allow."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "AdministrationAccount", "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"AWS": f"arn:{arns.partition}:iam::{arns.account_id}:root"},
    }]}


def fleet_administration_policy(arns: Arns, fleet: Fleet) -> dict[str, Any]:
    """The administration role: CloudFormation assumes it, and it assumes the execution role in each target."""
    return {"Version": VERSION, "Statement": [_statement(
        "AssumeExecutionRoles", ["sts:AssumeRole"], [f"arn:{arns.partition}:iam::*:role/{fleet.execution_role_name}"])]}


def fleet_administration_trust(arns: Arns) -> dict[str, Any]:
    """CloudFormation of this account only (confused-deputy guard), for its StackSets."""
    return {"Version": VERSION, "Statement": [{
        "Sid": "CloudFormationStackSets", "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": CLOUDFORMATION_SERVICE},
        "Condition": {"StringEquals": {"aws:SourceAccount": arns.account_id}},
    }]}
