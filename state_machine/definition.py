"""The provisioner's state machine, authored with the AWS Step Functions Data Science SDK.

This is the only module (with its test) that imports the `stepfunctions` SDK, and it does
so lazily, inside `author()`: the SDK imports sagemaker v2 (seconds of import time, config
notices on stdout, a process-wide rich traceback handler). `_import_sdk()` contains those
side effects: it silences the notices and restores `sys.excepthook`.

`author()` returns the SDK's rendering plus, as plain data, the fields the SDK does not
know (`ResultSelector`, `MaxConcurrencyPath`, Fail `ErrorPath`/`CausePath`); the retrier
fields it does not know are `RETRY_EXTRAS` (every retrier) and `RETRIER_EXTRAS` (the poll's). `state_machine.post_render` adds them all;
`state_machine.render` puts the two together.

The input contract: `ValidateInput` turns the execution input into the *run context*
`{"action", "execution_name", "tables", "max_concurrency", "remediate",
"target_execution_name", "drift"}` (or fails
with InvalidInput before anything is created), and `RouteAction` dispatches on `action`.
A remediating drift check reuses the provisioning path with `remediate` true: a table that
would need replacing is reported (outcome "refused") rather than failing the run.
"""

from __future__ import annotations

import logging
import sys
import warnings
from types import SimpleNamespace
from typing import Any

from lambdas.core.errors import (
    CreationInFlight,
    InvalidInput,
    OtherRunInFlight,
    TableCreationTimeout,
    TableNotActive,
    TargetStillRunning,
    TeardownIncomplete,
    poll_error_names,
    transient_error_names,
)
from lambdas.core.steps import step
from state_machine.asl import POLL_MAX_DELAY_SECONDS

COMMENT = (
    "FileFerry infrastructure provisioner: provision, drift-check, rollback or tear down "
    "the FileFerry DynamoDB tables and read-only role. Rendered by `python -m "
    "state_machine.render` from state_machine/definition.py; do not edit by hand."
)

# One retry policy for every Lambda Task: transient errors only, exponential backoff with
# full jitter, each delay capped: 1+2+4+8+16+20x15 s at most before jitter (about 5.5 minutes), spent
# only while faults last. Twenty: Verify and the drift check make about fifteen AWS calls an attempt,
# so at 8 % transient faults seven attempts in ten fail; ten retries gave up about one Verify in forty
# (a campaign at lag 4 s, 8 % chaos, seed 409), twenty give up fewer than one in a thousand.
RETRY_INTERVAL_SECONDS = 1
RETRY_MAX_ATTEMPTS = 20
RETRY_BACKOFF_RATE = 2.0
RETRY_EXTRAS: dict[str, Any] = {"MaxDelaySeconds": 20, "JitterStrategy": "FULL"}
# A rollback gives up last: it is what leaves nothing behind, and each attempt makes twenty or more
# AWS calls (the run's history, every table, the role), so at 8 % transient faults four attempts in
# five fail and ten retries gave up about one rollback in ten (seed 308 of the same campaign).
# Thirty: about one in 700 at 8 %, fewer than one in a million at 5 %; at most about 9 minutes of
# backoff (20 s apart after the fifth).
ROLLBACK_RETRY_MAX_ATTEMPTS = 30
# Steps that delete tables wait for CREATING ones (a table left CREATING by a timed-out run may take
# minutes); this retrier comes before the general one, so it is the one that matches TableNotActive.
TABLE_WAIT_INTERVAL_SECONDS = 5
TABLE_WAIT_MAX_ATTEMPTS = 60
# A rollback run whose target is still listed RUNNING (it has just been stopped, and ListExecutions
# lags) waits for it: 2 s, then x1.5 up to 20 s (before jitter), about 1.5 minutes at most.
TARGET_WAIT_INTERVAL_SECONDS = 2
TARGET_WAIT_MAX_ATTEMPTS = 8
TARGET_WAIT_BACKOFF_RATE = 1.5
# A rollback run that finds another run changing resources (an operator stopped a run and started a new
# provision at once) waits for it rather than giving up, so the stopped run is still rolled back:
# 10 s, x2 up to 60 s apart (before full jitter), about 28 minutes at most, then it fails naming the run.
OTHER_RUN_WAIT_INTERVAL_SECONDS = 10
OTHER_RUN_WAIT_MAX_ATTEMPTS = 30
OTHER_RUN_WAIT_BACKOFF_RATE = 2.0
OTHER_RUN_WAIT_EXTRAS: dict[str, Any] = {"MaxDelaySeconds": 60, "JitterStrategy": "FULL"}

