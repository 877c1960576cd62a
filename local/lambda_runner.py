"""Runs the deployed Lambda functions' code, as Lambda would, for moto's Docker-less Lambda backend.

moto stores a function's zip but (without Docker) answers invocations with a canned string.  The
runner extracts the zip once per code SHA-256, runs the handler in warm worker processes
(``lambda_worker.py``) with the function's environment and AWS_ENDPOINT_URL pointing back at the
emulator, enforces the function's timeout and reports errors the way Lambda does:

- an unhandled exception: payload {errorMessage, errorType, requestId, stackTrace} and the
  X-Amz-Function-Error: Unhandled header, so Step Functions sees errorType as the error name;
- a timeout: the worker is killed and the error is Sandbox.Timedout;
- a crash: Runtime.ExitError.

Workers are kept per function configuration and reused, like Lambda's warm containers (module-level
state survives between invocations); concurrent invocations each get a worker of their own.
"""

from __future__ import annotations

import base64
import datetime
import io
import json
import logging
import os
import select
import shutil
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

from local.faults import HANDLER_USER_AGENT_APP_ID

LOG = logging.getLogger(__name__)

WORKER_SCRIPT = Path(__file__).with_name("lambda_worker.py")
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

    @property
    def env(self) -> dict[str, str]:
        return dict(self.environment)


class _Worker:
    def __init__(self, setup: _FunctionSetup, task_root: Path, log_file: Any):
        self.setup = setup
        environment = setup.env
        environment["AWS_LAMBDA_LOG_STREAM_NAME"] = (
            f"{datetime.date.today():%Y/%m/%d}/[{setup.version}]{uuid.uuid4().hex}"
        )
        self.process = subprocess.Popen(
            [sys.executable, str(WORKER_SCRIPT), str(task_root), setup.handler],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log_file,
            cwd=task_root,
            env=environment,
            # Its own session: a Ctrl-C meant for the emulator does not hit a running handler.
            start_new_session=True,
        )
        self.init_error: dict[str, Any] | None = None

    def wait_ready(self) -> bool:
        """Wait for the init outcome; False if the worker died or took too long."""
        reply = self._read_message(time.monotonic() + INIT_TIMEOUT_SECONDS)
        if reply is None:
            return False
        self.init_error = reply.get("init_error")
        return True

    def call(self, request: dict[str, Any], deadline: float) -> dict[str, Any] | None:
        """Send one invocation; None means no reply by the deadline or the worker exited."""
        data = json.dumps(request).encode("utf-8")
        try:
            self.process.stdin.write(_LENGTH.pack(len(data)) + data)
            self.process.stdin.flush()
        except (BrokenPipeError, OSError):
            return None
        return self._read_message(deadline)

    def _read_message(self, deadline: float) -> dict[str, Any] | None:
        header = self._read_exact(_LENGTH.size, deadline)
        if header is None:
            return None
        body = self._read_exact(_LENGTH.unpack(header)[0], deadline)
        return None if body is None else json.loads(body.decode("utf-8"))

    def _read_exact(self, size: int, deadline: float) -> bytes | None:
        fd = self.process.stdout.fileno()
        chunks, remaining = [], size
        while remaining:
            timeout = deadline - time.monotonic()
            if timeout <= 0 or not select.select([fd], [], [], timeout)[0]:
                return None
            chunk = os.read(fd, remaining)
            if not chunk:  # EOF: the worker exited
                return None
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            try:
                pipe.close()
            except OSError:
                pass


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
        worker = self._acquire(setup, function)
        if worker.init_error is not None:
            # Lambda reports an init failure as the invocation's error and discards the sandbox.
            self._discard(worker)
            return _error_payload(dict(worker.init_error, requestId=request_id)), True
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
            if time.monotonic() >= deadline:  # otherwise the worker exited before replying
                LOG.warning("function %s timed out after %s s; its worker was killed",
                            function.function_name, function.timeout)
                return _error_payload({
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": f"RequestId: {request_id} Error: Task timed out after "
                                    f"{float(function.timeout):.2f} seconds",
                }), True
            LOG.warning("function %s: worker exited with status %s during an invocation",
                        function.function_name, worker.process.returncode)
            return _error_payload({
                "errorType": "Runtime.ExitError",
                "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: "
                                f"exit status {worker.process.returncode}",
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
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
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
            "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
            "_HANDLER": function.handler or "",
        }
        return _FunctionSetup(
            function_id=(account, region, name),
            code_sha256=function.code_digest,
            handler=function.handler or "",
            version=version,
            environment=tuple(sorted(environment.items())),
        )

    def _acquire(self, setup: _FunctionSetup, function: Any) -> _Worker:
        with self._lock:
            if self._closed:
                raise InvocationRefused("ServiceException", "The emulator is shutting down")
            # Workers for an older code or configuration of this function will never be used again.
            stale = [s for s in self._idle if s.function_id == setup.function_id and s != setup]
            for old_setup in stale:
                for worker in self._idle.pop(old_setup):
                    self._all.discard(worker)
                    worker.kill()
            idle = self._idle.get(setup)
            while idle:
                worker = idle.pop()
                if worker.alive:
                    return worker
                self._all.discard(worker)
            log_file = self._log_file(function.function_name)
        task_root = self._extract(function)
        worker = _Worker(setup, task_root, log_file)
        with self._lock:
            self._all.add(worker)
        if not worker.wait_ready():
            worker.init_error = {
                "errorType": "Runtime.ExitError",
                "errorMessage": "Runtime exited before finishing its init phase "
                                f"(or took over {INIT_TIMEOUT_SECONDS:.0f} seconds)",
            }
        return worker

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
            self._all.clear()
            self._idle.clear()
            log_files = list(self._log_files.values())
            self._log_files.clear()
        for worker in workers:
            worker.kill()
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
