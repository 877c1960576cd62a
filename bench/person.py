"""What a person waits for: the wall time of a command, from its process starting to its exit.

Measured side by side in one benchmark run, each on a fresh embedded AWS with the spec's five tables
(config/config.yaml), a create latency L and a consistency lag:

- `python deploy.py run provision` against an embedded AWS the orchestrator is already deployed to
  (its functions' init phases done, as Lambda may do proactively), next to the execution's own time
  (startDate to stopDate);
- `python deploy.py up --local`: start the embedded AWS, deploy, provision, verify;
- the spec's sequential script (`python -m bench.person script ...`, the same code as the in-process
  baseline) with boto3's `table_exists` waiter at a 1-second delay, as its own process too.

    python -m bench.person script ENDPOINT CONFIG DELAY     # the sequential script, as a person runs it
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3

from bench.imports import REPO

CREDENTIALS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
COMMAND_TIMEOUT_SECONDS = 600


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return {**env, **CREDENTIALS_ENV, "AWS_DEFAULT_REGION": "us-east-1"}


def _timed(command: list[str]) -> tuple[float, int, str]:
    started = time.monotonic()
    result = subprocess.run(command, cwd=REPO, env=_environment(), capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT_SECONDS, check=False)
    return round(time.monotonic() - started, 2), result.returncode, (result.stdout + result.stderr)[-2000:]


def measure_run_provision(config: Path, create_latency: float, consistency_lag: float) -> dict[str, Any]:
    from local.emulator import Emulator
    from provisioner.aws_clients import Clients
    from provisioner.config import AwsTarget, load_settings
    from provisioner.deployer import Deployer
    from provisioner.blueprint.desired_state import desired_state
    from provisioner.runs import executions as runs
    from provisioner.runs.progress import END_EVENTS

    with Emulator(port=0, create_latency=create_latency, consistency_lag=consistency_lag) as emulator:
        emulator.reset()
        settings = load_settings(config)
        desired = desired_state(settings)
        clients = Clients(AwsTarget(region=desired.region, endpoint_url=emulator.endpoint_url), local=True)
        arn = Deployer(clients, settings, desired, tracing=False).deploy().state_machine_arn
        emulator.lambda_runner.wait_for_initialisation(timeout=120)
        wall, code, output = _timed([sys.executable, "deploy.py", "--config", str(config), "--endpoint-url",
                                     emulator.endpoint_url, "run", "provision"])
        executions = clients.stepfunctions.list_executions(stateMachineArn=arn)["executions"]
        execution = {}
        if executions:
            # From the history: DescribeExecution may still say RUNNING just after the run ended (the lag).
            events = list(runs.history(clients.stepfunctions, executions[0]["executionArn"]))
            end = runs.end_event(events)
            if end is not None:
                execution = {"status": END_EVENTS[end["type"]],
                             "execution_seconds": round((end["timestamp"] - events[0]["timestamp"]).total_seconds(), 2)}
    return {"command": "run provision", "consistency_lag": consistency_lag, "create_latency": create_latency,
            "person_seconds": wall, "exit_code": code, **execution, **({} if code == 0 else {"output_tail": output})}


def measure_up(config: Path, create_latency: float, consistency_lag: float) -> dict[str, Any]:
    wall, code, output = _timed([sys.executable, "deploy.py", "--config", str(config), "up", "--local", "--port", "0",
                                 "--create-latency", str(create_latency), "--consistency-lag", str(consistency_lag)])
    return {"command": "up --local", "consistency_lag": consistency_lag, "create_latency": create_latency,
            "person_seconds": wall, "exit_code": code, **({} if code == 0 else {"output_tail": output})}


def measure_script(config: Path, create_latency: float, consistency_lag: float, delay: int) -> dict[str, Any]:
    from local.emulator import Emulator

    with Emulator(port=0, create_latency=create_latency, consistency_lag=consistency_lag) as emulator:
        emulator.reset()
        wall, code, output = _timed([sys.executable, "-m", "bench.person", "script", emulator.endpoint_url, str(config), str(delay)])
    return {"command": f"sequential script, {delay} s waiter", "consistency_lag": consistency_lag,
            "create_latency": create_latency, "person_seconds": wall, "exit_code": code,
            **({} if code == 0 else {"output_tail": output})}


def measure_person_visible(config: Path, create_latency: float, lags: tuple[float, ...], report: Any = print) -> list[dict[str, Any]]:
    rows = []
    for lag in lags:
        report(f"person-visible: consistency lag {lag} s: run provision, up --local, the 1-second-waiter script ...")
        rows.append(measure_run_provision(config, create_latency, lag))
        rows.append(measure_up(config, create_latency, lag))
        rows.append(measure_script(config, create_latency, lag, 1))
    return rows


def _script(endpoint: str, config: str, delay: str) -> int:
    from bench.measure import run_sequential_script
    from provisioner.config import load_settings
    from provisioner.blueprint.desired_state import desired_state

    desired = desired_state(load_settings(Path(config)))
    session = boto3.session.Session(region_name=desired.region)
    run_sequential_script(session.client("dynamodb", endpoint_url=endpoint), session.client("iam", endpoint_url=endpoint),
                          desired, int(delay))
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "script":
        sys.exit(_script(*sys.argv[2:]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
