"""The CLI: a command group whose commands hand off to the factory; `main()` maps errors to exit codes.

Exit codes: 0 success, 1 a run or AWS call failed, 2 bad configuration or arguments
(before any AWS call), 3 changes pending (plan) or drift found (run drift-check), 4 the credentials
ended while following a run (which goes on), 130 interrupted.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import sys
from pathlib import Path
from typing import Any

import click
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    CredentialRetrievalError,
    EndpointConnectionError,
    NoCredentialsError,
    ProfileNotFound,
    RefreshWithMFAUnsupportedError,
    SSOTokenLoadError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)

from provisioner.cli import words
from provisioner.config import ConfigError, resolve
from provisioner.errors import DeployError
from provisioner.factory import CLIFactory
from provisioner.runs.executions import RunResult

EXIT_FAILED, EXIT_USAGE, EXIT_CHANGES, EXIT_LOST_TRACK, EXIT_INTERRUPTED = 1, 2, 3, 4, 130
ACTIONS = ("provision", "drift-check", "rollback", "teardown")
# arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME, in any partition (aws, aws-cn, aws-us-gov, ...).
EXECUTION_ARN = re.compile(r"^arn:aws(-[a-z]+)*:states:[a-z]{2}(-[a-z]+)+-[0-9]+:[0-9]{12}:execution:[^:\s]{1,80}:[^:\s]{1,80}$")


class Failed(Exception):
    """A run or check failed; the message has been shown, exit 1."""


class Changes(Exception):
    """Plan found changes or a drift check found drift: exit 3."""


class LostTrack(Exception):
    """Following a run stopped because the credentials ended; the run goes on, the message has been shown: exit 4."""


# What AWS and botocore say when the caller's credentials have ended: an expired session (STS, IAM
# Identity Center) or SSO token. Following stops; the execution does not.
EXPIRED_CREDENTIAL_CODES = frozenset({
    "ExpiredToken", "ExpiredTokenException", "RequestExpired", "InvalidClientTokenId",
    "UnrecognizedClientException", "InvalidSignatureException", "TokenRefreshRequired",
})
EXPIRED_CREDENTIAL_ERRORS = (
    NoCredentialsError, TokenRetrievalError, UnauthorizedSSOTokenError, SSOTokenLoadError,
    CredentialRetrievalError, RefreshWithMFAUnsupportedError,
)


def _credentials_ended(err: Exception) -> str | None:
    """What ended the credentials, as AWS or botocore said it; None if `err` is something else."""
    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        code = str(error.get("Code"))
        return f"{code}: {error.get('Message')}" if code in EXPIRED_CREDENTIAL_CODES else None
    if isinstance(err, EXPIRED_CREDENTIAL_ERRORS):
        return f"{type(err).__name__}: {err}"
    return None


def _echo(ctx: click.Context, human: str, data: Any) -> None:
    if ctx.obj["json"]:
        click.echo(json.dumps(data, indent=2, default=str))
    else:
        click.echo(human)


def _factory(ctx: click.Context) -> CLIFactory:
    return ctx.obj["factory"]


# The global options, accepted before the command (`deploy.py --json run x`) and after it
# (`deploy.py run x --json`) with the same meaning, as the AWS CLI accepts them.
GLOBAL_OPTIONS = (  # (flag, parameter name, help)
    ("--config", "config_path", "Config file (default: config/config.yaml if it exists, else the one shipped with this package)."),
    ("--region", "region", "AWS region (default: dynamodb.region from the config)."),
    ("--profile", "profile", "AWS profile from your shared config."),
    ("--endpoint-url", "endpoint_url", "AWS endpoint (also AWS_ENDPOINT_URL), e.g. the embedded AWS."),
)
GLOBAL_RULE = "Global options (--config, --region, --profile, --endpoint-url, --json) go before or after the command."
EXIT_CODES = """\b
Exit codes:
  0    success
  1    a run or an AWS call failed
  2    bad configuration, arguments or input (before any AWS call)
  3    plan found changes, or a drift check found drift
  4    stopped following a run whose credentials ended; the run goes on
  130  interrupted (Ctrl-C)"""


def _global_params() -> list[click.Parameter]:
    # multiple=True so that an option given twice is seen, and refused if the two values differ.
    params: list[click.Parameter] = [
        click.Option([flag, name], multiple=True, metavar="TEXT", help=text) for flag, name, text in GLOBAL_OPTIONS
    ]
    params.append(click.Option(["--json", "output_json"], is_flag=True, help="Machine-readable output (JSON only)."))
    return params


def global_options(ctx: click.Context) -> dict[str, Any]:
    """The global options given before and after the command, merged; two different values are a usage error."""
    contexts: list[click.Context] = []
    node: click.Context | None = ctx
    while node is not None:  # the group, a sub-group (fleet), the command
        contexts.insert(0, node)
        node = node.parent
    merged: dict[str, Any] = {}
    for flag, name, _ in GLOBAL_OPTIONS:
        values = list(dict.fromkeys(value for c in contexts for value in c.params.get(name) or ()))
        if name == "config_path" and len({os.path.abspath(value) for value in values}) == 1:
            values = values[:1]  # config/config.yaml and ./config/config.yaml are one file
        if len(values) > 1:
            given = " and ".join(f"{flag} {value}" for value in values)
            raise click.UsageError(f"{given} disagree; give {flag} once (before or after the command, it means the same)")
        merged[name] = values[0] if values else None
    merged["output_json"] = any(c.params.get("output_json") for c in contexts)
    return merged


class GlobalOptionsCommand(click.Command):
    """A command that also takes the global options and resolves the configuration before it runs."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_params())

    def invoke(self, ctx: click.Context) -> Any:
        options = global_options(ctx)
        for name in options:
            ctx.params.pop(name, None)
        resolved = resolve(
            options["config_path"],
            region=options["region"],
            profile=options["profile"],
            endpoint_url=options["endpoint_url"],
            output_json=options["output_json"],
        )
        ctx.obj = {"json": resolved.output_json, "factory": CLIFactory(resolved)}
        return super().invoke(ctx)


