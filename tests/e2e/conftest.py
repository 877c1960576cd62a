"""Whole executions of the committed ASL on the embedded AWS, read back with boto3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from lambdas.core.steps import STEPS
from local.emulator import DEFAULT_BACKUP_LATENCY_SECONDS, DEFAULT_TTL_LATENCY_SECONDS
from provisioner.runs import executions as runs
from provisioner.config import resolve
from provisioner.factory import CLIFactory

REPO = Path(__file__).resolve().parents[2]

# Every e2e test runs on the strict embedded AWS: reads lag writes by this much (local/faults/consistency.py),
# and a test marked `chaos` also gets transient faults at random (local/faults/chaos.py).
CONSISTENCY_LAG_SECONDS = 1.0


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "chaos(rate, seed): the deployed functions' AWS calls fail transiently at `rate`, from `seed`"
    )


@pytest.fixture(scope="session")
def emulator(running_emulator):
    return running_emulator


@pytest.fixture
def aws(emulator, monkeypatch, request):
    """A clean embedded AWS: no resources, no faults, tables ACTIVE at once, default TTL/backup timing;
    reads lag writes.  `@pytest.mark.chaos(rate, seed)` adds transient faults at random, the same ones
    on every run.
    """
    # What a user pointing deploy.py or the AWS CLI at the emulator would have.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    chaos = request.node.get_closest_marker("chaos")
    emulator.reset(faults=[], create_latency=0, backup_latency=DEFAULT_BACKUP_LATENCY_SECONDS,
                   ttl_latency=DEFAULT_TTL_LATENCY_SECONDS, consistency_lag=CONSISTENCY_LAG_SECONDS, chaos=0.0)
    emulator.reset_api_calls()
    if chaos is not None:
        emulator.set_chaos(*chaos.args, **chaos.kwargs)
    yield emulator
    emulator.set_faults([])
    emulator.set_chaos(0.0)


@pytest.fixture
def config_path(tmp_path) -> Path:
    """The shipped config with a one-second poll interval, so runs finish quickly."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["provisioner"]["poll_interval_seconds"] = 1
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture
def factory(aws, config_path) -> CLIFactory:
    return CLIFactory(resolve(config_path, endpoint_url=aws.endpoint_url), local=True)


@pytest.fixture
def clients(factory):
    return factory.clients()


@pytest.fixture
def deployed(aws, factory):
    deployer = factory.deployer()
    deployer.sleep = aws.clock.advance  # waiting out IAM propagation moves the emulator's clock, not the test's
    return deployer.deploy()


@pytest.fixture
def run(factory, deployed):
    """Start an execution with the given input and follow it to its end."""

    def start_and_follow(run_input: Any) -> runs.RunResult:
        sfn = factory.clients().stepfunctions
        arn = runs.start(sfn, deployed.state_machine_arn, run_input)
        return runs.Follower(sfn, poll_seconds=0.2).follow(arn)

    return start_and_follow


@pytest.fixture
def cli(aws, config_path, capsys):
    """deploy.py's main() against the embedded AWS; returns (exit code, stdout)."""
    from provisioner.cli.commands import main

    def invoke(*args: str) -> tuple[int, str]:
        capsys.readouterr()  # what fixtures printed before (a deploy's waiting lines) is not this command's
        code = main(["--config", str(config_path), "--endpoint-url", aws.endpoint_url, *args])
        captured = capsys.readouterr()
        return code, captured.out + captured.err

    return invoke


@pytest.fixture
def function_logs(aws, factory):
    """The deployed functions' log lines written since this fixture was set up.

    The embedded AWS appends each function's output (stderr) to one file per function;
    `new_lines()` returns {function name: [lines]} for what was appended since.
    """
    runner = aws.lambda_runner
    names = [f"{factory.settings.provisioner.name}-{step.name}" for step in STEPS]
    start = {name: runner.log_path(name).stat().st_size if runner.log_path(name).exists() else 0 for name in names}

    class FunctionLogs:
        def new_lines(self) -> dict[str, list[str]]:
            lines = {}
            for name in names:
                path = runner.log_path(name)
                if path.exists():
                    with path.open("rb") as log:
                        log.seek(start[name])
                        lines[name] = log.read().decode("utf-8", errors="replace").splitlines()
            return lines

    return FunctionLogs()


class _Reached(Exception):
    pass


@pytest.fixture
def follow_until(factory):
    """follow_until(execution_arn, predicate, what): follow a run until a progress line satisfies predicate."""

    def follow(execution_arn: str, predicate: Any, what: str) -> None:
        seen: list[str] = []

        def on_progress(line: str) -> None:
            seen.append(line)
            if predicate(line):
                raise _Reached()

        try:
            ended = runs.Follower(factory.clients().stepfunctions, on_progress, poll_seconds=0.1).follow(execution_arn)
        except _Reached:
            return
        pytest.fail(f"the run ended {ended.status} ({ended.error}) before {what}; progress: {seen}")

    return follow
