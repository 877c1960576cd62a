"""IAM policy evaluation, as AWS documents it, for the embedded AWS's enforcement.

Pure functions over parsed policy documents; no AWS state.  Sources:
- "Policy evaluation logic" (IAM User Guide, reference_policies_evaluation-logic): an explicit Deny
  in any policy wins, then an Allow, otherwise the request is implicitly denied.
- "IAM JSON policy elements" (reference_policies_elements_*): Action/NotAction, Resource/NotResource,
  Principal/NotPrincipal, Condition; `*` and `?` wildcards; actions match case-insensitively,
  resources case-sensitively; an ARN's first five fields are matched field by field.
- "Condition operators" (reference_policies_elements_condition_operators): String*, Numeric*,
  Date*, Bool, BinaryEquals, IpAddress, Arn*, Null, the ...IfExists suffix, and ForAllValues: /
  ForAnyValue: for multivalued keys.  Keys are case-insensitive, values case-sensitive (except the
  IgnoreCase operators).  A key absent from the request makes a positive operator false and a
  negated one (StringNotEquals, ArnNotLike, ...) true; ...IfExists makes an absent key true.

moto's own classes (moto.iam.access_control) match actions and resources but evaluate no conditions
and treat every ARN as one string, so the matching here is ours; moto supplies the documents.
"""

from __future__ import annotations

import base64
import datetime
import functools
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ALLOWED = "allowed"
EXPLICIT_DENY = "explicit-deny"
IMPLICIT_DENY = "implicit-deny"

ContextValue = str | list[str] | bool | int | float


@dataclass(frozen=True)
class AuthRequest:
    """One authorization question: may the principal do `action` on `resource` in this context."""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    result: str  # ALLOWED | EXPLICIT_DENY | IMPLICIT_DENY
    statement: dict[str, Any] | None = None  # the deciding statement, if any

    @property
    def allowed(self) -> bool:
        return self.result == ALLOWED


def statements_of(document: str | Mapping[str, Any]) -> list[dict[str, Any]]:
    """A policy document's statements (text or parsed; Statement may be one object or a list)."""
    if isinstance(document, str):
        document = json.loads(document)
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else list(statements)


def evaluate(documents: Iterable[str | Mapping[str, Any]], request: AuthRequest) -> Decision:
    """Identity-based evaluation of one request against all of a principal's policies."""
    allowing: dict[str, Any] | None = None
    for document in documents:
        for statement in statements_of(document):
            if not statement_applies(statement, request):
                continue
            if statement.get("Effect") == "Deny":
                return Decision(EXPLICIT_DENY, statement)
            if statement.get("Effect") == "Allow" and allowing is None:
                allowing = statement
    return Decision(ALLOWED, allowing) if allowing is not None else Decision(IMPLICIT_DENY)


def evaluate_trust(document: str | Mapping[str, Any], principal: Mapping[str, Any],
                   request: AuthRequest) -> Decision:
    """A resource-based policy (a role's trust policy): the statement must also name the principal.

    `principal` is {"Service": "lambda.amazonaws.com"} or {"AWS": "arn:aws:iam::123456789012:role/x"}.
    """
    allowing = None
    for statement in statements_of(document):
        if not names_principal(statement, principal) or not statement_applies(statement, request):
            continue
        if statement.get("Effect") == "Deny":
            return Decision(EXPLICIT_DENY, statement)
        if statement.get("Effect") == "Allow" and allowing is None:
            allowing = statement
    return Decision(ALLOWED, allowing) if allowing is not None else Decision(IMPLICIT_DENY)


def names_principal(statement: Mapping[str, Any], principal: Mapping[str, Any]) -> bool:
    """Does a resource-based policy's statement apply to `principal` (its Principal or NotPrincipal)?"""
    if "Principal" in statement:
        return _principal_matches(statement["Principal"], principal)
    if "NotPrincipal" in statement:
        return not _principal_matches(statement["NotPrincipal"], principal)
    return False


def _principal_matches(element: Any, principal: Mapping[str, Any], directly: bool = False) -> bool:
    """Does a Principal element name the caller?  `directly`: by its own ARN, not by its account."""
    if element == "*":
        return not directly
    for kind, wanted_values in principal.items():
        for wanted in _as_list(wanted_values):
            for value in _as_list(element.get(kind, [])):
                if value == wanted or (value == "*" and not directly):
                    return True
                # "arn:aws:iam::ACCOUNT:root" or a bare account id names every principal of the account.
                if kind == "AWS" and not directly:
                    account = wanted.split(":")[4] if wanted.startswith("arn:") else wanted
                    if value in (account, f"arn:{_partition(wanted)}:iam::{account}:root"):
                        return True
    return False


