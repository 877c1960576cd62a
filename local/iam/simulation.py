"""iam:SimulatePrincipalPolicy, which moto does not implement, decided by local/iam/policy.py.

AWS behaviour reproduced (IAM API reference: SimulatePrincipalPolicy, EvaluationResult,
ResourceSpecificResult, Statement, Position, ContextEntry; botocore's iam model carries the same text):

- The policies simulated are the PolicySourceArn entity's (a role's or user's inline and attached
  managed policies, a user's groups' too, a group's own), plus each PolicyInputList document. A
  permissions boundary caps them: the role's own, or the PermissionsBoundaryPolicyInputList one, which
  replaces it ("You can input only one permissions boundary"). An unknown entity is NoSuchEntity.
- Each action is evaluated on each resource (ResourceArns, default `*`), with the ContextEntries as the
  request's condition keys and nothing else. One EvaluationResult per action: the most restrictive
  decision over its resources (explicitDeny, then implicitDeny, then allowed), with the matched
  statements that made it and the missing context keys of all resources; with a list of ARNs, one
  ResourceSpecificResult per resource. EvalResourceName is `*` for a simulation of `*`.
- MatchedStatements: the deny statements for an explicitDeny, else the allow statements that allowed;
  none for an implicitDeny. SourcePolicyId is an inline policy's name, a managed policy's ARN,
  `PolicyInputList.N`, `PermissionsBoundaryPolicyInputList.1` or `ResourcePolicy`; SourcePolicyType
  `role`/`user`/`group` (inline), `aws-managed`/`user-managed`, `none` (an input) or `resource`.
  Start and end positions are 1-based lines and columns just past the statement's `{` and `}`, as
  in the AWS CLI's simulate-custom-policy example (a one-line statement from column 37 to 166 is
  reported as 38 and 167).
- MissingContextValues: the condition keys that statements matching the action and resource (and, in
  the resource policy, the caller) refer to and the ContextEntries do not supply.
- ResourcePolicy: evaluated as if every simulated resource had it; simulated for IAM users only
  (the operation's documentation), so the caller (CallerArn, else PolicySourceArn) must be a user;
  it must apply to every simulated resource; CallerArn cannot be an assumed role, a federated user
  or a service principal. Each is refused as InvalidInput. Within the account an Allow in either the
  identity policies or the resource policy suffices; across accounts (ResourceOwner, or the ARN's
  account) both must allow.
- MaxItems (1 to 1000, default 100) results per page, IsTruncated and Marker.

Not simulated: SCPs and RCPs (the emulator has no Organizations), PolicyExclusionList, the ARN
templates AWS puts in EvalResourceName for a list of ARNs (the Service Authorization Reference's
resource formats are not in the emulator), EvalDecisionDetails. ResourceHandlingOption is accepted
and ignored.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from moto.core.responses import ActionResult
from moto.iam.exceptions import InvalidInput, NoSuchEntity, ValidationError
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse

from local import patching
from local.iam.policy import AuthRequest, ContextValue, as_date, names_principal, statement_applies, statements_of

ALLOWED, EXPLICIT_DENY, IMPLICIT_DENY = "allowed", "explicitDeny", "implicitDeny"
_RESTRICTIVENESS = {ALLOWED: 0, IMPLICIT_DENY: 1, EXPLICIT_DENY: 2}
DEFAULT_PAGE, MAX_PAGE = 100, 1000

_ENTITY_ARN = re.compile(r"^arn:(?P<partition>[^:]+):iam::(?P<account>[0-9]{12}):(?P<kind>user|group|role)(?P<path>/(?:.*/)?)(?P<name>[^/]+)$")


def install() -> None:
    patching.patch(IamResponse, "simulate_principal_policy", _simulate_principal_policy)


# -- the policies ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Position:
    line: int
    column: int

    def as_dict(self) -> dict[str, int]:
        return {"Line": self.line, "Column": self.column}


@dataclass(frozen=True)
class Source:
    """One policy of the simulation, with where each of its statements is in its text."""

    policy_id: str
    policy_type: str  # user | group | role | aws-managed | user-managed | resource | none
    statements: tuple[dict[str, Any], ...]
    spans: tuple[tuple[Position, Position] | None, ...]

    def matched(self, index: int) -> dict[str, Any]:
        entry: dict[str, Any] = {"SourcePolicyId": self.policy_id, "SourcePolicyType": self.policy_type}
        span = self.spans[index] if index < len(self.spans) else None
        if span is not None:
            entry["StartPosition"], entry["EndPosition"] = span[0].as_dict(), span[1].as_dict()
        return entry


def source(policy_id: str, policy_type: str, document: str) -> Source:
    """A policy of the simulation; a document that is not a JSON policy is InvalidInput."""
    text = unquote(document) if document.lstrip().startswith("%7B") else document
    try:
        statements = tuple(statements_of(text))
    except (ValueError, AttributeError) as err:
        raise InvalidInput(f"The policy {policy_id} is not a valid JSON policy document: {err}") from err
    if not all(isinstance(statement, dict) for statement in statements):
        raise InvalidInput(f"The policy {policy_id} has a Statement that is not an object.")
    return Source(policy_id, policy_type, statements, tuple(statement_spans(text)))


def statement_spans(text: str) -> list[tuple[Position, Position] | None]:
    """Where each statement of the policy text is: positions just past its `{` and its `}`."""
    decoder = json.JSONDecoder()

    def skip(i: int) -> int:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        return i

    def after(i: int) -> Position:  # 1-based line and column of the character after text[i]
        line_start = text.rfind("\n", 0, i) + 1
        return Position(text.count("\n", 0, i) + 1, i - line_start + 2)

    def span_at(i: int) -> tuple[tuple[Position, Position] | None, int]:
        _, end = decoder.raw_decode(text, i)
        return ((after(i), after(end - 1)) if text[i] == "{" else None), end

    try:
        i = skip(0)
        if text[i] != "{":
            return []
        i = skip(i + 1)
        while i < len(text) and text[i] != "}":
            key, i = decoder.raw_decode(text, i)
            i = skip(skip(i) + 1)  # past the ':'
            if key != "Statement":
                _, i = decoder.raw_decode(text, i)
            elif text[i] == "[":
                spans: list[tuple[Position, Position] | None] = []
                i = skip(i + 1)
                while text[i] != "]":
                    span, i = span_at(i)
                    spans.append(span)
                    i = skip(i)
                    i = skip(i + 1) if text[i] == "," else i
                return spans
            else:
                return [span_at(i)[0]]
            i = skip(i)
            i = skip(i + 1) if text[i] == "," else i
    except (ValueError, IndexError):
        pass
    return []


def _managed(policy: Any) -> Source:
    kind = "aws-managed" if policy.arn.split(":")[4] == "aws" else "user-managed"
    return source(policy.arn, kind, _default_document(policy))


def _default_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return version.document if isinstance(version.document, str) else json.dumps(version.document)
    return '{"Statement": []}'


def _entity_sources(entity: Any, kind: str) -> list[Source]:
    sources = [source(name, kind, document) for name, document in entity.policies.items()]
    return sources + [_managed(policy) for policy in entity.managed_policies.values()]


@dataclass(frozen=True)
class Principal:
    arn: str
    account: str
    identity: list[Source]
    boundary: Source | None


def principal(policy_source_arn: str) -> Principal:
    """The entity's identity policies and permissions boundary; NoSuchEntity if it does not exist."""
    match = _ENTITY_ARN.match(policy_source_arn or "")
    if match is None:
        raise InvalidInput(f"PolicySourceArn {policy_source_arn} is not the ARN of an IAM user, group or role.")
    backend = iam_backends[match["account"]][match["partition"]]
    kind, name = match["kind"], match["name"]
    try:
        entity = {"role": backend.get_role, "user": backend.get_user, "group": backend.get_group}[kind](name)
    except Exception:
        entity = None
    if entity is None or getattr(entity, "arn", policy_source_arn) != policy_source_arn:
        raise NoSuchEntity(f"The {kind} with name {name} cannot be found.")
    identity = _entity_sources(entity, kind)
    if kind == "user":
        for group in backend.get_groups_for_user(name):
            identity += _entity_sources(group, "group")
    boundary = None
    boundary_arn = getattr(entity, "permissions_boundary_arn", None) if kind == "role" else None
    if boundary_arn:
        try:
            boundary = _managed(backend.get_policy(boundary_arn))
        except Exception:  # a boundary whose policy is gone allows nothing
            boundary = Source(boundary_arn, "user-managed", (), ())
    return Principal(policy_source_arn, match["account"], identity, boundary)


