"""parliament private auditor: what the orchestrator's least-privilege rule forbids outright.

parliament loads every module in this directory and calls `audit(policy)`. Core parliament
does not flag an Allow of "*" on a specific resource, a service-wide "dynamodb:*", a
wildcard such as "iam:Put*", or iam:PassRole; this auditor does, so none can slip into a
document unnoticed (no justification exists for these issues, but for PASSROLE where a document's
job is handing roles to services: the operator's and the StackSet execution role's).
An iam:PassRole without an iam:PassedToService condition, or on every role ("*"), is its own
issue, which nothing justifies.
"""

from parliament.misc import make_list


def _strings(node):
    return [item.value for item in make_list(node)]


def _condition_keys(stmt):
    if "Condition" not in stmt:
        return set()
    return {str(key).lower() for _operator, block in stmt["Condition"] for key, _value in block}


def audit(policy):
    for statement in policy.statements:
        stmt = statement.stmt
        if stmt["Effect"].value != "Allow":
            continue
        if "NotAction" in stmt or "NotResource" in stmt:
            policy.add_finding("ALLOW_WITH_NOT_ELEMENT", detail="Allow with NotAction/NotResource grants everything else")
        if "Action" not in stmt:
            continue
        actions = _strings(stmt["Action"])
        wildcards = [action for action in actions if "*" in action or "?" in action]
        if wildcards:
            policy.add_finding("WILDCARD_ACTION", detail=sorted(wildcards), location={"actions": sorted(wildcards)})
        passrole = [action for action in actions if action.lower() == "iam:passrole"]
        if passrole:
            policy.add_finding("PASSROLE", detail="iam:PassRole hands a role to a service", location={"actions": ["iam:passrole"]})
            if "iam:passedtoservice" not in _condition_keys(stmt):
                policy.add_finding("PASSROLE_TO_ANY_SERVICE", detail="iam:PassRole without an iam:PassedToService condition",
                                   location={"actions": ["iam:passrole"]})
            resources = _strings(stmt["Resource"]) if "Resource" in stmt else ["*"]
            if "*" in resources:
                policy.add_finding("PASSROLE_ANY_ROLE", detail="iam:PassRole on every role", location={"actions": ["iam:passrole"]})