class GlobalOptionsGroup(click.Group):
    command_class = GlobalOptionsCommand

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.extend(_global_params())


def _show_version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"fileferry-provisioner {_version()}")
        ctx.exit()


def _version() -> str:
    """The installed package's version; a source tree that was never installed has none to read."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fileferry-provisioner")
    except PackageNotFoundError:
        return "(version unknown: not installed; pip install . gives one)"


@click.group(cls=GlobalOptionsGroup, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=f"{GLOBAL_RULE}\n\n{EXIT_CODES}")
@click.option("--version", is_flag=True, expose_value=False, is_eager=True, callback=_show_version,
              help="Show the version and exit.")
def cli(**_global_options: Any) -> None:  # read by each command, where they meet the command's own
    """Provision FileFerry's DynamoDB tables and IAM role with a Step Functions workflow."""


def _me() -> str:
    """How the user invoked this tool, for the commands we suggest."""
    return "fileferry-provisioner" if Path(sys.argv[0]).name == "fileferry-provisioner" else "python deploy.py"


def _follow(ctx: click.Context, factory: CLIFactory, arn: str, waiting_interval: float = 10.0) -> RunResult:
    """Follow a run: a live view on a terminal, plain lines with elapsed times otherwise, nothing with --json."""
    try:
        if ctx.obj["json"]:
            return factory.follower().follow(arn)
        if sys.stdout.isatty():
            from provisioner.runs.live_view import LiveView  # rich: only for a terminal

            with LiveView(title=arn.rsplit(":", 1)[-1]) as view:
                return factory.follower(view).follow(arn)
        from provisioner.runs.progress import PlainView

        return factory.follower(PlainView(click.echo, interval=waiting_interval)).follow(arn)
    except (ClientError, BotoCoreError) as err:
        reason = _credentials_ended(err)
        if reason is None:
            raise
        follow = f"{_me()} status {arn} --follow"
        if ctx.obj["json"]:
            click.echo(json.dumps({"kind": "following_stopped", "execution_arn": arn, "status": "RUNNING",
                                   "reason": reason, "follow_with": follow}, indent=2))
        else:
            click.echo(f"error: stopped following: your AWS credentials ended ({reason}); execution {arn} keeps "
                       f"running: sign in again (aws sso login, or new credentials) and follow it with {follow}",
                       err=True)
        raise LostTrack() from err
    except KeyboardInterrupt:
        # Ctrl-C stops following, not the run; an embedded AWS started by this process stops with it.
        if not ctx.obj.get("embedded_aws_dies_with_us"):
            click.echo(f"Interrupted; execution {arn} keeps running: follow it with {_me()} status {arn} --follow, "
                       f"or stop it with aws stepfunctions stop-execution --execution-arn {arn}", err=True)
        raise


def _run_and_report(
    ctx: click.Context, factory: CLIFactory, run_input: dict[str, Any], wait: bool = True, waiting_interval: float = 10.0
) -> RunResult | None:
    from provisioner.runs import executions as runs

    sfn = factory.clients().stepfunctions
    arn = runs.start(sfn, factory.state_machine_arn(), run_input)
    if not ctx.obj["json"]:
        click.echo(f"Execution {arn}")
    if not wait:
        _echo(ctx, f"Started; follow it with: {_me()} status {arn} --follow", {"execution_arn": arn})
        return None
    result = _follow(ctx, factory, arn, waiting_interval)
    _show_result(ctx, factory, result)
    return result


