"""The embedded AWS's IAM evaluator agrees with @cloud-copilot/iam-simulate, which no one here wrote.

Each case is (policy, action, resource, context): most are the orchestrator's own documents (the
step roles, the state machine and rule roles, the read-only role and its trust policy) on the ARNs
the workflow really touches; the rest pin the evaluation rules those documents rely on (NotAction,
NotResource, Deny precedence, wildcards inside ARNs, IfExists, Null, ArnLike).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from iam_simulate import ALLOWED, EXPLICITLY_DENIED, IMPLICITLY_DENIED, Case, simulate_detailed

from local.iam.policy import EXPLICIT_DENY, IMPLICIT_DENY, AuthRequest, evaluate, evaluate_assume_role, evaluate_trust
from provisioner.blueprint import iam_documents
from provisioner.blueprint.desired_state import read_only_policy, table_arn, trust_policy
from provisioner.blueprint.iam_documents import Arns

ACCOUNT = "123456789012"
REGION = "us-east-1"
NAME = "fileferry-provisioner"
TABLES = ("FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests",
          "FileFerry-AgentLearning", "FileFerry-S3FileCache")
ARNS = Arns("aws", REGION, ACCOUNT, NAME, TABLES, "FileFerryReadOnlyRole")
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{KEY_ID}"
SESSIONS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/FileFerry-ActiveSessions"
TRANSFERS = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/FileFerry-TransferRequests"
OTHER_TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/Payroll"
MANAGED_ROLE = f"arn:aws:iam::{ACCOUNT}:role/FileFerryReadOnlyRole"
STATE_MACHINE = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{NAME}"
EXECUTION = f"arn:aws:states:{REGION}:{ACCOUNT}:execution:{NAME}:provision-20260101T000000-abc123"
VIA_DYNAMODB = {"kms:ViaService": f"dynamodb.{REGION}.amazonaws.com"}
ASSUMER = f"arn:aws:iam::{ACCOUNT}:role/sso-handler"


def _operator_documents():
    """The operator's policy and the StackSet execution role's, as `render` writes them for the shipped config."""
    from pathlib import Path

    from provisioner.blueprint import operator_policy
    from provisioner.blueprint.cloudformation import template
    from provisioner.blueprint.desired_state import desired_state
    from provisioner.blueprint.orchestrator import describe_orchestrator
    from provisioner.config import resolve

    settings = resolve(Path(__file__).resolve().parents[3] / "config" / "config.yaml",
                       endpoint_url="http://127.0.0.1:1").settings
    desired = desired_state(settings)
    orchestrator = describe_orchestrator(settings, desired, Arns.for_state(desired, desired.account_id))
    fleet = operator_policy.fleet_names(settings, orchestrator.arns)
    kinds = operator_policy.resource_types(template(settings, desired, "0" * 64))
    return (operator_policy.operator_policy(orchestrator, fleet, kinds),
            operator_policy.fleet_execution_policy(orchestrator, fleet),
            operator_policy.fleet_execution_trust(orchestrator.arns))


OPERATOR, FLEET_EXECUTION, FLEET_EXECUTION_TRUST = _operator_documents()
PASS_TO = "iam:PassedToService"
STACK_SET = f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stackset/{NAME}:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TARGET_ACCOUNT = "210987654321"


def step(name, kms_key_id=None):
    return iam_documents.function_policy(name, ARNS, kms_key_id, EXTERNAL_ID)


EXTERNAL_ID = "the-external-id"


READ_ONLY = read_only_policy([table_arn(REGION, ACCOUNT, t) for t in TABLES], ["fileferry-files"], "FileFerry")
READ_ONLY_TRUST = trust_policy(ACCOUNT, EXTERNAL_ID)
ORCHESTRATOR_TRUST = iam_documents.trust("lambda.amazonaws.com", ARNS)
STATES_TRUST = iam_documents.trust("states.amazonaws.com", ARNS)
MAY_ASSUME = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}]}


def doc(*statements):
    return {"Version": "2012-10-17", "Statement": list(statements)}


def stmt(effect, actions, resources="*", **extra):
    key = "NotAction" if extra.pop("not_action", False) else "Action"
    resource_key = "NotResource" if extra.pop("not_resource", False) else "Resource"
    return {"Effect": effect, key: actions, resource_key: resources, **extra}


ADMIN_BUT_DELETES = doc(stmt("Allow", "dynamodb:*"),
                        stmt("Deny", "dynamodb:Delete*", f"arn:aws:dynamodb:*:{ACCOUNT}:table/FileFerry-*"))
ALL_BUT_IAM = doc(stmt("Allow", "iam:*", not_action=True))
NOT_PAYROLL = doc(stmt("Allow", "dynamodb:DescribeTable", OTHER_TABLE, not_resource=True))
INDEXES_ONLY = doc(stmt("Allow", "dynamodb:Query", f"arn:aws:dynamodb:*:{ACCOUNT}:table/FileFerry-*/index/*"))
NAMESPACE_PRESENT = doc(stmt("Allow", "cloudwatch:PutMetricData", Condition={"Null": {"cloudwatch:namespace": "false"}}))
NAMESPACE_IF_EXISTS = doc(stmt("Allow", "cloudwatch:PutMetricData",
                               Condition={"StringEqualsIfExists": {"cloudwatch:namespace": "FileFerry"}}))
NAMESPACE_LIKE = doc(stmt("Allow", "cloudwatch:PutMetricData", Condition={"StringLike": {"cloudwatch:namespace": "File*"}}))
NAMESPACE_NOT = doc(stmt("Allow", "cloudwatch:PutMetricData",
                         Condition={"StringNotEquals": {"cloudwatch:namespace": "Billing"}}))
TRUST_FROM_STATE_MACHINES = doc({
    "Effect": "Allow", "Principal": {"Service": "states.amazonaws.com"}, "Action": "sts:AssumeRole",
    "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:states:*:{ACCOUNT}:stateMachine:*"}},
})
DIRECT_TRUST = doc({"Effect": "Allow", "Principal": {"AWS": ASSUMER}, "Action": "sts:AssumeRole"})


@dataclass(frozen=True)
class Row:
    """One request: identity `policy` (or a trust policy, with `principal`), and what IAM decides."""

    name: str
    policy: dict[str, Any]
    action: str
    resource: str
    context: dict[str, Any] = field(default_factory=dict)
    expected: str = ALLOWED
    principal: str | None = None  # a service or role ARN: the policy is then the role's trust policy
    identity: tuple[dict[str, Any], ...] = ()  # the caller's own policies, for AssumeRole by a role


ROWS = [
    # create-or-adopt-table: the tables, nothing else; a customer managed key only through DynamoDB.
    Row("create a spec table", step("create-or-adopt-table"), "dynamodb:CreateTable", SESSIONS),
    Row("create another table", step("create-or-adopt-table"), "dynamodb:CreateTable", OTHER_TABLE, expected=IMPLICITLY_DENIED),
    Row("no delete while creating", step("create-or-adopt-table"), "dynamodb:DeleteTable", SESSIONS, expected=IMPLICITLY_DENIED),
    Row("tag a spec table", step("create-or-adopt-table"), "dynamodb:TagResource", TRANSFERS),
    Row("describe a spec table", step("create-or-adopt-table"), "dynamodb:DescribeTable", SESSIONS),
    Row("data key via DynamoDB", step("create-or-adopt-table", KEY_ID), "kms:GenerateDataKey", KEY, VIA_DYNAMODB),
    Row("data key, not via a service", step("create-or-adopt-table", KEY_ID), "kms:GenerateDataKey", KEY,
        expected=IMPLICITLY_DENIED),
    Row("data key via S3", step("create-or-adopt-table", KEY_ID), "kms:GenerateDataKey", KEY,
        {"kms:ViaService": f"s3.{REGION}.amazonaws.com"}, expected=IMPLICITLY_DENIED),
    Row("re-encrypt via DynamoDB", step("create-or-adopt-table", KEY_ID), "kms:ReEncryptFrom", KEY, VIA_DYNAMODB),
    Row("key pairs are not granted", step("create-or-adopt-table", KEY_ID), "kms:GenerateDataKeyPair", KEY, VIA_DYNAMODB,
        expected=IMPLICITLY_DENIED),
    Row("grant via DynamoDB", step("create-or-adopt-table", KEY_ID), "kms:CreateGrant", KEY, VIA_DYNAMODB),
    Row("another key", step("create-or-adopt-table", KEY_ID), "kms:Decrypt",
        f"arn:aws:kms:{REGION}:{ACCOUNT}:key/ffffffff-12ab-34cd-56ef-1234567890ab", VIA_DYNAMODB, expected=IMPLICITLY_DENIED),
    Row("key by alias", step("create-or-adopt-table", "alias/fileferry-sessions"), "kms:Decrypt", KEY,
        {**VIA_DYNAMODB, "kms:ResourceAliases": ["alias/fileferry-sessions"]}),
    Row("key with another alias", step("create-or-adopt-table", "alias/fileferry-sessions"), "kms:Decrypt", KEY,
        {**VIA_DYNAMODB, "kms:ResourceAliases": ["alias/other"]}, expected=IMPLICITLY_DENIED),
    Row("key with no alias", step("create-or-adopt-table", "alias/fileferry-sessions"), "kms:Decrypt", KEY, VIA_DYNAMODB,
        expected=IMPLICITLY_DENIED),
    # teardown-table: backups by table/NAME/backup/ID, ListBackups on "*".
    Row("describe a spec table's backup", step("teardown-table"), "dynamodb:DescribeBackup",
        f"{SESSIONS}/backup/01767225600000-a1b2c3d4"),
    Row("describe another table's backup", step("teardown-table"), "dynamodb:DescribeBackup",
        f"{OTHER_TABLE}/backup/01767225600000-a1b2c3d4", expected=IMPLICITLY_DENIED),
    Row("list backups", step("teardown-table"), "dynamodb:ListBackups", "*"),
    Row("back up a spec table", step("teardown-table"), "dynamodb:CreateBackup", SESSIONS),
    Row("scan a spec table", step("teardown-table"), "dynamodb:Scan", SESSIONS),
    Row("no index scan in teardown", step("teardown-table"), "dynamodb:Scan", f"{TRANSFERS}/index/UserIdIndex",
        expected=IMPLICITLY_DENIED),
    # prove-access: the managed role, with the ExternalId or the one wrong value it proves is refused.
    Row("assume the read-only role with the ExternalId", step("prove-access"), "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": EXTERNAL_ID}),
    Row("assume it with the wrong ExternalId it probes", step("prove-access"), "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": f"not-{EXTERNAL_ID}"}),
    Row("assume it with any other ExternalId", step("prove-access"), "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": "guess"}, expected=IMPLICITLY_DENIED),
    Row("assume it without an ExternalId", step("prove-access"), "sts:AssumeRole", MANAGED_ROLE, expected=IMPLICITLY_DENIED),
    Row("assume another role", step("prove-access"), "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/Admin",
        {"sts:ExternalId": EXTERNAL_ID}, expected=IMPLICITLY_DENIED),
    Row("simulate the read-only role", step("prove-access"), "iam:SimulatePrincipalPolicy", MANAGED_ROLE),
    Row("simulate another role", step("prove-access"), "iam:SimulatePrincipalPolicy", f"arn:aws:iam::{ACCOUNT}:role/Admin",
        expected=IMPLICITLY_DENIED),
    Row("read a spec table's resource policy", step("prove-access"), "dynamodb:GetResourcePolicy", TRANSFERS),
    Row("no items for the checker itself", step("prove-access"), "dynamodb:PutItem", TRANSFERS, expected=IMPLICITLY_DENIED),
    # ensure-role and rollback: the managed role only.
    Row("ensure-role re-attaches", step("ensure-role"), "iam:AttachRolePolicy", MANAGED_ROLE),
    Row("ensure-role on another role", step("ensure-role"), "iam:PutRolePolicy", f"arn:aws:iam::{ACCOUNT}:role/Admin",
        expected=IMPLICITLY_DENIED),
    Row("ensure-role cannot delete", step("ensure-role"), "iam:DeleteRole", MANAGED_ROLE, expected=IMPLICITLY_DENIED),
    Row("rollback reads its run", step("rollback"), "states:GetExecutionHistory", EXECUTION),
    Row("validate-input reads a run's history", step("validate-input"), "states:GetExecutionHistory", EXECUTION),
    Row("validate-input takes the run lease", step("validate-input"), "dynamodb:PutItem",
        f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{NAME}-run-lease"),
    Row("validate-input lists no runs", step("validate-input"), "states:ListExecutions", STATE_MACHINE,
        expected=IMPLICITLY_DENIED),
    Row("validate-input describes a run", step("validate-input"), "states:DescribeExecution", EXECUTION),
    Row("a function's own log stream", step("verify"), "logs:PutLogEvents",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{NAME}-verify:log-stream:2026/01/01/[$LATEST]abc"),
    Row("another function's log group", step("verify"), "logs:CreateLogGroup",
        f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{NAME}-rollback", expected=IMPLICITLY_DENIED),
    # The state machine's role and the rule's role.
    Row("invoke a step", iam_documents.state_machine_policy(ARNS), "lambda:InvokeFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAME}-verify"),
    Row("invoke a step's version", iam_documents.state_machine_policy(ARNS), "lambda:InvokeFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{NAME}-verify:$LATEST"),
    Row("invoke another function", iam_documents.state_machine_policy(ARNS), "lambda:InvokeFunction",
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:billing", expected=IMPLICITLY_DENIED),
    Row("rule starts the provisioner", iam_documents.start_execution_policy(ARNS), "states:StartExecution", STATE_MACHINE),
    Row("rule starts another machine", iam_documents.start_execution_policy(ARNS), "states:StartExecution",
        f"{STATE_MACHINE}-2", expected=IMPLICITLY_DENIED),
    # The read-only role the workflow provisions.
    Row("query the user index", READ_ONLY, "dynamodb:Query", f"{TRANSFERS}/index/UserIdIndex"),
    Row("put an item", READ_ONLY, "dynamodb:PutItem", SESSIONS),
    Row("no table deletion", READ_ONLY, "dynamodb:DeleteTable", SESSIONS, expected=IMPLICITLY_DENIED),
    Row("read an object", READ_ONLY, "s3:GetObject", "arn:aws:s3:::fileferry-files/a/b.txt"),
    Row("writes are denied", READ_ONLY, "s3:PutObject", "arn:aws:s3:::fileferry-files/a/b.txt", expected=EXPLICITLY_DENIED),
    Row("deletes are denied anywhere", READ_ONLY, "s3:DeleteObject", "arn:aws:s3:::elsewhere/x", expected=EXPLICITLY_DENIED),
    Row("metrics in FileFerry", READ_ONLY, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "FileFerry"}),
    Row("metrics elsewhere", READ_ONLY, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"},
        expected=IMPLICITLY_DENIED),
    Row("metrics without a namespace", READ_ONLY, "cloudwatch:PutMetricData", "*", expected=IMPLICITLY_DENIED),
    Row("traces", READ_ONLY, "xray:PutTraceSegments", "*"),
    # Trust policies: services with aws:SourceAccount, the account with sts:ExternalId.
    Row("Lambda assumes the read-only role", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE, principal="lambda.amazonaws.com"),
    Row("the account with the external id", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": "the-external-id"}, principal=ASSUMER, identity=(MAY_ASSUME,)),
    Row("the account with a wrong external id", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": "guess"}, principal=ASSUMER, identity=(MAY_ASSUME,), expected=IMPLICITLY_DENIED),
    Row("the account without an external id", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE,
        principal=ASSUMER, identity=(MAY_ASSUME,), expected=IMPLICITLY_DENIED),
    Row("the external id, but no identity grant", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE,
        {"sts:ExternalId": "the-external-id"}, principal=ASSUMER, expected=IMPLICITLY_DENIED),
    Row("a trust naming the caller needs no identity grant", DIRECT_TRUST, "sts:AssumeRole", MANAGED_ROLE,
        principal=ASSUMER),
    Row("Step Functions may not", READ_ONLY_TRUST, "sts:AssumeRole", MANAGED_ROLE, principal="states.amazonaws.com",
        expected=IMPLICITLY_DENIED),
    Row("Lambda from this account", ORCHESTRATOR_TRUST, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/{NAME}-us-east-1-verify-fn",
        {"aws:SourceAccount": ACCOUNT}, principal="lambda.amazonaws.com"),
    Row("Lambda for another account", ORCHESTRATOR_TRUST, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/{NAME}-us-east-1-verify-fn",
        {"aws:SourceAccount": "210987654321"}, principal="lambda.amazonaws.com", expected=IMPLICITLY_DENIED),
    Row("Step Functions from this account", STATES_TRUST, "sts:AssumeRole", f"arn:aws:iam::{ACCOUNT}:role/{NAME}-states",
        {"aws:SourceAccount": ACCOUNT}, principal="states.amazonaws.com"),
    Row("a state machine of this account", TRUST_FROM_STATE_MACHINES, "sts:AssumeRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-states", {"aws:SourceArn": STATE_MACHINE}, principal="states.amazonaws.com"),
    Row("a state machine of another account", TRUST_FROM_STATE_MACHINES, "sts:AssumeRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-states",
        {"aws:SourceArn": f"arn:aws:states:{REGION}:210987654321:stateMachine:x"}, principal="states.amazonaws.com",
        expected=IMPLICITLY_DENIED),
    # The operator's policy: each orchestrator role to the one service its trust names; the fleet's StackSet. (The
    # execution role's rows are in the account of the (default) caller: its policy names every target's account.)
    Row("operator passes a step role to Lambda", OPERATOR, "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{REGION}-verify-fn", {PASS_TO: "lambda.amazonaws.com"}),
    Row("operator passes no step role to Step Functions", OPERATOR, "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{REGION}-verify-fn", {PASS_TO: "states.amazonaws.com"},
        expected=IMPLICITLY_DENIED),
    Row("operator passes the single-Region state machine role", OPERATOR, "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-states", {PASS_TO: "states.amazonaws.com"}),
    Row("operator passes no role without a service", OPERATOR, "iam:PassRole",
        f"arn:aws:iam::{ACCOUNT}:role/{NAME}-{REGION}-events", expected=IMPLICITLY_DENIED),
    Row("operator passes no other role", OPERATOR, "iam:PassRole", MANAGED_ROLE, {PASS_TO: "lambda.amazonaws.com"},
        expected=IMPLICITLY_DENIED),
    Row("operator creates the StackSet with the administration role", OPERATOR, "cloudformation:CreateStackSet", "*",
        {"cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/AWSCloudFormationStackSetAdministrationRole"}),
    Row("operator creates no StackSet with another role", OPERATOR, "cloudformation:CreateStackSet", "*",
        {"cloudformation:RoleArn": f"arn:aws:iam::{ACCOUNT}:role/Admin"}, expected=IMPLICITLY_DENIED),
    Row("operator deploys to a StackSet target", OPERATOR, "cloudformation:CreateStackInstances",
        f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stackset-target/{NAME}:0f1e2d3c/{TARGET_ACCOUNT}",
        {"cloudformation:TargetRegion": ["eu-west-1"]}),
    Row("operator follows its StackSet", OPERATOR, "cloudformation:DescribeStackSetOperation", STACK_SET),
    Row("operator reads no item of a spec table", OPERATOR, "dynamodb:GetItem", SESSIONS, expected=IMPLICITLY_DENIED),
    Row("execution role creates the StackSet's stack", FLEET_EXECUTION, "cloudformation:CreateStack",
        f"arn:aws:cloudformation:eu-west-1:{ACCOUNT}:stack/StackSet-{NAME}-0f1e2d3c/1a2b3c4d"),
    Row("execution role starts the target's runs", FLEET_EXECUTION, "states:StartExecution",
        f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:{NAME}"),
    Row("the administration account assumes the execution role", FLEET_EXECUTION_TRUST, "sts:AssumeRole",
        f"arn:aws:iam::{TARGET_ACCOUNT}:role/AWSCloudFormationStackSetExecutionRole",
        principal=f"arn:aws:iam::{ACCOUNT}:role/AWSCloudFormationStackSetAdministrationRole", identity=(MAY_ASSUME,)),
    # The evaluation rules the documents rely on.
    Row("Deny beats Allow", ADMIN_BUT_DELETES, "dynamodb:DeleteTable", SESSIONS, expected=EXPLICITLY_DENIED),
    Row("Allow where no Deny applies", ADMIN_BUT_DELETES, "dynamodb:DeleteTable", OTHER_TABLE),
    Row("Deny leaves other actions", ADMIN_BUT_DELETES, "dynamodb:DescribeTable", SESSIONS),
    Row("NotAction allows the rest", ALL_BUT_IAM, "dynamodb:DescribeTable", SESSIONS),
    Row("NotAction leaves out its actions", ALL_BUT_IAM, "iam:GetRole", MANAGED_ROLE, expected=IMPLICITLY_DENIED),
    Row("NotResource allows the rest", NOT_PAYROLL, "dynamodb:DescribeTable", SESSIONS),
    Row("NotResource leaves out its resource", NOT_PAYROLL, "dynamodb:DescribeTable", OTHER_TABLE, expected=IMPLICITLY_DENIED),
    Row("wildcards inside the ARN: an index", INDEXES_ONLY, "dynamodb:Query", f"{TRANSFERS}/index/UserIdIndex"),
    Row("wildcards inside the ARN: not the table", INDEXES_ONLY, "dynamodb:Query", TRANSFERS, expected=IMPLICITLY_DENIED),
    Row("wildcards inside the ARN: another region", INDEXES_ONLY, "dynamodb:Query",
        f"arn:aws:dynamodb:eu-west-1:{ACCOUNT}:table/FileFerry-X/index/I"),
    Row("Null false needs the key", NAMESPACE_PRESENT, "cloudwatch:PutMetricData", "*", expected=IMPLICITLY_DENIED),
    Row("Null false with the key", NAMESPACE_PRESENT, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Any"}),
    Row("IfExists without the key", NAMESPACE_IF_EXISTS, "cloudwatch:PutMetricData", "*"),
    Row("IfExists with another value", NAMESPACE_IF_EXISTS, "cloudwatch:PutMetricData", "*",
        {"cloudwatch:namespace": "Billing"}, expected=IMPLICITLY_DENIED),
    Row("StringLike", NAMESPACE_LIKE, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "FileFerry"}),
    Row("StringLike, no match", NAMESPACE_LIKE, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"},
        expected=IMPLICITLY_DENIED),
    Row("StringNotEquals without the key", NAMESPACE_NOT, "cloudwatch:PutMetricData", "*"),
    Row("StringNotEquals on the value", NAMESPACE_NOT, "cloudwatch:PutMetricData", "*", {"cloudwatch:namespace": "Billing"},
        expected=IMPLICITLY_DENIED),
]

_OURS = {EXPLICIT_DENY: EXPLICITLY_DENIED, IMPLICIT_DENY: IMPLICITLY_DENIED, "allowed": ALLOWED}


def ours(row: Row) -> str:
    request = AuthRequest(row.action, row.resource, row.context)
    if row.principal is None:
        decision = evaluate([row.policy], request)
    elif row.principal.startswith("arn:"):
        decision = evaluate_assume_role(list(row.identity), row.policy, [row.principal], request)
    else:
        decision = evaluate_trust(row.policy, {"Service": row.principal}, request)
    return _OURS[decision.result]


# KMS authorizes a key only if its key policy lets IAM policies decide; the embedded AWS takes every
# key's policy to be this default one (AWS KMS Developer Guide, "Default key policy").
DEFAULT_KEY_POLICY = doc({"Sid": "Enable IAM User Permissions", "Effect": "Allow",
                          "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "kms:*", "Resource": "*"})


def referee_case(row: Row) -> Case:
    if row.principal is None:
        key_policy = DEFAULT_KEY_POLICY if row.action.startswith("kms:") else None
        return Case(row.action, row.resource, [row.policy], resource_policy=key_policy, context=row.context)
    return Case(row.action, row.resource, list(row.identity), resource_policy=row.policy,
                context=row.context, principal=row.principal)


@pytest.fixture(scope="module")
def referee() -> dict[str, Any]:
    return dict(zip((row.name for row in ROWS), simulate_detailed([referee_case(row) for row in ROWS])))


def test_the_table_is_large_and_names_are_unique() -> None:
    assert len(ROWS) >= 40
    assert len({row.name for row in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=[row.name for row in ROWS])
def test_our_evaluator_agrees_with_iam_simulate(row: Row, referee: dict[str, Any]) -> None:
    judged = referee[row.name]
    assert judged.ignored_context_keys == (), "the referee ignored a context key: the case is mistyped"
    assert (ours(row), judged.decision) == (row.expected, row.expected)
