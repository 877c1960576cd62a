"""Effective access: what the read-only role can really do, shown by using it as the SSO handler will.

Its documents matching the spec is not enough: a table's resource policy, an attached policy, a
permissions boundary, an SCP or a key policy change what the role can do without changing its own
documents. So the check assumes the role with the ExternalId and, with that session, proves each grant
of the spec without writing a byte:

- reads (GetItem, BatchGetItem, Query on the table and each index, a COUNT Scan filtered on it) at a
  reserved key no application item uses;
- writes as conditional writes whose condition cannot hold (`attribute_exists(k) AND
  attribute_not_exists(k)`): DynamoDB authorizes a request before it evaluates its condition, and a failed
  condition writes no item and no stream record, so ConditionalCheckFailedException means "allowed, and
  nothing written", AccessDeniedException "denied";
- what must be denied, or cannot be probed safely (S3 writes, DeleteTable, BatchWriteItem, metrics outside
  the namespace), is asked of IAM's own evaluator, SimulatePrincipalPolicy on the role. AWS accepts a
  ResourcePolicy there only with an IAM user as CallerArn, so a table's resource policy is read instead
  (GetResourcePolicy) and every statement that would let the role, its account or anyone do what the spec
  denies is reported;
- assuming the role with a wrong ExternalId must be refused: a trust policy that lets the account in
  without the ExternalId lets it in with any.

Each result is a Grant: a resource, an action, what the spec expects, what AWS showed, and the answer that
proved it. A grant that is not as expected is a finding; `diff.diff_access` turns findings into differences.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lambdas.core.aws_errors import ACCESS_DENIED_CODES, as_provisioner_error, error_code
from lambdas.core.desired import DesiredState, KeyAttribute, TableSpec
from lambdas.core.diff import NOT_CHECKED, role_resource, table_resource
from lambdas.core.errors import NotYetVisible, ProvisionerError

ALLOWED, DENIED = "allowed", "denied"
RESERVED_KEY = "fileferry-access-check"  # a key value no application item uses (S keys; N and B below)
_RESERVED_NUMBER = "-9.87654321e-120"
_RESERVED_BINARY = b"fileferry-access-check"
PROBE_ATTRIBUTE = "fileferry_access_check"
SESSION_NAME = "fileferry-access-check"  # what the session is, in CloudTrail and in the role's last use
SESSION_SECONDS = 900  # STS's minimum; the session is used for a few calls
# Actions on a table the spec never grants the role (its grants are item actions only).
DENIED_TABLE_ACTIONS = ("dynamodb:DeleteTable", "dynamodb:UpdateTable", "dynamodb:PutResourcePolicy",
                        "dynamodb:DeleteResourcePolicy", "dynamodb:UpdateTimeToLive", "dynamodb:RestoreTableFromBackup")
# Granted, but not provable without writing: simulated.
SIMULATED_TABLE_GRANTS = ("dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem")
OTHER_NAMESPACE = "FileFerry-access-check-other"


# The access check's Map runs at most this many iterations, whatever the number of tables: each iteration
# proves a batch, so a run's history grows with the poll's events per table, not with the check's
# (state_machine.history_model). Five tables: five batches of one, so a transient fault retries one table.
ACCESS_BATCHES = 8


def access_batches(tables: list[str]) -> list[list[str]]:
    """The tables in at most ACCESS_BATCHES batches, in order, sizes differing by at most one."""
    count = min(len(tables), ACCESS_BATCHES)
    size, larger = divmod(len(tables), count) if count else (0, 0)
    batches, start = [], 0
    for number in range(count):
        end = start + size + (1 if number < larger else 0)
        batches.append(tables[start:end])
        start = end
    return batches


def configured_external_id(desired: DesiredState) -> str:
    """The ExternalId the role's trust policy requires of the account (sso.external_id)."""
    for statement in desired.role.trust_policy.get("Statement", []):
        wanted = (statement.get("Condition") or {}).get("StringEquals", {}).get("sts:ExternalId")
        if wanted:
            return wanted if isinstance(wanted, str) else wanted[0]
    return ""


def wrong_external_id(external_id: str) -> str:
    """An ExternalId that is certainly not the configured one."""
    return f"not-{external_id}"