# Polling a table until ACTIVE (PollTable's first retrier): the first look straight after
# CreateOrAdoptTable, then looks after 2 s, x1.5 each time up to 30 s apart, without jitter so the
# bound is a time, not a distribution: 15 looks again span 304 s, so a table may take about five
# minutes (tables with indexes take longer than plain ones). These defaults are the committed ASL's;
# provisioner.poll_interval_seconds and provisioner.max_polls replace the first interval and the count
# when the definition is deployed (state_machine.asl.configure_polling).
POLL_FIRST_INTERVAL_SECONDS = 2
POLL_MAX_POLLS = 15
POLL_BACKOFF_RATE = 1.5
POLL_RETRY_EXTRAS: dict[str, Any] = {"MaxDelaySeconds": POLL_MAX_DELAY_SECONDS, "JitterStrategy": "NONE"}
# Per retrier (by its first error name), fields the SDK cannot express, in place of RETRY_EXTRAS.
RETRIER_EXTRAS: dict[str, dict[str, Any]] = {
    poll_error_names()[0]: POLL_RETRY_EXTRAS,
    OtherRunInFlight.error_name(): OTHER_RUN_WAIT_EXTRAS,
}

ALL_ERRORS = "States.ALL"

# Every Task is a Lambda invoke, authored as the SDK's `Task` with this fixed Resource
# rather than `LambdaStep`: LambdaStep derives the ARN's partition from the current boto3
# session (AWS_DEFAULT_REGION=cn-north-1 renders `arn:aws-cn:...`) and builds three boto3
# sessions per state to do so (~1 s per render). Same JSON, but deterministic everywhere.
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def _import_sdk() -> SimpleNamespace:
    """Import the SDK's step classes with sagemaker's import-time side effects contained."""
    config_logger = logging.getLogger("sagemaker.config")
    if config_logger.level == logging.NOTSET:
        # sagemaker only sets INFO (and prints "Not applying SDK defaults ...") when unset.
        config_logger.setLevel(logging.WARNING)
    excepthook = sys.excepthook
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SageMakerV2DeprecationWarning, SyntaxWarnings
            from stepfunctions.steps import (
                Catch,
                Chain,
                Choice,
                ChoiceRule,
                Fail,
                Graph,
                Map,
                Parallel,
                Pass,
                Retry,
                Succeed,
                Task,
                Wait,
            )
    finally:
        sys.excepthook = excepthook  # sagemaker_core installs rich's traceback handler
    return SimpleNamespace(
        Catch=Catch,
        Chain=Chain,
        Choice=Choice,
        ChoiceRule=ChoiceRule,
        Fail=Fail,
        Graph=Graph,
        Map=Map,
        Parallel=Parallel,
        Pass=Pass,
        Retry=Retry,
        Succeed=Succeed,
        Task=Task,
        Wait=Wait,
    )


