"""The aws-local-stepfunctions runner refuses what it cannot run faithfully (its scenarios: tests/e2e/test_second_interpreter.py)."""

from __future__ import annotations

import json

import node_tools
import pytest
from local_sfn import Credentials, LocalStepFunctions

UNUSED_ENDPOINT = "http://127.0.0.1:9"


def _machine(resource: str) -> str:
    return json.dumps({"StartAt": "Put", "States": {"Put": {"Type": "Task", "Resource": resource, "End": True}}})


def test_a_task_whose_resource_has_no_binding_is_refused_before_any_run() -> None:
    # Without a binding the library would invoke a Lambda function named after the Resource.
    interpreter = LocalStepFunctions(_machine("arn:aws:states:::dynamodb:putItem"), UNUSED_ENDPOINT, Credentials("k", "s"))
    with pytest.raises(node_tools.NodeToolFailed, match="state Put: Task resource arn:aws:states:::dynamodb:putItem has no binding"):
        with interpreter:
            pass


def test_missing_node_packages_fail_with_the_setup_command(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(node_tools, "NODE_MODULES", tmp_path / "node_modules")
    interpreter = LocalStepFunctions(_machine("arn:aws:states:::lambda:invoke"), UNUSED_ENDPOINT, Credentials("k", "s"))
    with pytest.raises(node_tools.NodeToolsMissing, match="npm ci --no-audit --no-fund"):
        with interpreter:
            pass