def _show_result(ctx: click.Context, factory: CLIFactory, result: RunResult) -> None:
    if ctx.obj["json"]:
        click.echo(json.dumps(result.as_dict(), indent=2, default=str))
        return
    output = result.output if isinstance(result.output, dict) else {}
    permanent = {spec.name for spec in factory.desired().tables if not spec.ttl_attribute}
    if result.succeeded and output.get("remediated"):
        _show_remediation(output, permanent)
    elif result.succeeded and output.get("verified"):
        click.echo("Verification passed:")
        _show_resources(output, permanent)
    elif result.succeeded and "differences" in output:
        _show_differences(output["differences"])
    elif result.succeeded and "tables" in output and "role" in output and "result" in output:
        _show_teardown(output)
    elif result.succeeded and "deleted" in output and "not_restored" in output:
        _show_rollback(output)
    elif result.succeeded and output:
        click.echo(json.dumps(output, indent=2, default=str))
    duration = f" in {result.duration_seconds:.1f} s" if result.duration_seconds is not None else ""
    click.echo(f"{words.execution_status(result.status).capitalize()}{duration}")
    if not result.succeeded:
        where = f" in state {result.failed_state}" if result.failed_state else ""
        click.echo(f"Failed{where}: {result.error}: {result.cause}", err=True)
        hint = _next_step_for_run(factory, result)
        if hint:
            click.echo(f"Next: {hint}", err=True)


def _next_step_for_run(factory: CLIFactory, result: RunResult) -> str | None:
    """What to do after a failed run, where there is something to do."""
    me, arn = _me(), result.execution_arn
    if result.error == "ConcurrentRun":
        running = re.search(r"execution (\S+) is still running", result.cause or "")
        if running:
            other = f"{arn.rsplit(':', 1)[0]}:{running.group(1)}"
            return f"wait for {other} to finish: {me} status {other} --follow; then run again"
    if result.error == "InvalidInput":
        return f"fix the input (see `{me} run --help` and README, The execution input contract)"
    if result.error == "AccessDenied":
        return f"a step's role lacks a permission: redeploy the orchestrator ({me} deploy); {me} render --out DIR writes every policy"
    if result.error == "ResourceConflict":
        return f"see what differs with {me} plan; a table whose key schema differs needs a new name or a manual migration"
    if result.error == "TableCreationTimeout":
        return ("AWS took longer to create the table than provisioner.max_polls looks allow (docs/configuration.md); "
                f"raise max_polls in the config, redeploy ({me} deploy) and run again")
    if result.status in ("ABORTED", "TIMED_OUT"):
        return f"the rollback rule starts a rollback of this run; see it with {me} status"
    return f"see the path it took: {me} status {arn}"


def _show_resources(output: dict[str, Any], permanent: set[str]) -> None:
    for table in output.get("tables", []):
        ttl = words.ttl_status(table.get("ttl"), permanent=table["table"] in permanent)
        click.echo(f"  {table['table']:<34} {words.outcome(table['outcome']):<24} {words.table_status(table['status']):<8} {ttl}")
    role = output.get("role", {})
    arn = f" ({role['arn']})" if role.get("arn") else ""
    click.echo(f"  role {role.get('role')}: {words.outcome(role.get('outcome'))}{arn}")
    grants = output.get("access") or []
    if grants:
        proven = sum(1 for grant in grants if grant["expected"] == grant["actual"])
        click.echo(f"  access: {proven} of {len(grants)} grants proven as the spec says, with a session of the role "
                   "(reads at a reserved key, conditional writes that cannot succeed, IAM's simulator; nothing written)")


def _show_teardown(output: dict[str, Any]) -> None:
    click.echo("Teardown:")
    for table in output["tables"]:
        backup = f"  backup {table['backup_arn']}" if table.get("backup_arn") else ""
        lifted = " (deletion protection lifted)" if table.get("protection_lifted") else ""
        click.echo(f"  {table['table']:<34} {words.teardown_result(table['result'])}{lifted}{backup}")
    click.echo(f"  role {output['role']}: {words.teardown_result(output['result'])}")
    if any(table["result"] == "deletion-protected" for table in output["tables"]):
        click.echo(
            "Next: tables with deletion protection were kept, with every item in them; to delete them too "
            "(after their backup), run teardown again with --input "
            "'{\"confirm\": \"NAME\", \"lift_deletion_protection\": true}' (NAME: the provisioner name)."
        )


