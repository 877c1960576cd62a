"""The state machine: the committed ASL is fresh, valid, and has the shape the design needs.

Only the `fresh_render` fixture imports the `stepfunctions` SDK (and with it sagemaker v2,
a few seconds); every other test reads the committed JSON or uses pure-dict modules.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.core.errors import (
    ATTEMPT_TIMEOUT_ERRORS,
    PERMANENT_ERRORS,
    TRANSIENT_ERRORS,
    InvalidInput,
    TableCreationTimeout,
    TableStillCreating,
    transient_error_names,
)
from lambdas.core.steps import STEPS, step
from state_machine.asl import (
    ASL_PATH,
    configure_polling,
    is_transient_retrier,
    load_definition,
    placeholders,
    poll_retriers,
    substitute,
)
from state_machine.post_render import post_render
from state_machine.time_model import DEFAULT_SHAPE, STANDARD_MAX_SECONDS, RunShape, configure_timeout

REPO_ROOT = Path(__file__).resolve().parents[2]
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
ROLLBACK_STATE = "RollbackOnFailure"
STALE_MESSAGE = (
    "state_machine/provisioner.asl.json is stale or hand-edited: "
    "run `python -m state_machine.render` and commit the result"
)


# -- helpers ------------------------------------------------------------------------------


def walk(machine: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(name, state, the machine or ItemProcessor holding it), nested states included."""
    for name, state in machine["States"].items():
        yield name, state, machine
        if "ItemProcessor" in state:
            yield from walk(state["ItemProcessor"])
        for branch in state.get("Branches", []):
            yield from walk(branch)


def all_states(machine: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: state for name, state, _ in walk(machine)}


def successors(state: dict[str, Any], *, with_catch: bool = True) -> list[str]:
    names = [choice["Next"] for choice in state.get("Choices", [])]
    names += [state[key] for key in ("Default", "Next") if key in state]
    if with_catch:
        names += [catcher["Next"] for catcher in state.get("Catch", [])]
    return names


def reachable(machine: dict[str, Any], start: str, *, with_catch: bool) -> list[str]:
    seen: list[str] = []
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        todo += successors(machine["States"][name], with_catch=with_catch)
    return seen


def is_acyclic(states: dict[str, dict[str, Any]]) -> bool:
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(name: str) -> bool:
        if name in done or name not in states:
            return True
        if name in visiting:
            return False
        visiting.add(name)
        ok = all(visit(nxt) for nxt in successors(states[name]))
        visiting.discard(name)
        done.add(name)
        return ok

    return all(visit(name) for name in states)


def fake_arns() -> dict[str, str]:
    return {s.name: f"arn:aws:lambda:eu-west-1:123456789012:function:fileferry-{s.name}" for s in STEPS}


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fresh_render() -> dict[str, Any]:
    """Render once per module: the only place the SDK (and sagemaker) is imported."""
    hook_before = sys.excepthook
    from state_machine.render import render_json

    text = render_json()
    return {"text": text, "excepthook_restored": sys.excepthook is hook_before}


@pytest.fixture(scope="module")
def asl() -> dict[str, Any]:
    return json.loads(load_definition())


