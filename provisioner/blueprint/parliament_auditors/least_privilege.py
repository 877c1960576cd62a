"""parliament private auditor: what the orchestrator's least-privilege rule forbids outright.

parliament loads every module in this directory and calls `audit(policy)`. Core parliament
does not flag an Allow of "*" on a specific resource, a service-wide "dynamodb:*", a
wildcard such as "iam:Put*", or iam:PassRole; this auditor does, so none can slip into a
document unnoticed (no justification exists for these issues).
"""

from parliament.misc import make_list


def _strings(node):
    return [item.value for item in make_list(node)]


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
            policy.add_finding("PASSROLE", detail="iam:PassRole is not needed by any step", location={"actions": ["iam:passrole"]})