def _show_rollback(output: dict[str, Any]) -> None:
    click.echo(f"Rolled back {output.get('execution_name')}:")
    for label, key in (("deleted", "deleted"), ("restored", "restored"), ("kept (not created by it)", "kept"), ("NOT restored", "not_restored")):
        if output.get(key):
            click.echo(f"  {label}: {', '.join(output[key])}")
    if not output.get("deleted"):
        click.echo("  nothing it created was left to delete")


def _show_remediation(output: dict[str, Any], permanent: set[str]) -> None:
    click.echo("Drift found before remediation:")
    _show_differences(output.get("drift_before_remediation", []))
    click.echo("After remediation:")
    _show_resources(output, permanent)
    if output.get("differences"):
        click.echo("Not remediated (needs a new table; never done automatically, data would be lost):")
    _show_differences(output.get("differences", []))


def _show_differences(differences: list[dict[str, Any]]) -> None:
    if not differences:
        click.echo("No drift: every table and the role match the spec.")
        return
    click.echo(f"{'RESOURCE':<36} {'PROPERTY':<34} {'REMEDY':<7} EXPECTED -> ACTUAL")
    for d in differences:
        expected, actual = json.dumps(d["expected"], sort_keys=True), json.dumps(d["actual"], sort_keys=True)
        click.echo(f"{d['resource']:<36} {d['property']:<34} {d['remedy']:<7} {expected} -> {actual}")
        if d.get("possible_by"):
            # AWS's one-hour TTL rule refused the change: it is left for a later run, not rolled back.
            click.echo(f"{'':<36} deferred: AWS allows this TTL change again by {d['possible_by']}")


FORCE = click.option(
    "--force", is_flag=True,
    help="Deploy even while a run that changes resources is in flight (it may meet the new code; a warning says so).",
)


def _deploy(ctx: click.Context, factory: CLIFactory, force: bool = False) -> Any:
    if not ctx.obj["json"]:
        target = factory.resolved.aws.endpoint_url or factory.resolved.aws.region
        click.echo(f"Deploying {factory.settings.provisioner.name} to {target} ...")
    deployment = factory.deployer().deploy(force=force)
    if not ctx.obj["json"]:
        click.echo(f"Deployed {deployment.state_machine_arn} ({len(deployment.changed)} changes)")
    return deployment



class _Seconds(click.FloatRange):
    """A FloatRange that also refuses NaN (which compares false with both bounds)."""

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        seconds = super().convert(value, param, ctx)
        if math.isnan(seconds):
            self.fail(f"{value!r} is not a number of seconds.", param, ctx)
        return seconds


LATENCY_SECONDS = _Seconds(0, 3600)  # every timing setting of the embedded AWS (local/emulator.py)


def _timing_options(command: Any) -> Any:
    """--create-latency, --backup-latency, --ttl-latency: the embedded AWS's timing (None: its default)."""
    for flag, what in reversed([
        ("--create-latency", "seconds a new table stays CREATING and an updated one UPDATING (default 0)"),
        ("--backup-latency", "seconds a new backup stays CREATING (default 2)"),
        ("--ttl-latency", "seconds TTL stays ENABLING/DISABLING after a change (default 2)"),
    ]):
        command = click.option(flag, default=None, type=LATENCY_SECONDS, help=f"Embedded AWS: {what}.")(command)
    return command


def _timing(**settings: float | None) -> dict[str, float]:
    """The embedded AWS's settings given on the command line (timing, lag, chaos, seed)."""
    return {name: seconds for name, seconds in settings.items() if seconds is not None}


class _Rate(click.FloatRange):
    """A probability from 0 to 1; NaN refused too."""

    def convert(self, value: Any, param: Any, ctx: Any) -> float:
        rate = super().convert(value, param, ctx)
        if math.isnan(rate):
            self.fail(f"{value!r} is not a number from 0 to 1.", param, ctx)
        return rate


def _strictness_options(command: Any) -> Any:
    """--consistency-lag, --chaos, --seed: how strict the embedded AWS is (local/faults/consistency.py, local/faults/chaos.py)."""
    for option in reversed([
        click.option("--consistency-lag", default=None, type=LATENCY_SECONDS, metavar="SECONDS",
                     help="Embedded AWS: for up to this long after a write, reads may show the state before it (default 0)."),
        click.option("--chaos", default=None, type=_Rate(0, 1), metavar="RATE",
                     help="Embedded AWS: each AWS call a deployed function makes fails with a transient error with this probability (0-1)."),
        click.option("--seed", default=None, type=click.IntRange(0, 2**63 - 1),
                     help="Embedded AWS: seed of the chaos decisions (same seed, same sequence; default: a random one, printed)."),
    ]):
        command = option(command)
    return command