def evaluate_assume_role(identity_documents: Iterable[str | Mapping[str, Any]], trust_document: str | Mapping[str, Any],
                         caller_arns: list[str], request: AuthRequest, cross_account: bool = False) -> Decision:
    """sts:AssumeRole by an IAM principal (IAM User Guide, "Policy evaluation logic"; "Cross-account policy
    evaluation logic"): an explicit Deny in either policy denies; the trust policy must allow. Within one
    account it suffices alone when it names the caller's own ARN, and otherwise (it names the account) the
    caller's identity policies must allow too; across accounts (`cross_account`) both must always allow."""
    identity = evaluate(identity_documents, request)
    trust = evaluate_trust(trust_document, {"AWS": caller_arns}, request)
    for decision in (identity, trust):
        if decision.result == EXPLICIT_DENY:
            return decision
    if not trust.allowed:
        return Decision(IMPLICIT_DENY)
    if not cross_account and _principal_matches(trust.statement.get("Principal", {}), {"AWS": caller_arns}, directly=True):
        return trust
    return identity if identity.allowed else Decision(IMPLICIT_DENY)


def _partition(arn: str) -> str:
    parts = arn.split(":")
    return parts[1] if len(parts) > 1 and arn.startswith("arn:") else "aws"


def statement_applies(statement: Mapping[str, Any], request: AuthRequest) -> bool:
    if "Action" in statement:
        if not any(action_matches(p, request.action) for p in _as_list(statement["Action"])):
            return False
    elif "NotAction" in statement:
        if any(action_matches(p, request.action) for p in _as_list(statement["NotAction"])):
            return False
    else:
        return False
    if "Resource" in statement:
        if not any(resource_matches(p, request.resource) for p in _as_list(statement["Resource"])):
            return False
    elif "NotResource" in statement:
        if any(resource_matches(p, request.resource) for p in _as_list(statement["NotResource"])):
            return False
    elif "Principal" not in statement and "NotPrincipal" not in statement:
        return False  # an identity policy statement needs a Resource
    return conditions_hold(statement.get("Condition") or {}, request.context)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


