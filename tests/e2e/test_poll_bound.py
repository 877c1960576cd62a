"""The poll loop is bounded: a table still CREATING after max_polls polls fails the run, which rolls back."""

from __future__ import annotations

import pytest
import yaml

from lambdas.core.errors import TableCreationTimeout

MAX_POLLS = 2


@pytest.fixture
def config_path(tmp_path, config_path):
    """The e2e config (one-second polls), allowing only MAX_POLLS polls per table."""
    config = yaml.safe_load(config_path.read_text())
    config["provisioner"]["max_polls"] = MAX_POLLS
    path = tmp_path / "bounded-polls.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_table_still_creating_after_max_polls_fails_the_run_and_is_rolled_back(aws, run, clients):
    aws.set_create_latency(6)  # longer than MAX_POLLS one-second polls after the first wait

    result = run({"action": "provision"})

    assert result.status == "FAILED"
    assert result.error == TableCreationTimeout.error_name()
    history = clients.stepfunctions.get_execution_history(executionArn=result.execution_arn, maxResults=1000)["events"]
    polls = [e for e in history if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "PollTable"]
    assert 0 < len(polls) <= MAX_POLLS * 5
    assert [n for n in clients.dynamodb.list_tables()["TableNames"] if n.startswith("FileFerry-")] == []
    assert "FileFerryReadOnlyRole" not in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]