WAITING_INTERVAL = click.option(
    "--waiting-interval", default=10.0, show_default=True, type=_Seconds(1, 3600), metavar="SECONDS",
    help='Output that is not a terminal: a "still waiting for X (N s)" line this often while nothing changes.',
)


@cli.command()
@click.option("--local", is_flag=True, help="Run everything on the embedded AWS (no account needed).")
@click.option("--keep", is_flag=True, help="With --local: keep the embedded AWS running afterwards.")
@click.option("--port", default=0, type=click.IntRange(0, 65535), help="With --local: the embedded AWS's port (0: any free one).")
@_timing_options
@_strictness_options
@WAITING_INTERVAL
@FORCE
@click.pass_context
def up(ctx: click.Context, local: bool, keep: bool, port: int, waiting_interval: float, force: bool,
       **settings: float | None) -> None:
    """Deploy (idempotent), then run provisioning and follow it. Exit 0 iff verified."""
    factory = _factory(ctx)
    given = _timing(**settings)  # the embedded AWS's settings given on the command line
    if (keep or port or given) and not local:
        raise click.UsageError("--keep, --port, --create-latency, --backup-latency, --ttl-latency, "
                               "--consistency-lag, --chaos and --seed go with --local")
    if not local:
        _provision_and_check(ctx, factory, _deploy(ctx, factory, force), waiting_interval)
        return
    running = _embedded_aws_at(port)
    if running is not None:
        # `deploy.py local --port N` is already serving: provision there, so a re-run adopts.
        if not ctx.obj["json"]:
            click.echo(f"Using the embedded AWS already running at {running}")
        if given:
            _configure_embedded_aws(running, given)
        factory = factory.with_endpoint(running)
        ctx.obj["factory"] = factory
        _provision_and_check(ctx, factory, _deploy(ctx, factory, force), waiting_interval)
        return
    emulator = _embedded_aws(port=port, **given)
    with emulator:  # started already; stops on the way out
        if emulator.chaos.rate and not ctx.obj["json"]:
            click.echo(f"Chaos: rate {emulator.chaos.rate}, seed {emulator.chaos.seed}", err=True)
        factory = factory.with_endpoint(emulator.endpoint_url)
        ctx.obj["factory"] = factory
        ctx.obj["embedded_aws_dies_with_us"] = not keep
        try:
            _provision_and_check(ctx, factory, _deploy(ctx, factory), waiting_interval)
        finally:
            if keep:
                click.echo(f"Embedded AWS still running at {emulator.endpoint_url} (Ctrl-C to stop), e.g.:", err=True)
                click.echo(f"  aws --endpoint-url {emulator.endpoint_url} dynamodb list-tables", err=True)
                emulator.serve_forever()


def _embedded_aws(**settings: Any) -> Any:
    """A started embedded AWS (local.emulator.Emulator); a bad fault spec or a moto it was not written for is exit 2."""
    from local import patching  # loads no moto

    try:
        from local.emulator import Emulator
    except ImportError as err:  # a moto internal the emulator imports is gone
        raise ConfigError(str(patching.import_refusal(err))) from None
    try:
        emulator = Emulator(**settings)
    except ValueError as err:
        raise ConfigError(f"--fault: {err}") from None
    try:
        return emulator.start()
    except patching.IncompatibleMoto as err:
        raise ConfigError(str(err)) from None


def _embedded_aws_at(port: int) -> str | None:
    """The URL of an embedded AWS already listening on `port`, if there is one."""
    from provisioner.aws_clients import is_embedded_aws  # boto3: only commands that talk to AWS load it

    url = f"http://127.0.0.1:{port}"
    return url if port and is_embedded_aws(url) else None


