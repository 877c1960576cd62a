"""One measured run of each system on the embedded AWS: the provisioner and the sequential script.

Every count of AWS calls is the emulator's own (AWS-side) count, taken as a difference of two
snapshots, so nothing here relies on either system's report of what it did.
"""

from __future__ import annotations

import collections
import json
import time
from collections.abc import Callable
from typing import Any

import boto3
from pydantic import ValidationError

from bench.history import summarize
from lambdas.core.desired import DesiredState, TableSpec
from lambdas.core.tables import create_table_request
from provisioner.runs import executions as runs
from provisioner.aws_clients import Clients
from provisioner.config import AwsTarget, ConfigError, Settings
from provisioner.deployer import Deployer
from provisioner.blueprint.desired_state import desired_state

# The benchmark's own observation of an execution; reported apart from what the systems call.
OBSERVER_CALLS = ("states:DescribeExecution", "states:GetExecutionHistory")
# describe_execution only, every 0.5 s: the emulator shares this process's GIL with the Step
# Functions interpreter, so polling often (or re-reading a growing history on every poll, as the
# Follower does) would slow down the very run being timed.  The wall time ends at the execution's
# own stopDate, so the poll interval does not round it; the history is read once, after the end.
STATUS_POLL_SECONDS = 0.5
FUNCTION_INIT_TIMEOUT_SECONDS = 120
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


class ApiCallCounter:
    """The emulator's counts of AWS calls made between `start()` and `stop()`."""

    def __init__(self, emulator: Any):
        self.emulator = emulator
        self._before: dict[str, int] = {}

    def start(self) -> None:
        self._before = self.emulator.api_calls()

    def stop(self) -> dict[str, int]:
        after = collections.Counter(self.emulator.api_calls())
        after.subtract(self._before)
        return {name: count for name, count in sorted(after.items()) if count > 0}


def _split_observer_calls(calls: dict[str, int]) -> tuple[dict[str, int], dict[str, int]]:
    own = {name: count for name, count in calls.items() if name not in OBSERVER_CALLS}
    observer = {name: count for name, count in calls.items() if name in OBSERVER_CALLS}
    return own, observer


def bench_settings(settings: Settings, poll_interval: int | None, max_concurrency: int | None) -> Settings:
    updates: dict[str, Any] = {}
    if poll_interval is not None:
        updates["poll_interval_seconds"] = poll_interval
    if max_concurrency is not None:
        updates["max_concurrency"] = max_concurrency
    if not updates:
        return settings
    # Through model_validate, so an out-of-range override fails as the config file would.
    try:
        provisioner = type(settings.provisioner).model_validate({**settings.provisioner.model_dump(), **updates})
    except ValidationError as err:
        problem = err.errors()[0]
        raise ConfigError(f"provisioner.{problem['loc'][0]} override: {problem['msg']}") from None
    return settings.model_copy(update={"provisioner": provisioner})


def _wait_for_end(sfn: Any, execution_arn: str) -> dict[str, Any]:
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in runs.TERMINAL:
            return described
        time.sleep(STATUS_POLL_SECONDS)


def _execution(sfn: Any, state_machine_arn: str, run_input: dict[str, Any], counter: ApiCallCounter) -> dict[str, Any]:
    """Start, wait for the end, then read the history; wall time is the start call to the stopDate."""
    counter.start()
    started = time.time()
    arn = runs.start(sfn, state_machine_arn, run_input)
    described = _wait_for_end(sfn, arn)
    # The embedded AWS runs in this process: its stopDate and time.time() read the same clock.
    wall = described["stopDate"].timestamp() - started if described.get("stopDate") else time.time() - started
    calls, observer_calls = _split_observer_calls(counter.stop())
    output = json.loads(described["output"]) if described.get("output") else None
    stop, start = described.get("stopDate"), described.get("startDate")
    return {
        "execution_arn": arn,
        "status": described["status"],
        "error": described.get("error"),
        "wall_seconds": round(wall, 2),
        "execution_seconds": round((stop - start).total_seconds(), 2) if stop and start else None,
        **summarize(runs.history(sfn, arn)).as_dict(),
        "api_calls": calls,
        "api_calls_total": sum(calls.values()),
        "observer_api_calls": observer_calls,
        "output": output,
    }


