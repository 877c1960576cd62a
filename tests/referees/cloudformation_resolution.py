"""A CloudFormation template resolved as CloudFormation resolves it for one stack (tests compare what it declares)."""

from __future__ import annotations

import re
from typing import Any

from provisioner.config import dns_suffix_for


def resolved_in(template: dict[str, Any], account: str, region: str, partition: str,
                given: dict[str, str]) -> dict[str, Any]:
    """Fn::Sub, Ref (of parameters and pseudo parameters), Fn::If and the template's conditions, resolved as
    CloudFormation does for one stack; Ref/GetAtt of resources stay as they are."""
    values = {"AWS::AccountId": account, "AWS::Region": region, "AWS::Partition": partition,
              "AWS::URLSuffix": dns_suffix_for(region)}
    for name, parameter in template.get("Parameters", {}).items():
        values[name] = given.get(name, parameter.get("Default"))
        assert values[name] is not None, f"parameter {name} has no default and was not given"

    def evaluate(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            (function, argument), = node.items()
            if function == "Ref" and argument in values:
                return values[argument]
            if function == "Fn::Sub":
                return re.sub(r"\$\{([^}!]+)\}", lambda m: values[m.group(1)] if m.group(1) in values else m.group(0),
                              argument)
            if function == "Fn::If":
                return evaluate(argument[1] if conditions[argument[0]] else argument[2])
            if function == "Fn::Equals":
                return evaluate(argument[0]) == evaluate(argument[1])
            if function == "Fn::Not":
                return not evaluate(argument[0])
            if function == "Fn::Select":
                return evaluate(argument[1])[int(argument[0])]
            if function == "Fn::Split":
                return evaluate(argument[1]).split(argument[0])
        if isinstance(node, dict):
            return {key: evaluate(item) for key, item in node.items()}
        if isinstance(node, list):
            return [evaluate(item) for item in node]
        return node

    conditions: dict[str, bool] = {}
    for name, condition in template.get("Conditions", {}).items():
        conditions[name] = evaluate(condition)
    resolved = {key: evaluate(value) for key, value in template.items() if key not in ("Parameters", "Conditions")}
    return resolved
