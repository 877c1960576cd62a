"""`render`: every document the tool would send to AWS, written out for review and linting."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from provisioner.blueprint.cloudformation import LAMBDA_ZIP, TEMPLATE_FILE, template, template_yaml
from provisioner.config import Resolved
from provisioner.blueprint.desired_state import desired_state
from provisioner.blueprint.iam_documents import Arns
from provisioner.blueprint.orchestrator import describe_orchestrator
from provisioner.blueprint import operator_policy as operator
from provisioner.blueprint.packaging import build_package


def _write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(document, bytes):
        path.write_bytes(document)
        return path
    text = document if isinstance(document, str) else json.dumps(document, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def render_documents(resolved: Resolved, out_dir: Path) -> list[Path]:
    """The ASL (ARNs filled in for the configured account), each IAM trust and permission policy (the
    orchestrator's own, the operator's and the fleet's StackSet roles'), and the orchestrator as a
    CloudFormation template with the Lambda zip it references."""
    desired = desired_state(resolved.settings)
    # The configured account stands in for the caller's: render makes no AWS call.
    arns = Arns.for_state(desired, desired.account_id)
    orchestrator = describe_orchestrator(resolved.settings, desired, arns)
    written = [
        _write(
            out_dir / "state_machine.asl.json",
            orchestrator.state_machine.definition(
                {f.step: arns.function(f.step) for f in orchestrator.functions}, arns.partition
            ),
        )
    ]
    for role in orchestrator.roles:
        written.append(_write(out_dir / "iam" / f"{role.name}.trust.json", role.trust_policy))
        written.append(_write(out_dir / "iam" / f"{role.name}.policy.json", role.policy))
    written.append(_write(out_dir / "iam" / f"{desired.role.name}.trust.json", desired.role.trust_policy))
    written.append(_write(out_dir / "iam" / f"{desired.role.name}.policy.json", desired.role.inline_policy))
    # What the operator's own credentials need, and the StackSet roles a fleet needs (docs/operator-permissions.md).
    package = build_package(desired)
    digest = hashlib.sha256(package.zip_bytes).hexdigest()
    fleet = operator.fleet_names(resolved.settings, arns)
    kinds = operator.resource_types(template(resolved.settings, desired, digest))
    written.append(_write(out_dir / "iam" / operator.OPERATOR_POLICY, operator.operator_policy(orchestrator, fleet, kinds)))
    for role, policy, trust in (
        (operator.FLEET_EXECUTION, operator.fleet_execution_policy(orchestrator, fleet), operator.fleet_execution_trust(arns)),
        (operator.FLEET_ADMINISTRATION, operator.fleet_administration_policy(arns, fleet),
         operator.fleet_administration_trust(arns)),
    ):
        written.append(_write(out_dir / "iam" / f"{role}.policy.json", policy))
        written.append(_write(out_dir / "iam" / f"{role}.trust.json", trust))
    written.append(_write(out_dir / "cloudformation" / TEMPLATE_FILE, template_yaml(resolved.settings, desired, digest)))
    written.append(_write(out_dir / "cloudformation" / LAMBDA_ZIP, package.zip_bytes))
    return written
