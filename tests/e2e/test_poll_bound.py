"""The poll is bounded: a table still CREATING after max_polls looks again fails the run, which rolls back."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import yaml

from lambdas.core.errors import TableCreationTimeout

MAX_POLLS = 2


@pytest.fixture
def config_path(tmp_path, config_path):
    """The e2e config (one-second first interval), allowing only MAX_POLLS looks again per table."""
    config = yaml.safe_load(config_path.read_text())
    config["provisioner"]["max_polls"] = MAX_POLLS
    path = tmp_path / "bounded-polls.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_table_still_creating_after_max_polls_fails_the_run_and_is_rolled_back(aws, run, clients):
    aws.set_create_latency(6)  # longer than the first look and MAX_POLLS looks again (after 1 s, then 1.5 s)

    result = run({"action": "provision"})

    assert result.status == "FAILED"
    assert result.error == TableCreationTimeout.error_name()
    assert result.failed_state == "TableCreationTimedOut"
    pages = clients.stepfunctions.get_paginator("get_execution_history").paginate(executionArn=result.execution_arn)
    history = [event for page in pages for event in page["events"]]
    looks: Counter[str] = Counter()
    for event in history:
        if event["type"] == "TaskScheduled":
            payload = json.loads(event["taskScheduledEventDetails"]["parameters"])["Payload"]
            if payload.get("look"):
                looks[payload["table"]] += 1
    # The table that timed out was looked at once and MAX_POLLS times again; none more often.
    assert max(looks.values()) == 1 + MAX_POLLS, looks
    # Polls are waits, not failed attempts: what the run shows a person names none of them.
    assert not [line for line in result.progress if "TableStillCreating" in line]
    assert [n for n in clients.dynamodb.list_tables()["TableNames"] if n.startswith("FileFerry-")] == []
    assert "FileFerryReadOnlyRole" not in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]
