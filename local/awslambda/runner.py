"""Runs the deployed Lambda functions' code, as Lambda would, for moto's Docker-less Lambda backend.

moto stores a function's zip but (without Docker) answers invocations with a canned string.  The
runner extracts the zip once per code SHA-256 and starts one runtime process per function
configuration (``worker.py``, with the function's environment and AWS_ENDPOINT_URL pointing
back at the emulator).  That process runs the init phase once, as soon as the function is created
or changed (Lambda documents that it may initialise on-demand functions proactively); each worker
is forked from it, as SnapStart resumes a snapshot, so concurrent cold invocations on a 2-CPU
laptop cost a fork each rather than a Python start and a boto3 import each.  The runner enforces
the function's timeout and reports errors the way Lambda does:

- an unhandled exception: payload {errorMessage, errorType, requestId, stackTrace} and the
  X-Amz-Function-Error: Unhandled header, so Step Functions sees errorType as the error name;
- a timeout: the worker is killed and the error is Sandbox.Timedout;
- a crash: Runtime.ExitError, with the worker's exit status.

Workers are kept per function configuration and reused, like Lambda's warm containers (module-level
state survives between invocations); concurrent invocations each get a worker of their own.  A
failed init phase is the invocation's error, and the next invocation runs init again.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import io
import json
import logging
import os
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from local.iam import enforcement as iam_enforcement
from local.awslambda import runtime as lambda_runtime
from local.faults.injected import HANDLER_USER_AGENT_APP_ID

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
INIT_TIMEOUT_SECONDS = 10.0  # Lambda's limit for the init phase, not counted in the function timeout
# Idle workers kept per function configuration: enough for the workflow's bounded Map concurrency,
# without keeping a burst of dozens of Python processes alive for the emulator's lifetime.
MAX_IDLE_WORKERS = 8
LOGS_TO_STDERR_ENV = "FILEFERRY_LAMBDA_LOGS"  # "stderr": function logs go to the emulator's stderr
_LENGTH = struct.Struct(">I")


class InvocationRefused(Exception):
    """The Lambda service refuses the invocation before running anything (a 4xx ClientError)."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class _FunctionSetup:
    """What a worker is started with; workers are reusable only for an identical setup."""

    function_id: tuple[str, str, str]  # (account, region, name)
    code_sha256: str
    handler: str
    version: str
    environment: tuple[tuple[str, str], ...]
    runtime: str = ""  # the function's Runtime, e.g. "python3.12": which interpreter runs it

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)


class _InitFailed(Exception):
    """The function's init phase failed; Lambda reports it as the invocation's error."""

    def __init__(self, error: dict[str, Any]):
        super().__init__(error.get("errorMessage"))
        self.error = error


