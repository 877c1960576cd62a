"""Lint every IAM document `render` writes with parliament, and the one place findings are justified.

parliament (Duo Labs' IAM linter) runs with its community auditors and with this project's
private auditor (`provisioner/blueprint/parliament_auditors/`), which adds the checks the issue asks
for that parliament leaves out: wildcard actions, `iam:PassRole`, `NotAction`/`NotResource`.

A finding is split into items, one per action (or condition) it names, and each item must
appear in `JUSTIFIED` below, keyed by (document, issue, item), with the reason it is needed.
Anything else is an unjustified finding, and a justification no finding uses is stale.

Trust policies are resource policies: their implicit resource is the role they are attached
to. parliament only understands identity policies, so each trust statement is linted with
`Resource` set to that role's ARN; the principals and conditions are then checked as usual.
"""

from __future__ import annotations

import fnmatch
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRIVATE_AUDITORS = Path(__file__).with_name("parliament_auditors")

# (document, parliament issue, item) -> why it is needed. `document` is the rendered file's
# name without the provisioner-name prefix and `.json` (fnmatch patterns allowed); `item` is
# one lower-case action, or "action on required-format" for RESOURCE_MISMATCH.
JUSTIFIED: dict[tuple[str, str, str], str] = {
    ("*.trust", "CREDENTIALS_EXPOSURE", "sts:assumerole"): (
        "a trust policy's one action is sts:AssumeRole; who may assume is narrowed by its Principal "
        "(one service, or the account only with sts:ExternalId) and aws:SourceAccount"
    ),
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:createrole"): "creates the managed role (only that role's ARN)",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:putrolepolicy"): "writes the managed role's inline policy",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:updateassumerolepolicy"): "converges the managed role's trust policy",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:updaterole"): "sets MaxSessionDuration / description on the managed role",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:deleterolepolicy"): "removes inline policies the spec does not have",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:detachrolepolicy"): "removes attached policies the spec does not have",
    ("ensure-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:attachrolepolicy"): (
        "the step's own undo re-attaches the policies it detached when a later change to the role fails"
    ),
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:deleterole"): "deletes the managed role when this run created it",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:deleterolepolicy"): "IAM requires inline policies gone before DeleteRole",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:detachrolepolicy"): "IAM requires attached policies gone before DeleteRole",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:putrolepolicy"): "restores the inline policy a failed run replaced",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:attachrolepolicy"): "re-attaches policies a failed run detached",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:updateassumerolepolicy"): "restores the trust policy a failed run replaced",
    ("rollback-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:updaterole"): "restores MaxSessionDuration / description",
    ("teardown-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:deleterole"): "teardown deletes the managed role (spec's rollback instructions)",
    ("teardown-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:deleterolepolicy"): "IAM requires inline policies gone before DeleteRole",
    ("teardown-role-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "iam:detachrolepolicy"): "IAM requires attached policies gone before DeleteRole",
    ("states.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "logs:putresourcepolicy"): (
        "Step Functions log delivery to CloudWatch Logs needs it (AWS's documented policy for state machine logging)"
    ),
    ("create-or-adopt-table-fn.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "kms:creategrant"): (
        "DynamoDB creates a grant on a customer-managed key for the table it encrypts; only via dynamodb (kms:ViaService)"
    ),
    ("create-or-adopt-table-fn.policy", "UNKNOWN_CONDITION_FOR_ACTION", "kms:resourcealiases"): (
        "kms:ResourceAliases is a KMS condition key for every operation on a key; parliament's table lists it per service only"
    ),
    ("verify-fn.policy", "UNKNOWN_CONDITION_FOR_ACTION", "kms:resourcealiases"): (
        "kms:ResourceAliases is a KMS condition key for every operation on a key (DescribeKey too); parliament lists it per service only"
    ),
    ("drift-check-fn.policy", "UNKNOWN_CONDITION_FOR_ACTION", "kms:resourcealiases"): (
        "kms:ResourceAliases is a KMS condition key for every operation on a key (DescribeKey too); parliament lists it per service only"
    ),
    ("prove-access-fn.policy", "CREDENTIALS_EXPOSURE", "sts:assumerole"): (
        "the access check assumes the read-only role (its ARN only, with the configured ExternalId or the one wrong "
        "ExternalId whose refusal it proves) for reads at a reserved key and conditional writes that cannot succeed"
    ),
    ("prove-access-fn.policy", "RESOURCE_MISMATCH", "dynamodb:getresourcepolicy on arn:*:dynamodb:*:*:table/*/stream/*"): (
        "reads the tables' resource policies; a stream is GetResourcePolicy's other resource type"
    ),
    ("validate-input-fn.policy", "RESOURCE_MISMATCH", "states:describeexecution on arn:*:states:*:*:express:*:*:*"): (
        "the state machine is STANDARD; express executions are the alternative resource type"
    ),
    # The operator's credentials (operator.policy) and the StackSet roles of a fleet (fleet-*): what deploy and a
    # fleet's CloudFormation stacks create is the orchestrator's own IAM roles, so writing them is their job.
    **{(document, "PERMISSIONS_MANAGEMENT_ACTIONS", action): reason
       for document in ("operator.policy", "fleet-execution.policy")
       for action, reason in {
           "iam:createrole": "creates the orchestrator's roles (`<name>-*` only)",
           "iam:putrolepolicy": "writes the orchestrator roles' least-privilege inline policies (`<name>-*` only)",
           "iam:updateassumerolepolicy": "converges the orchestrator roles' trust policies (`<name>-*` only)",
           "iam:deleterolepolicy": "destroy (and a retired step) removes an orchestrator role's policy before the role",
           "iam:deleterole": "destroy (and a retired step) removes the orchestrator's roles (`<name>-*` only)",
           "iam:passrole": "hands each orchestrator role to the one service it is for (iam:PassedToService)",
           "sqs:createqueue": "creates the dead-letter queue with its policy (that queue only)",
           "sqs:setqueueattributes": "writes the dead-letter queue's policy: EventBridge may send to it for the rule only",
       }.items()},
    **{(document, "PASSROLE", "iam:passrole"): (
        "hands each orchestrator role (`<name>-*-fn`, `-states`, `-events`, `-scheduler`) to the one service its "
        "trust names, by iam:PassedToService"
    ) for document in ("operator.policy", "fleet-execution.policy")},
    # What the orchestrator's roles may do is the operator's to write: whoever holds these can give a `<name>-*`
    # role any permission, or change the code that runs with one. The administrator grants that trust with the
    # policy (docs/operator-permissions.md says so); a permissions boundary on the roles would cap it.
    **{("operator.policy", "PRIVILEGE_ESCALATION", action): (
        "deploy writes the orchestrator roles' policies and trust and the functions' code (`<name>-*` only); "
        "sts:AssumeRole is on the StackSet execution role name only, which parliament does not see"
    ) for action in ("iam:putrolepolicy", "iam:updateassumerolepolicy", "sts:assumerole", "lambda:updatefunctioncode")},
    **{("fleet-execution.policy", "PRIVILEGE_ESCALATION", action): (
        "CloudFormation creates the orchestrator's roles and functions in a target (`<name>-*` only); no role is "
        "passed to CloudFormation itself (iam:PassedToService names lambda, states, events, scheduler)"
    ) for action in ("cloudformation:createstack", "iam:passrole", "lambda:updatefunctioncode")},
    ("operator.policy", "CREDENTIALS_EXPOSURE", "sts:assumerole"): (
        "fleet run / fleet status assume the StackSet execution role (that role name only) in each target"
    ),
    ("fleet-administration.policy", "CREDENTIALS_EXPOSURE", "sts:assumerole"): (
        "the StackSet administration role's one job (AWS's documented policy): assume the execution role in the targets"
    ),
    ("operator.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "s3:putbucketpolicy"): (
        "fleet deploy lets the target accounts read the Lambda code in the per-Region artifact buckets (`<prefix>-*`)"
    ),
    ("operator.policy", "PERMISSIONS_MANAGEMENT_ACTIONS", "s3:putbucketpublicaccessblock"): (
        "fleet deploy blocks public access on each code bucket it creates (`<prefix>-*` only)"
    ),
    ("operator.policy", "RESOURCE_POLICY_PRIVILEGE_ESCALATION", "s3:putbucketpolicy"): (
        "the artifact buckets' policy lets the targets read the code; it is the operator's to write, in those buckets only"
    ),
    **{(document, "RESOURCE_MISMATCH", item): reason
       for document in ("operator.policy", "fleet-execution.policy")
       for item, reason in {
           "states:listexecutions on arn:*:states:*:*:maprun:*/*:*": (
               "lists the state machine's executions; a Map Run is ListExecutions' other resource type"),
           "states:describeexecution on arn:*:states:*:*:express:*:*:*": (
               "the state machine is STANDARD; express executions are the alternative resource type"),
       }.items()},
    ("fleet-execution.policy", "RESOURCE_MISMATCH", "dynamodb:getresourcepolicy on arn:*:dynamodb:*:*:table/*/stream/*"): (
        "the lease table's handler reads its resource policy; a stream is GetResourcePolicy's other resource type"
    ),
}