def _configure_embedded_aws(url: str, settings: dict[str, float]) -> None:
    """Set the given timing, lag and chaos on an embedded AWS already running (POST /_fileferry/config)."""
    import urllib.request

    request = urllib.request.Request(f"{url}/_fileferry/config", data=json.dumps(settings).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        click.echo(f"Embedded AWS settings: {response.read().decode()}", err=True)


def _provision_and_check(ctx: click.Context, factory: CLIFactory, deployment: Any, waiting_interval: float = 10.0) -> None:
    result = _run_and_report(ctx, factory, {"action": "provision"}, waiting_interval=waiting_interval)
    if result is None or not result.succeeded or not (isinstance(result.output, dict) and result.output.get("verified")):
        raise Failed()


@cli.command()
@click.option("--port", default=4566, show_default=True, type=click.IntRange(1, 65535))
@click.option("--fault", "faults", multiple=True, metavar="SERVICE:Operation=ErrorCode[*COUNT]", help="Inject a fault (repeatable).")
@_timing_options
@_strictness_options
def local(port: int, faults: tuple[str, ...], **settings: float | None) -> None:
    """Start the embedded AWS and block."""
    emulator = _embedded_aws(port=port, faults=faults, **_timing(**settings))
    click.echo(f"Embedded AWS at {emulator.endpoint_url} (Ctrl-C to stop)")
    if emulator.chaos.rate:
        click.echo(f"Chaos: rate {emulator.chaos.rate}, seed {emulator.chaos.seed}")
    emulator.serve_forever()


@cli.command()
@FORCE
@click.pass_context
def deploy(ctx: click.Context, force: bool) -> None:
    """Create or update the functions, roles, state machine, rollback rule, drift schedule, alarm and run lease.

    Refused (exit 1) while a provision, teardown, rollback or remediating drift check is in flight."""
    deployment = _deploy(ctx, _factory(ctx), force)
    if ctx.obj["json"]:
        click.echo(json.dumps(deployment.as_dict(), indent=2))


@cli.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """Read-only: what a provisioning run would create / adopt / update / refuse. Exit 3 if anything changes."""
    from lambdas.core.diff import diff_role, diff_table, plan_action, role_resource, table_resource
    from lambdas.core.observe import observe_role, observe_table

    factory = _factory(ctx)
    clients, desired = factory.clients(), factory.desired()
    rows = []
    for spec in desired.tables:
        differences = diff_table(spec, observe_table(clients.dynamodb, spec.name))
        rows.append((table_resource(spec.name), plan_action(differences), differences))
    differences = diff_role(desired.role, observe_role(clients.iam, desired.role.name))
    rows.append((role_resource(desired.role.name), plan_action(differences), differences))
    data = [{"resource": r, "action": a, "differences": [d.as_dict() for d in ds]} for r, a, ds in rows]
    human = "\n".join(
        f"{action:<7} {resource}" + "".join(f"\n          {d}" for d in differences) for resource, action, differences in rows
    )
    _echo(ctx, human, data)
    if any(action != "adopt" for _, action, _ in rows):
        raise Changes()


@cli.command()
@click.argument("action", type=click.Choice(ACTIONS), metavar="ACTION")
@click.option("--input", "input_json", default=None, help='Extra input fields as JSON, e.g. \'{"remediate": true}\'.')
@click.option("--no-wait", is_flag=True, help="Start the execution and return.")
@WAITING_INTERVAL
@click.pass_context
def run(ctx: click.Context, action: str, input_json: str | None, no_wait: bool, waiting_interval: float) -> None:
    """Start an execution and follow it. ACTION is one of:

    \b
      provision    create, adopt or update the tables and the role, then verify
      drift-check  compare them with the spec (--input '{"remediate": true}'
                   converges them too); exit 3 if they drifted
      rollback     delete what one execution created
                   (--input '{"execution_arn": "ARN"}')
      teardown     back up, then delete the tables and the role
                   (--input '{"confirm": "PROVISIONER_NAME"}')
    """
    extra = extra_input(action, input_json)
    factory = _factory(ctx)
    if action == "teardown" and "confirm" not in extra:
        name = factory.settings.provisioner.name
        if not sys.stdin.isatty():
            raise click.UsageError(f"teardown deletes every table; confirm with --input '{{\"confirm\": \"{name}\"}}'")
        extra["confirm"] = click.prompt(f"This backs up and deletes all five tables and the role. Type {name} to confirm")
    run_input = {"action": action, **extra}
    _check_run_input(run_input, factory.settings.provisioner.name)
    result = _run_and_report(ctx, factory, run_input, wait=not no_wait, waiting_interval=waiting_interval)
    if result is None:
        return
    if not result.succeeded:
        raise Failed()
    if action == "drift-check" and isinstance(result.output, dict) and result.output.get("drifted"):
        raise Changes()


def extra_input(action: str, input_json: str | None) -> dict[str, Any]:
    """--input: a JSON object whose action, if it names one, is ACTION."""
    try:
        extra = json.loads(input_json) if input_json else {}
    except ValueError as err:
        raise click.BadParameter(f"not JSON ({err})", param_hint="--input") from None
    if not isinstance(extra, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--input")
    if "action" in extra and extra["action"] != action:
        raise click.BadParameter("its action differs from ACTION", param_hint="--input")
    return extra


def _check_run_input(run_input: dict[str, Any], provisioner_name: str) -> None:
    """The state machine's own input checks, made here first so bad input never starts a run."""
    from lambdas.core.errors import InvalidInput
    from lambdas.core.run_input import check_schema

    try:
        check_schema(run_input)
    except InvalidInput as err:
        raise click.BadParameter(str(err).removeprefix("execution input: "), param_hint="--input") from None
    if run_input["action"] == "teardown" and run_input["confirm"] != provisioner_name:
        raise click.BadParameter(f"confirm: must be the provisioner name ({provisioner_name})", param_hint="--input")


@cli.command()
@click.argument("execution_arn", required=False)
@click.option("--limit", default=10, show_default=True, type=click.IntRange(1, 1000), help="How many recent executions to list.")
@click.option("--follow", is_flag=True, help="With EXECUTION_ARN: follow a running execution until it ends.")
@click.pass_context
def status(ctx: click.Context, execution_arn: str | None, limit: int, follow: bool) -> None:
    """Recent executions, or one in detail: the path it took, where it stopped and why."""
    from provisioner.runs import path as run_path
    from provisioner.runs import executions as runs

    if execution_arn is not None and not EXECUTION_ARN.match(execution_arn):
        raise click.BadParameter(
            f"not an execution ARN (arn:PARTITION:states:REGION:ACCOUNT:execution:STATE_MACHINE:NAME); "
            f"list recent executions with {_me()} status", param_hint="EXECUTION_ARN")
    factory = _factory(ctx)
    sfn = factory.clients().stepfunctions
    if execution_arn is None:
        executions = sfn.list_executions(stateMachineArn=factory.state_machine_arn(), maxResults=limit)["executions"]
        data = [{k: e.get(k) for k in ("name", "status", "startDate", "stopDate", "executionArn")} for e in executions]
        human = "\n".join(
            f"{words.execution_status(e['status']):<18} {e['startDate']:%Y-%m-%d %H:%M:%S}  {e['executionArn']}" for e in executions
        )
        _echo(ctx, human or f"No executions yet; start one with {_me()} up (or {_me()} run ACTION).", data)
        return
    # The history records the end as it happens; DescribeExecution may still say RUNNING for a while after.
    events = runs.read_new_events(sfn, execution_arn)
    running = runs.end_event(events) is None and sfn.describe_execution(executionArn=execution_arn)["status"] == "RUNNING"
    if running and not follow:
        now = datetime.datetime.now(datetime.timezone.utc)
        path = run_path.run_path(events, run_path.definition_for(sfn, execution_arn), now=now)
        human = "\n".join([*run_path.describe(path), f"Next: follow it with {_me()} status {execution_arn} --follow"])
        _echo(ctx, human, {"execution_arn": execution_arn, "status": "RUNNING", "path": path.as_dict()})
        return
    result = _follow(ctx, factory, execution_arn) if running else factory.follower().follow(execution_arn)
    path = run_path.run_path(result.events, run_path.definition_for(sfn, execution_arn))
    if ctx.obj["json"]:
        click.echo(json.dumps({**result.as_dict(), "path": path.as_dict()}, indent=2, default=str))
        return
    click.echo(f"Path of {execution_arn.rsplit(':', 1)[-1]}:")
    for line in run_path.describe(path):
        click.echo(line)
    _show_result(ctx, factory, result)


@cli.command()
@click.pass_context
def outputs(ctx: click.Context) -> None:
    """ARNs of the provisioned resources, as JSON."""
    from lambdas.core.observe import observe_role, observe_table

    factory = _factory(ctx)
    clients, desired = factory.clients(), factory.desired()
    data = {
        "tables": {spec.name: observe_table(clients.dynamodb, spec.name).arn for spec in desired.tables},
        "role": observe_role(clients.iam, desired.role.name).arn,
        "state_machine": factory.state_machine_arn(),
    }
    click.echo(json.dumps(data, indent=2))


@cli.command()
@click.option("--out", "out_dir", default="build/render", show_default=True, type=click.Path(file_okay=False))
@click.pass_context
def render(ctx: click.Context, out_dir: str) -> None:
    """Write the ASL, every IAM policy document the tool uses and the orchestrator as a CloudFormation template (no AWS calls)."""
    from provisioner.blueprint.rendering import render_documents

    written = render_documents(_factory(ctx).resolved, Path(out_dir))
    _echo(ctx, "\n".join(str(path) for path in written), [str(path) for path in written])


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def destroy(ctx: click.Context, yes: bool) -> None:
    """Remove the orchestrator itself; never the FileFerry tables or role."""
    factory = _factory(ctx)
    if not yes:
        if not sys.stdin.isatty():
            raise click.UsageError("destroy removes the orchestrator; pass --yes to confirm")
        click.confirm(f"Remove the {factory.settings.provisioner.name} orchestrator (tables and role stay)?", abort=True)
    removed = factory.deployer().destroy()
    _echo(ctx, "\n".join(f"removed {item}" for item in removed) or "Nothing to remove.", removed)


# What to do next, for errors where there is something to do: (pattern in the message, advice).
_CONFIG_ADVICE = (
    (r"sso\.external_id: required key is missing",
     "add `external_id: ...` under `sso:` (the ExternalId callers must pass to assume the role)"),
    (r"(\w+)\.(\w+): required key is missing", r"add `\2: ...` under `\1:` in the config"),
    (r": unknown key", "remove it or fix its spelling (config/config.yaml shows every key)"),
    (r"credentials are for account", "use credentials for the configured account (--profile), or fix sso.account_id"),
    (r"--region: invalid region", "give a region name such as us-east-1"),
    (r": file not found", "check the path given to --config (without it, config/config.yaml or the packaged config is read)"),
)
_AWS_ADVICE = {
    "StateMachineDoesNotExist": "deploy the orchestrator first: {me} deploy",
    "ExecutionDoesNotExist": "list recent executions with {me} status",
    "InvalidArn": "pass an execution ARN as {me} status lists them",
    "ExpiredToken": "your session expired: log in again (e.g. aws sso login --profile NAME)",
    "ExpiredTokenException": "your session expired: log in again (e.g. aws sso login --profile NAME)",
    "UnrecognizedClientException": "the credentials are not valid here: check --profile and --endpoint-url",
    "InvalidClientTokenId": "the credentials are not valid here: check --profile and --endpoint-url",
}


def _with_advice(message: str) -> str:
    for pattern, advice in _CONFIG_ADVICE:
        found = re.search(pattern, message)
        if found:
            return f"{message}; {found.expand(advice)}"
    return message


def _aws_error_line(err: ClientError) -> str:
    error = err.response.get("Error", {})
    code = str(error.get("Code"))
    line = f"error: AWS refused {err.operation_name}: {code}: {error.get('Message')}"
    advice = _AWS_ADVICE.get(code)
    if advice is None and ("AccessDenied" in code or err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403):
        advice = "your credentials lack this permission; use a profile that has it (--profile)"
    return f"{line}; {advice.format(me=_me())}" if advice else line


def _botocore_error_line(err: BotoCoreError) -> str:
    if isinstance(err, ProfileNotFound):
        return f"error: {err}; list your profiles with `aws configure list-profiles`, or leave out --profile"
    if isinstance(err, EndpointConnectionError):
        return (f"error: {err}; start the embedded AWS there ({_me()} local --port PORT) "
                "or check --endpoint-url / AWS_ENDPOINT_URL")
    return f"error: {err}"


def _add_fleet() -> None:
    from provisioner.cli.fleet import fleet  # its module builds on this one's

    cli.add_command(fleet)


_add_fleet()


def main(argv: list[str] | None = None) -> int:
    try:
        cli.main(args=argv, prog_name=_me().removeprefix("python "), standalone_mode=False)
    except ConfigError as err:
        click.echo(f"error: {_with_advice(str(err))}", err=True)
        return EXIT_USAGE
    except click.exceptions.Abort as err:
        # click turns Ctrl-C into Abort (and so does a prompt); a refused confirmation stays exit 1.
        if isinstance(err.__cause__ or err.__context__, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        click.echo("Aborted.", err=True)
        return EXIT_FAILED
    except click.exceptions.NoArgsIsHelpError as err:
        click.echo(err.ctx.get_help() if err.ctx else str(err), err=True)
        return EXIT_USAGE
    except click.ClickException as err:
        click.echo(f"error: {err.format_message()}", err=True)  # one line, as every bad-input error
        return EXIT_USAGE
    except Changes:
        return EXIT_CHANGES
    except LostTrack:
        return EXIT_LOST_TRACK
    except Failed:
        return EXIT_FAILED
    except DeployError as err:
        click.echo(f"error: {err}", err=True)
        return EXIT_FAILED
    except NoCredentialsError:
        click.echo(f"error: no AWS credentials found; set a profile (--profile) or AWS_PROFILE, "
                   f"or try everything on the embedded AWS: {_me()} up --local", err=True)
        return EXIT_FAILED
    except ClientError as err:
        click.echo(_aws_error_line(err), err=True)
        return EXIT_FAILED
    except BotoCoreError as err:
        click.echo(_botocore_error_line(err), err=True)
        return EXIT_FAILED
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    return 0