# -- the request's context ----------------------------------------------------------------------

def _valid(kind: str, value: str) -> Any:
    """One ContextKeyValues value as local/iam/policy.py's operators read that type; ValueError if not one."""
    if kind == "boolean":
        if value.lower() not in ("true", "false"):
            raise ValueError("not true or false")
        return value.lower() == "true"
    if kind == "numeric":
        float(value)
    elif kind == "ip":
        ipaddress.ip_address(value)
    elif kind == "binary":
        return base64.b64decode(value, validate=True)
    elif kind == "date":
        as_date(value)
    return value


def context(entries: Sequence[Mapping[str, Any]] | None) -> dict[str, ContextValue]:
    """The ContextEntries as condition keys: a *List type is multivalued, the others one value."""
    found: dict[str, ContextValue] = {}
    for entry in entries or ():
        name, kind = entry.get("ContextKeyName"), entry.get("ContextKeyType") or "string"
        values = list(entry.get("ContextKeyValues") or [])
        if not name:
            raise InvalidInput("A ContextEntry has no ContextKeyName.")
        base = kind[: -len("List")] if kind.endswith("List") else kind
        try:
            converted = [_valid(base, str(value)) for value in values]
        except (ValueError, TypeError, binascii.Error) as err:
            raise InvalidInput(f"A value of context key {name} is not of its ContextKeyType {kind}: {err}") from err
        if kind.endswith("List") or len(converted) != 1:
            found[name] = converted
        else:
            found[name] = converted[0]
    return found