def read_back(dynamodb: Any, iam: Any, desired: DesiredState) -> dict[str, Any]:
    """What AWS holds afterwards, read with plain boto3: tables ACTIVE, TTL as specified, the role."""
    active = ttl_as_specified = 0
    for spec in desired.tables:
        try:
            status = dynamodb.describe_table(TableName=spec.name)["Table"]["TableStatus"]
        except dynamodb.exceptions.ResourceNotFoundException:
            continue
        active += status == "ACTIVE"
        ttl = dynamodb.describe_time_to_live(TableName=spec.name)["TimeToLiveDescription"]
        if spec.ttl_attribute:
            # ENABLING, then ENABLED (UpdateTimeToLive API reference): a run may end while TTL is ENABLING.
            ttl_as_specified += ttl.get("TimeToLiveStatus") in ("ENABLING", "ENABLED") and ttl.get("AttributeName") == spec.ttl_attribute
        else:
            ttl_as_specified += ttl.get("TimeToLiveStatus", "DISABLED") == "DISABLED"
    try:
        iam.get_role_policy(RoleName=desired.role.name, PolicyName=desired.role.inline_policy_name)
        role = True
    except iam.exceptions.NoSuchEntityException:
        role = False
    return {"tables_active": active, "tables_ttl_as_specified": ttl_as_specified, "role_with_policy": role}


def _provision(clients: Clients, state_machine_arn: str, desired: DesiredState, counter: ApiCallCounter) -> dict[str, Any]:
    provision = _execution(clients.stepfunctions, state_machine_arn, {"action": "provision"}, counter)
    provision["verified"] = bool(isinstance(provision["output"], dict) and provision["output"].get("verified"))
    provision.update(read_back(clients.dynamodb, clients.iam, desired))
    provision["output"] = None  # the verification report repeats every table; the counts above say it
    return provision


def _tear_down(clients: Clients, state_machine_arn: str, desired: DesiredState, counter: ApiCallCounter) -> None:
    teardown = _execution(
        clients.stepfunctions, state_machine_arn, {"action": "teardown", "confirm": desired.provisioner_name}, counter
    )
    left = set(desired.table_names()) & set(_all_table_names(clients.dynamodb))
    if teardown["status"] != "SUCCEEDED" or left:
        raise RuntimeError(f"teardown before the warm run: {teardown['status']}, {len(left)} tables left")


def _all_table_names(dynamodb: Any) -> list[str]:
    return [name for page in dynamodb.get_paginator("list_tables").paginate() for name in page["TableNames"]]


def _injected_failures(before: list[dict[str, Any]], after: list[dict[str, Any]]) -> dict[str, int]:
    """Calls the emulator failed on purpose, by "service:Operation" (counted faults only)."""
    failed: collections.Counter[str] = collections.Counter()
    for was, now in zip(before, after):
        if was["remaining"] is not None and now["remaining"] is not None:
            failed[was["spec"].split("=")[0]] += was["remaining"] - now["remaining"]
    return {name: count for name, count in failed.items() if count}


