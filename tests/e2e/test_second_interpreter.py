"""The committed state machine on two Step Functions interpreters that share no code, which must agree.

moto's interpreter (the embedded AWS's StartExecution) is a port of LocalStack's;
aws-local-stepfunctions (npm, Node 22) was written independently. Each scenario runs twice from
a reset embedded AWS, once per interpreter, with the same deployed definition, the same deployed
functions, the same execution names and the same hand-made changes between runs; each run must
end in the status and error the scenario expects, and the two plays must agree on every run's
status, error, cause, output, failed task attempts and states entered, and on the tables and
roles they leave, read back with boto3. Both plays run with no read lag, no chaos and no create or
TTL latency, so the only thing that differs is the interpreter.
"""

from __future__ import annotations

import collections
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from lambdas.core.diff import canonical_statements
from lambdas.core.errors import (
    CreationInFlight,
    NotYetVisible,
    ResourceBusy,
    TableNotActive,
    TableStillCreating,
    TargetStillRunning,
)
from local_sfn import Credentials, LocalStepFunctions, context_object
from provisioner.runs import executions as runs
from state_machine.asl import load_definition
from provisioner.blueprint.packaging import build_package

ROLE, POLICY = "FileFerryReadOnlyRole", "FileFerryReadOnlyPolicy"
SESSIONS, CONTEXT, CACHE = "FileFerry-ActiveSessions", "FileFerry-UserContext", "FileFerry-S3FileCache"
ADDED_STATEMENT = {"Sid": "Added", "Effect": "Allow", "Action": "s3:PutObject", "Resource": "*"}


@dataclass(frozen=True)
class Outcome:
    """How one execution ended, in the terms both interpreters can be compared in."""

    status: str
    error: str | None
    cause: str | None
    output: Any
    task_failures: tuple[str, ...]  # error names of failed Task attempts, retried or not, sorted (waits left out)
    states_entered: tuple[tuple[str, int], ...]  # how often each state was entered (a retry is no new entry)


def _counted(names: list[str]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(collections.Counter(names).items()))


# A step that waits on AWS raises one of these until what it waits for has happened (a table turns
# ACTIVE, a read catches up, a create the failed run left in flight lands); how many times it looks
# is timing, not interpretation: a rollback meets CreationInFlight only if the stopped Parallel
# branch had a CreateTable in flight. Faults and failures are compared; waits are not.
WAITS = frozenset(
    cls.error_name()
    for cls in (TableStillCreating, TableNotActive, NotYetVisible, CreationInFlight, TargetStillRunning, ResourceBusy)
)


def _failures(errors: list[str]) -> tuple[str, ...]:
    return tuple(sorted(error for error in errors if error not in WAITS))


class Moto:
    """The embedded AWS's own interpreter: StartExecution, followed to its end."""

    def __init__(self, clients: Any, state_machine_arn: str):
        self.sfn = clients.stepfunctions
        self.state_machine_arn = state_machine_arn

    def run(self, run_input: Any, execution_name: str) -> Outcome:
        arn = self.sfn.start_execution(
            stateMachineArn=self.state_machine_arn, name=execution_name, input=json.dumps(run_input)
        )["executionArn"]
        runs.Follower(self.sfn, poll_seconds=0.2).follow(arn)
        described = self.sfn.describe_execution(executionArn=arn)
        events = list(runs.history(self.sfn, arn))
        failures = [event["taskFailedEventDetails"]["error"] for event in _not_of_stopped_branches(events)
                    if event["type"] == "TaskFailed"]
        entered = [event["stateEnteredEventDetails"]["name"] for event in events if event["type"].endswith("StateEntered")]
        output = described.get("output")
        return Outcome(
            described["status"],
            described.get("error"),
            described.get("cause"),
            json.loads(output) if output else None,
            _failures(failures),
            _counted(entered),
        )


