"""Two ASL validators no one here wrote, plus the States.ALL rule, over the committed state machine.

statelint (PyPI) and asl-validator (npm) cover each other's blind spots; each test below plants a
mistake only one of them sees and shows the suite would fail. asl-validator runs once per module, in
one Node process, over every definition the module needs judged. States are found by walking the
definition, never named, so the tests hold whatever states the workflow gains.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest
from statelint.linter import Linter

from asl_rules import ALL, states_all_violations, walk
from asl_validator import validate
from lambdas.core.steps import STEPS
from state_machine.asl import load_definition, substitute

Mutation = Callable[[dict[str, Any]], None]


def _first(definition: dict[str, Any], wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    for _path, state in walk(definition):
        if wanted(state):
            return state  # type: ignore[return-value]
    raise AssertionError("the state machine has no such state: the mutation needs a new target")


def _retrier(definition: dict[str, Any]) -> dict[str, Any]:
    return _first(definition, lambda s: bool(s.get("Retry")))["Retry"][0]


def _map(definition: dict[str, Any]) -> dict[str, Any]:
    return _first(definition, lambda s: s["Type"] == "Map" and "ItemProcessor" in s)


def _catching(definition: dict[str, Any]) -> dict[str, Any]:
    return _first(definition, lambda s: any(ALL in c["ErrorEquals"] for c in s.get("Catch", [])))


def _mutated(definition: dict[str, Any], mutation: Mutation) -> dict[str, Any]:
    copied = copy.deepcopy(definition)
    mutation(copied)
    return copied


def _set_mode(d: dict[str, Any]) -> None:
    _map(d)["ItemProcessor"]["ProcessorConfig"]["Mode"] = "SIDEWAYS"


# Planted mistakes only asl-validator sees (statelint accepts each).
ASL_VALIDATOR_ONLY: dict[str, Mutation] = {
    "Map ProcessorConfig.Mode": _set_mode,
}


@pytest.fixture(scope="module")
def committed() -> dict[str, Any]:
    return json.loads(load_definition())


@pytest.fixture(scope="module")
def rendered() -> dict[str, Any]:
    arns = {step.name: f"arn:aws:lambda:us-east-1:123456789012:function:fileferry-provisioner-{step.name}" for step in STEPS}
    return json.loads(substitute(load_definition(), arns))


@pytest.fixture(scope="module")
def asl_validator_verdicts(committed: dict[str, Any], rendered: dict[str, Any]) -> dict[str, Any]:
    """asl-validator's verdict on each definition this module judges, from one Node process."""
    definitions = {"committed": committed, "rendered": rendered}
    definitions |= {name: _mutated(committed, mutation) for name, mutation in ASL_VALIDATOR_ONLY.items()}
    return dict(zip(definitions, validate(list(definitions.values())), strict=True))


def test_statelint_and_asl_validator_accept_the_committed_and_rendered_asl(
    committed: dict[str, Any], rendered: dict[str, Any], asl_validator_verdicts: dict[str, Any]
) -> None:
    assert Linter.validate(committed) == []
    assert Linter.validate(rendered) == []
    for name in ("committed", "rendered"):
        verdict = asl_validator_verdicts[name]
        assert verdict.is_valid and verdict.errors == (), (name, verdict.errors)


def test_states_all_stands_alone_in_the_last_retrier_and_catcher_of_every_state(committed: dict[str, Any]) -> None:
    assert states_all_violations(committed) == []
    # Not vacuous: the workflow's rollback path depends on States.ALL catchers.
    assert any(ALL in c["ErrorEquals"] for _p, s in walk(committed) for c in s.get("Catch", []))


@pytest.mark.parametrize(
    "field, value",
    [("JitterStrategy", "SOMETIMES"), ("MaxDelaySeconds", 0), ("BackoffRate", 0.5), ("IntervalSeconds", 0)],
)
def test_statelint_catches_an_invalid_retrier_field(committed: dict[str, Any], field: str, value: Any) -> None:
    planted = _mutated(committed, lambda d: _retrier(d).__setitem__(field, value))
    problems = Linter.validate(planted)
    assert any(f".{field} is " in problem for problem in problems), problems


@pytest.mark.parametrize("name", sorted(ASL_VALIDATOR_ONLY))
def test_asl_validator_catches_what_statelint_does_not(
    committed: dict[str, Any], asl_validator_verdicts: dict[str, Any], name: str
) -> None:
    verdict = asl_validator_verdicts[name]
    assert not verdict.is_valid and verdict.errors, f"asl-validator accepted a planted {name}"
    assert Linter.validate(_mutated(committed, ASL_VALIDATOR_ONLY[name])) == [], (
        "statelint now sees this too; keep the case, it still proves asl-validator runs"
    )


def _all_first_in_retry(d: dict[str, Any]) -> None:
    _first(d, lambda s: bool(s.get("Retry")))["Retry"].insert(0, {"ErrorEquals": [ALL], "MaxAttempts": 1})


def _all_last_in_retry_with_company(d: dict[str, Any]) -> None:
    _first(d, lambda s: bool(s.get("Retry")))["Retry"].append({"ErrorEquals": [ALL, "Throttled"], "MaxAttempts": 1})


def _all_not_alone_in_catch(d: dict[str, Any]) -> None:
    catcher = next(c for c in _catching(d)["Catch"] if ALL in c["ErrorEquals"])
    catcher["ErrorEquals"] = ["Throttled", ALL]


def _all_not_last_in_catch(d: dict[str, Any]) -> None:
    state = _catching(d)
    state["Catch"].append({"ErrorEquals": ["Throttled"], "Next": state["Catch"][-1]["Next"]})


def _all_first_in_a_nested_retry(d: dict[str, Any]) -> None:
    nested = next(s for path, s in walk(d) if "/" in path and s.get("Retry"))
    nested["Retry"].insert(0, {"ErrorEquals": [ALL]})


@pytest.mark.parametrize(
    "mutation",
    [_all_first_in_retry, _all_last_in_retry_with_company, _all_not_alone_in_catch, _all_not_last_in_catch,
     _all_first_in_a_nested_retry],
    ids=lambda m: m.__name__.strip("_"),
)
def test_states_all_not_alone_or_not_last_is_caught(committed: dict[str, Any], mutation: Mutation) -> None:
    assert states_all_violations(_mutated(committed, mutation))
