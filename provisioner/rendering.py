"""`render`: every document the tool would send to AWS, written out for review and linting."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lambdas.core.steps import STEPS
from provisioner.config import Resolved
from provisioner.desired_state import desired_state
from provisioner.iam_documents import Arns, orchestrator_roles, role_name
from state_machine.asl import load_definition, substitute


def _write(path: Path, document: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = document if isinstance(document, str) else json.dumps(document, indent=2, sort_keys=True) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


def render_documents(resolved: Resolved, out_dir: Path) -> list[Path]:
    """The ASL (ARNs filled in for the configured account) and each IAM trust and permission policy."""
    desired = desired_state(resolved.settings)
    # The configured account stands in for the caller's: render makes no AWS call.
    arns = Arns.for_state(desired, desired.account_id)
    written = [
        _write(
            out_dir / "state_machine.asl.json",
            substitute(load_definition(), {step.name: arns.function(step.name) for step in STEPS}),
        )
    ]
    kms_key_id = resolved.settings.dynamodb.kms_key_id or None
    for role in orchestrator_roles(arns, kms_key_id):
        name = role_name(desired.provisioner_name, role.suffix)
        written.append(_write(out_dir / "iam" / f"{name}.trust.json", role.trust_policy))
        written.append(_write(out_dir / "iam" / f"{name}.policy.json", role.policy))
    written.append(_write(out_dir / "iam" / f"{desired.role.name}.trust.json", desired.role.trust_policy))
    written.append(_write(out_dir / "iam" / f"{desired.role.name}.policy.json", desired.role.inline_policy))
    return written
