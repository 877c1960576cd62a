"""The spec's security claims and our least-privilege claims, as a table of IAM requests and the
decision each must get, judged by iam-simulate over the documents `render` wrote.

The expectations come from the configuration (tables, buckets, account, external id, provisioner
name) and from what each role is for (docs/security.md) — never from the documents under test — so
a widened, narrowed or missing statement breaks a claim. Role names and the step list come from the
code (provisioner.blueprint.orchestrator), so a new or merged step is judged without editing this table.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from iam_simulate import ALLOWED, EXPLICITLY_DENIED, IMPLICITLY_DENIED, Case, simulate
from lambdas.core.steps import STEPS
from provisioner.config import Settings
from provisioner.blueprint.desired_state import desired_state
from provisioner.blueprint.iam_documents import Arns
from provisioner.blueprint.orchestrator import Orchestrator, describe_orchestrator

OTHER_ACCOUNT = "210987654321"
OTHER_REGION = "eu-west-1"
ITEM_ACTIONS = ["dynamodb:BatchGetItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DeleteItem",
                "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:UpdateItem"]
TABLE_MANAGEMENT = ["dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:UpdateTimeToLive",
                    "dynamodb:CreateBackup", "dynamodb:TagResource"]
ROLE_ACTIONS = ["iam:GetRole", "iam:CreateRole", "iam:DeleteRole", "iam:PutRolePolicy", "iam:DeleteRolePolicy",
                "iam:AttachRolePolicy", "iam:DetachRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:UpdateRole", "iam:PassRole"]
# Item data belongs to FileFerry's services, not to the tool that provisions the tables; teardown
# scans only to count items before deciding on a backup.
ORCHESTRATOR_NEVER_ON_ITEMS = [a for a in ITEM_ACTIONS if a != "dynamodb:Scan"]
# Who may destroy: the steps that exist to undo (docs/security.md). Absent steps are simply not judged.
MAY_DELETE_TABLES = {"rollback", "teardown-table"}
MAY_DELETE_THE_ROLE = {"rollback", "teardown-role"}
READ_ONLY_STEPS = {"verify", "drift-check"}
SERVICE_OF = {"states": "states.amazonaws.com", "events": "events.amazonaws.com", "scheduler": "scheduler.amazonaws.com"}


@dataclass(frozen=True)
class Claim:
    what: str
    case: Case
    expected: str


@dataclass(frozen=True)
class Rendered:
    """The documents in a render directory, by file stem (`<role>.policy`, `<role>.trust`)."""

    directory: Path

    def document(self, stem: str) -> dict[str, Any]:
        return json.loads((self.directory / "iam" / f"{stem}.json").read_text())

    def stems(self) -> set[str]:
        return {path.name.removesuffix(".json") for path in (self.directory / "iam").glob("*.json")}


class _Arn:
    def __init__(self, account: str, region: str, name: str):
        self.account, self.region, self.name = account, region, name

    def table(self, table: str, account: str | None = None, region: str | None = None) -> str:
        return f"arn:aws:dynamodb:{region or self.region}:{account or self.account}:table/{table}"

    def role(self, role: str, account: str | None = None) -> str:
        return f"arn:aws:iam::{account or self.account}:role/{role}"

    def state_machine(self, name: str | None = None) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:stateMachine:{name or self.name}"

    def execution(self, name: str | None = None) -> str:
        return f"arn:aws:states:{self.region}:{self.account}:execution:{name or self.name}:run-1"

    def function(self, function: str, account: str | None = None) -> str:
        return f"arn:aws:lambda:{self.region}:{account or self.account}:function:{function}"

    def log_group(self, group: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}:*"

    def log_stream(self, group: str) -> str:
        return f"arn:aws:logs:{self.region}:{self.account}:log-group:{group}:log-stream:2026/12/02/abc"


def _description(settings: Settings) -> Orchestrator:
    desired = desired_state(settings)
    return describe_orchestrator(settings, desired, Arns.for_state(desired, desired.account_id))


def managed_role_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    sso, arn = settings.sso, _Arn(settings.sso.account_id, settings.dynamodb.region, settings.provisioner.name)
    policy = [rendered.document(f"{sso.role_name}.policy")]
    me = arn.role(sso.role_name)
    claims: list[Claim] = []

    def claim(what: str, action: str, resource: str, expected: str, **context: str) -> None:
        claims.append(Claim(f"{sso.role_name} {what}", Case(action, resource, policy, context=context, principal=me), expected))

    buckets = ["fileferry-any-bucket"] if sso.readable_buckets == ["*"] else list(sso.readable_buckets)
    for bucket in buckets:
        claim(f"may s3:GetObject in {bucket}", "s3:GetObject", f"arn:aws:s3:::{bucket}/reports/a.csv", ALLOWED)
        claim(f"may s3:ListBucket {bucket}", "s3:ListBucket", f"arn:aws:s3:::{bucket}", ALLOWED)
    if sso.readable_buckets != ["*"]:
        claim("may not read an unlisted bucket", "s3:GetObject", "arn:aws:s3:::not-a-readable-bucket/a", IMPLICITLY_DENIED)
        claim("may not list an unlisted bucket", "s3:ListBucket", "arn:aws:s3:::not-a-readable-bucket", IMPLICITLY_DENIED)
    for bucket in [*buckets, "not-a-readable-bucket"]:
        for action in ("s3:PutObject", "s3:DeleteObject"):
            claim(f"is explicitly denied {action} in {bucket}", action, f"arn:aws:s3:::{bucket}/a", EXPLICITLY_DENIED)

    tables = settings.table_names()
    for table in tables:
        for action in ITEM_ACTIONS:
            claim(f"may {action} on {table}", action, arn.table(table), ALLOWED)
        for action in TABLE_MANAGEMENT:
            claim(f"may not {action} (table management) on {table}", action, arn.table(table), IMPLICITLY_DENIED)
        for action in ("dynamodb:Query", "dynamodb:Scan"):
            claim(f"may {action} the indexes of {table}", action, f"{arn.table(table)}/index/AnyIndex", ALLOWED)
    for what, other in (
        ("a sixth table", arn.table("FileFerry-NotInTheSpec")),
        ("a table named like one of the five plus a suffix", arn.table(f"{tables[0]}Archive")),
        ("the same table in another account", arn.table(tables[0], account=OTHER_ACCOUNT)),
        ("the same table in another region", arn.table(tables[0], region=OTHER_REGION)),
    ):
        for action in ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query"):
            claim(f"may not {action} on {what}", action, other, IMPLICITLY_DENIED)

    claim("may put metrics in namespace FileFerry", "cloudwatch:PutMetricData", "*", ALLOWED, **{"cloudwatch:namespace": "FileFerry"})
    claim("may not put metrics in another namespace", "cloudwatch:PutMetricData", "*", IMPLICITLY_DENIED,
          **{"cloudwatch:namespace": "FileFerryX"})
    claims.append(Claim(f"{sso.role_name} may not put metrics without a namespace",
                        Case("cloudwatch:PutMetricData", "*", policy, principal=me), IMPLICITLY_DENIED))
    claim("may not iam:PassRole", "iam:PassRole", arn.role(sso.role_name), IMPLICITLY_DENIED)
    claim("may not sts:AssumeRole another role", "sts:AssumeRole", arn.role("Admin"), IMPLICITLY_DENIED)
    claims += _trust_claims_of_the_managed_role(rendered, settings, arn)
    return claims


def _trust_claims_of_the_managed_role(rendered: Rendered, settings: Settings, arn: _Arn) -> list[Claim]:
    sso = settings.sso
    trust = rendered.document(f"{sso.role_name}.trust")
    role = arn.role(sso.role_name)
    may_assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    in_account = arn.role("fileferry-sso-handler")
    elsewhere = arn.role("fileferry-sso-handler", account=OTHER_ACCOUNT)

    def assume(what: str, principal: str, expected: str, identity: bool, **context: str) -> Claim:
        case = Case("sts:AssumeRole", role, [may_assume] if identity else [], trust, context, principal=principal)
        return Claim(f"{sso.role_name} trust: {what}", case, expected)

    return [
        assume("the Lambda service may assume it", "lambda.amazonaws.com", ALLOWED, False),
        assume("another service may not", "ec2.amazonaws.com", IMPLICITLY_DENIED, False),
        assume("the account may, with the right sts:ExternalId", in_account, ALLOWED, True, **{"sts:ExternalId": sso.external_id}),
        assume("the account may not with a wrong sts:ExternalId", in_account, IMPLICITLY_DENIED, True,
               **{"sts:ExternalId": sso.external_id + "-wrong"}),
        assume("the account may not without sts:ExternalId", in_account, IMPLICITLY_DENIED, True),
        assume("another account may not, even with the right sts:ExternalId", elsewhere, IMPLICITLY_DENIED, True,
               **{"sts:ExternalId": sso.external_id}),
    ]


def orchestrator_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    orchestrator = _description(settings)
    arn = _Arn(settings.sso.account_id, settings.dynamodb.region, orchestrator.name)
    tables = settings.table_names()
    managed = arn.role(settings.sso.role_name)
    functions = [f.name for f in orchestrator.functions]
    all_role_arns = [arn.role(r.name) for r in orchestrator.roles] + [managed, arn.role("Admin")]
    foreign_tables = [arn.table("FileFerry-NotInTheSpec"), arn.table(tables[0], account=OTHER_ACCOUNT),
                      arn.table(tables[0], region=OTHER_REGION)]
    foreign = [
        *[(action, table) for table in foreign_tables for action in TABLE_MANAGEMENT + ["dynamodb:DescribeTable", "dynamodb:Scan"]],
        *[(action, arn.role("Admin")) for action in ROLE_ACTIONS],
        *[(action, arn.state_machine("another-workflow")) for action in ("states:StartExecution", "states:ListExecutions")],
        *[(action, arn.execution("another-workflow")) for action in ("states:DescribeExecution", "states:GetExecutionHistory")],
        ("lambda:InvokeFunction", arn.function("another-function")),
        ("lambda:InvokeFunction", arn.function(functions[0], account=OTHER_ACCOUNT)),
        ("logs:PutLogEvents", arn.log_stream("/aws/lambda/another-function")),
    ]
    claims: list[Claim] = []
    for role in orchestrator.roles:
        policy = [rendered.document(f"{role.name}.policy")]
        me = arn.role(role.name)

        def claim(what: str, action: str, resource: str, expected: str) -> None:
            claims.append(Claim(f"{role.name} {what}", Case(action, resource, policy, principal=me), expected))

        for action, resource in foreign:
            claim(f"reaches only its own resources: not {action} on {resource}", action, resource, IMPLICITLY_DENIED)
        for target in all_role_arns:
            claim(f"may not iam:PassRole {target}", "iam:PassRole", target, IMPLICITLY_DENIED)
        for table in tables[:2]:
            for action in ORCHESTRATOR_NEVER_ON_ITEMS:
                claim(f"may not touch items: {action} on {table}", action, arn.table(table), IMPLICITLY_DENIED)
        claims += _trust_claims(rendered, role.name, role.key, arn)
        step = role.key.removesuffix("-fn") if role.key.endswith("-fn") else None
        if step is not None:
            claims += _function_role_claims(policy, me, role.name, step, orchestrator, arn, tables, managed)
        elif role.key == "states":
            for function in functions:
                claim(f"may invoke our function {function}", "lambda:InvokeFunction", arn.function(function), ALLOWED)
                claim(f"may invoke a version of {function}", "lambda:InvokeFunction", f"{arn.function(function)}:$LATEST", ALLOWED)
                claim(f"may not change our function {function}", "lambda:UpdateFunctionCode", arn.function(function), IMPLICITLY_DENIED)
            claim("may not invoke a version of another function", "lambda:InvokeFunction",
                  f"{arn.function('another-function')}:$LATEST", IMPLICITLY_DENIED)
            for action in ("dynamodb:DescribeTable", "dynamodb:DeleteTable"):
                claim(f"may not {action} itself", action, arn.table(tables[0]), IMPLICITLY_DENIED)
            claim("may not start executions itself", "states:StartExecution", arn.state_machine(), IMPLICITLY_DENIED)
        else:  # the rule's and the schedule's role
            claim("may start our state machine", "states:StartExecution", arn.state_machine(), ALLOWED)
            for action, resource in (
                ("states:StopExecution", arn.execution()),
                ("states:DeleteStateMachine", arn.state_machine()),
                ("lambda:InvokeFunction", arn.function(functions[0])),
                ("dynamodb:DescribeTable", arn.table(tables[0])),
            ):
                claim(f"may do nothing but start it: not {action}", action, resource, IMPLICITLY_DENIED)
    return claims


def _function_role_claims(policy: list[dict[str, Any]], me: str, name: str, step: str, orchestrator: Orchestrator,
                          arn: _Arn, tables: list[str], managed: str) -> list[Claim]:
    claims: list[Claim] = []

    def claim(what: str, action: str, resource: str, expected: str) -> None:
        claims.append(Claim(f"{name} {what}", Case(action, resource, policy, principal=me), expected))

    own_group = next(f.log_group for f in orchestrator.functions if f.step == step)
    claim("may write its own log group", "logs:PutLogEvents", arn.log_stream(own_group), ALLOWED)
    claim("may not delete its own log group", "logs:DeleteLogGroup", arn.log_group(own_group), IMPLICITLY_DENIED)
    for other in orchestrator.functions:
        if other.step != step:
            claim(f"may not write {other.name}'s log group", "logs:PutLogEvents", arn.log_stream(other.log_group), IMPLICITLY_DENIED)
    claim("may not write the state machine's log group", "logs:PutLogEvents",
          arn.log_stream(orchestrator.state_machine.log_group), IMPLICITLY_DENIED)
    for function in orchestrator.functions:
        claim(f"may not invoke {function.name}", "lambda:InvokeFunction", arn.function(function.name), IMPLICITLY_DENIED)
    claim("may not start runs", "states:StartExecution", arn.state_machine(), IMPLICITLY_DENIED)
    if step not in MAY_DELETE_TABLES:
        for table in tables:
            claim(f"may not dynamodb:DeleteTable {table}", "dynamodb:DeleteTable", arn.table(table), IMPLICITLY_DENIED)
    if step not in MAY_DELETE_THE_ROLE:
        claim("may not iam:DeleteRole the managed role", "iam:DeleteRole", managed, IMPLICITLY_DENIED)
    if step in READ_ONLY_STEPS:
        for action in TABLE_MANAGEMENT:
            claim(f"is read-only: not {action}", action, arn.table(tables[0]), IMPLICITLY_DENIED)
        for action in ROLE_ACTIONS:
            if action != "iam:GetRole":
                claim(f"is read-only: not {action}", action, managed, IMPLICITLY_DENIED)
    # What each step exists to do (docs/security.md), where the workflow has that step.
    jobs = {
        "create-or-adopt-table": [("dynamodb:CreateTable", t) for t in tables],
        "await-table": [("dynamodb:DescribeTable", t) for t in tables] + [("dynamodb:UpdateTimeToLive", t) for t in tables]
        + [("dynamodb:UpdateContinuousBackups", t) for t in tables],
        "ensure-role": [("iam:CreateRole", "role"), ("iam:PutRolePolicy", "role")],
        "verify": [("dynamodb:DescribeTable", t) for t in tables] + [("iam:GetRole", "role")]
        + [("dynamodb:DescribeContinuousBackups", t) for t in tables],
        "drift-check": [("dynamodb:DescribeTable", t) for t in tables] + [("iam:GetRole", "role")],
        "rollback": [("dynamodb:DeleteTable", t) for t in tables] + [("iam:DeleteRole", "role")]
        + [("dynamodb:UpdateTable", t) for t in tables],
        "teardown-table": [("dynamodb:CreateBackup", t) for t in tables] + [("dynamodb:DeleteTable", t) for t in tables]
        + [("dynamodb:UpdateTable", t) for t in tables],
        "teardown-role": [("iam:DeleteRole", "role")],
        "validate-input": [("dynamodb:PutItem", "lease"), ("states:GetExecutionHistory", "executions")],
    }
    for action, target in jobs.get(step, []):
        resource = {"role": managed, "machine": arn.state_machine(), "lease": arn.table(f"{orchestrator.name}-run-lease"),
                    "executions": arn.execution()}.get(target) or arn.table(target)
        claim(f"may {action} on {resource.rsplit(':', 1)[-1]} (its job)", action, resource, ALLOWED)
    return claims


def _trust_claims(rendered: Rendered, role_name: str, key: str, arn: _Arn) -> list[Claim]:
    trust = rendered.document(f"{role_name}.trust")
    service = "lambda.amazonaws.com" if key.endswith("-fn") else SERVICE_OF[key]
    other = "ec2.amazonaws.com" if service != "ec2.amazonaws.com" else "lambda.amazonaws.com"
    me = arn.role(role_name)

    def assume(what: str, principal: str, expected: str, **context: str) -> Claim:
        return Claim(f"{role_name} trust: {what}", Case("sts:AssumeRole", me, [], trust, context, principal=principal), expected)

    return [
        assume(f"{service} may assume it for this account", service, ALLOWED, **{"aws:SourceAccount": arn.account}),
        assume(f"{service} may not for another account", service, IMPLICITLY_DENIED, **{"aws:SourceAccount": OTHER_ACCOUNT}),
        assume(f"{other} may not", other, IMPLICITLY_DENIED, **{"aws:SourceAccount": arn.account}),
    ]


def customer_managed_key_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    """With `dynamodb.kms_key_id` a key ARN: the table step may use that key, only through DynamoDB."""
    key = settings.dynamodb.kms_key_id
    orchestrator = _description(settings)
    arn = _Arn(settings.sso.account_id, settings.dynamodb.region, orchestrator.name)
    via_dynamodb = {"kms:ViaService": f"dynamodb.{arn.region}.amazonaws.com"}
    # KMS honours IAM policies only where the key policy lets it: AWS's default key policy does
    # (AWS KMS Developer Guide, "Default key policy": allows the account root kms:*).
    key_policy = {"Version": "2012-10-17", "Statement": [{"Sid": "Enable IAM policies", "Effect": "Allow",
                  "Principal": {"AWS": f"arn:aws:iam::{arn.account}:root"}, "Action": "kms:*", "Resource": "*"}]}
    other_key = key.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    claims = []
    for role in orchestrator.roles:
        policy = [rendered.document(f"{role.name}.policy")]
        creates_tables = role.key == "create-or-adopt-table-fn"
        for action in ("kms:Decrypt", "kms:CreateGrant"):
            expected = ALLOWED if creates_tables else IMPLICITLY_DENIED
            claims += [
                Claim(f"{role.name} {'may' if creates_tables else 'may not'} {action} the table key through DynamoDB",
                      Case(action, key, policy, key_policy, via_dynamodb, principal=arn.role(role.name)), expected),
                Claim(f"{role.name} may not {action} the table key directly",
                      Case(action, key, policy, key_policy, principal=arn.role(role.name)), IMPLICITLY_DENIED),
                Claim(f"{role.name} may not {action} another key",
                      Case(action, other_key, policy, key_policy, via_dynamodb, principal=arn.role(role.name)), IMPLICITLY_DENIED),
            ]
    return claims


OPERATOR = "fileferry-operator"  # the role an administrator makes for whoever runs deploy.py
ADMINISTRATION_ROLE = "AWSCloudFormationStackSetAdministrationRole"
EXECUTION_ROLE = "AWSCloudFormationStackSetExecutionRole"
PASSED_TO = {"-fn": "lambda.amazonaws.com", "states": "states.amazonaws.com", "events": "events.amazonaws.com",
             "scheduler": "scheduler.amazonaws.com"}


def operator_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    """What the operator's credentials may do (docs/operator-permissions.md): the orchestrator's own resources in any
    Region of the account, each role passed only to its service, the fleet's StackSet; never the FileFerry tables'
    items or table management, never the managed role's permissions (the workflow's steps own them)."""
    orchestrator = _description(settings)
    name, region, account = orchestrator.name, settings.dynamodb.region, settings.sso.account_id
    arn = _Arn(account, region, name)
    policy = [rendered.document("operator.policy")]
    me = arn.role(OPERATOR)
    claims: list[Claim] = []

    def claim(what: str, action: str, resource: str, expected: str, resource_policy: dict[str, Any] | None = None,
              **context: str) -> None:
        claims.append(Claim(f"operator {what}", Case(action, resource, policy, resource_policy, context, principal=me),
                            expected))

    in_region = lambda service, resource, where=OTHER_REGION: f"arn:aws:{service}:{where}:{account}:{resource}"  # noqa: E731
    for role_region in (region, OTHER_REGION):
        for suffix, service in PASSED_TO.items():
            role = arn.role(f"{name}-{role_region}-{'verify' + suffix if suffix == '-fn' else suffix}")
            claim(f"may create and write the orchestrator role {role}", "iam:PutRolePolicy", role, ALLOWED)
            claim(f"may pass {role} to {service}", "iam:PassRole", role, ALLOWED, **{"iam:PassedToService": service})
            for other in sorted(set(PASSED_TO.values()) - {service}):
                claim(f"may not pass {role} to {other}", "iam:PassRole", role, IMPLICITLY_DENIED,
                      **{"iam:PassedToService": other})
    for role in (settings.sso.role_name, "Admin", ADMINISTRATION_ROLE):
        claim(f"may not pass {role} to Lambda", "iam:PassRole", arn.role(role), IMPLICITLY_DENIED,
              **{"iam:PassedToService": "lambda.amazonaws.com"})
    claim("may pass the StackSet administration role to CloudFormation", "iam:PassRole", arn.role(ADMINISTRATION_ROLE),
          ALLOWED, **{"iam:PassedToService": "cloudformation.amazonaws.com"})
    for action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:UpdateAssumeRolePolicy", "iam:DeleteRole"):
        claim(f"may not {action} the managed role (the workflow's steps own it)", action, arn.role(settings.sso.role_name),
              IMPLICITLY_DENIED)
        claim(f"may not {action} another role", action, arn.role("Admin"), IMPLICITLY_DENIED)
    claim("may read the managed role (plan, outputs)", "iam:GetRole", arn.role(settings.sso.role_name), ALLOWED)
    for table in settings.table_names():
        claim(f"may describe {table} (plan, outputs)", "dynamodb:DescribeTable", arn.table(table), ALLOWED)
        for action in TABLE_MANAGEMENT + ITEM_ACTIONS:
            claim(f"may not {action} on {table}", action, arn.table(table), IMPLICITLY_DENIED)
    lease = arn.table(f"{name}-run-lease")
    claim("may read who holds the run lease", "dynamodb:GetItem", lease, ALLOWED)
    claim("may not write the run lease (runs take it)", "dynamodb:PutItem", lease, IMPLICITLY_DENIED)
    for function in (f.name for f in orchestrator.functions):
        claim(f"may create {function}", "lambda:CreateFunction", arn.function(function), ALLOWED)
        claim(f"may not invoke {function} (the state machine does)", "lambda:InvokeFunction", arn.function(function),
              IMPLICITLY_DENIED)
    claim("may update a function in another Region", "lambda:UpdateFunctionCode",
          in_region("lambda", f"function:{orchestrator.functions[0].name}"), ALLOWED)
    claim("may not create another function", "lambda:CreateFunction", arn.function("billing"), IMPLICITLY_DENIED)
    claim("may start the state machine", "states:StartExecution", arn.state_machine(), ALLOWED)
    claim("may follow a run", "states:GetExecutionHistory", arn.execution(), ALLOWED)
    claim("may not start another state machine", "states:StartExecution", arn.state_machine("another-workflow"),
          IMPLICITLY_DENIED)
    claim("may not stop a run", "states:StopExecution", arn.execution(), IMPLICITLY_DENIED)
    claim("may put the rollback rule's target", "events:PutTargets",
          in_region("events", f"rule/{orchestrator.rollback_rule.name}", region), ALLOWED)
    claim("may not put another rule's target", "events:PutTargets", in_region("events", "rule/other", region),
          IMPLICITLY_DENIED)
    claim("may create the drift schedule", "scheduler:CreateSchedule",
          in_region("scheduler", f"schedule/default/{orchestrator.drift_schedule.name}", region), ALLOWED)
    claim("may put the drift alarm", "cloudwatch:PutMetricAlarm", in_region("cloudwatch", f"alarm:{name}-drift", region),
          ALLOWED)
    claim("may not put another alarm", "cloudwatch:PutMetricAlarm", in_region("cloudwatch", "alarm:billing", region),
          IMPLICITLY_DENIED)
    claim("may write the dead-letter queue's policy", "sqs:SetQueueAttributes",
          in_region("sqs", f"{name}-undelivered", region), ALLOWED)
    # fleet: the StackSet named like the orchestrator, its targets, the template's resource types.
    stack_set = f"{name}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
    claim("may create the StackSet with the administration role", "cloudformation:CreateStackSet", "*", ALLOWED,
          **{"cloudformation:RoleArn": arn.role(ADMINISTRATION_ROLE)})
    claim("may not create a StackSet with another role", "cloudformation:CreateStackSet", "*", IMPLICITLY_DENIED,
          **{"cloudformation:RoleArn": arn.role("Admin")})
    for resource in (f"stackset/{stack_set}", f"stackset-target/{stack_set}/{OTHER_ACCOUNT}",
                     "type/resource/AWS-IAM-Role", "type/resource/AWS-StepFunctions-StateMachine"):
        claim(f"may create stack instances: {resource}", "cloudformation:CreateStackInstances",
              in_region("cloudformation", resource, region), ALLOWED)
    for resource in ("stackset/another-stackset:0f1e2d3c", f"stackset-target/another-stackset:0f1e2d3c/{OTHER_ACCOUNT}",
                     "type/resource/AWS-EC2-Instance"):
        claim(f"may not create stack instances: {resource}", "cloudformation:CreateStackInstances",
              in_region("cloudformation", resource, region), IMPLICITLY_DENIED)
    claim("may follow a StackSet operation", "cloudformation:DescribeStackSetOperation",
          in_region("cloudformation", f"stackset/{stack_set}", region), ALLOWED)
    claim("may not delete the StackSet", "cloudformation:DeleteStackSet",
          in_region("cloudformation", f"stackset/{stack_set}", region), IMPLICITLY_DENIED)
    bucket = f"{settings.fleet.code_bucket_prefix or f'fileferry-code-{account}'}-{OTHER_REGION}"
    claim("may upload the code to a Region's code bucket", "s3:PutObject",
          f"arn:aws:s3:::{bucket}/{name}/lambda-0123456789abcdef0123.zip", ALLOWED)
    claim("may write a code bucket's policy", "s3:PutBucketPolicy", f"arn:aws:s3:::{bucket}", ALLOWED)
    claim("may not upload outside its prefix", "s3:PutObject", f"arn:aws:s3:::{bucket}/other/lambda.zip", IMPLICITLY_DENIED)
    claim("may not upload elsewhere", "s3:PutObject", "arn:aws:s3:::another-bucket/lambda.zip", IMPLICITLY_DENIED)
    execution_trust = rendered.document("fleet-execution.trust")
    claim("may assume the execution role in a target", "sts:AssumeRole", arn.role(EXECUTION_ROLE, account=OTHER_ACCOUNT),
          ALLOWED, execution_trust)
    claim("may not assume another role in a target", "sts:AssumeRole", arn.role("Admin", account=OTHER_ACCOUNT),
          IMPLICITLY_DENIED, execution_trust)
    return claims


def fleet_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    """The StackSet roles (docs/operator-permissions.md): the execution role in a target creates the orchestrator
    there and starts its runs, nothing of FileFerry's; the administration role only assumes the execution roles."""
    orchestrator = _description(settings)
    name, admin = orchestrator.name, settings.sso.account_id
    target = _Arn(OTHER_ACCOUNT, OTHER_REGION, name)
    policy = [rendered.document("fleet-execution.policy")]
    me = target.role(EXECUTION_ROLE)
    claims: list[Claim] = []

    def claim(what: str, action: str, resource: str, expected: str, **context: str) -> None:
        claims.append(Claim(f"fleet-execution {what}", Case(action, resource, policy, context=context, principal=me),
                            expected))

    here = lambda service, resource: f"arn:aws:{service}:{OTHER_REGION}:{OTHER_ACCOUNT}:{resource}"  # noqa: E731
    claim("may create the StackSet's stack", "cloudformation:CreateStack",
          here("cloudformation", f"stack/StackSet-{name}-0f1e2d3c/1a2b3c4d"), ALLOWED)
    claim("may not create another stack", "cloudformation:CreateStack", here("cloudformation", "stack/other/1a2b3c4d"),
          IMPLICITLY_DENIED)
    for suffix, service in PASSED_TO.items():
        role = target.role(f"{name}-{OTHER_REGION}-{'verify' + suffix if suffix == '-fn' else suffix}")
        claim(f"may create {role}", "iam:CreateRole", role, ALLOWED)
        claim(f"may pass {role} to {service}", "iam:PassRole", role, ALLOWED, **{"iam:PassedToService": service})
        claim(f"may not pass {role} to CloudFormation", "iam:PassRole", role, IMPLICITLY_DENIED,
              **{"iam:PassedToService": "cloudformation.amazonaws.com"})
    claim("may not create another role", "iam:CreateRole", target.role("Admin"), IMPLICITLY_DENIED)
    claim("may not write the managed role (the target's runs own it)", "iam:PutRolePolicy",
          target.role(settings.sso.role_name), IMPLICITLY_DENIED)
    function = orchestrator.functions[0].name
    claim(f"may create {function}", "lambda:CreateFunction", target.function(function), ALLOWED)
    claim(f"may not invoke {function}", "lambda:InvokeFunction", target.function(function), IMPLICITLY_DENIED)
    claim("may create the state machine", "states:CreateStateMachine", target.state_machine(), ALLOWED)
    claim("may start a run (fleet run)", "states:StartExecution", target.state_machine(), ALLOWED)
    claim("may read a run (fleet run, fleet status)", "states:GetExecutionHistory", target.execution(), ALLOWED)
    claim("may list the runs (fleet status)", "states:ListExecutions", target.state_machine(), ALLOWED)
    claim("may not start another state machine", "states:StartExecution", target.state_machine("another-workflow"),
          IMPLICITLY_DENIED)
    claim("may create the run lease table", "dynamodb:CreateTable", target.table(f"{name}-run-lease"), ALLOWED)
    for table in settings.table_names()[:2]:
        for action in ("dynamodb:CreateTable", "dynamodb:DeleteTable", "dynamodb:GetItem"):
            claim(f"may not {action} on {table} (the target's runs own it)", action, target.table(table), IMPLICITLY_DENIED)
    claim("may put the rollback rule's target", "events:PutTargets", here("events", f"rule/{orchestrator.rollback_rule.name}"),
          ALLOWED)
    claim("may create the drift schedule", "scheduler:CreateSchedule",
          here("scheduler", f"schedule/default/{orchestrator.drift_schedule.name}"), ALLOWED)
    claim("may put the drift alarm", "cloudwatch:PutMetricAlarm", here("cloudwatch", f"alarm:{name}-drift"), ALLOWED)
    claim("may create the dead-letter queue", "sqs:CreateQueue", here("sqs", f"{name}-undelivered"), ALLOWED)
    claim("may create a function's log group", "logs:CreateLogGroup", here("logs", f"log-group:/aws/lambda/{function}"),
          ALLOWED)
    claim("may not assume roles", "sts:AssumeRole", target.role("Admin"), IMPLICITLY_DENIED)

    trust = rendered.document("fleet-execution.trust")
    may_assume = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}
    administration = _Arn(admin, settings.dynamodb.region, name).role(ADMINISTRATION_ROLE)
    for what, principal, expected in (
        ("the administration account's administration role may assume it", administration, ALLOWED),
        ("the administration account's operator may assume it", _Arn(admin, "", name).role(OPERATOR), ALLOWED),
        ("a role of another account may not", _Arn("333333333333", "", name).role(ADMINISTRATION_ROLE), IMPLICITLY_DENIED),
    ):
        claims.append(Claim(f"fleet-execution trust: {what}",
                            Case("sts:AssumeRole", me, [may_assume], trust, principal=principal), expected))

    admin_policy = [rendered.document("fleet-administration.policy")]
    for what, role, expected in (("may assume the execution role in a target", me, ALLOWED),
                                 ("may not assume another role in a target", target.role("Admin"), IMPLICITLY_DENIED)):
        claims.append(Claim(f"fleet-administration {what}",
                            Case("sts:AssumeRole", role, admin_policy, trust, principal=administration), expected))
    admin_trust = rendered.document("fleet-administration.trust")
    for what, service, source, expected in (
        ("CloudFormation of this account may assume it", "cloudformation.amazonaws.com", admin, ALLOWED),
        ("CloudFormation for another account may not", "cloudformation.amazonaws.com", OTHER_ACCOUNT, IMPLICITLY_DENIED),
        ("Lambda may not", "lambda.amazonaws.com", admin, IMPLICITLY_DENIED),
    ):
        claims.append(Claim(f"fleet-administration trust: {what}",
                            Case("sts:AssumeRole", administration, [], admin_trust, {"aws:SourceAccount": source},
                                 principal=service), expected))
    return claims


def all_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    claims = managed_role_claims(rendered, settings) + orchestrator_claims(rendered, settings)
    claims += operator_claims(rendered, settings) + fleet_claims(rendered, settings)
    if settings.dynamodb.kms_key_id.startswith("arn:"):
        claims += customer_managed_key_claims(rendered, settings)
    return claims


def documents_judged(claims: list[Claim], rendered: Rendered) -> set[str]:
    """The rendered documents (file stems) some claim evaluates."""
    stems = {stem: rendered.document(stem) for stem in rendered.stems()}
    used = set()
    for claim in claims:
        for stem, document in stems.items():
            if any(document == policy for policy in claim.case.identity_policies) or document == claim.case.resource_policy:
                used.add(stem)
    return used


def broken_claims(claims: list[Claim]) -> list[str]:
    """Each claim iam-simulate does not confirm, as `claim: expected X, got Y` (one Node process)."""
    decisions = simulate([claim.case for claim in claims])
    return [f"{c.what}: expected {c.expected}, got {d}" for c, d in zip(claims, decisions, strict=True) if d != c.expected]


__all__ = ["Claim", "Rendered", "all_claims", "broken_claims", "documents_judged", "STEPS"]
