"""Runs that overlap, on an AWS whose ListExecutions does not list a run started moments ago: one run at a
time changes resources, a rollback waits its turn, and deploy does not swap code under a run in flight.
Read back with boto3."""

from __future__ import annotations

import json

import yaml

from provisioner.runs import executions as runs

TABLES = sorted(
    ["FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-TransferRequests", "FileFerry-AgentLearning", "FileFerry-S3FileCache"]
)
ROLE = "FileFerryReadOnlyRole"
# Longer than a run takes to reach its first step: neither run is listed yet when the other looks.
LISTING_LAG = 5


def _tables(clients) -> list[str]:
    return sorted(name for name in clients.dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-"))


def _role_exists(clients) -> bool:
    return ROLE in [role["RoleName"] for role in clients.iam.list_roles()["Roles"]]


def _states_entered(clients, arn: str) -> list[str]:
    return [event["stateEnteredEventDetails"]["name"] for event in runs.history(clients.stepfunctions, arn)
            if "stateEnteredEventDetails" in event]


def _task_errors(clients, arn: str) -> list[str]:
    return [event["taskFailedEventDetails"].get("error") for event in runs.history(clients.stepfunctions, arn)
            if event["type"] == "TaskFailed"]


def _follow(clients, arn: str) -> runs.RunResult:
    return runs.Follower(clients.stepfunctions, poll_seconds=0.2).follow(arn)


def test_two_provisions_started_together_one_runs_and_the_other_says_why(aws, deployed, clients):
    aws.set_consistency_lag(LISTING_LAG)
    sfn = clients.stepfunctions
    assert sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"] == []
    started = [runs.start(sfn, deployed.state_machine_arn, {"action": "provision"}) for _ in range(2)]
    assert sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"] == []  # not listed yet

    ended = {arn: _follow(clients, arn) for arn in started}

    assert sorted((result.status, result.error) for result in ended.values()) == [("FAILED", "ConcurrentRun"), ("SUCCEEDED", None)]
    winner = next(arn for arn, result in ended.items() if result.succeeded)
    loser = next(arn for arn in started if arn != winner)
    assert ended[winner].output["verified"] is True
    assert f"execution {winner.rsplit(':', 1)[-1]} is still running" in ended[loser].cause
    # The refused run changed nothing and rolled nothing back: it never left ValidateInput.
    assert [state for state in _states_entered(clients, loser) if state != "ValidateInput"] == []
    assert _tables(clients) == TABLES and _role_exists(clients)


def _throttled_provision(aws, deployed, clients, follow_until) -> str:
    """A provision that keeps retrying EnsureRole (CreateRole throttled), followed until it has been."""
    aws.set_faults(["iam:CreateRole=ThrottlingException"])
    arn = runs.start(clients.stepfunctions, deployed.state_machine_arn, {"action": "provision"})
    follow_until(arn, lambda line: line.startswith("step failed: Throttled: CreateRole"), "EnsureRole was throttled")
    return arn


def test_a_rollback_started_while_another_provision_runs_waits_for_it_and_keeps_what_that_run_verified(
    aws, deployed, clients, factory, follow_until
):
    # An operator stops a run and starts a new provision at once; the stopped run's rollback (here started
    # by hand, once the new run holds the lease: the rule that starts it on AWS is disabled so that the order
    # is the test's) meets the new run. It waits for it, rather than failing, and does not undo what the new
    # run verified.
    aws.set_consistency_lag(LISTING_LAG)
    sfn, events = clients.stepfunctions, clients.events
    events.disable_rule(Name=f"{factory.settings.provisioner.name}-rollback-on-abort")
    stopped = _throttled_provision(aws, deployed, clients, follow_until)
    sfn.stop_execution(executionArn=stopped, error="Operator", cause="stopped by the test")
    aws.set_faults([])
    provision = runs.start(sfn, deployed.state_machine_arn, {"action": "provision"})
    follow_until(provision, lambda line: "table FileFerry-" in line, "the new provision created a table")

    rollback = runs.start(sfn, deployed.state_machine_arn, {"action": "rollback", "execution_arn": stopped})
    provisioned, rolled_back = _follow(clients, provision), _follow(clients, rollback)

    assert provisioned.succeeded and provisioned.output["verified"] is True, f"{provisioned.error}: {provisioned.cause}"
    assert rolled_back.succeeded, f"{rolled_back.error}: {rolled_back.cause}"
    errors = _task_errors(clients, rollback)
    assert "OtherRunInFlight" in errors and "ConcurrentRun" not in errors
    assert rolled_back.output["deleted"] == [] and rolled_back.output["superseded_by"] == provision.rsplit(":", 1)[-1]
    assert _tables(clients) == TABLES and _role_exists(clients)


def test_deploy_refuses_while_a_provision_is_in_flight_and_deploys_over_it_only_with_force(
    aws, deployed, clients, cli, config_path, follow_until
):
    aws.set_consistency_lag(LISTING_LAG)  # the listing does not show the run: the lease does
    sfn = clients.stepfunctions
    in_flight = _throttled_provision(aws, deployed, clients, follow_until)
    before = sfn.describe_state_machine(stateMachineArn=deployed.state_machine_arn)["definition"]
    config = yaml.safe_load(config_path.read_text())
    config["provisioner"]["poll_interval_seconds"] = 3  # a change a deploy would make to the definition
    config_path.write_text(yaml.safe_dump(config))

    refused_code, refused = cli("deploy")
    unchanged = sfn.describe_state_machine(stateMachineArn=deployed.state_machine_arn)["definition"]
    forced_code, forced = cli("deploy", "--force")
    changed = sfn.describe_state_machine(stateMachineArn=deployed.state_machine_arn)["definition"]
    aws.set_faults([])
    ended = _follow(clients, in_flight)

    name = in_flight.rsplit(":", 1)[-1]
    assert refused_code == 1
    assert f"{name} (provision)" in refused and f"status {in_flight} --follow" in refused and "--force" in refused
    assert unchanged == before
    assert forced_code == 0 and "warning: deploying over a run in flight" in forced and name in forced
    assert changed != before and json.loads(changed) != json.loads(before)
    assert ended.succeeded, f"{ended.error}: {ended.cause}"