@pytest.fixture(scope="module")
def states(asl: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return all_states(asl)


# -- (a) the committed file is what the code renders ------------------------------------------


def test_committed_asl_equals_a_fresh_render(fresh_render: dict[str, Any]) -> None:
    assert ASL_PATH.is_file(), STALE_MESSAGE
    assert load_definition() == fresh_render["text"], STALE_MESSAGE


def test_render_is_deterministic(fresh_render: dict[str, Any]) -> None:
    from state_machine.render import render_json

    assert render_json() == fresh_render["text"]


def test_render_does_not_depend_on_the_aws_region(
    fresh_render: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # The SDK's LambdaStep would render `arn:aws-cn:states:::lambda:invoke` here.
    from state_machine.render import render_json

    monkeypatch.setenv("AWS_DEFAULT_REGION", "cn-north-1")
    monkeypatch.setenv("AWS_REGION", "cn-north-1")
    assert render_json() == fresh_render["text"]


def test_render_cli_writes_the_same_text(fresh_render: dict[str, Any], tmp_path: Path) -> None:
    from state_machine.render import main

    out = tmp_path / "nested" / "asl.json"
    assert main(["--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8") == fresh_render["text"]
    assert main(["--out", str(out), "--check"]) == 0
    out.write_text("{}\n", encoding="utf-8")
    assert main(["--out", str(out), "--check"]) == 1


def test_rendering_contains_sagemakers_side_effects(fresh_render: dict[str, Any]) -> None:
    assert fresh_render["excepthook_restored"], "importing the SDK left sagemaker's traceback handler installed"


def test_sdk_free_modules_do_not_import_the_sdk() -> None:
    code = (
        "import sys\n"
        "import state_machine, state_machine.asl, state_machine.post_render, state_machine.render\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('stepfunctions', 'sagemaker'))\n"
        "assert not bad, bad\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- (b) linters and moto's parser accept it --------------------------------------------------


def test_statelint_reports_no_problems() -> None:
    from statelint.linter import Linter

    assert Linter.validate(str(ASL_PATH)) == []


def test_statelint_is_actually_checking(asl: dict[str, Any]) -> None:
    broken = copy.deepcopy(asl)
    broken["States"]["Verify"]["Next"] = "NoSuchState"
    from statelint.linter import Linter

    assert Linter.validate(broken), "statelint accepted a dangling Next: the lint test proves nothing"


def test_moto_parses_the_definition_before_and_after_substitution() -> None:
    parser = pytest.importorskip("moto.stepfunctions.parser.asl.parse.asl_parser")
    definition = load_definition()
    parser.AmazonStateLanguageParser.parse(definition)
    parser.AmazonStateLanguageParser.parse(substitute(definition, fake_arns()))


# -- (c) structure ------------------------------------------------------------------------------


def test_top_level(asl: dict[str, Any]) -> None:
    assert asl["StartAt"] == "ValidateInput"
    assert isinstance(asl["TimeoutSeconds"], int) and 3600 < asl["TimeoutSeconds"] <= STANDARD_MAX_SECONDS
    assert asl["Comment"]


def test_every_state_is_reachable(asl: dict[str, Any]) -> None:
    nested = [s["ItemProcessor"] for s in all_states(asl).values() if "ItemProcessor" in s]
    nested += [branch for s in all_states(asl).values() for branch in s.get("Branches", [])]
    for holder in [asl] + nested:
        assert sorted(reachable(holder, holder["StartAt"], with_catch=True)) == sorted(holder["States"])


def test_every_task_invokes_a_known_step_and_every_step_is_used(states: dict[str, dict[str, Any]]) -> None:
    tasks = {name: s for name, s in states.items() if s["Type"] == "Task"}
    known = set(placeholders().values())
    for name, task in tasks.items():
        assert task["Resource"] == LAMBDA_INVOKE, name
        assert task["Parameters"]["FunctionName"] in known, name
        assert "Payload" in task["Parameters"], name
    used = {task["Parameters"]["FunctionName"] for task in tasks.values()}
    assert used == known, f"steps without a Task: {sorted(known - used)}"


def test_every_task_retries_transient_errors_with_full_jitter(states: dict[str, dict[str, Any]]) -> None:
    transient = set(transient_error_names())
    permanent = {cls.error_name() for cls in PERMANENT_ERRORS}
    for name, state in states.items():
        if state["Type"] != "Task":
            continue
        retriers = state.get("Retry", [])
        covered = set().union(*(set(r["ErrorEquals"]) for r in retriers)) if retriers else set()
        assert transient <= covered, f"{name} does not retry {sorted(transient - covered)}"
        for retrier in retriers:
            if retrier["ErrorEquals"] == [TableStillCreating.error_name()]:
                continue  # the table poll: a designed wait, no jitter (test_a_table_is_polled_by_retry_...)
            assert retrier["JitterStrategy"] == "FULL", name
            assert isinstance(retrier["MaxDelaySeconds"], int) and retrier["MaxDelaySeconds"] > 0, name
            assert retrier["MaxAttempts"] >= 1 and retrier["BackoffRate"] >= 1, name
            retried = set(retrier["ErrorEquals"])
            assert not retried & (permanent | {"States.ALL"}), f"{name} retries permanent errors"


def test_states_that_delete_tables_wait_minutes_for_a_creating_table(states: dict[str, dict[str, Any]]) -> None:
    for name in ("RollbackOnFailure", "RollbackExecution", "TeardownTable"):
        first = states[name]["Retry"][0]
        assert first["ErrorEquals"] == ["TableNotActive", "CreationInFlight"], name
        assert first["IntervalSeconds"] * first["MaxAttempts"] >= 300, name


def test_a_rollback_gives_up_on_transient_faults_last(states: dict[str, dict[str, Any]]) -> None:
    # A rollback attempt makes twenty or more AWS calls; at 8 % transient faults each fails with
    # probability 1 - 0.92**20 (about 0.81). Every retry of its transient retrier is another attempt.
    attempt_fails = 1 - 0.92**20
    rollback_steps = ("RollbackOnFailure", "RollbackExecution")

    def transient_attempts(name: str) -> list[int]:
        return [r["MaxAttempts"] for r in states[name].get("Retry", []) if is_transient_retrier(r)]

    most_elsewhere = max(attempts for name in states if name not in rollback_steps for attempts in transient_attempts(name))
    for name in rollback_steps:
        (attempts,) = transient_attempts(name)
        assert attempt_fails ** (1 + attempts) < 1 / 200, name
        assert attempts > most_elsewhere, name


def test_result_selectors_read_the_lambda_payload(states: dict[str, dict[str, Any]]) -> None:
    for name, state in states.items():
        if state["Type"] != "Task":
            continue  # a Parallel's result is its branches' outputs, not a Lambda response
        for key, value in state.get("ResultSelector", {}).items():
            if key.endswith(".$"):
                assert value.startswith("$.Payload"), f"{name}.ResultSelector.{key} = {value}"


def test_validate_input_fails_fast(states: dict[str, dict[str, Any]]) -> None:
    validate = states["ValidateInput"]
    assert "Catch" not in validate, "an InvalidInput must fail the execution, not roll back"
    assert validate["OutputPath"] == "$.Payload"
    assert validate["Parameters"]["FunctionName"] == step("validate-input").placeholder
    assert validate["Next"] == "RouteAction"


def test_route_action_routes_every_action_and_rejects_the_rest(states: dict[str, dict[str, Any]]) -> None:
    route = states["RouteAction"]
    assert route["Type"] == "Choice"
    routes = {c["StringEquals"]: c["Next"] for c in route["Choices"] if c.get("Variable") == "$.action"}
    assert routes == {
        "provision": "Provision",
        "drift-check": "ProveDriftAccess",
        "rollback": "RollbackExecution",
        "teardown": "TeardownTables",
    }
    default = states[route["Default"]]
    assert default["Type"] == "Fail"
    assert default["Error"] == InvalidInput.error_name()


def test_maps_use_item_processor_item_selector_and_max_concurrency_path(states: dict[str, dict[str, Any]]) -> None:
    maps = {name: s for name, s in states.items() if s["Type"] == "Map"}
    assert set(maps) == {"ProvisionTables", "TeardownTables", "ProveAccessTables", "ProveDriftAccessTables"}
    for name, state in maps.items():
        assert state["MaxConcurrencyPath"] == "$.max_concurrency", name
        assert "MaxConcurrency" not in state, name
        assert "Iterator" not in state and "Parameters" not in state, name
        assert state["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}, name
        # The access check's Maps take the tables in batches (at most eight: lambdas.core.access).
        items, key = ("$.access_batches", "tables.$") if name.startswith("Prove") else ("$.tables", "table.$")
        assert state["ItemsPath"] == items, name
        assert state["ItemSelector"][key] == "$$.Map.Item.Value", name
    assert states["TeardownTables"]["ResultPath"] == "$.tables_result"
    # Inside the Parallel, the Map's output (one result per table) is its branch's output.
    assert "ResultPath" not in states["ProvisionTables"]


def test_every_task_on_the_provisioning_path_is_caught_to_rollback(asl: dict[str, Any]) -> None:
    top = asl["States"]
    path = reachable(asl, "Provision", with_catch=False)
    assert path == ["Provision", "ProveAccess", "ProveAccessTables", "Verify", "ProvisionSucceeded"]
    assert ROLLBACK_STATE not in path
    for name in path:
        state = top[name]
        if state["Type"] not in ("Task", "Map", "Parallel"):
            continue
        catchers = [c for c in state.get("Catch", []) if "States.ALL" in c["ErrorEquals"]]
        assert catchers, f"{name} has no States.ALL catcher"
        assert catchers[0]["Next"] == ROLLBACK_STATE, name
        assert catchers[0]["ResultPath"] == "$.error", f"{name} must keep its input (execution_name) for rollback"
    # Everything inside the Parallel (the tables' Map, its iterations, EnsureRole) must let errors
    # reach the Parallel's catcher, so the rollback gets the original error. The one catch inside
    # turns the poll's last "not ACTIVE yet" into the TableCreationTimeout Fail, which reaches it too.
    for branch in top["Provision"]["Branches"]:
        for name, state, holder in walk(branch):
            for catcher in state.get("Catch", []):
                assert catcher["ErrorEquals"] == [TableStillCreating.error_name()], f"{name} catches inside the Parallel"
                assert holder["States"][catcher["Next"]]["Type"] == "Fail", f"{name}'s catch must end in a Fail"


def test_the_role_is_ensured_beside_the_tables_and_verify_reads_both(asl: dict[str, Any]) -> None:
    provision = asl["States"]["Provision"]
    assert provision["Type"] == "Parallel"
    assert [branch["StartAt"] for branch in provision["Branches"]] == ["ProvisionTables", "EnsureRole"]
    assert provision["ResultSelector"] == {"tables.$": "$[0]", "role.$": "$[1]"}
    assert provision["ResultPath"] == "$.provisioned"
    payload = asl["States"]["Verify"]["Parameters"]["Payload"]
    assert payload["tables.$"] == "$.provisioned.tables"
    assert payload["role.$"] == "$.provisioned.role"
    ensure_role = provision["Branches"][1]["States"]["EnsureRole"]
    assert ensure_role["End"] is True and "ResultPath" not in ensure_role
    assert set(ensure_role["ResultSelector"]) == {"role.$", "outcome.$", "previous.$"}


def test_one_function_polls_a_table_and_applies_its_ttl(states: dict[str, dict[str, Any]]) -> None:
    await_table = step("await-table").placeholder
    assert states["PollTable"]["Parameters"]["FunctionName"] == await_table
    assert states["EnsureTtl"]["Parameters"]["FunctionName"] == await_table
    # The look that sees the table ACTIVE applies its TTL, and its result is the iteration's output.
    for name in ("PollTable", "EnsureTtl"):
        assert states[name]["End"] is True and "ResultPath" not in states[name], name
        assert states[name]["ResultSelector"]["ttl.$"] == "$.Payload.ttl", name
    assert states["PollTable"]["Parameters"]["Payload"]["look"] is True
    # An adopted table that is already ACTIVE gets its TTL at once, without a look at its status.
    assert "look" not in states["EnsureTtl"]["Parameters"]["Payload"]


def test_rollback_fails_the_execution_with_the_original_error(states: dict[str, dict[str, Any]]) -> None:
    rollback = states[ROLLBACK_STATE]
    assert rollback["Parameters"]["FunctionName"] == step("rollback").placeholder
    assert rollback["Parameters"]["Payload"]["error.$"] == "$.error"
    assert rollback["ResultPath"] == "$.rollback"
    failed = states[rollback["Next"]]
    assert failed["Type"] == "Fail"
    assert failed["ErrorPath"] == "$.rollback.error"
    assert failed["CausePath"] == "$.rollback.cause"
    # A rollback that fails itself ends the run the same way, with the original error name: no loop.
    (catcher,) = rollback["Catch"]
    assert catcher["ErrorEquals"] == ["States.ALL"]
    rollback_failed = states[catcher["Next"]]
    assert rollback_failed["Type"] == "Pass" and rollback_failed["ResultPath"] == "$.rollback"
    assert rollback_failed["Parameters"]["error.$"] == "$.error.Error"
    assert "ROLLBACK FAILED" in rollback_failed["Parameters"]["cause.$"]
    assert rollback_failed["Next"] == rollback["Next"]


def test_a_table_is_polled_by_retry_bounded_by_max_polls_then_times_out(states: dict[str, dict[str, Any]]) -> None:
    processor = states["ProvisionTables"]["ItemProcessor"]["States"]
    # No loop of states: each look after the first is a retry of PollTable (3 history events, no transition).
    assert is_acyclic(processor)
    assert not any(state["Type"] == "Wait" for state in processor.values())
    poll = processor["PollTable"]
    first, *others = poll["Retry"]
    assert first == {
        "ErrorEquals": [TableStillCreating.error_name()],
        "IntervalSeconds": 2,
        "MaxAttempts": 15,
        "BackoffRate": 1.5,
        "MaxDelaySeconds": 30,
        "JitterStrategy": "NONE",  # a bound in time, not a distribution
    }
    # The transient-fault retrier never answers a poll, so a poll never spends a fault's retries.
    assert others and all(TableStillCreating.error_name() not in r["ErrorEquals"] for r in others)
    assert all("States.ALL" not in r["ErrorEquals"] for r in others)
    assert TableStillCreating not in TRANSIENT_ERRORS + PERMANENT_ERRORS
    # After the last retry, the poll's error becomes the run's TableCreationTimeout.
    (catcher,) = poll["Catch"]
    assert catcher["ErrorEquals"] == [TableStillCreating.error_name()]
    timed_out = processor[catcher["Next"]]
    assert timed_out["Type"] == "Fail" and timed_out["Error"] == TableCreationTimeout.error_name()
    assert timed_out["CausePath"] == catcher["ResultPath"] + ".Cause"
    # The run context no longer carries polling settings: they are in the definition.
    assert set(states["ProvisionTables"]["ItemSelector"]) == {"table.$", "execution_name.$", "remediate.$"}


def test_configure_polling_sets_only_the_poll_retrier() -> None:
    committed = load_definition()
    assert configure_polling(committed, 2, 15) == committed, "the committed ASL carries the defaults"

    configured = json.loads(configure_polling(committed, 5, 40))

    (retrier,) = poll_retriers(configured)
    assert (retrier["IntervalSeconds"], retrier["MaxAttempts"], retrier["MaxDelaySeconds"]) == (5, 40, 30)
    retrier.update(IntervalSeconds=2, MaxAttempts=15)
    assert configured == json.loads(committed), "nothing else changes"
    without_poll = json.loads(committed)
    for state in all_states(without_poll).values():
        state["Retry"] = [r for r in state.get("Retry", []) if r["ErrorEquals"] != [TableStillCreating.error_name()]]
    with pytest.raises(ValueError, match="no table poll retrier"):
        configure_polling(json.dumps(without_poll), 2, 15)


def test_drift_check_path_is_short_and_can_remediate(states: dict[str, dict[str, Any]]) -> None:
    route = states["RouteAction"]
    path = ["ValidateInput", "RouteAction"]
    path.append(next(c["Next"] for c in route["Choices"] if c.get("StringEquals") == "drift-check"))
    path.append(states[path[-1]]["Next"])
    path.append(states[path[-1]]["Next"])
    path.append(states[path[-1]]["Next"])
    path.append(states[path[-1]]["Default"])
    assert path == ["ValidateInput", "RouteAction", "ProveDriftAccess", "ProveDriftAccessTables", "DriftCheck",
                    "RemediateDrift", "DriftCheckDone"]
    assert states["DriftCheck"]["Parameters"]["Payload"]["access"] == {"role.$": "$.access_role", "tables.$": "$.access_tables"}
    done = states["DriftCheckDone"]
    assert done["Type"] == "Succeed" and done["OutputPath"] == "$.drift"
    assert states["DriftCheck"]["ResultPath"] == "$.drift"
    remediate = states["RemediateDrift"]["Choices"]
    assert [c["Next"] for c in remediate] == ["Provision"]
    assert {(r["Variable"], r["BooleanEquals"]) for r in remediate[0]["And"]} == {
        ("$.remediate", True),
        ("$.drift.drifted", True),
    }


def test_drift_check_only_path_invokes_validate_prove_access_and_drift_check(states: dict[str, dict[str, Any]]) -> None:
    path = ["ValidateInput", "RouteAction", "ProveDriftAccess", "ProveDriftAccessTables", "DriftCheck", "RemediateDrift",
            "DriftCheckDone"]
    assert [name for name in path if states[name]["Type"] == "Task"] == ["ValidateInput", "ProveDriftAccess", "DriftCheck"]
    assert states["ProveDriftAccess"]["Parameters"]["FunctionName"] == step("prove-access").placeholder
    iteration = states["ProveDriftAccessTables"]["ItemProcessor"]["States"]
    assert {s["Parameters"]["FunctionName"] for s in iteration.values()} == {step("prove-access").placeholder}
    assert states["DriftCheck"]["Parameters"]["FunctionName"] == step("drift-check").placeholder


def test_remediation_carries_remediate_into_every_table_and_verify_reads_the_drift(
    states: dict[str, dict[str, Any]],
) -> None:
    assert states["ProvisionTables"]["ItemSelector"]["remediate.$"] == "$.remediate"
    assert states["CreateOrAdoptTable"]["Parameters"]["Payload"]["remediate.$"] == "$.remediate"
    verify_payload = states["Verify"]["Parameters"]["Payload"]
    assert verify_payload["remediate.$"] == "$.remediate"
    assert verify_payload["drift.$"] == "$.drift"


def test_a_refused_table_ends_its_iteration_without_waiting_or_touching_ttl(states: dict[str, dict[str, Any]]) -> None:
    processor = states["ProvisionTables"]["ItemProcessor"]["States"]
    choice = processor[processor["CreateOrAdoptTable"]["Next"]]
    assert choice["Type"] == "Choice"
    refused = [c for c in choice["Choices"] if c.get("Variable") == "$.observed.outcome" and c.get("StringEquals") == "refused"]
    assert len(refused) == 1
    skip = processor[refused[0]["Next"]]
    assert skip["Type"] == "Pass" and skip.get("End") is True, "a refused table must end its iteration"
    assert skip["Parameters"]["table.$"] == "$.table"
    assert skip["Parameters"]["outcome.$"] == "$.observed.outcome"
    assert choice["Default"] == "PollTable"


def test_rollback_and_teardown_paths(states: dict[str, dict[str, Any]]) -> None:
    rollback = states["RollbackExecution"]
    assert rollback["Parameters"]["FunctionName"] == step("rollback").placeholder
    assert rollback["Parameters"]["Payload"]["execution_name.$"] == "$.target_execution_name"
    assert rollback["Parameters"]["Payload"]["error"] is None
    assert states[rollback["Next"]]["Type"] == "Succeed"
    assert states["TeardownTables"]["Next"] == "TeardownRole"
    assert states["Verify"]["OutputPath"] == "$.Payload"


def test_teardown_never_stops_half_done_and_fails_naming_what_is_left(states: dict[str, dict[str, Any]]) -> None:
    table = states["TeardownTable"]
    # A backup still CREATING is waited for, not failed: TeardownTable -> BackupPending -> WaitForBackup -> TeardownTable.
    pending = states[table["Next"]]
    assert pending["Type"] == "Choice" and pending["Choices"][0]["StringEquals"] == "backup-pending"
    wait = states[pending["Choices"][0]["Next"]]
    assert wait["Type"] == "Wait" and wait["Next"] == "TeardownTable"
    assert states[pending["Default"]]["End"] is True
    (catcher,) = table["Catch"]
    assert states[catcher["Next"]]["Type"] == "Pass" and states[catcher["Next"]]["End"] is True
    (map_catcher,) = states["TeardownTables"]["Catch"]
    assert states[map_catcher["Next"]] == {"Type": "Fail", "Error": "TeardownIncomplete", "CausePath": "$.error.Cause"}
    complete = states[states["TeardownRole"]["Next"]]
    assert complete["Type"] == "Choice"
    assert states[complete["Choices"][0]["Next"]]["Type"] == "Succeed"
    assert states[complete["Default"]] == {"Type": "Fail", "Error": "TeardownIncomplete", "CausePath": "$.cause"}


# -- (d) substitution -----------------------------------------------------------------------------


def test_substitute_replaces_every_placeholder() -> None:
    arns = fake_arns()
    text = substitute(load_definition(), arns)
    assert "${" not in text
    for name, state, _ in walk(json.loads(text)):
        if state["Type"] == "Task":
            assert state["Parameters"]["FunctionName"] in arns.values(), name
    assert json.loads(text)["States"]["Verify"]["Parameters"]["FunctionName"] == arns["verify"]


def test_substitute_rejects_a_missing_step() -> None:
    arns = fake_arns()
    del arns["await-table"]
    with pytest.raises(ValueError, match="await-table"):
        substitute(load_definition(), arns)


def test_substitute_rejects_unknown_steps_empty_arns_and_leftovers() -> None:
    with pytest.raises(ValueError, match="no-such-step"):
        substitute(load_definition(), {**fake_arns(), "no-such-step": "arn:x"})
    with pytest.raises(ValueError, match="verify"):
        substitute(load_definition(), {**fake_arns(), "verify": ""})
    leftover = json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Comment": "${StrayFunctionArn}", "End": True}}})
    with pytest.raises(ValueError, match="StrayFunctionArn"):
        substitute(leftover, fake_arns())


# -- post-render alone (no SDK) -------------------------------------------------------------------


def _sdk_shaped() -> dict[str, Any]:
    return {
        "StartAt": "M",
        "States": {
            "M": {
                "Parameters": {"x.$": "$$.Map.Item.Value"},
                "Type": "Map",
                "Iterator": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "r", "End": True,
                                                             "Retry": [{"ErrorEquals": ["E"]}]}}},
                "Next": "F",
            },
            "F": {"Type": "Fail"},
        },
    }


def test_post_render_adds_what_the_sdk_cannot() -> None:
    source = _sdk_shaped()
    before = copy.deepcopy(source)
    out = post_render(
        source,
        state_extras={"M": {"MaxConcurrencyPath": "$.n"}, "T": {"ResultSelector": {"a.$": "$.Payload.a"}},
                      "F": {"ErrorPath": "$.e", "CausePath": "$.c"}},
        retry_extras={"MaxDelaySeconds": 20, "JitterStrategy": "FULL"},
    )
    assert source == before, "post_render must not modify its input"
    m = out["States"]["M"]
    assert "Iterator" not in m and "Parameters" not in m
    assert m["ItemSelector"] == {"x.$": "$$.Map.Item.Value"}
    assert m["MaxConcurrencyPath"] == "$.n"
    assert m["ItemProcessor"]["ProcessorConfig"] == {"Mode": "INLINE"}
    task = m["ItemProcessor"]["States"]["T"]
    assert task["ResultSelector"] == {"a.$": "$.Payload.a"}
    assert task["Retry"] == [{"ErrorEquals": ["E"], "MaxDelaySeconds": 20, "JitterStrategy": "FULL"}]
    assert list(m)[0] == "Type"
    assert out["States"]["F"] == {"Type": "Fail", "ErrorPath": "$.e", "CausePath": "$.c"}


def test_post_render_refuses_unknown_states_and_overwrites() -> None:
    with pytest.raises(ValueError, match="Nope"):
        post_render(_sdk_shaped(), state_extras={"Nope": {"Comment": "x"}}, retry_extras={})
    with pytest.raises(ValueError, match="Resource"):
        post_render(_sdk_shaped(), state_extras={"T": {"Resource": "other"}}, retry_extras={})