def author() -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Author the state machine.

    Returns `(sdk_definition, state_extras)`: the SDK's rendering as a dict, and per state
    name the fields the SDK cannot express, for `post_render.post_render`.
    """
    sdk = _import_sdk()
    extras: dict[str, dict[str, Any]] = {}

    def lambda_task(
        state_id: str,
        step_name: str,
        payload: dict[str, Any],
        *,
        comment: str,
        result_selector: dict[str, Any] | None = None,
        result_path: str | None = None,
        output_path: str | None = None,
        catch_to: Any = None,
        waits_for_tables: bool = False,
        waits_for_target: bool = False,
        polls_table: bool = False,
        transient_retries: int = RETRY_MAX_ATTEMPTS,
    ) -> Any:
        fields: dict[str, Any] = {
            "comment": comment,
            "resource": LAMBDA_INVOKE,
            "parameters": {"FunctionName": step(step_name).placeholder, "Payload": payload},
        }
        if result_path is not None:
            fields["result_path"] = result_path
        if output_path is not None:
            fields["output_path"] = output_path
        task = sdk.Task(state_id, **fields)
        answered: set[str] = set()  # error names an earlier retrier of this Task matches

        def add_retry(**retry: Any) -> None:
            task.add_retry(sdk.Retry(**retry))
            answered.update(retry["error_equals"])

        if polls_table:
            # First in the list, so a poll is never mistaken for a fault. Its interval and attempts are
            # the defaults here; state_machine.asl.configure_polling() sets the configured ones.
            add_retry(
                error_equals=poll_error_names(),
                interval_seconds=POLL_FIRST_INTERVAL_SECONDS,
                max_attempts=POLL_MAX_POLLS,
                backoff_rate=POLL_BACKOFF_RATE,
            )
        if waits_for_tables:
            add_retry(
                error_equals=[TableNotActive.error_name(), CreationInFlight.error_name()],
                interval_seconds=TABLE_WAIT_INTERVAL_SECONDS,
                max_attempts=TABLE_WAIT_MAX_ATTEMPTS,
                backoff_rate=1.0,
            )
        if waits_for_target:
            add_retry(
                error_equals=[TargetStillRunning.error_name()],
                interval_seconds=TARGET_WAIT_INTERVAL_SECONDS,
                max_attempts=TARGET_WAIT_MAX_ATTEMPTS,
                backoff_rate=TARGET_WAIT_BACKOFF_RATE,
            )
            add_retry(
                error_equals=[OtherRunInFlight.error_name()],
                interval_seconds=OTHER_RUN_WAIT_INTERVAL_SECONDS,
                max_attempts=OTHER_RUN_WAIT_MAX_ATTEMPTS,
                backoff_rate=OTHER_RUN_WAIT_BACKOFF_RATE,
            )
        # Last, and without a name an earlier retrier of this Task answers (a rollback's TableNotActive is
        # its table wait's): Step Functions takes the first retrier that matches, so such a name here is dead.
        add_retry(
            error_equals=[name for name in transient_error_names() if name not in answered],
            interval_seconds=RETRY_INTERVAL_SECONDS,
            max_attempts=transient_retries,
            backoff_rate=RETRY_BACKOFF_RATE,
        )
        if catch_to is not None:
            task.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.error", next_step=catch_to))
        if result_selector is not None:
            extras.setdefault(state_id, {})["ResultSelector"] = result_selector
        return task

    # -- failure path of a provisioning run ---------------------------------------------
    provision_failed = sdk.Fail(
        "ProvisionFailed",
        comment="Fails the execution with the original error name and cause, after rollback.",
    )
    extras["ProvisionFailed"] = {"ErrorPath": "$.rollback.error", "CausePath": "$.rollback.cause"}
    rollback_on_failure = lambda_task(
        "RollbackOnFailure",
        "rollback",
        # What the run changed on a role it adopted is read from its history (EnsureRole's output):
        # EnsureRole runs beside the tables, so a table's failure may stop the run before or after it.
        {"execution_name.$": "$.execution_name", "error.$": "$.error"},
        comment="Deletes what this execution created (by tag), restores what it changed; keeps everything else.",
        result_selector={"error.$": "$.Payload.error", "cause.$": "$.Payload.cause"},
        result_path="$.rollback",
        waits_for_tables=True,
        transient_retries=ROLLBACK_RETRY_MAX_ATTEMPTS,
    )
    rollback_on_failure.next(provision_failed)
    # A rollback that fails itself must not replace the run's error: the run still ends with the
    # original error name, and the cause says the rollback failed, why, and how to finish it.
    rollback_failed = sdk.Pass(
        "RollbackFailed",
        comment="The original error, and a cause saying the rollback itself failed and what may be left.",
        parameters={
            "error.$": "$.error.Error",
            "cause.$": (
                "States.Format('{} | ROLLBACK FAILED ({}: {}): resources this run created may be left; "
                "finish with a run of action rollback and execution_arn {}', "
                "$.error.Cause, $.rollback_error.Error, $.rollback_error.Cause, $$.Execution.Id)"
            ),
        },
        result_path="$.rollback",
    )
    rollback_failed.next(provision_failed)
    rollback_on_failure.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.rollback_error", next_step=rollback_failed))

    # -- one table: create or adopt, poll until ACTIVE (bounded), then TTL, in one function -
    create_or_adopt = lambda_task(
        "CreateOrAdoptTable",
        "create-or-adopt-table",
        {"table.$": "$.table", "execution_name.$": "$.execution_name", "remediate.$": "$.remediate"},
        comment=(
            "Creates the table, adopts a matching one, or updates it in place; when remediating, "
            "reports a table that would need replacing as refused instead of failing."
        ),
        result_selector={"outcome.$": "$.Payload.outcome", "status.$": "$.Payload.status"},
        result_path="$.observed",
    )
    # The iteration's output for a table that became (or was) ACTIVE, TTL applied: the selected result
    # replaces the state (no ResultPath), so it is the iteration output.
    table_result = {
        "table.$": "$.Payload.table",
        "outcome.$": "$.Payload.outcome",
        "ttl.$": "$.Payload.ttl",
        "ttl_change_possible_by.$": "$.Payload.ttl_change_possible_by",
        "point_in_time_recovery.$": "$.Payload.point_in_time_recovery",
    }
    # The poll is a Retry, not a Wait/Task/Choice loop: each look after the first costs 3 history events
    # (TaskScheduled, TaskStarted, TaskFailed) and no state transition, against 9 events and 3 transitions
    # a loop round; the first look comes straight after CreateTable. One function both polls and applies
    # TTL: the look that sees the table ACTIVE applies it, so a created table meets two functions, not three.
    poll_table = lambda_task(
        "PollTable",
        "await-table",
        {
            "table.$": "$.table",
            "execution_name.$": "$.execution_name",
            "outcome.$": "$.observed.outcome",
            "look": True,
        },
        comment=(
            "Looks at the table; not ACTIVE yet raises TableStillCreating, which Retry answers with another "
            "look after a growing interval. Once ACTIVE, makes its TTL what the spec says."
        ),
        result_selector=table_result,
        polls_table=True,
    )
    table_creation_timed_out = sdk.Fail(
        "TableCreationTimedOut",
        comment="The table was still not ACTIVE at the last look provisioner.max_polls allows.",
        error=TableCreationTimeout.error_name(),
    )
    extras["TableCreationTimedOut"] = {"CausePath": "$.error.Cause"}
    poll_table.add_catch(
        sdk.Catch(error_equals=poll_error_names(), result_path="$.error", next_step=table_creation_timed_out)
    )
    ensure_ttl = lambda_task(
        "EnsureTtl",
        "await-table",
        {"table.$": "$.table", "execution_name.$": "$.execution_name", "outcome.$": "$.observed.outcome"},
        comment="An adopted table already ACTIVE: TTL as the spec says, without a poll; the iteration's output is its result.",
        result_selector=table_result,
    )
    # A refused table (remediation only) is left as it is: no waiting, no TTL change.
    table_skipped = sdk.Pass(
        "SkipRefusedTable",
        comment="The iteration's output for a table that needs replacing; Verify reports its differences.",
        parameters={"table.$": "$.table", "outcome.$": "$.observed.outcome", "ttl": "unchanged"},
    )
    refused_active_or_creating = sdk.Choice(
        "RefusedActiveOrCreating",
        comment=(
            "Remediation never replaces a table; an adopted table that is ACTIVE needs no waiting. A table this "
            "run created is always polled: DescribeTable may not show it yet (eventually consistent)."
        ),
    )
    refused_active_or_creating.add_choice(sdk.ChoiceRule.StringEquals("$.observed.outcome", "refused"), table_skipped)
    refused_active_or_creating.add_choice(
        sdk.ChoiceRule.And(
            [
                sdk.ChoiceRule.StringEquals("$.observed.status", "ACTIVE"),
                sdk.ChoiceRule.Not(sdk.ChoiceRule.StringEquals("$.observed.outcome", "created")),
            ]
        ),
        ensure_ttl,
    )
    refused_active_or_creating.default_choice(poll_table)
    provision_one_table = sdk.Chain([create_or_adopt, refused_active_or_creating])

    # -- provisioning: the tables and the role side by side, then Verify ------------------
    provision_tables = sdk.Map(
        "ProvisionTables",
        comment="Every table, at most max_concurrency at a time.",
        items_path="$.tables",
        parameters={
            "table.$": "$$.Map.Item.Value",
            "execution_name.$": "$.execution_name",
            "remediate.$": "$.remediate",
        },
    )
    provision_tables.attach_iterator(provision_one_table)
    extras["ProvisionTables"] = {"MaxConcurrencyPath": "$.max_concurrency"}
    ensure_role = lambda_task(
        "EnsureRole",
        "ensure-role",
        {"execution_name.$": "$.execution_name"},
        comment="Creates or updates the read-only role and its inline policy.",
        result_selector={
            "role.$": "$.Payload.role",
            "outcome.$": "$.Payload.outcome",
            "previous.$": "$.Payload.previous",
        },
    )
    # The role does not depend on the tables (its policy names their ARNs, not their state), so it
    # is ensured while they are created. A failure in either branch stops the Parallel and goes to
    # the rollback with the branch's own error name and cause.
    provision = sdk.Parallel(
        "Provision",
        comment="The tables (Map) and the read-only role, at the same time.",
        result_path="$.provisioned",
    )
    provision.add_branch(provision_tables)
    provision.add_branch(ensure_role)
    provision.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.error", next_step=rollback_on_failure))
    extras["Provision"] = {"ResultSelector": {"tables.$": "$[0]", "role.$": "$[1]"}}
    # -- effective access: a session of the read-only role proves each grant, writing nothing --------
    # First the role-wide checks, which also wait while IAM propagates a role the run just created or
    # changed; then each batch of tables in a Map (about ten calls a table; five tables are five batches
    # of one), reporting what it sees: each attempt is small, so a transient fault retries one batch.
    def prove_access(prefix: str, role_outcome: dict[str, Any]) -> tuple[Any, Any]:
        role_grants = lambda_task(
            prefix,
            "prove-access",
            {"kind": "role", "execution_name.$": "$.execution_name", **role_outcome,
             "retry_count.$": "$$.State.RetryCount", "max_retries": RETRY_MAX_ATTEMPTS},
            comment=("Assumes the read-only role (waiting while IAM propagates it); a wrong ExternalId must be refused; "
                     "SimulatePrincipalPolicy for what cannot be probed safely."),
            result_selector={"kind.$": "$.Payload.kind", "role.$": "$.Payload.role", "grants.$": "$.Payload.grants"},
            result_path="$.access_role",
        )
        table_grants = lambda_task(
            f"{prefix}TableGrants",
            "prove-access",
            {"kind": "tables", "tables.$": "$.tables", "execution_name.$": "$.execution_name"},
            comment="Assumes the read-only role with the ExternalId; reads at a reserved key, conditional writes that cannot succeed.",
            output_path="$.Payload",
        )
        tables = sdk.Map(
            f"{prefix}Tables",
            comment="Every table's grants, in at most eight batches (a run's history grows with its tables' polls, not with this).",
            items_path="$.access_batches",
            parameters={"tables.$": "$$.Map.Item.Value", "execution_name.$": "$.execution_name"},
            result_path="$.access_tables",
        )
        tables.attach_iterator(table_grants)
        extras[f"{prefix}Tables"] = {"MaxConcurrencyPath": "$.max_concurrency"}
        role_grants.next(tables)
        return role_grants, tables

    prove_provisioned_access, provisioned_access_proven = prove_access(
        "ProveAccess", {"role_outcome.$": "$.provisioned.role.outcome"})
    for proving in (prove_provisioned_access, provisioned_access_proven):
        proving.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.error", next_step=rollback_on_failure))
    access = {"role.$": "$.access_role", "tables.$": "$.access_tables"}
    verify = lambda_task(
        "Verify",
        "verify",
        {
            "execution_name.$": "$.execution_name",
            "tables.$": "$.provisioned.tables",
            "role.$": "$.provisioned.role",
            "remediate.$": "$.remediate",
            "drift.$": "$.drift",
            "access": access,
            # Reads may lag the run's writes: Verify raises NotYetVisible (retried) until its last attempt.
            "retry_count.$": "$$.State.RetryCount",
            "max_retries": RETRY_MAX_ATTEMPTS,
        },
        comment=(
            "Observed state must equal desired state; the report is the execution output. When "
            "remediating, reports what cannot be fixed in place next to the drift found before."
        ),
        output_path="$.Payload",
        catch_to=rollback_on_failure,
    )
    provision.next(prove_provisioned_access)
    sdk.Chain([provisioned_access_proven, verify, sdk.Succeed("ProvisionSucceeded")])

    # -- drift check ----------------------------------------------------------------------
    drift_check = lambda_task(
        "DriftCheck",
        "drift-check",
        {"execution_name.$": "$.execution_name", "remediate.$": "$.remediate", "access": access},
        comment="Observes and diffs only (with what ProveDriftAccess showed); emits the drift metric.",
        result_selector={
            "drifted.$": "$.Payload.drifted",
            "differences.$": "$.Payload.differences",
            "drifted_resources.$": "$.Payload.drifted_resources",
            "access.$": "$.Payload.access",
        },
        result_path="$.drift",
    )
    # A drift check reports what it sees at once: no role change of its own is propagating.
    prove_drift_access, drift_access_proven = prove_access("ProveDriftAccess", {"role_outcome": "observed"})
    drift_access_proven.next(drift_check)
    remediate_drift = sdk.Choice("RemediateDrift", comment="With remediate, converge like provision.")
    remediate_drift.add_choice(
        sdk.ChoiceRule.And(
            [
                sdk.ChoiceRule.BooleanEquals("$.remediate", True),
                sdk.ChoiceRule.BooleanEquals("$.drift.drifted", True),
            ]
        ),
        provision,
    )
    remediate_drift.default_choice(sdk.Succeed("DriftCheckDone", output_path="$.drift"))
    drift_check.next(remediate_drift)

    # -- rollback of an earlier execution -------------------------------------------------
    rollback_execution = lambda_task(
        "RollbackExecution",
        "rollback",
        {"execution_name.$": "$.target_execution_name", "error": None, "requested_by.$": "$.execution_name",
         "superseded_by.$": "$.superseded_by"},
        comment="Deletes exactly what the target execution created (by tag), unless a verified run has converged since.",
        output_path="$.Payload",
        waits_for_tables=True,
        transient_retries=ROLLBACK_RETRY_MAX_ATTEMPTS,
    )
    rollback_execution.next(sdk.Succeed("RollbackSucceeded"))

    # -- teardown ---------------------------------------------------------------------------
    teardown_table = lambda_task(
        "TeardownTable",
        "teardown-table",
        {"table.$": "$.table", "execution_name.$": "$.execution_name",
         "lift_deletion_protection.$": "$.lift_deletion_protection"},
        comment=("Backs the table up if it holds items, then deletes it once the backup is AVAILABLE; a "
                 "deletion-protected table is kept unless the input lifts its protection."),
        result_path="$.teardown",
        waits_for_tables=True,
    )
    # One table's failure must not stop the others half done: it is reported, and the run fails at the end.
    teardown_table_failed = sdk.Pass(
        "TeardownTableFailed",
        comment="The iteration's output for a table teardown could not finish: it is kept and reported.",
        parameters={"table.$": "$.table", "result": "failed", "error.$": "$.error.Error", "backup_arn": None},
    )
    teardown_table.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.error", next_step=teardown_table_failed))
    # Waiting for a backup (AWS: available "within minutes") is not a failure: wait, then ask again.
    backup_pending = sdk.Choice("BackupPending", comment="The table's backup is not AVAILABLE yet: wait, then look again.")
    wait_for_backup = sdk.Wait("WaitForBackup", seconds_path="$.teardown.Payload.wait_seconds")
    wait_for_backup.next(teardown_table)
    backup_pending.add_choice(sdk.ChoiceRule.StringEquals("$.teardown.Payload.result", "backup-pending"), wait_for_backup)
    backup_pending.default_choice(
        sdk.Pass("TableTornDown", comment="The iteration's output: what teardown did to the table.", output_path="$.teardown.Payload")
    )
    teardown_one_table = sdk.Chain([teardown_table, backup_pending])
    teardown_tables = sdk.Map(
        "TeardownTables",
        comment="Every table, at most max_concurrency at a time.",
        items_path="$.tables",
        parameters={"table.$": "$$.Map.Item.Value", "execution_name.$": "$.execution_name",
                    "lift_deletion_protection.$": "$.lift_deletion_protection"},
        result_path="$.tables_result",
    )
    teardown_tables.attach_iterator(teardown_one_table)
    extras["TeardownTables"] = {"MaxConcurrencyPath": "$.max_concurrency"}
    teardown_failed = sdk.Fail("TeardownFailed", error=TeardownIncomplete.error_name())
    extras["TeardownFailed"] = {"CausePath": "$.error.Cause"}
    teardown_tables.add_catch(sdk.Catch(error_equals=[ALL_ERRORS], result_path="$.error", next_step=teardown_failed))
    teardown_role = lambda_task(
        "TeardownRole",
        "teardown-role",
        {"execution_name.$": "$.execution_name", "tables.$": "$.tables_result"},
        comment="Deletes this Region's inline policy of the read-only role, and the role once no other Region's remains; sums up what is left.",
        output_path="$.Payload",
    )
    teardown_complete = sdk.Choice("TeardownComplete", comment="Every table deleted (or deletion-protected)?")
    teardown_complete.add_choice(sdk.ChoiceRule.BooleanEquals("$.complete", True), sdk.Succeed("TeardownSucceeded"))
    teardown_incomplete = sdk.Fail("TeardownIncomplete", error=TeardownIncomplete.error_name())
    extras["TeardownIncomplete"] = {"CausePath": "$.cause"}
    teardown_complete.default_choice(teardown_incomplete)
    sdk.Chain([teardown_tables, teardown_role, teardown_complete])

    # -- entry --------------------------------------------------------------------------------
    route_action = sdk.Choice("RouteAction", comment="One state machine, one input contract.")
    route_action.add_choice(sdk.ChoiceRule.StringEquals("$.action", "provision"), provision)
    route_action.add_choice(sdk.ChoiceRule.StringEquals("$.action", "drift-check"), prove_drift_access)
    route_action.add_choice(sdk.ChoiceRule.StringEquals("$.action", "rollback"), rollback_execution)
    route_action.add_choice(sdk.ChoiceRule.StringEquals("$.action", "teardown"), teardown_tables)
    route_action.default_choice(
        sdk.Fail("UnknownAction", error=InvalidInput.error_name(), cause="unknown action")
    )
    validate_input = lambda_task(
        "ValidateInput",
        "validate-input",
        {
            "input.$": "$",
            "execution_name.$": "$$.Execution.Name",
            "execution_arn.$": "$$.Execution.Id",
            "state_machine_arn.$": "$$.StateMachine.Id",
        },
        comment="Execution input -> run context; InvalidInput fails before anything is created.",
        output_path="$.Payload",
        waits_for_target=True,
    )
    validate_input.next(route_action)

    # No TimeoutSeconds here: it is derived from the rendered definition's worst case (state_machine.time_model).
    graph = sdk.Graph(validate_input, comment=COMMENT)
    return graph.to_dict(), extras