@dataclass(frozen=True)
class Account:
    """The account the function runs in (GetCallerIdentity), where the tables and the role are."""

    id: str
    partition: str

    @classmethod
    def of(cls, sts: Any) -> Account:
        try:
            arn = sts.get_caller_identity()["Arn"]
        except (ClientError, BotoCoreError) as err:
            raise as_provisioner_error(err, "GetCallerIdentity") from err
        parts = arn.split(":")
        return cls(parts[4], parts[1])

    def role_arn(self, name: str) -> str:
        return f"arn:{self.partition}:iam::{self.id}:role/{name}"

    def table_arn(self, region: str, name: str) -> str:
        return f"arn:{self.partition}:dynamodb:{region}:{self.id}:table/{name}"


@dataclass(frozen=True)
class Grant:
    """One thing the spec says the role may or may not do, and what AWS showed."""

    resource: str  # table/NAME or role/NAME
    action: str  # the IAM action, e.g. dynamodb:PutItem
    expected: str  # allowed | denied
    actual: str  # allowed | denied | not-checked
    proof: str  # the answer that showed it
    cause: str | None = None  # the likely cause of a finding, where it can be seen
    kind: str = "access"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


# -- assuming the role ----------------------------------------------------------------------------

def assume(sts: Any, role_arn: str, external_id: str | None) -> tuple[dict[str, str] | None, str]:
    """(credentials, proof): credentials when AWS let the session in, None with the refusal otherwise."""
    request: dict[str, Any] = {"RoleArn": role_arn, "RoleSessionName": SESSION_NAME, "DurationSeconds": SESSION_SECONDS}
    if external_id is not None:
        request["ExternalId"] = external_id
    try:
        credentials = sts.assume_role(**request)["Credentials"]
    except ClientError as err:
        if error_code(err) in ACCESS_DENIED_CODES:
            return None, _refusal(err)
        raise as_provisioner_error(err, "AssumeRole") from err
    except BotoCoreError as err:
        raise as_provisioner_error(err, "AssumeRole") from err
    return {"aws_access_key_id": credentials["AccessKeyId"], "aws_secret_access_key": credentials["SecretAccessKey"],
            "aws_session_token": credentials["SessionToken"]}, "AssumeRole answered with credentials"


def _refusal(err: ClientError) -> str:
    message = err.response.get("Error", {}).get("Message", "")
    return f"{error_code(err)}: {message}" if message else error_code(err)


# Where AWS's access-denied messages say what denied (IAM User Guide, "Access denied error messages").
_CAUSES = (
    ("resource-based policy", "the table's resource policy"),
    ("permissions boundary", "a permissions boundary on the role"),
    ("service control policy", "a service control policy of the organization"),
    ("resource control policy", "a resource control policy of the organization"),
    ("session policy", "a session policy"),
    ("identity-based policy", "the role's own policies (its inline policy or an attached managed policy)"),
)


UNSEEN = "AWS's refusal names no policy: something the check cannot see (a service control or resource control policy?)"


def likely_cause(proof: str, has_resource_policy: bool = False) -> str:
    for words, cause in _CAUSES:
        if words in proof:
            return cause
    if has_resource_policy:
        return "the table's resource policy, or a policy the check cannot see (a service control policy)"
    return UNSEEN


# -- one table ------------------------------------------------------------------------------------

def reserved_value(key: KeyAttribute) -> dict[str, Any]:
    if key.type == "N":
        return {"N": _RESERVED_NUMBER}
    if key.type == "B":
        return {"B": _RESERVED_BINARY}
    return {"S": RESERVED_KEY}


def reserved_key(spec: TableSpec) -> dict[str, Any]:
    key = {spec.hash_key.name: reserved_value(spec.hash_key)}
    if spec.range_key is not None:
        key[spec.range_key.name] = reserved_value(spec.range_key)
    return key


_NEVER = "attribute_exists(#k) AND attribute_not_exists(#k)"  # a condition that cannot hold