@functools.lru_cache(maxsize=4096)
def _glob(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # fnmatch would read [..] as a class; IAM knows only * and ?.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _like(pattern: str, value: str, ignore_case: bool = False) -> bool:
    return _glob(pattern, ignore_case).match(value) is not None


def action_matches(pattern: str, action: str) -> bool:
    return _like(pattern, action, ignore_case=True)


def resource_matches(pattern: str, resource: str) -> bool:
    """ARN matching: `*` alone matches all; otherwise the ARN's fields are matched one by one."""
    if pattern == "*":
        return True
    pattern_parts = pattern.split(":", 5)
    resource_parts = resource.split(":", 5)
    if len(pattern_parts) == 6 and len(resource_parts) == 6:
        return all(_like(p, r) for p, r in zip(pattern_parts, resource_parts))
    return _like(pattern, resource)


# -- conditions ---------------------------------------------------------------------------------

def conditions_hold(block: Mapping[str, Any], context: Mapping[str, ContextValue]) -> bool:
    """Every operator, and every key under it, must hold (AND); a key's values are alternatives."""
    lowered = {key.lower(): value for key, value in context.items()}
    for operator, keys in block.items():
        for key, wanted in keys.items():
            if not _condition_holds(operator, key.lower(), _as_list(wanted), lowered):
                return False
    return True


def _condition_holds(operator: str, key: str, wanted: list[Any], context: Mapping[str, Any]) -> bool:
    set_operator = None
    if ":" in operator:
        set_operator, operator = operator.split(":", 1)
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    present = key in context and context[key] is not None
    if base == "Null":
        is_null = not present or context[key] == []
        return any(str(w).lower() == str(is_null).lower() for w in wanted)
    if base not in _OPERATORS:
        return False  # an operator IAM does not know never matches
    match, negated = _OPERATORS[base]
    if set_operator is not None:
        values = _as_list(context[key]) if present else []
        if set_operator.lower() == "forallvalues":
            # True when every value in the request matches (vacuously true for none).
            return all(_one_value_holds(match, negated, v, wanted) for v in values)
        if set_operator.lower() == "foranyvalue":
            return any(_one_value_holds(match, negated, v, wanted) for v in values)
        return False
    if not present:
        return if_exists or negated
    values = _as_list(context[key])
    if negated:
        # "Not" operators: no request value matches any policy value.
        return all(_one_value_holds(match, True, v, wanted) for v in values)
    return any(_one_value_holds(match, False, v, wanted) for v in values)


def _one_value_holds(match: Any, negated: bool, value: Any, wanted: list[Any]) -> bool:
    hit = any(_safe(match, w, value) for w in wanted)
    return not hit if negated else hit


def _safe(match: Any, wanted: Any, value: Any) -> bool:
    try:
        return bool(match(wanted, value))
    except (TypeError, ValueError):
        return False


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _number(value: Any) -> float:
    return float(value)


def as_date(value: Any) -> datetime.datetime:
    text = _text(value)
    if re.fullmatch(r"-?\d+(\.\d+)?", text):  # epoch seconds
        return datetime.datetime.fromtimestamp(float(text), datetime.UTC)
    moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


def _arn_like(pattern: Any, value: Any) -> bool:
    pattern, value = _text(pattern), _text(value)
    pattern_parts, value_parts = pattern.split(":", 5), value.split(":", 5)
    if len(pattern_parts) != 6 or len(value_parts) != 6:
        return False
    return all(_like(p, v) for p, v in zip(pattern_parts, value_parts))


def _ip_in(network: Any, value: Any) -> bool:
    return ipaddress.ip_address(_text(value)) in ipaddress.ip_network(_text(network), strict=False)


def _binary_equals(wanted: Any, value: Any) -> bool:
    return base64.b64decode(_text(wanted)) == (value if isinstance(value, bytes) else base64.b64decode(_text(value)))


# operator -> (match(policy_value, request_value), negated)
_OPERATORS: dict[str, tuple[Any, bool]] = {
    "StringEquals": (lambda w, v: _text(w) == _text(v), False),
    "StringNotEquals": (lambda w, v: _text(w) == _text(v), True),
    "StringEqualsIgnoreCase": (lambda w, v: _text(w).lower() == _text(v).lower(), False),
    "StringNotEqualsIgnoreCase": (lambda w, v: _text(w).lower() == _text(v).lower(), True),
    "StringLike": (lambda w, v: _like(_text(w), _text(v)), False),
    "StringNotLike": (lambda w, v: _like(_text(w), _text(v)), True),
    "NumericEquals": (lambda w, v: _number(w) == _number(v), False),
    "NumericNotEquals": (lambda w, v: _number(w) == _number(v), True),
    "NumericLessThan": (lambda w, v: _number(v) < _number(w), False),
    "NumericLessThanEquals": (lambda w, v: _number(v) <= _number(w), False),
    "NumericGreaterThan": (lambda w, v: _number(v) > _number(w), False),
    "NumericGreaterThanEquals": (lambda w, v: _number(v) >= _number(w), False),
    "DateEquals": (lambda w, v: as_date(w) == as_date(v), False),
    "DateNotEquals": (lambda w, v: as_date(w) == as_date(v), True),
    "DateLessThan": (lambda w, v: as_date(v) < as_date(w), False),
    "DateLessThanEquals": (lambda w, v: as_date(v) <= as_date(w), False),
    "DateGreaterThan": (lambda w, v: as_date(v) > as_date(w), False),
    "DateGreaterThanEquals": (lambda w, v: as_date(v) >= as_date(w), False),
    "Bool": (lambda w, v: _text(w).lower() == _text(v).lower(), False),
    "BinaryEquals": (_binary_equals, False),
    "IpAddress": (_ip_in, False),
    "NotIpAddress": (_ip_in, True),
    "ArnEquals": (_arn_like, False),
    "ArnLike": (_arn_like, False),
    "ArnNotEquals": (_arn_like, True),
    "ArnNotLike": (_arn_like, True),
}

__all__ = [
    "ALLOWED", "EXPLICIT_DENY", "IMPLICIT_DENY", "AuthRequest", "Decision", "evaluate",
    "evaluate_trust", "evaluate_assume_role", "names_principal", "statement_applies", "action_matches", "resource_matches", "conditions_hold",
    "statements_of", "as_date",
]
