"""Amazon States Language validation by asl-validator (npm), a validator no one on this team wrote.

    from asl_validator import validate
    validate([definition, ...])   # -> [Validation(is_valid, errors), ...], one Node process per batch

It checks what statelint does not (Map ProcessorConfig.Mode, JSONata, JSONPath syntax) and misses what
statelint checks (retrier JitterStrategy, MaxDelaySeconds, BackoffRate): the suite runs both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from node_tools import package_dir, run_node_json

SCRIPT = Path(__file__).with_name("asl_validate.mjs")


@dataclass(frozen=True)
class Validation:
    is_valid: bool
    errors: tuple[str, ...]


def validate(definitions: Sequence[Mapping[str, Any]]) -> list[Validation]:
    if not definitions:
        return []
    package_dir("asl-validator")
    answers = run_node_json(SCRIPT, [dict(d) for d in definitions])
    if len(answers) != len(definitions):
        raise RuntimeError(f"asl-validator answered {len(answers)} of {len(definitions)} definitions")
    return [Validation(bool(a["isValid"]), tuple(a["errors"])) for a in answers]
