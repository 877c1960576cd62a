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


def all_claims(rendered: Rendered, settings: Settings) -> list[Claim]:
    claims = managed_role_claims(rendered, settings) + orchestrator_claims(rendered, settings)
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