class _Worker:
    """One warm "container": a process forked from the function's initialised runtime."""

    def __init__(self, setup: _FunctionSetup, pid: int, channel: socket.socket):
        self.setup = setup
        self.pid = pid
        self.channel = channel
        self.exit_status: int | None = None  # reported by the runtime process once it reaps us
        self._gone = False

    def call(self, request: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Send one invocation; None means no reply by the deadline or the worker exited."""
        try:
            self.channel.sendall(_frame(request))
        except OSError:
            self._gone = True
            return None
        reply = _read_message(self.channel, deadline)
        if reply is not None and "exit_status" not in reply:
            return reply
        if reply is not None:
            self.exit_status = reply["exit_status"]
            self._gone = True
        elif time.monotonic() < deadline:  # EOF: it exited, and so did its runtime process
            self._gone = True
        return None

    @property
    def alive(self) -> bool:
        # An idle worker's socket turns readable only when it exited (status frame or EOF).
        if not self._gone and select.select([self.channel], [], [], 0)[0]:
            self._gone = True
        return not self._gone

    def kill(self) -> None:
        if not self._gone:
            self._gone = True
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.channel.close()


class _Runtime:
    """A function's runtime process: its init phase done once, forked for every new worker."""

    def __init__(self, setup: _FunctionSetup, task_root: Path, layer: Path, log_file: Any):
        self.setup = setup
        ours, theirs = socket.socketpair()
        # The runtime's interpreter, isolated: the function sees its zip and the runtime's boto3 only.
        interpreter = lambda_runtime.interpreter_for(setup.runtime)
        self.process = subprocess.Popen(
            lambda_runtime.isolated_command(interpreter, WORKER_SCRIPT, str(theirs.fileno()), str(task_root), setup.handler),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            cwd=task_root,
            env={**setup.env, **lambda_runtime.isolated_environment(task_root, layer)},
            pass_fds=(theirs.fileno(),),
            # Its own session: a Ctrl-C meant for the emulator does not hit a running handler.
            start_new_session=True,
        )
        theirs.close()
        self.control = ours
        self._fork_lock = threading.Lock()

    def initialise(self) -> None:
        """Wait for the init phase; raises _InitFailed as Lambda would report it."""
        reply = _read_message(self.control, time.monotonic() + INIT_TIMEOUT_SECONDS)
        if reply is None:
            raise _InitFailed({
                "errorType": "Runtime.ExitError",
                "errorMessage": "Runtime exited before finishing its init phase "
                                f"(or took over {INIT_TIMEOUT_SECONDS:.0f} seconds)",
            })
        if reply.get("init_error"):
            raise _InitFailed(reply["init_error"])

    def fork(self) -> _Worker | None:
        """A new worker in the initialised state; None if this runtime process is gone."""
        ours, theirs = socket.socketpair()
        log_stream = f"{datetime.date.today():%Y/%m/%d}/[{self.setup.version}]{uuid.uuid4().hex}"
        with self._fork_lock:
            try:
                socket.send_fds(self.control, [_frame({"log_stream_name": log_stream})], [theirs.fileno()])
                reply = _read_message(self.control, time.monotonic() + INIT_TIMEOUT_SECONDS)
            except OSError:
                reply = None
            finally:
                theirs.close()
        if reply is None or "pid" not in reply:
            ours.close()
            return None
        return _Worker(self.setup, reply["pid"], ours)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        self.control.close()


def _frame(message: dict[str, Any]) -> bytes:
    data = json.dumps(message).encode("utf-8")
    return _LENGTH.pack(len(data)) + data


def _read_message(sock: socket.socket, deadline: float) -> dict[str, Any] | None:
    header = _read_exact(sock, _LENGTH.size, deadline)
    if header is None:
        return None
    body = _read_exact(sock, _LENGTH.unpack(header)[0], deadline)
    return None if body is None else json.loads(body.decode("utf-8"))


def _read_exact(sock: socket.socket, size: int, deadline: float) -> bytes | None:
    chunks, remaining = [], size
    while remaining:
        timeout = deadline - time.monotonic()
        if timeout <= 0 or not select.select([sock], [], [], timeout)[0]:
            return None
        try:
            chunk = sock.recv(remaining)
        except OSError:
            return None
        if not chunk:  # EOF: the process exited
            return None
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


class LambdaRunner:
    """Invokes moto's Lambda functions by running their code; one per running Emulator."""

    def __init__(self, endpoint_url: str, cache_dir: Path | None = None):
        self.endpoint_url = endpoint_url
        self.cache_dir = Path(
            cache_dir
            or os.environ.get("FILEFERRY_LAMBDA_CACHE")
            or Path(tempfile.gettempdir()) / f"fileferry-lambda-{os.getuid()}"
        )
        self._lock = threading.Lock()
        self._idle: dict[_FunctionSetup, list[_Worker]] = {}
        self._runtimes: dict[_FunctionSetup, _Runtime] = {}
        self._runtime_locks: dict[_FunctionSetup, threading.Lock] = {}
        self._initialising = 0  # inits running in the background (initialise_in_background)
        self._initialising_changed = threading.Condition()
        self._all: set[_Worker] = set()
        self._log_files: dict[str, Any] = {}
        self._closed = False

    # -- invocation -------------------------------------------------------------------------

    def invoke(self, function: Any, qualifier: str | None, body: Any, headers: Any,
               response_headers: dict[str, str]) -> bytes:
        """moto's backend.invoke contract: returns the payload, fills response_headers."""
        if function.package_type != "Zip" or not function.code_bytes:
            raise InvocationRefused(
                "InvalidParameterValueException",
                "The fileferry emulator runs zip-packaged functions only",
            )
        event_text = _event_text(body)
        invocation_type = headers.get("X-Amz-Invocation-Type", "RequestResponse")
        response_headers["X-Amz-Executed-Version"] = str(function.version)
        if invocation_type == "DryRun":
            return b""
        invoked_arn = function.function_arn.rsplit(":$LATEST", 1)[0]
        if qualifier and not invoked_arn.endswith(f":{qualifier}"):
            invoked_arn = f"{invoked_arn}:{qualifier}"
        client_context = headers.get("X-Amz-Client-Context")
        if invocation_type == "Event":
            # Lambda queues the event and answers 202 at once; errors only reach the function's log.
            threading.Thread(
                target=self._run,
                args=(function, event_text, invoked_arn, client_context),
                daemon=True,
            ).start()
            return b""
        payload, failed = self._run(function, event_text, invoked_arn, client_context)
        if failed:
            response_headers["X-Amz-Function-Error"] = "Unhandled"
        return payload

    def _run(self, function: Any, event_text: str, invoked_arn: str,
             client_context: str | None) -> tuple[bytes, bool]:
        setup = self._setup_for(function)
        request_id = str(uuid.uuid4())
        try:
            worker = self._acquire(setup, function)
        except _InitFailed as failed:
            # Lambda reports an init failure as the invocation's error and discards the sandbox.
            return _error_payload(dict(failed.error, requestId=request_id)), True
        deadline_epoch_ms = int(time.time() * 1000) + int(function.timeout * 1000)
        request = {
            "request_id": request_id,
            "event": event_text,
            "deadline_ms": deadline_epoch_ms,
            "invoked_function_arn": invoked_arn,
            "client_context": _decode_client_context(client_context),
            "trace_id": _trace_header(),
        }
        deadline = time.monotonic() + float(function.timeout)
        reply = worker.call(request, deadline)
        if reply is None:
            self._discard(worker)
            if worker.exit_status is None and time.monotonic() >= deadline:
                LOG.warning("function %s timed out after %s s; its worker was killed",
                            function.function_name, function.timeout)
                return _error_payload({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                                    f"{float(function.timeout):.2f} seconds",
                }), True
            LOG.warning("function %s: worker exited with status %s during an invocation",
                        function.function_name, worker.exit_status)
            return _error_payload({
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: {_exit_reason(worker.exit_status)}",
            }), True
        self._release(worker)
        if "error" in reply:
            return _error_payload(reply["error"]), True
        return reply["payload"].encode("utf-8"), False

    # -- worker pool ------------------------------------------------------------------------

    def _setup_for(self, function: Any) -> _FunctionSetup:
        name, region, account = function.function_name, function.region, function.account_id
        version = str(function.version)
        environment = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
            **{str(k): str(v) for k, v in (function.environment_vars or {}).items()},
            # What Lambda reserves; a function's own variables cannot override these.
            "AWS_ENDPOINT_URL": self.endpoint_url,
            # The execution role's temporary credentials, as Lambda provides them.
            **iam_enforcement.session_credentials(
                function.role, name, iam_enforcement.LAMBDA_SERVICE, function.function_arn, account
            ).environment(),
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            # No profile files: the handler sees only what Lambda would give it.
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_SDK_UA_APP_ID": HANDLER_USER_AGENT_APP_ID,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": version,
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.run_time or 'python3.12'}",
            "_HANDLER": function.handler or "",
        }
        return _FunctionSetup(
            function_id=(account, region, name),
            code_sha256=function.code_digest,
            handler=function.handler or "",
            version=version,
            environment=tuple(sorted(environment.items())),
            runtime=function.run_time or "",
        )

    def _acquire(self, setup: _FunctionSetup, function: Any) -> _Worker:
        """An idle worker of this setup, or a new one forked from its runtime (raises _InitFailed)."""
        with self._lock:
            if self._closed:
                raise InvocationRefused("ServiceException", "The emulator is shutting down")
            self._drop_stale(setup)
            idle = self._idle.get(setup)
            while idle:
                worker = idle.pop()
                if worker.alive:
                    return worker
                self._all.discard(worker)
                worker.kill()
            creating = self._runtime_locks.setdefault(setup, threading.Lock())
        # One init per setup: concurrent cold invocations wait for it, then each forks a worker.
        with creating:
            for _ in range(2):  # a runtime process that died since its last fork is started anew
                worker = self._runtime(setup, function).fork()
                if worker is not None:
                    break
                self._drop_runtime(setup)
            else:
                raise _InitFailed({"errorType": "Runtime.ExitError",
                                   "errorMessage": "Runtime exited without providing a reason"})
        with self._lock:
            self._all.add(worker)
        return worker

    def initialise_in_background(self, function: Any) -> None:
        """Run a new or changed function's init phase now, before any invocation needs it.

        Lambda documents that it may initialise an on-demand function's environment ahead of
        invocations; here it keeps a Python start off the first run after a deploy.  A failed init
        is left for the first invocation to run again and report.
        """
        if function.package_type != "Zip" or not function.code_bytes:
            return
        setup = self._setup_for(function)
        with self._lock:
            if self._closed or setup in self._runtimes:
                return
            self._drop_stale(setup)
            creating = self._runtime_locks.setdefault(setup, threading.Lock())

        def initialise() -> None:
            try:
                with creating, contextlib.suppress(_InitFailed, InvocationRefused):
                    self._runtime(setup, function)
            finally:
                with self._initialising_changed:
                    self._initialising -= 1
                    self._initialising_changed.notify_all()

        with self._initialising_changed:
            self._initialising += 1
        threading.Thread(target=initialise, name=f"init-{function.function_name}", daemon=True).start()

    def wait_for_initialisation(self, timeout: float) -> bool:
        """Wait until no init started by a function change is still running; False on timeout."""
        with self._initialising_changed:
            return self._initialising_changed.wait_for(lambda: self._initialising == 0, timeout)

    def _runtime(self, setup: _FunctionSetup, function: Any) -> _Runtime:
        """The setup's initialised runtime process, started (init phase and all) if need be."""
        with self._lock:
            runtime = self._runtimes.get(setup)
            if runtime is not None:
                return runtime
            log_file = self._log_file(function.function_name)
        layer = lambda_runtime.runtime_layer(self.cache_dir)
        runtime = _Runtime(setup, self._extract(function), layer, log_file)
        try:
            runtime.initialise()
        except _InitFailed:
            runtime.kill()
            raise
        with self._lock:
            if self._closed:
                runtime.kill()
                raise InvocationRefused("ServiceException", "The emulator is shutting down")
            self._runtimes[setup] = runtime
        return runtime

    def _drop_runtime(self, setup: _FunctionSetup) -> None:
        with self._lock:
            runtime = self._runtimes.pop(setup, None)
        if runtime is not None:
            runtime.kill()

    def _drop_stale(self, setup: _FunctionSetup) -> None:
        """Workers and runtimes for an older code or configuration of this function (lock held)."""
        for old in [s for s in {*self._idle, *self._runtimes} if s.function_id == setup.function_id and s != setup]:
            for worker in self._idle.pop(old, []):
                self._all.discard(worker)
                worker.kill()
            runtime = self._runtimes.pop(old, None)
            if runtime is not None:
                runtime.kill()

    def _release(self, worker: _Worker) -> None:
        with self._lock:
            idle = self._idle.setdefault(worker.setup, [])
            if not self._closed and worker.alive and len(idle) < MAX_IDLE_WORKERS:
                idle.append(worker)
                return
            self._all.discard(worker)
        worker.kill()

    def _discard(self, worker: _Worker) -> None:
        with self._lock:
            self._all.discard(worker)
        worker.kill()

    def close(self) -> None:
        """Stop every worker (idle or busy) and close the log files."""
        with self._lock:
            self._closed = True
            workers = list(self._all)
            runtimes = list(self._runtimes.values())
            self._all.clear()
            self._idle.clear()
            self._runtimes.clear()
            log_files = list(self._log_files.values())
            self._log_files.clear()
        for worker in workers:
            worker.kill()
        for runtime in runtimes:
            runtime.kill()
        for log_file in log_files:
            if log_file is not sys.stderr:
                log_file.close()

    # -- files ------------------------------------------------------------------------------

    def _log_file(self, function_name: str) -> Any:
        if os.environ.get(LOGS_TO_STDERR_ENV, "").lower() == "stderr":
            return sys.stderr
        if function_name not in self._log_files:
            log_dir = self.cache_dir / "logs"
            log_dir.mkdir(parents=True, exist_ok=True)
            self._log_files[function_name] = open(log_dir / f"{function_name}.log", "ab")
        return self._log_files[function_name]

    def log_path(self, function_name: str) -> Path:
        return self.cache_dir / "logs" / f"{function_name}.log"

    def _extract(self, function: Any) -> Path:
        """The zip's contents, extracted once per code SHA-256 (shared by processes and runs)."""
        target = self.cache_dir / "code" / function.code_digest
        if target.is_dir():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".extracting-", dir=target.parent))
        try:
            with zipfile.ZipFile(io.BytesIO(function.code_bytes)) as archive:
                archive.extractall(staging)
            os.rename(staging, target)  # atomic: readers see all of it or nothing
        except OSError:
            if not target.is_dir():  # unless another process extracted it first, a real failure
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target