def _not_of_stopped_branches(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The history without what a Lambda task of a stopped Parallel branch wrote after the stop.

    AWS stops every branch when one fails (Developer Guide, Parallel state), and the referee records
    nothing more for them; moto's interpreter lets a stopped branch's Lambda task carry on, and when
    its invocation returns it may record a TaskFailed States.Runtime in the stopped frame.
    """
    by_id = {event["id"]: event for event in events}
    stopped_at = next((event["id"] for event in events if event["type"] == "ParallelStateFailed"), None)

    def state_of(event: dict[str, Any]) -> str | None:
        previous = event.get("previousEventId")
        while previous in by_id and not by_id[previous]["type"].endswith("StateEntered"):
            previous = by_id[previous].get("previousEventId")
        return by_id[previous]["stateEnteredEventDetails"]["name"] if previous in by_id else None

    return [
        event for event in events
        if stopped_at is None or event["id"] < stopped_at or state_of(event) not in IN_PARALLEL_BRANCHES
    ]


# The referee's executions exist only in its own process: AWS has no history of them. A rollback
# reads its run's history (GetExecutionHistory) for what the run changed on resources that existed
# before it (TTL it enabled, a role policy it replaced), finds none, and says so in the cause's
# "could not restore" clause instead of listing them. That clause alone is compared apart.
ROLLBACK = " | rollback: "
COULD_NOT_RESTORE = "could not restore "
HISTORY_UNREADABLE = COULD_NOT_RESTORE + "changes to pre-existing resources (run history unreadable: ExecutionDoesNotExist)"


def _states_in_parallel_branches(states: dict[str, Any]) -> set[str]:
    """Names of the states nested in any Parallel state's branches, at any depth."""
    nested = set()
    for state in states.values():
        for branch in state.get("Branches", []):
            nested |= _nested_states(branch["States"])
    return nested


def _nested_states(states: dict[str, Any]) -> set[str]:
    names = set(states)
    for state in states.values():
        for branch in state.get("Branches", []):
            names |= _nested_states(branch["States"])
        if "ItemProcessor" in state:
            names |= _nested_states(state["ItemProcessor"]["States"])
    return names


# "If any branch fails ... the entire Parallel state fails, and all of its branches are stopped"
# (Step Functions developer guide, Parallel workflow state): how far a sibling branch got before it
# was stopped is timing, not interpretation, so a failed run's states inside Parallel branches are
# left out of the comparison. Its resources, status, error, cause and task failures are not.
IN_PARALLEL_BRANCHES = _states_in_parallel_branches(json.loads(load_definition())["States"])


def _comparable(outcome: Outcome, on_referee: bool) -> Outcome:
    """The outcome with what timing decides set aside: a failed run's states in Parallel branches,
    and a rollback's "could not restore" clause, which is checked here (see above)."""
    if outcome.status == "FAILED":
        outcome = dataclasses.replace(
            outcome, states_entered=tuple(entry for entry in outcome.states_entered if entry[0] not in IN_PARALLEL_BRANCHES)
        )
    if not outcome.cause or ROLLBACK not in outcome.cause:
        return outcome
    original, summary = outcome.cause.split(ROLLBACK, 1)
    clauses = summary.split("; ")
    not_restored = [clause for clause in clauses if clause.startswith(COULD_NOT_RESTORE)]
    if on_referee:
        assert len(not_restored) == 1 and not_restored[0].startswith(HISTORY_UNREADABLE), outcome.cause
    else:
        assert "history unreadable" not in summary, outcome.cause
    rest = [clause for clause in clauses if not clause.startswith(COULD_NOT_RESTORE)]
    return dataclasses.replace(outcome, cause=original + ROLLBACK + "; ".join(rest))


class Referee:
    """aws-local-stepfunctions, running the definition as deployed, calling the deployed functions.

    Each execution runs on its own session of the state machine's role, as Step Functions assumes the
    role for each execution: a scenario that moves the clock past one session's end must not fail on it.
    """

    def __init__(self, clients: Any, definition: str, endpoint_url: str, state_machine_arn: str, role_arn: str):
        self.clients = clients
        self.definition = definition
        self.endpoint_url = endpoint_url
        self.state_machine_arn = state_machine_arn
        self.role_arn = role_arn

    def run(self, run_input: Any, execution_name: str) -> Outcome:
        credentials = _state_machine_role_credentials(self.clients, self.role_arn)
        with LocalStepFunctions(self.definition, self.endpoint_url, credentials) as interpreter:
            ended = interpreter.run(run_input, context_object(self.state_machine_arn, execution_name, self.role_arn))
        return Outcome(
            ended.status,
            ended.error,
            ended.cause,
            ended.output,
            _failures([error for _, error in ended.task_failures]),
            _counted(ended.states_entered),
        )


Interpreter = Moto | Referee


@dataclass(frozen=True)
class Step:
    """One execution of a scenario: what to do first, the faults it meets, how it must end."""

    run_input: dict[str, Any]
    status: str
    error: str | None = None
    before: Callable[[Any, Any], None] = lambda clients, emulator: None
    faults: tuple[str, ...] = ()
    task_failures: tuple[str, ...] = ()  # sorted error names of the failed Task attempts it must see, waits aside


@dataclass(frozen=True)
class Scenario:
    name: str
    steps: tuple[Step, ...]
    setup: Callable[[Any], None] = lambda clients: None


def _an_hour_later(clients: Any, emulator: Any) -> None:
    """AWS allows one TTL change per table an hour (UpdateTimeToLive API reference): let one pass."""
    emulator.clock.advance(3600)


def _disable_ttl_add_a_statement_delete_a_table(clients: Any, emulator: Any) -> None:
    """Drift, made with boto3 the way a person in the console would, an hour after the run enabled TTL."""
    _an_hour_later(clients, emulator)
    clients.dynamodb.update_time_to_live(TableName=SESSIONS, TimeToLiveSpecification={"Enabled": False, "AttributeName": "ttl"})
    policy = clients.iam.get_role_policy(RoleName=ROLE, PolicyName=POLICY)["PolicyDocument"]
    statements = [*policy["Statement"], ADDED_STATEMENT]
    clients.iam.put_role_policy(RoleName=ROLE, PolicyName=POLICY, PolicyDocument=json.dumps({**policy, "Statement": statements}))
    clients.dynamodb.delete_table(TableName=CACHE)


def _user_context_with_items(clients: Any) -> None:
    """FileFerry-UserContext as someone created it before any run, holding data.

    It matches the spec, TTL, deletion protection and point-in-time recovery included, so the failing run
    changes nothing on it: how far the tables' branch gets before the role's fault stops the Parallel
    (whether it reached this table's TTL) is timing, and a TTL change is one a rollback cannot undo
    within the hour.
    """
    clients.dynamodb.create_table(
        TableName=CONTEXT,
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS"},
        DeletionProtectionEnabled=True,
    )
    clients.dynamodb.update_continuous_backups(TableName=CONTEXT, PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True, "RecoveryPeriodInDays": 35})
    clients.dynamodb.update_time_to_live(TableName=CONTEXT, TimeToLiveSpecification={"Enabled": True, "AttributeName": "ttl"})
    for n in range(3):
        clients.dynamodb.put_item(TableName=CONTEXT, Item={"user_id": {"S": f"user-{n}"}})


