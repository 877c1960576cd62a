"""A States Language rule neither statelint nor asl-validator enforces everywhere, checked here.

The States Language (https://states-language.net/#retrying-after-error, #fallback-states): "The
reserved name States.ALL appearing in a Retrier's ErrorEquals field MUST appear alone and MUST appear
in the last Retrier in the array"; the same holds for Catchers. statelint checks it for Catch only,
asl-validator not at all; Step Functions rejects such a definition at CreateStateMachine.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

ALL = "States.ALL"


def walk(machine: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Mapping[str, Any]]]:
    """(path, state) for every state, those inside Map and Parallel states included."""
    for name, state in machine.get("States", {}).items():
        path = f"{prefix}{name}"
        yield path, state
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from walk(state[key], f"{path}/")
        for index, branch in enumerate(state.get("Branches", [])):
            yield from walk(branch, f"{path}/Branches[{index}]/")


def states_all_violations(definition: Mapping[str, Any]) -> list[str]:
    """Each Retrier or Catcher where States.ALL is not alone, or not in the last element."""
    problems = []
    for path, state in walk(definition):
        for field in ("Retry", "Catch"):
            handlers = state.get(field, [])
            for index, handler in enumerate(handlers):
                errors = handler.get("ErrorEquals", [])
                if ALL not in errors:
                    continue
                if errors != [ALL]:
                    problems.append(f"{path}.{field}[{index}]: {ALL} is not alone in ErrorEquals {errors}")
                if index != len(handlers) - 1:
                    problems.append(f"{path}.{field}[{index}]: {ALL} is not in the last element of {len(handlers)}")
    return problems