def _event_text(body: Any) -> str:
    """The invocation payload as JSON text; Lambda refuses a payload that is not JSON."""
    if body is None or body == b"" or body == "":
        return "{}"
    text = body.decode("utf-8") if isinstance(body, bytes) else str(body)
    try:
        json.loads(text)
    except ValueError as error:
        raise InvocationRefused(
            "InvalidRequestContentException",
            f"Could not parse request body into json: {error}",
        ) from None
    return text


def _exit_reason(exit_status: int | None) -> str:
    """Lambda's words for how a runtime ended (a negative status is the killing signal)."""
    if exit_status is None:
        return "Runtime exited without providing a reason"
    if exit_status < 0:
        return f"Runtime exited with error: signal: {signal.strsignal(-exit_status).lower()}"
    return f"Runtime exited with error: exit status {exit_status}"


def _error_payload(error: dict[str, Any]) -> bytes:
    return json.dumps(error).encode("utf-8")


def _decode_client_context(header: str | None) -> Any:
    if not header:
        return None
    try:
        return json.loads(base64.b64decode(header))
    except ValueError:
        return None


def _trace_header() -> str:
    # Sampled=0: X-Ray SDKs (powertools' Tracer) stay quiet, as for an unsampled request.
    epoch = f"{int(time.time()):08x}"
    return f"Root=1-{epoch}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