@dataclass(frozen=True)
class LintFinding:
    document: str
    issue: str
    item: str
    detail: Any

    def __str__(self) -> str:
        return f"{self.document}: {self.issue}: {self.item} ({self.detail})"


@dataclass
class LintResult:
    unjustified: list[LintFinding]
    stale_justifications: list[tuple[str, str, str]]


# The Region in an orchestrator role's name (`<name>-<region>-<suffix>`): a justification holds in every Region.
_REGION_PREFIX = re.compile(r"^[a-z]{2,4}(-[a-z]+){1,3}-\d{1,2}-")


def document_name(path: Path, provisioner_name: str) -> str:
    """`<name>-us-east-1-verify-fn.policy.json` -> `verify-fn.policy`."""
    return _REGION_PREFIX.sub("", path.name.removesuffix(".json").removeprefix(f"{provisioner_name}-"))


def _as_identity_policy(document: dict[str, Any], role_arn: str) -> dict[str, Any]:
    """A trust policy's statements with their implicit resource (the role) made explicit."""
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return {**document, "Statement": [{**statement, "Resource": role_arn} for statement in statements]}


def _items(finding: Any) -> list[str]:
    location = finding.location if isinstance(finding.location, dict) else {}
    if finding.issue == "RESOURCE_MISMATCH" and isinstance(finding.detail, list):
        return [f"{d['action']} on {d['required_format']}".lower() for d in finding.detail]
    if finding.issue == "RESOURCE_POLICY_PRIVILEGE_ESCALATION":
        # "Possible resource policy privilege escalation on ARN due to s3:DeleteObject not being allowed, but does
        # allow s3:PutBucketPolicy": the action that writes the resource policy.
        allowed = re.search(r"does allow (\S+)", str(finding.detail))
        if allowed:
            return [allowed.group(1).lower()]
    if finding.issue == "UNKNOWN_CONDITION_FOR_ACTION":
        return [str(finding.detail).split()[2].lower()]  # "Unknown condition KEY for action ACTION"
    if location.get("actions"):
        return sorted(str(action).lower() for action in location["actions"])
    return [json.dumps(finding.detail, sort_keys=True, default=str)]


