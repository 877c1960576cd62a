"""Credentials that end while a run is followed: following stops (exit 4), the run goes on, read back from Step Functions."""

from __future__ import annotations

import json
import re

import pytest

from provisioner.runs import executions as runs

ACCOUNT = "123456789012"
SESSION_SECONDS = 900


@pytest.fixture
def operator_session(aws, clients, monkeypatch):
    """The operator's credentials: a 15-minute sts:AssumeRole session of an all-powerful role, in the environment."""
    clients.iam.create_role(RoleName="operator", AssumeRolePolicyDocument=json.dumps({
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}]}))
    clients.iam.put_role_policy(RoleName="operator", PolicyName="all", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
    aws.clock.advance(5)  # the policy has propagated
    credentials = clients.sts.assume_role(RoleArn=f"arn:aws:iam::{ACCOUNT}:role/operator", RoleSessionName="operator",
                                          DurationSeconds=SESSION_SECONDS)["Credentials"]
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", credentials["AccessKeyId"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", credentials["SecretAccessKey"])
    monkeypatch.setenv("AWS_SESSION_TOKEN", credentials["SessionToken"])


@pytest.fixture
def session_ends_while_following(aws, monkeypatch):
    """The operator's session ends right after the follower's first read of the history."""
    read = runs.read_new_events

    def read_then_end_the_session(*args, **kwargs):
        events = read(*args, **kwargs)
        aws.clock.advance(SESSION_SECONDS + 1)
        return events

    monkeypatch.setattr(runs, "read_new_events", read_then_end_the_session)


def _finished(clients, arn: str) -> dict:
    runs.Follower(clients.stepfunctions, poll_seconds=0.2).follow(arn)  # the test's own keys: they do not end
    return clients.stepfunctions.describe_execution(executionArn=arn)


def test_following_stops_with_exit_4_naming_the_run_which_goes_on(deployed, clients, operator_session,
                                                                 session_ends_while_following, cli):
    code, output = cli("run", "provision")

    assert code == 4, output
    arn = re.search(r"execution (arn:aws:states:\S+) keeps running", output).group(1)
    assert "ExpiredTokenException" in output
    assert f"status {arn} --follow" in output
    assert "Traceback" not in output
    assert _finished(clients, arn)["status"] == "SUCCEEDED"


def test_under_json_the_document_carries_the_execution_arn(deployed, clients, operator_session,
                                                           session_ends_while_following, cli):
    code, output = cli("--json", "run", "provision")

    assert code == 4, output
    document = json.loads(output)
    assert document["kind"] == "following_stopped"
    assert document["follow_with"].endswith(f"status {document['execution_arn']} --follow")
    assert _finished(clients, document["execution_arn"])["status"] == "SUCCEEDED"