SCENARIOS = [
    Scenario(
        "provision-through-transient-faults-drift-check-remediation",
        (
            Step(
                {"action": "provision"},
                "SUCCEEDED",
                faults=("dynamodb:CreateTable=ThrottlingException*2", "lambda:Invoke=ServiceException*1"),
                task_failures=("Lambda.ServiceException", "Throttled", "Throttled"),
            ),
            Step({"action": "drift-check"}, "SUCCEEDED"),
            Step({"action": "drift-check"}, "SUCCEEDED", before=_disable_ttl_add_a_statement_delete_a_table),
            Step({"action": "drift-check", "remediate": True}, "SUCCEEDED", before=_an_hour_later),
        ),
    ),
    Scenario(
        "rollback-after-a-permanent-fault",
        (
            Step(
                {"action": "provision"},
                "FAILED",
                "AccessDenied",
                # Throttled first, then refused for good: the tables' creates land before the role's branch
                # fails. aws-local-stepfunctions keeps no execution history, so its rollback goes by tags alone
                # and cannot wait for a CreateTable still in flight, as the history lets it on AWS.
                faults=("iam:CreateRole=ThrottlingException*3", "iam:CreateRole=AccessDenied"),
                task_failures=("AccessDenied", "Throttled", "Throttled", "Throttled"),
            ),
        ),
        setup=_user_context_with_items,
    ),
]


def _resources(clients: Any) -> dict[str, Any]:
    """Every table and role on the embedded AWS, as boto3 reads them back (identifiers and dates left out)."""
    dynamodb, iam = clients.dynamodb, clients.iam
    tables = {}
    for name in [name for name in dynamodb.list_tables()["TableNames"] if name.startswith("FileFerry-")]:
        table = dynamodb.describe_table(TableName=name)["Table"]
        ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        tables[name] = {
            "status": table["TableStatus"],
            "key_schema": table["KeySchema"],
            "attributes": sorted(table["AttributeDefinitions"], key=lambda a: a["AttributeName"]),
            "indexes": sorted((i["IndexName"], json.dumps(i["KeySchema"])) for i in table.get("GlobalSecondaryIndexes", [])),
            "billing_mode": table.get("BillingModeSummary", {}).get("BillingMode"),
            "encryption": table.get("SSEDescription", {}).get("SSEType"),
            "ttl": (ttl["TimeToLiveStatus"], ttl.get("AttributeName")),
            "deletion_protection": table.get("DeletionProtectionEnabled"),
            "point_in_time_recovery": dynamodb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            ["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"],
            "tags": {t["Key"]: t["Value"] for t in dynamodb.list_tags_of_resource(ResourceArn=table["TableArn"])["Tags"]},
            "items": sorted(json.dumps(item, sort_keys=True) for item in dynamodb.scan(TableName=name)["Items"]),
        }
    roles = {}
    for role in iam.list_roles()["Roles"]:
        name = role["RoleName"]
        roles[name] = {
            "trust_policy": canonical_statements(iam.get_role(RoleName=name)["Role"]["AssumeRolePolicyDocument"]),
            "max_session_duration": role["MaxSessionDuration"],
            "inline_policies": {
                policy: canonical_statements(iam.get_role_policy(RoleName=name, PolicyName=policy)["PolicyDocument"])
                for policy in iam.list_role_policies(RoleName=name)["PolicyNames"]
            },
            "attached_policies": sorted(p["PolicyArn"] for p in iam.list_attached_role_policies(RoleName=name)["AttachedPolicies"]),
            "tags": {t["Key"]: t["Value"] for t in iam.list_role_tags(RoleName=name)["Tags"]},
        }
    return {"tables": tables, "roles": roles}


