"""`deploy.py fleet deploy | run ACTION | status`: the orchestrator in many accounts and Regions (docs/fleet.md)."""

from __future__ import annotations

import json
from typing import Any

import click

from provisioner.cli import commands
from provisioner.config import FleetTarget, fleet_targets

TARGET = click.option(
    "--target", "targets", multiple=True, metavar="ACCOUNT/REGION",
    help="A target, e.g. 111111111111/eu-west-1 (repeatable; replaces fleet.targets of the config).")
MAX_CONCURRENT = click.option("--max-concurrent", type=click.IntRange(1, 100), default=None,
                              help="Targets at once (default: fleet.max_concurrent).")
FAILURE_TOLERANCE = click.option("--failure-tolerance", type=click.IntRange(0, 100), default=None,
                                 help="Failed targets tolerated before no more start (default: fleet.failure_tolerance).")


def _targets(ctx: click.Context, given: tuple[str, ...]) -> list[FleetTarget]:
    """--target values, else the config's fleet.targets; refused (exit 2) before any AWS call."""
    factory = commands._factory(ctx)
    if given:
        return fleet_targets(given, "--target")
    return fleet_targets(factory.settings.fleet.targets, f"{factory.resolved.config_path}: fleet.targets")


def _bounds(ctx: click.Context, max_concurrent: int | None, failure_tolerance: int | None) -> tuple[int, int]:
    fleet = commands._factory(ctx).settings.fleet
    return (max_concurrent or fleet.max_concurrent,
            fleet.failure_tolerance if failure_tolerance is None else failure_tolerance)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        click.echo("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths)).rstrip())


@click.group(cls=commands.GlobalOptionsGroup)
def fleet(**_global_options: Any) -> None:
    """The orchestrator in many accounts and Regions: one CloudFormation StackSet, runs in every target."""


@fleet.command("deploy")
@TARGET
@MAX_CONCURRENT
@FAILURE_TOLERANCE
@click.pass_context
def fleet_deploy(ctx: click.Context, targets: tuple[str, ...], max_concurrent: int | None,
                 failure_tolerance: int | None) -> None:
    """Create or update the StackSet and its stack instances in each target, and follow StackSets' operations.

    Exit 0 if every target's instance is current, 1 otherwise."""
    chosen = _targets(ctx, targets)
    bounds = _bounds(ctx, max_concurrent, failure_tolerance)
    factory = commands._factory(ctx)
    deployment = factory.stack_set_deployment(progress=lambda line: None if ctx.obj["json"] else click.echo(line))
    results = deployment.deploy(chosen, *bounds)
    failed = [r for r in results if not r.succeeded]
    if ctx.obj["json"]:
        click.echo(json.dumps({"kind": "fleet-deploy", "stack_set": deployment.name, "operations": deployment.operations,
                               "targets": [r.as_dict() for r in results]}, indent=2))
    else:
        _table(("TARGET", "STATUS", "REASON"), [(str(r.target), r.status, r.reason) for r in results])
        click.echo(f"{len(results) - len(failed)} of {len(results)} targets deployed")
    if failed:
        raise commands.Failed()


@fleet.command("run")
@click.argument("action", type=click.Choice(commands.ACTIONS), metavar="ACTION")
@click.option("--input", "input_json", default=None, help='Extra input fields as JSON, e.g. \'{"remediate": true}\'.')
@TARGET
@MAX_CONCURRENT
@FAILURE_TOLERANCE
@click.pass_context
def fleet_run(ctx: click.Context, action: str, input_json: str | None, targets: tuple[str, ...],
              max_concurrent: int | None, failure_tolerance: int | None) -> None:
    """Start ACTION (provision, drift-check, rollback, teardown) in every target and follow all of them.

    Exit 0 if every run succeeded, 1 if any failed (or was not started), 3 if none failed and a drift
    check found drift anywhere."""
    run_input = _run_input(ctx, action, input_json)
    chosen = _targets(ctx, targets)
    if action == "rollback":
        _one_execution_target(run_input["execution_arn"], chosen)
    bounds = _bounds(ctx, max_concurrent, failure_tolerance)
    factory = commands._factory(ctx)
    human = not ctx.obj["json"]

    def ended(run: Any) -> None:
        if human:
            click.echo(_ended_line(run))

    results = factory.fleet_run(*bounds, on_end=ended).run(chosen, run_input)
    failed = [r for r in results if not r.succeeded]
    drifted = [r for r in results if r.drifted]
    exit_code = commands.EXIT_FAILED if failed else commands.EXIT_CHANGES if drifted else 0
    if ctx.obj["json"]:
        click.echo(json.dumps({
            "kind": "fleet-run", "action": action, "targets": [r.as_dict() for r in results],
            "succeeded": len(results) - len(failed), "failed": len(failed),
            "drifted": [str(r.target) for r in drifted], "exit_code": exit_code,
        }, indent=2, default=str))
    else:
        _table(("TARGET", "STATUS", "DETAIL"), [(str(r.target), _status(r), _detail(r)) for r in results])
        for run in drifted:
            click.echo(f"Drift in {run.target}:")
            commands._show_differences(run.differences())
    if failed:
        raise commands.Failed()
    if drifted:
        raise commands.Changes()


@fleet.command("status")
@TARGET
@click.pass_context
def fleet_status(ctx: click.Context, targets: tuple[str, ...]) -> None:
    """Each target's last run of each action."""
    chosen = _targets(ctx, targets)
    rows = commands._factory(ctx).fleet_last_runs(chosen)
    if ctx.obj["json"]:
        click.echo(json.dumps({"kind": "fleet-status", "runs": [row.as_dict() for row in rows]}, indent=2))
        return
    _table(("TARGET", "ACTION", "STATUS", "STARTED", "EXECUTION"),
           [(str(r.target), r.action, r.status, r.started, r.execution_arn.rsplit(":", 1)[-1] or r.reason) for r in rows])


def _run_input(ctx: click.Context, action: str, input_json: str | None) -> dict[str, Any]:
    extra = commands.extra_input(action, input_json)
    name = commands._factory(ctx).settings.provisioner.name
    if action == "teardown" and "confirm" not in extra:
        raise click.UsageError(f"teardown deletes every table in every target; confirm with --input '{{\"confirm\": \"{name}\"}}'")
    run_input = {"action": action, **extra}
    commands._check_run_input(run_input, name)
    return run_input


def _one_execution_target(execution_arn: str, targets: list[FleetTarget]) -> None:
    """A rollback undoes one execution, of one target: the ARN's account and Region must be the one target."""
    _, _, _, region, account, *_ = execution_arn.split(":")
    if targets != [FleetTarget(account, region)]:
        raise click.UsageError(f"rollback undoes one execution of one target: give --target {account}/{region} "
                               f"(the execution's account and Region) alone")


def _status(run: Any) -> str:
    return "DRIFTED" if run.drifted else run.status


def _detail(run: Any) -> str:
    if run.drifted:
        resources = sorted({d["resource"] for d in run.differences()})
        return f"{len(run.differences())} differences in {', '.join(resources)}"
    if not run.succeeded:
        return f"{run.error}: {run.cause}" if run.error else (run.cause or "")
    return f"in {run.duration_seconds:.1f} s" if run.duration_seconds is not None else ""


def _ended_line(run: Any) -> str:
    return f"{str(run.target):<28} {_status(run):<12} {_detail(run)}"