def _probes(spec: TableSpec) -> list[tuple[str, str, Callable[[Any], Any]]]:
    """(action, what it does, call): reads at the reserved key, writes that cannot succeed."""
    key, hash_name = reserved_key(spec), spec.hash_key.name
    names, value = {"#k": hash_name}, {":k": reserved_value(spec.hash_key)}
    probes: list[tuple[str, str, Callable[[Any], Any]]] = [
        ("dynamodb:GetItem", "GetItem", lambda c: c.get_item(TableName=spec.name, Key=key, ProjectionExpression="#k",
                                                             ExpressionAttributeNames=names)),
        ("dynamodb:BatchGetItem", "BatchGetItem", lambda c: c.batch_get_item(RequestItems={spec.name: {
            "Keys": [key], "ProjectionExpression": "#k", "ExpressionAttributeNames": names}})),
        ("dynamodb:Query", "Query", lambda c: c.query(TableName=spec.name, KeyConditionExpression="#k = :k", Limit=1,
                                                      Select="COUNT", ExpressionAttributeNames=names,
                                                      ExpressionAttributeValues=value)),
        # COUNT and a filter on the reserved key: no item's data is returned.
        ("dynamodb:Scan", "Scan", lambda c: c.scan(TableName=spec.name, Limit=1, Select="COUNT", FilterExpression="#k = :k",
                                                   ExpressionAttributeNames=names, ExpressionAttributeValues=value)),
    ]
    for index in spec.indexes:
        index_names, index_value = {"#i": index.hash_key.name}, {":i": reserved_value(index.hash_key)}
        probes.append((f"dynamodb:Query index/{index.name}", f"Query {index.name}", lambda c, i=index, n=index_names, v=index_value: c.query(
            TableName=spec.name, IndexName=i.name, KeyConditionExpression="#i = :i", Limit=1, Select="COUNT",
            ExpressionAttributeNames=n, ExpressionAttributeValues=v)))
    probes += [
        ("dynamodb:PutItem", "PutItem", lambda c: c.put_item(TableName=spec.name, Item=key, ConditionExpression=_NEVER,
                                                             ExpressionAttributeNames=names)),
        ("dynamodb:UpdateItem", "UpdateItem", lambda c: c.update_item(
            TableName=spec.name, Key=key, UpdateExpression="SET #p = :p", ConditionExpression=_NEVER,
            ExpressionAttributeNames={**names, "#p": PROBE_ATTRIBUTE}, ExpressionAttributeValues={":p": {"S": "never written"}})),
        ("dynamodb:DeleteItem", "DeleteItem", lambda c: c.delete_item(TableName=spec.name, Key=key, ConditionExpression=_NEVER,
                                                                      ExpressionAttributeNames=names)),
    ]
    return probes


def _probe(client: Any, what: str, call: Callable[[Any], Any]) -> tuple[str, str]:
    """(actual, proof) of one probe; a transient failure raises (the state machine retries the step)."""
    try:
        call(client)
    except ClientError as err:
        code = error_code(err)
        if code == "ConditionalCheckFailedException":
            return ALLOWED, f"{what}: ConditionalCheckFailedException (authorized; nothing written)"
        if code in ACCESS_DENIED_CODES:
            return DENIED, f"{what}: {_refusal(err)}"
        converted = as_provisioner_error(err, what)
        if isinstance(converted, ProvisionerError) and converted.transient:
            raise converted from err
        return NOT_CHECKED, f"{what}: {code}"
    except BotoCoreError as err:
        raise as_provisioner_error(err, what) from err
    return ALLOWED, f"{what} answered"


def prove_tables_access(sts: Any, dynamodb: Any, session_client: Callable[[dict[str, str]], Any], desired: DesiredState,
                        tables: list[str], account: Account, external_id: str) -> dict[str, Any]:
    """One batch of tables (access_batches): every grant of the spec on each, proven with one session of the
    role; nothing is written. It runs after the role's check, which waited for IAM: it reports what it sees.

    `dynamodb` is the function's own client (GetResourcePolicy); `session_client(credentials)` makes a
    DynamoDB client of the role's session.
    """
    role_arn = account.role_arn(desired.role.name)
    credentials, proof = assume(sts, role_arn, external_id)
    client = session_client(credentials) if credentials is not None else None
    grants: list[Grant] = []
    for table in tables:
        spec, resource = desired.table(table), table_resource(table)
        policy = resource_policy(dynamodb, account.table_arn(desired.region, table), table)
        grants += policy_findings(resource, policy, role_arn, account.id) if policy else []
        for action, what, call in _probes(spec):
            if client is None:
                grants.append(Grant(resource, action, ALLOWED, NOT_CHECKED, f"AssumeRole refused: {proof}",
                                    "the role's trust policy, or the ExternalId it requires"))
                continue
            actual, shown = _probe(client, what, call)
            grants.append(Grant(resource, action, ALLOWED, actual, shown,
                                None if actual == ALLOWED else likely_cause(shown, has_resource_policy=policy is not None)))
    return {"kind": "tables-access", "tables": tables, "grants": [grant.as_dict() for grant in grants]}


def resource_policy(dynamodb: Any, table_arn: str, table: str) -> dict[str, Any] | None:
    """The table's resource-based policy, or None (none, or no table: the diff reports a missing table)."""
    try:
        text = dynamodb.get_resource_policy(ResourceArn=table_arn)["Policy"]
    except ClientError as err:
        if error_code(err) in ("PolicyNotFoundException", "ResourceNotFoundException"):
            return None
        raise as_provisioner_error(err, f"GetResourcePolicy {table}") from err
    except BotoCoreError as err:
        raise as_provisioner_error(err, f"GetResourcePolicy {table}") from err
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _iam_like(pattern: str, value: str) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE | re.DOTALL) is not None


