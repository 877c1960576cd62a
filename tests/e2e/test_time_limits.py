"""The deployed state machine's time limits agree with the configured waits, read back from Step Functions."""

from __future__ import annotations

import json

import pytest
import yaml

POLL_INTERVAL_SECONDS = 60
MAX_POLLS = 300
BACKUP_WAIT_SECONDS = 3600


@pytest.fixture
def config_path(tmp_path, config_path):
    """The e2e config with a poll longer than 30 s apart, more looks than an hour holds, and an hour's backup wait."""
    config = yaml.safe_load(config_path.read_text())
    config["provisioner"].update(
        poll_interval_seconds=POLL_INTERVAL_SECONDS, max_polls=MAX_POLLS, backup_wait_seconds=BACKUP_WAIT_SECONDS
    )
    path = tmp_path / "long-waits.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def _deployed_definition(clients, deployed) -> dict:
    described = clients.stepfunctions.describe_state_machine(stateMachineArn=deployed.state_machine_arn)
    return json.loads(described["definition"])


def _poll_retrier(definition: dict) -> dict:
    found = []

    def walk(states: dict) -> None:
        for state in states.values():
            found.extend(r for r in state.get("Retry", []) if "TableStillCreating" in r["ErrorEquals"])
            for branch in state.get("Branches", []):
                walk(branch["States"])
            processor = state.get("ItemProcessor") or state.get("Iterator")
            if processor:
                walk(processor["States"])

    walk(definition["States"])
    (retrier,) = found
    return retrier


def test_the_execution_outlasts_every_configured_poll_so_a_slow_table_ends_in_table_creation_timeout(clients, deployed) -> None:
    definition = _deployed_definition(clients, deployed)
    # The poll alone: MAX_POLLS looks, each POLL_INTERVAL_SECONDS apart at least (five hours); then the rollback.
    assert definition["TimeoutSeconds"] > MAX_POLLS * POLL_INTERVAL_SECONDS


def test_the_configured_poll_interval_is_kept_where_step_functions_would_cap_it(clients, deployed) -> None:
    retrier = _poll_retrier(_deployed_definition(clients, deployed))
    assert retrier["IntervalSeconds"] == POLL_INTERVAL_SECONDS
    assert retrier["MaxAttempts"] == MAX_POLLS
    assert retrier.get("MaxDelaySeconds", POLL_INTERVAL_SECONDS) >= POLL_INTERVAL_SECONDS


def test_the_execution_outlasts_the_backup_wait(clients, deployed) -> None:
    assert _deployed_definition(clients, deployed)["TimeoutSeconds"] > BACKUP_WAIT_SECONDS