def measure_provisioner(
    emulator: Any,
    settings: Settings,
    tables: list[TableSpec],
    report: Callable[[str], None] = print,
    warm_run: bool = True,
) -> dict[str, Any]:
    """Deploy on `emulator` (clean, with its create latency set), provision, drift-check.

    With `warm_run`: then tear everything down and provision again, now with warm Lambda workers
    (in the first run every worker is new: a fork of its function's initialised runtime).
    """
    desired = desired_state(settings, tables=tables)
    clients = Clients(AwsTarget(region=desired.region, endpoint_url=emulator.endpoint_url), local=True)
    arn = Deployer(clients, settings, desired, tracing=False).deploy().state_machine_arn
    # The embedded AWS runs a function's init phase as soon as it is created, as Lambda may do
    # proactively; the first run starts once that is done, so it does not race the inits for CPU.
    started = time.monotonic()
    if not emulator.lambda_runner.wait_for_initialisation(timeout=FUNCTION_INIT_TIMEOUT_SECONDS):
        raise RuntimeError(f"the deployed functions were not initialised within {FUNCTION_INIT_TIMEOUT_SECONDS} s")
    initialisation_seconds = round(time.monotonic() - started, 2)
    counter = ApiCallCounter(emulator)
    report(f"provisioner: {len(tables)} tables, max concurrency {desired.max_concurrency} ...")
    faults_before = emulator.faults()
    provision = _provision(clients, arn, desired, counter)
    provision["injected_failures"] = _injected_failures(faults_before, emulator.faults())
    report(f"  provisioned in {provision['wall_seconds']} s ({provision['status']}); drift check ...")
    drift = _execution(clients.stepfunctions, arn, {"action": "drift-check"}, counter)
    output = drift.pop("output") or {}
    drift["drift_found"] = output.get("drift", {}).get("drifted", output.get("drifted"))
    result = {
        "system": "provisioner",
        "tables": len(tables),
        "tables_with_ttl": sum(1 for table in tables if table.ttl_attribute),
        "create_latency": emulator.create_latency,
        "poll_interval_seconds": desired.poll_interval_seconds,
        "max_polls": desired.max_polls,
        "seconds_waiting_for_function_init_after_deploy": initialisation_seconds,
        "max_concurrency": desired.max_concurrency,
        # IAM counts an inline policy's size without whitespace; moto does not enforce the quota.
        "role_policy_characters": len(json.dumps(desired.role.inline_policy, separators=(",", ":"))),
        "provision": provision,
        "drift_check": drift,
    }
    if warm_run and provision["status"] == "SUCCEEDED":
        report("  teardown, then provisioning again with warm Lambda workers ...")
        _tear_down(clients, arn, desired, counter)
        result["provision_warm"] = _provision(clients, arn, desired, counter)
        report(f"  provisioned (warm) in {result['provision_warm']['wall_seconds']} s ({result['provision_warm']['status']})")
    return result


def run_sequential_script(dynamodb: Any, iam: Any, desired: DesiredState, waiter_delay: int | None) -> None:
    """The spec's Option 1, as a plain script: one table at a time, wait, enable TTL; then the role."""
    waiter = dynamodb.get_waiter("table_exists")
    waiter_config = {} if waiter_delay is None else {"WaiterConfig": {"Delay": waiter_delay, "MaxAttempts": 600}}
    for spec in desired.tables:
        # The same CreateTable request the provisioner sends, so both build identical tables.
        dynamodb.create_table(**create_table_request(spec, {}))
        waiter.wait(TableName=spec.name, **waiter_config)
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=spec.name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
    role = desired.role
    iam.create_role(
        RoleName=role.name,
        AssumeRolePolicyDocument=json.dumps(role.trust_policy),
        MaxSessionDuration=role.max_session_duration,
        Description=role.description,
    )
    iam.put_role_policy(RoleName=role.name, PolicyName=role.inline_policy_name, PolicyDocument=json.dumps(role.inline_policy))
    # "Verifies all tables created", as the spec's script does.
    missing = set(desired.table_names()) - set(_all_table_names(dynamodb))
    if missing:
        raise RuntimeError(f"baseline: tables missing after the run: {sorted(missing)}")


def measure_baseline(
    emulator: Any, settings: Settings, tables: list[TableSpec], waiter_delay: int | None
) -> dict[str, Any]:
    """The sequential script on `emulator` (clean, with its create latency set)."""
    desired = desired_state(settings, tables=tables)
    session = boto3.session.Session(region_name=desired.region, **CREDENTIALS)
    dynamodb = session.client("dynamodb", endpoint_url=emulator.endpoint_url)
    iam = session.client("iam", endpoint_url=emulator.endpoint_url)
    counter = ApiCallCounter(emulator)
    counter.start()
    started = time.monotonic()
    run_sequential_script(dynamodb, iam, desired, waiter_delay)
    wall = time.monotonic() - started
    calls = counter.stop()
    return {
        "system": "baseline",
        "tables": len(tables),
        "create_latency": emulator.create_latency,
        "waiter_delay_seconds": waiter_delay if waiter_delay is not None else dynamodb.get_waiter("table_exists").config.delay,
        "wall_seconds": round(wall, 2),
        "api_calls": calls,
        "api_calls_total": sum(calls.values()),
        **read_back(dynamodb, iam, desired),
    }