def _covers_role(principal: Any, role_arn: str, account_id: str) -> str | None:
    """Who a statement's Principal lets in that includes the role: "anyone", "the account", "the role"."""
    if principal == "*":
        return "anyone"
    if not isinstance(principal, dict):
        return None
    for value in _as_list(principal.get("AWS", [])):
        if value == "*":
            return "anyone"
        if value == account_id or re.fullmatch(rf"arn:[^:]+:iam::{account_id}:root", value or ""):
            return "the account"
        if value == role_arn or (isinstance(value, str) and value.startswith(role_arn.replace(":role/", ":assumed-role/", 1) + "/")):
            return "the role"
    return None


def policy_findings(resource: str, policy: dict[str, Any], role_arn: str, account_id: str) -> list[Grant]:
    """Each Allow statement of a table's resource policy that lets the role, its account or anyone do what
    the spec denies (a statement with conditions still may: it is reported too)."""
    statements = policy.get("Statement", [])
    findings = []
    for number, statement in enumerate(_as_list(statements)):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        who = _covers_role(statement.get("Principal"), role_arn, account_id)
        if who is None:
            continue
        if "Action" in statement:
            granted = [a for a in DENIED_TABLE_ACTIONS if any(_iam_like(p, a) for p in _as_list(statement["Action"]))]
        else:
            granted = [a for a in DENIED_TABLE_ACTIONS if not any(_iam_like(p, a) for p in _as_list(statement.get("NotAction", [])))]
        sid = statement.get("Sid") or f"#{number + 1}"
        conditional = " (under conditions)" if statement.get("Condition") else ""
        for action in granted:
            findings.append(Grant(resource, action, DENIED, ALLOWED,
                                  f"GetResourcePolicy: statement {sid} allows {action} to {who}{conditional}",
                                  "the table's resource policy"))
    return findings


# -- the role -------------------------------------------------------------------------------------

def prove_role_access(sts: Any, iam: Any, session_client: Callable[[dict[str, str]], Any], desired: DesiredState,
                      account: Account, external_id: str, wait_for_propagation: bool) -> dict[str, Any]:
    """The role-wide grants: the trust policy's ExternalId, and what SimulatePrincipalPolicy shows for what
    cannot be probed safely (S3 writes, DeleteTable, BatchWriteItem, metrics outside the namespace).

    It runs before the tables' probes: with `wait_for_propagation` (the run has just created or changed the
    role), a refused AssumeRole or a refused read of the first table raises NotYetVisible, so the state
    machine asks again until IAM has propagated the change, and the tables' probes then see it settled.
    """
    resource, role_arn = role_resource(desired.role.name), account.role_arn(desired.role.name)
    grants: list[Grant] = []
    credentials, proof = assume(sts, role_arn, external_id)
    if credentials is None and wait_for_propagation:
        raise NotYetVisible(f"the role cannot be assumed yet ({proof}); IAM may still be propagating it")
    if credentials is not None and wait_for_propagation and desired.tables:
        action, what, call = _probes(desired.tables[0])[0]
        actual, shown = _probe(session_client(credentials), what, call)
        if actual == DENIED:
            raise NotYetVisible(f"{shown}; the role's permissions may still be propagating")
    grants.append(Grant(resource, "sts:AssumeRole with the ExternalId", ALLOWED, ALLOWED if credentials else DENIED,
                        proof, None if credentials else "the role's trust policy, or the ExternalId it requires"))
    wrong, proof = assume(sts, role_arn, wrong_external_id(external_id))
    grants.append(Grant(resource, "sts:AssumeRole with a wrong ExternalId", DENIED, ALLOWED if wrong else DENIED, proof,
                        "the role's trust policy lets the account (or anyone) in without the ExternalId" if wrong else None))
    for question in simulation_questions(desired, account):
        grants += simulate(iam, role_arn, question)
    return {"kind": "role-access", "role": desired.role.name, "grants": [grant.as_dict() for grant in grants]}


@dataclass(frozen=True)
class Question:
    """One SimulatePrincipalPolicy call: actions x resources, the decisions the spec expects, the context."""

    expected: dict[str, str]  # action -> allowed | denied
    resources: tuple[tuple[str, str], ...]  # (resource ARN, report resource)
    context: tuple[tuple[str, str], ...] = ()


