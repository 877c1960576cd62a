"""The README's workflow diagram is generated from the committed ASL and fails this test when stale."""

from __future__ import annotations

import json
import re
from typing import Any

from state_machine import diagram as workflow_diagram
from state_machine.asl import ASL_PATH

EDGE = re.compile(r'^\s*(\w+)(?:\(\(\w+\)\))? (?:-->|-- "[^"]*" -->|-\. "[^"]*" \.->) (\w+)(?:\(\(\w+\)\))?$')
NODE = re.compile(r'^\s*(?:subgraph )?(\w+)\s*(?:\[|\{|\(|\[/)')

# Every construct the generator must follow: Parallel branches, a Map with its ItemProcessor, Catch,
# Retry, Choice rules with And/Not, Wait, Pass, Succeed and Fail.
EVERY_CONSTRUCT: dict[str, Any] = {
    "StartAt": "Check",
    "States": {
        "Check": {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.a", "StringEquals": "x"}, {"Not": {"Variable": "$.b", "IsPresent": True}}], "Next": "Both"},
        ], "Default": "Give up"},
        "Both": {
            "Type": "Parallel",
            "Branches": [
                {"StartAt": "Left", "States": {"Left": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True,
                                                        "Retry": [{"ErrorEquals": ["Throttled"], "MaxAttempts": 4}]}}},
                {"StartAt": "Pause", "States": {"Pause": {"Type": "Wait", "Seconds": 5, "Next": "Right"},
                                                "Right": {"Type": "Pass", "End": True}}},
            ],
            "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}],
            "Next": "Each",
        },
        "Each": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 3,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "One",
                              "States": {"One": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "End": True}}},
            "Catch": [{"ErrorEquals": ["Throttled", "LimitExceeded", "ResourceBusy", "AccessDenied"], "Next": "Undo"}],
            "Next": "Done",
        },
        "Undo": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Next": "Give up"},
        "Done": {"Type": "Succeed"},
        "Give up": {"Type": "Fail", "Error": "Failed"},
    },
}


def _transitions(machine: dict[str, Any], top: bool = True) -> set[tuple[str, str]]:
    """Every transition the ASL defines, as (from node, to node)."""
    found: set[tuple[str, str]] = set()
    node = workflow_diagram.node_id
    if top:
        found.add(("start", node(machine["StartAt"])))
    for name, state in machine["States"].items():
        targets = [c["Next"] for c in state.get("Choices", [])] + [c["Next"] for c in state.get("Catch", [])]
        targets += [state[key] for key in ("Next", "Default") if key in state]
        found |= {(node(name), node(target)) for target in targets}
        if state.get("End") and top:
            found.add((node(name), "done"))
        for inner in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                found |= _transitions(inner, top=False)
    return found


def _states(machine: dict[str, Any]) -> set[str]:
    names = set()
    for name, state in machine["States"].items():
        names.add(workflow_diagram.node_id(name))
        for inner in [state.get("ItemProcessor") or state.get("Iterator"), *state.get("Branches", [])]:
            if inner:
                names |= _states(inner)
    return names


def _drawn(text: str) -> tuple[set[tuple[str, str]], set[str]]:
    lines = text.splitlines()
    edges = {match.groups() for match in map(EDGE.match, lines) if match}
    nodes = {match.group(1) for match in map(NODE.match, lines) if match}
    return edges, nodes


def test_the_readme_shows_the_diagram_of_the_committed_state_machine():
    # If this fails, the workflow changed: run `python -m state_machine.diagram` and commit the README.
    assert workflow_diagram.main(["--check"]) == 0


def test_the_diagram_draws_every_state_and_every_transition_of_the_committed_state_machine():
    definition = json.loads(ASL_PATH.read_text())
    edges, nodes = _drawn(workflow_diagram.diagram(definition))
    assert edges == _transitions(definition)
    assert _states(definition) <= nodes


def test_the_four_paths_retries_and_the_rollback_branch_are_labelled():
    text = workflow_diagram.diagram(json.loads(ASL_PATH.read_text()))
    route = next(name for name, s in json.loads(ASL_PATH.read_text())["States"].items() if s["Type"] == "Choice")
    for action in ("provision", "drift-check", "rollback", "teardown"):
        assert f'{workflow_diagram.node_id(route)} -- "action = {action}" -->' in text
    assert re.search(r'-\. "catch States\.ALL" \.-> s_RollbackOnFailure', text)
    assert re.search(r"retry Throttled, [^<\"]* x\d+", text)


def test_parallel_map_choice_catch_retry_and_wait_are_all_drawn():
    text = workflow_diagram.diagram(EVERY_CONSTRUCT)
    edges, nodes = _drawn(text)
    assert edges == _transitions(EVERY_CONSTRUCT)
    assert _states(EVERY_CONSTRUCT) <= nodes
    assert 'subgraph s_Both ["Both: Parallel branches' in text and 'subgraph s_Both_branch1 ["branch 2"]' in text
    assert 'subgraph s_Each ["Each: Map over items, at most 3 at once"]' in text
    assert 's_Check -- "a = x and not (b present)" --> s_Both' in text
    assert "retry Throttled x4" in text and "5 s" in text
    assert 's_Each -. "catch Throttled, LimitExceeded +2 more" .-> s_Undo' in text
    assert 's_Check -- "otherwise" --> s_Give_up' in text


def test_a_stale_readme_is_found_and_regenerated(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text(f"# Title\n\n{workflow_diagram.BEGIN}\n```mermaid\nflowchart TD\n    old --> diagram\n```\n{workflow_diagram.END}\n\nAfter.\n")
    assert workflow_diagram.main(["--readme", str(readme), "--check"]) == 1
    assert workflow_diagram.main(["--readme", str(readme)]) == 0
    assert workflow_diagram.main(["--readme", str(readme), "--check"]) == 0
    text = readme.read_text()
    assert text.startswith("# Title\n") and text.endswith("\n\nAfter.\n") and "old --> diagram" not in text