def _analyze(text: str, document: str, *, private: bool, community: bool) -> list[Any]:
    from parliament import analyze_policy_string

    saved_path = list(sys.path)
    try:
        policy = analyze_policy_string(
            text,
            filepath=document,
            ignore_private_auditors=not private,
            private_auditors_custom_path=str(PRIVATE_AUDITORS) if private else None,
            include_community_auditors=community,
        )
    finally:
        sys.path[:] = saved_path  # parliament appends "." for private auditors on every call
    return policy.findings


def lint_policy(text: str, document: str) -> list[LintFinding]:
    """parliament's findings (core, private and community auditors) on one document, one item each."""
    findings = _analyze(text, document, private=True, community=False)
    # The community auditors expand a wildcard action to every AWS action (seconds per document);
    # a wildcard is already a finding no justification covers, so they add nothing then.
    if not any(f.issue == "WILDCARD_ACTION" for f in findings):
        findings += _analyze(text, document, private=False, community=True)
    # The second pass repeats the core findings; the detail can list dozens of actions and the
    # item already names the one that matters.
    unique = {(f.issue, item): str(f.detail)[:200] for f in findings for item in _items(f)}
    return [LintFinding(document, issue, item, detail) for (issue, item), detail in unique.items()]


def lint_rendered(iam_dir: Path, provisioner_name: str, account_id: str) -> list[LintFinding]:
    """Every finding over the policy and trust documents `render` wrote to `iam_dir`."""
    findings: list[LintFinding] = []
    for path in sorted(iam_dir.glob("*.json")):
        name = document_name(path, provisioner_name)
        text = path.read_text(encoding="utf-8")
        if path.name.endswith(".trust.json"):
            role = path.name.removesuffix(".trust.json")
            text = json.dumps(_as_identity_policy(json.loads(text), f"arn:aws:iam::{account_id}:role/{role}"))
        findings.extend(lint_policy(text, name))
    return findings


def is_justified(finding: LintFinding) -> bool:
    return any(
        issue == finding.issue and item == finding.item and fnmatch.fnmatchcase(finding.document, document)
        for document, issue, item in JUSTIFIED
    )


def check(findings: list[LintFinding]) -> LintResult:
    used = {
        key
        for key in JUSTIFIED
        for f in findings
        if key[1] == f.issue and key[2] == f.item and fnmatch.fnmatchcase(f.document, key[0])
    }
    return LintResult(
        unjustified=[f for f in findings if not is_justified(f)],
        stale_justifications=sorted(set(JUSTIFIED) - used),
    )