def simulation_questions(desired: DesiredState, account: Account) -> list[Question]:
    partition = account.partition
    role = role_resource(desired.role.name)
    buckets = _readable_buckets(desired)
    objects = tuple((f"arn:{partition}:s3:::{b}/fileferry-access-check", role) for b in buckets)
    bucket_arns = tuple((f"arn:{partition}:s3:::{b}", role) for b in buckets)
    tables = tuple((account.table_arn(desired.region, t), table_resource(t)) for t in desired.table_names())
    namespace = desired.metrics_namespace
    return [
        Question({"s3:GetObject": ALLOWED, "s3:PutObject": DENIED, "s3:DeleteObject": DENIED}, objects),
        Question({"s3:ListBucket": ALLOWED}, bucket_arns),
        Question({**{a: ALLOWED for a in SIMULATED_TABLE_GRANTS}, "dynamodb:DeleteTable": DENIED}, tables),
        Question({"cloudwatch:PutMetricData": ALLOWED}, (("*", role),), (("cloudwatch:namespace", namespace),)),
        Question({"cloudwatch:PutMetricData": DENIED}, (("*", role),), (("cloudwatch:namespace", OTHER_NAMESPACE),)),
    ]


def _readable_buckets(desired: DesiredState) -> list[str]:
    """The buckets the role may read, from its policy; "*" becomes an example bucket name."""
    for statement in desired.role.inline_policy.get("Statement", []):
        if statement.get("Sid") == "ListReadableBuckets":
            names = [arn.split(":::", 1)[1] for arn in _as_list(statement.get("Resource", []))]
            return [("fileferry-access-check-example" if name == "*" else name) for name in names]
    return ["fileferry-access-check-example"]


def simulate(iam: Any, role_arn: str, question: Question) -> list[Grant]:
    """One SimulatePrincipalPolicy call, every page; a refusal makes each answer not-checked."""
    arns = [arn for arn, _ in question.resources]
    report = dict(question.resources)
    request: dict[str, Any] = {"PolicySourceArn": role_arn, "ActionNames": sorted(question.expected), "ResourceArns": arns}
    if question.context:
        request["ContextEntries"] = [{"ContextKeyName": k, "ContextKeyValues": [v], "ContextKeyType": "string"}
                                     for k, v in question.context]
    context = "".join(f" with {k}={v}" for k, v in question.context)
    try:
        results = []
        for page in iam.get_paginator("simulate_principal_policy").paginate(**request):
            results += page.get("EvaluationResults", [])
    except ClientError as err:
        if error_code(err) in ACCESS_DENIED_CODES or error_code(err) in ("NoSuchEntity", "InvalidInput"):
            return [Grant(report[arn], f"{action}{context}", expected, NOT_CHECKED, f"SimulatePrincipalPolicy: {_refusal(err)}",
                          "the role does not exist" if error_code(err) == "NoSuchEntity" else None)
                    for action, expected in sorted(question.expected.items()) for arn in arns]
        raise as_provisioner_error(err, "SimulatePrincipalPolicy") from err
    except BotoCoreError as err:
        raise as_provisioner_error(err, "SimulatePrincipalPolicy") from err
    grants = []
    for result in results:
        # One result per action; with resource ARNs, each one's decision is in ResourceSpecificResults.
        action = result["EvalActionName"]
        per_resource = [(r["EvalResourceName"], r["EvalResourceDecision"], r.get("MatchedStatements", []),
                         r.get("MissingContextValues", [])) for r in result.get("ResourceSpecificResults") or []]
        if not per_resource:
            per_resource = [(arns[0] if len(arns) == 1 else "*", result["EvalDecision"], result.get("MatchedStatements", []),
                             result.get("MissingContextValues", []))]
        expected = question.expected.get(action, DENIED)
        for arn, decision, statements, missing in per_resource:
            actual = ALLOWED if decision == "allowed" else DENIED
            matched = ", ".join(s["SourcePolicyId"] for s in statements if s.get("SourcePolicyId"))
            shown = f"SimulatePrincipalPolicy: {decision}" + (f" ({matched})" if matched else "") + \
                (f"; missing context {', '.join(missing)}" if missing else "")
            cause = None
            if actual != expected:
                cause = ("the role's own policies (its inline policy or an attached managed policy)" if actual == ALLOWED
                         else "the role's own policies, or a permissions boundary on it")
            grants.append(Grant(report.get(arn, role_resource(role_arn.rsplit("/", 1)[-1])), f"{action}{context}",
                                expected, actual, shown, cause))
    return grants