# -- evaluation ---------------------------------------------------------------------------------

@dataclass
class Outcome:
    """The decision on one (action, resource)."""

    resource: str
    decision: str
    matched: list[dict[str, Any]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    allowed_by_boundary: bool | None = None

    def as_resource_result(self) -> dict[str, Any]:
        result: dict[str, Any] = {"EvalResourceName": self.resource, "EvalResourceDecision": self.decision,
                                  "MatchedStatements": self.matched, "MissingContextValues": self.missing}
        if self.allowed_by_boundary is not None:
            result["PermissionsBoundaryDecisionDetail"] = {"AllowedByPermissionsBoundary": self.allowed_by_boundary}
        return result


@dataclass(frozen=True)
class Simulation:
    identity: list[Source]
    boundary: Source | None
    resource_policy: Source | None
    caller: str
    caller_account: str
    resource_owner: str | None
    context: dict[str, ContextValue]

    def applies(self, source: Source, statement: dict[str, Any], request: AuthRequest) -> bool:
        if source is self.resource_policy and not names_principal(statement, {"AWS": [self.caller]}):
            return False
        return statement_applies(statement, request)

    def matches(self, sources: Sequence[Source], request: AuthRequest, effect: str) -> list[tuple[Source, int]]:
        return [(src, i) for src in sources for i, statement in enumerate(src.statements)
                if statement.get("Effect") == effect and self.applies(src, statement, request)]

    def missing_keys(self, sources: Sequence[Source], request: AuthRequest) -> list[str]:
        """Condition keys of the statements that match by action and resource, absent from the context."""
        supplied = {key.lower() for key in self.context}
        missing: dict[str, str] = {}
        for src in sources:
            for statement in src.statements:
                unconditional = {k: v for k, v in statement.items() if k != "Condition"}
                if not self.applies(src, unconditional, request):
                    continue
                for keys in (statement.get("Condition") or {}).values():
                    for key in keys if isinstance(keys, dict) else ():
                        if key.lower() not in supplied:
                            missing.setdefault(key.lower(), key)
        return list(missing.values())

    def resource_account(self, resource: str) -> str:
        parts = resource.split(":")
        if len(parts) > 4 and parts[0] == "arn" and parts[4].isdigit():
            return parts[4]
        return self.resource_owner or self.caller_account

    def outcome(self, action: str, resource: str) -> Outcome:
        request = AuthRequest(action, resource, self.context)
        boundary = [self.boundary] if self.boundary is not None else []
        resource_policy = [self.resource_policy] if self.resource_policy is not None else []
        everything = self.identity + boundary + resource_policy
        missing = self.missing_keys(everything, request)
        allowed_by_boundary = None
        if self.boundary is not None:
            allowed_by_boundary = (bool(self.matches(boundary, request, "Allow"))
                                   and not self.matches(boundary, request, "Deny"))
        denies = self.matches(everything, request, "Deny")
        if denies:
            return Outcome(resource, EXPLICIT_DENY, [src.matched(i) for src, i in denies], missing, allowed_by_boundary)
        identity_allows = self.matches(self.identity, request, "Allow") if allowed_by_boundary is not False else []
        resource_allows = self.matches(resource_policy, request, "Allow")
        if self.resource_policy is not None and self.resource_account(resource) != self.caller_account:
            allowing = identity_allows + resource_allows if identity_allows and resource_allows else []
        else:
            allowing = identity_allows + resource_allows
        decision = ALLOWED if allowing else IMPLICIT_DENY
        return Outcome(resource, decision, [src.matched(i) for src, i in allowing], missing, allowed_by_boundary)

    def result(self, action: str, resources: Sequence[str]) -> dict[str, Any]:
        """One action's EvaluationResult: the most restrictive decision over the resources."""
        outcomes = [self.outcome(action, resource) for resource in resources]
        decision = max((o.decision for o in outcomes), key=_RESTRICTIVENESS.__getitem__)
        matched: list[dict[str, Any]] = []
        missing: dict[str, str] = {}
        for o in outcomes:
            if o.decision == decision:
                matched += [m for m in o.matched if m not in matched]
            for key in o.missing:
                missing.setdefault(key.lower(), key)
        result: dict[str, Any] = {"EvalActionName": action, "EvalDecision": decision,
                                  "MatchedStatements": matched, "MissingContextValues": list(missing.values())}
        if list(resources) == ["*"]:
            result["EvalResourceName"] = "*"
        else:
            result["ResourceSpecificResults"] = [o.as_resource_result() for o in outcomes]
        if self.boundary is not None:
            result["PermissionsBoundaryDecisionDetail"] = {
                "AllowedByPermissionsBoundary": all(o.allowed_by_boundary for o in outcomes)}
        return result


def _caller(caller_arn: str | None, source_arn: str, has_resource_policy: bool) -> str:
    """The simulated caller, refused as AWS documents: never an assumed role, a federated user or a
    service; with a ResourcePolicy, an IAM user (resource-based policies are simulated for users only)."""
    if caller_arn and _ENTITY_ARN.match(caller_arn) is None:
        raise InvalidInput(f"CallerArn {caller_arn} is not the ARN of an IAM user, group or role; an assumed role, "
                           "a federated user or a service principal cannot be the simulated caller.")
    caller = caller_arn or source_arn
    if has_resource_policy and _ENTITY_ARN.match(caller)["kind"] != "user":
        raise InvalidInput("A ResourcePolicy is simulated for IAM users only: CallerArn is required and must be the "
                           f"ARN of an IAM user when PolicySourceArn ({source_arn}) is not one.")
    return caller


def _applies_to(resource_policy: Source, resource: str) -> bool:
    for statement in resource_policy.statements:
        if "Resource" in statement:
            patterns = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            if any(statement_applies({"Action": "*", "Resource": p}, AuthRequest("*", resource)) for p in patterns):
                return True
        elif "NotResource" in statement:
            if statement_applies({"Action": "*", "NotResource": statement["NotResource"]}, AuthRequest("*", resource)):
                return True
        else:
            return True  # a statement without one applies to the resource the policy is attached to
    return False


def _owner_account(owner: str | None) -> str | None:
    if not owner:
        return None
    account = owner.split(":")[4] if owner.startswith("arn:") and owner.count(":") >= 5 else owner
    if not re.fullmatch(r"[0-9]{12}", account):
        raise InvalidInput(f"ResourceOwner {owner} is not an AWS account ID.")
    return account


def simulate(params: Mapping[str, Any]) -> dict[str, Any]:
    """SimulatePrincipalPolicy's response (the SimulatePolicyResponse shape) for its request parameters."""
    actions = list(params.get("ActionNames") or [])
    if not actions:
        raise InvalidInput("ActionNames must name at least one action.")
    max_items = params.get("MaxItems")
    if max_items is not None and not 1 <= int(max_items) <= MAX_PAGE:
        raise ValidationError(f"1 validation error detected: Value '{max_items}' at 'maxItems' failed to satisfy "
                              f"constraint: Member must have value between 1 and {MAX_PAGE}")
    entity = principal(params.get("PolicySourceArn", ""))
    inputs = [source(f"PolicyInputList.{n}", "none", doc) for n, doc in enumerate(params.get("PolicyInputList") or [], 1)]
    boundaries = list(params.get("PermissionsBoundaryPolicyInputList") or [])
    if len(boundaries) > 1:
        raise InvalidInput("PermissionsBoundaryPolicyInputList takes only one permissions boundary.")
    boundary = source("PermissionsBoundaryPolicyInputList.1", "none", boundaries[0]) if boundaries else entity.boundary
    resource_policy = source("ResourcePolicy", "resource", params["ResourcePolicy"]) if params.get("ResourcePolicy") else None
    resources = list(params.get("ResourceArns") or ["*"])
    caller = _caller(params.get("CallerArn"), entity.arn, resource_policy is not None)
    if resource_policy is not None:
        for resource in resources:
            if not _applies_to(resource_policy, resource):
                raise InvalidInput(f"The ResourcePolicy does not apply to the simulated resource {resource}: "
                                   "it must apply to every resource of the simulation.")
    simulation = Simulation(entity.identity + inputs, boundary, resource_policy, caller, caller.split(":")[4],
                            _owner_account(params.get("ResourceOwner")), context(params.get("ContextEntries")))
    start = _start(params.get("Marker"), len(actions))
    size = int(max_items) if max_items is not None else DEFAULT_PAGE
    page = actions[start:start + size]
    response: dict[str, Any] = {"EvaluationResults": [simulation.result(action, resources) for action in page],
                                "IsTruncated": start + size < len(actions)}
    if response["IsTruncated"]:
        response["Marker"] = base64.urlsafe_b64encode(json.dumps({"next": start + size}).encode()).decode()
    return response


def _start(marker: str | None, count: int) -> int:
    """Where the page a Marker asks for starts; InvalidInput for a marker the simulation did not issue."""
    if not marker:
        return 0
    try:
        start = json.loads(base64.urlsafe_b64decode(marker.encode()))["next"]
        if isinstance(start, int) and 0 < start < count:
            return start
    except (ValueError, TypeError, KeyError, binascii.Error):
        pass
    raise InvalidInput(f"Marker {marker} was not issued for this simulation.")


def _simulate_principal_policy(response: IamResponse) -> ActionResult:
    if not patching.in_emulator_request():
        # moto's own answer to an operation it does not implement, for in-process moto users.
        raise NotImplementedError("The simulate_principal_policy action has not been implemented")
    return ActionResult(simulate(response.params))