@dataclass(frozen=True)
class Played:
    """One run of a scenario's step, and the tables and roles it left."""

    outcome: Outcome
    resources: dict[str, Any]


@pytest.fixture
def play(aws, factory, clients):
    """play(scenario, interpreter kind, execution names): the scenario from a reset embedded AWS."""

    package = build_package(factory.desired())  # one Lambda zip for both plays
    settings = aws.settings()

    def play_scenario(scenario: Scenario, kind: str, names: list[str]) -> list[Played]:
        # Deterministic, so that only the interpreter differs: no read lag, no chaos, nothing that
        # waits on the emulator's clock (tables ACTIVE and TTL changed at once), no faults but each
        # step's own.
        aws.reset(faults=[], create_latency=0, ttl_latency=0, consistency_lag=0, chaos=0)
        deployment = factory.deployer().deploy(package)
        arn = deployment.state_machine_arn
        described = clients.stepfunctions.describe_state_machine(stateMachineArn=arn)
        scenario.setup(clients)
        if kind == "moto":
            return _play_steps(scenario, Moto(clients, arn), clients, aws, names)
        # The definition exactly as deployed (the deployer's ARN substitution), read back from AWS,
        # invoking the functions as the state machine's role, as moto's interpreter does.
        referee = Referee(clients, described["definition"], aws.endpoint_url, arn, described["roleArn"])
        return _play_steps(scenario, referee, clients, aws, names)

    yield play_scenario
    aws.configure(**{key: settings[key] for key in aws.timing()})
    aws.set_consistency_lag(settings["consistency_lag"])
    aws.set_chaos(settings["chaos"], settings["seed"])


def _state_machine_role_credentials(clients: Any, role_arn: str) -> Credentials:
    """The state machine's role, as Step Functions holds it: a session states.amazonaws.com assumed.

    Only that service may assume the role (its trust policy), so the referee takes the very session the
    embedded AWS mints for moto's interpreter; every call made with it is evaluated against the role's
    policies and its trust, as the interpreter's are.
    """
    from local.iam.enforcement import STATES_SERVICE, session_credentials

    session = session_credentials(role_arn, "aws-local-stepfunctions", STATES_SERVICE)
    return Credentials(session.access_key_id, session.secret_access_key, session.session_token)


def _play_steps(scenario: Scenario, interpreter: Interpreter, clients: Any, emulator: Any, names: list[str]) -> list[Played]:
    played = []
    for step, name in zip(scenario.steps, names, strict=True):
        step.before(clients, emulator)
        emulator.set_faults(step.faults)
        try:
            outcome = interpreter.run(step.run_input, name)
        finally:
            emulator.set_faults([])
        assert (outcome.status, outcome.error, outcome.task_failures) == (step.status, step.error, step.task_failures), (
            type(interpreter).__name__, name, outcome
        )
        played.append(Played(outcome, _resources(clients)))
    return played


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.name)
def test_both_interpreters_end_each_run_alike_and_leave_the_same_resources(play, scenario):
    names = [runs.execution_name(step.run_input.get("action", "provision")) for step in scenario.steps]

    on_moto = play(scenario, "moto", names)
    on_referee = play(scenario, "aws-local-stepfunctions", names)

    for name, moto, referee in zip(names, on_moto, on_referee, strict=True):
        assert _comparable(referee.outcome, on_referee=True) == _comparable(moto.outcome, on_referee=False), (
            f"{name}\nmoto:    {moto.outcome}\nreferee: {referee.outcome}"
        )
        assert referee.resources == moto.resources, name
