"""The embedded AWS: moto's server, plus a Lambda runner, AWS quirks and fault injection.

    with Emulator(create_latency=2.0, faults=["dynamodb:CreateTable=ThrottlingException*3"]) as emu:
        boto3.client("dynamodb", endpoint_url=emu.endpoint_url, ...)

moto keeps its state in module globals, so one Emulator runs per process at a time.  Controls are
also served over HTTP, for other processes and for plain AWS CLI users:

    GET    /_fileferry/api-calls   {"dynamodb:CreateTable": 5, ...}
    DELETE /_fileferry/api-calls   reset the counts
    POST   /_fileferry/faults      JSON list of fault specs; replaces the active faults
    GET    /_fileferry/faults      the active faults and their remaining counts
    GET    /_fileferry/config      the settings, as below
    POST   /_fileferry/config      {"create_latency": 2.0, "backup_latency": 5, "ttl_latency": 1,
                                    "stack_instance_latency": 30,
                                    "consistency_lag": 1.5, "chaos": 0.05, "seed": 7}
                                   (any of them; a bad value changes none; chaos/seed restart the
                                   chaos sequence)
    GET    /_fileferry/chaos       {"rate", "seed", "calls": N, "injected": [{"n", "call", "error"}, ...]}
    POST   /_fileferry/reset       clear all AWS state (and the counts); faults and latency stay
    GET    /_fileferry/clock       {"now": "2026-01-01T00:00:00.000Z", "offset_seconds": 0.0}
    POST   /_fileferry/clock       {"advance_seconds": 3600}: move the emulator's clock forward
"""

from __future__ import annotations

import collections
import json
import logging
import os
import signal
import threading
from collections.abc import Callable, Iterable
from http import HTTPStatus
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from local import awslambda, cloudformation, dynamodb, iam, kms, patching, stepfunctions, sts
from local.aws_calls import buffer_body, identify_call
from local.awslambda.runner import LambdaRunner
from local.clock import Clock, checked_seconds
from local.faults.chaos import TIMEOUT, Chaos, checked_chaos_rate, checked_seed, drop_connection
from local.faults.consistency import ConsistencyLag, checked_consistency_lag
from local.faults.injected import FaultPlan, error_response
from local.iam import enforcement as iam_enforcement
from local.cloudformation import stack_sets
from local.stepfunctions import executions

# The services whose moto behaviour the emulator corrects, each installing its own patches.
SERVICES = (dynamodb, stepfunctions, cloudformation, iam, sts, awslambda, kms)

LOG = logging.getLogger(__name__)

FAULTS_ENV = "FILEFERRY_FAULTS"
MAX_CREATE_LATENCY_SECONDS = 3600
# AWS: backups "become available for restore within minutes" (CreateBackup API reference) and a TTL
# change "can take up to one hour ... to fully process" (UpdateTimeToLive).  The defaults are small,
# so `up --local` keeps its speed, but never 0: nothing is instant on AWS.
DEFAULT_BACKUP_LATENCY_SECONDS = 2.0
DEFAULT_TTL_LATENCY_SECONDS = 2.0
# The timing settings: keyword / JSON name -> (name in messages, flag, largest value in seconds).
TIMING_SETTINGS = {
    "create_latency": ("create latency", "--create-latency", MAX_CREATE_LATENCY_SECONDS),
    "backup_latency": ("backup latency", "--backup-latency", 3600),
    "ttl_latency": ("TTL latency", "--ttl-latency", 3600),
    "stack_instance_latency": ("stack instance latency", "--stack-instance-latency", 3600),
}
CONTROL_PREFIX = "/_fileferry/"

# moto's settings for the emulator; the previous values come back when it stops.
_MOTO_CONFIG = {
    ("stepfunctions", "execute_state_machine"): True,  # run the ASL, not just record executions
    ("lambda", "use_docker"): False,  # moto.awslambda_simple: its invoke is the runner's hook
}


# moto's interpreter logs every state failure at ERROR, with the error's cause (handler payloads)
# in it.  Failures that Retry/Catch handle are normal flow here, and payloads stay out of logs.
_QUIETED_LOGGERS = ("moto.stepfunctions.parser.asl.component.eval_component",)


class _QuietRequestHandler(WSGIRequestHandler):
    """No access log: tests and `deploy.py local` would drown in one line per AWS call."""

    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def checked_timing(setting: str, seconds: Any) -> float:
    """A value for one of TIMING_SETTINGS: a finite number of seconds from 0 to its maximum."""
    name, _flag, maximum = TIMING_SETTINGS[setting]
    return checked_seconds(name, seconds, maximum)


def checked_create_latency(seconds: Any) -> float:
    """Seconds a new table stays CREATING: a finite number from 0 to MAX_CREATE_LATENCY_SECONDS."""
    return checked_timing("create_latency", seconds)


class Emulator:
    """moto's server in a background thread, with the runner, quirks, faults and call counts."""

    def __init__(
        self,
        port: int = 0,
        create_latency: float = 0.0,
        backup_latency: float = DEFAULT_BACKUP_LATENCY_SECONDS,
        ttl_latency: float = DEFAULT_TTL_LATENCY_SECONDS,
        stack_instance_latency: float = 0.0,
        faults: Iterable[str] = (),
        host: str = "127.0.0.1",
        cache_dir: str | Path | None = None,
        consistency_lag: float = 0.0,
        chaos: float = 0.0,
        seed: int | None = None,
    ):
        self.host = host
        self.port = port
        # create_latency: a new table stays CREATING, an updated one UPDATING (local/dynamodb/tables.py);
        # backup_latency: a new backup stays CREATING (local/dynamodb/backups.py);
        # ttl_latency: TTL stays ENABLING/DISABLING after a change (local/dynamodb/ttl.py);
        # stack_instance_latency: each target of a StackSet operation takes this long (local/cloudformation/stack_sets.py).
        self.create_latency = self.backup_latency = self.ttl_latency = self.stack_instance_latency = 0.0
        self.configure(create_latency=create_latency, backup_latency=backup_latency, ttl_latency=ttl_latency,
                       stack_instance_latency=stack_instance_latency)
        self.clock = Clock()  # every time-based behaviour reads this, so tests can move time on
        # Specs from the environment add to the ones given; a bad spec raises ValueError here.
        self._faults = FaultPlan([*faults, *_fault_specs_from_env()])
        self.consistency = ConsistencyLag(consistency_lag, now=self.clock.time)  # local/faults/consistency.py
        self.chaos = Chaos(chaos, seed)  # local/faults/chaos.py
        self._cache_dir = cache_dir
        self._api_calls: collections.Counter[str] = collections.Counter()
        self._api_calls_lock = threading.Lock()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._saved_environment: dict[str, str | None] = {}
        self._saved_moto_config: dict[tuple[str, str], Any] = {}
        self._saved_log_levels: dict[str, int] = {}
        self.lambda_runner: LambdaRunner | None = None

    # -- lifecycle --------------------------------------------------------------------------

    @staticmethod
    def running() -> Emulator | None:
        """The Emulator running in this process, if any (moto's state allows only one)."""
        return patching.running_emulator()

    @property
    def endpoint_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running; call start() first")
        # A wildcard bind address is not a place to connect to: advertise loopback instead.
        host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host
        return f"http://{host}:{self.port}"

    def start(self) -> Emulator:
        """Start serving in a background thread of this process; returns self."""
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        if self._server is not None:
            return self
        patching.check()  # before any patch: a moto whose internals moved is refused here
        patching.claim(self)  # refuses a second running Emulator in this process
        try:
            for service in SERVICES:
                service.install()
        except BaseException:
            patching.uninstall()
            raise
        try:
            server = make_server(
                self.host, self.port,
                self._wsgi(DomainDispatcherApplication(create_backend_app)),
                threaded=True, request_handler=_QuietRequestHandler,
            )
        except BaseException:
            patching.uninstall()
            raise
        self.port = server.server_port
        self._configure_moto()
        self._server = server
        self.lambda_runner = LambdaRunner(self.endpoint_url, self._cache_dir)
        self._thread = threading.Thread(
            target=server.serve_forever, name=f"fileferry-emulator-{self.port}", daemon=True
        )
        self._thread.start()
        LOG.info("embedded AWS listening on %s", self.endpoint_url)
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        executions.silence_and_stop_running_executions()
        stack_sets.abandon_running_operations()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = None
        self.lambda_runner.close()
        patching.uninstall()
        self._restore_moto()

    def _configure_moto(self) -> None:
        from moto.core.config import default_user_config

        # moto's Step Functions interpreter calls AWS at http://localhost:$MOTO_PORT
        # (moto.settings.moto_server_port(), read at each call).
        self._saved_environment = {"MOTO_PORT": os.environ.get("MOTO_PORT")}
        os.environ["MOTO_PORT"] = str(self.port)
        for (section, key), value in _MOTO_CONFIG.items():
            self._saved_moto_config[(section, key)] = default_user_config[section].get(key)
            default_user_config[section][key] = value
        for name in _QUIETED_LOGGERS:
            self._saved_log_levels[name] = logging.getLogger(name).level
            logging.getLogger(name).setLevel(logging.CRITICAL)

    def _restore_moto(self) -> None:
        from moto.core.config import default_user_config

        for name, value in self._saved_environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        for (section, key), value in self._saved_moto_config.items():
            default_user_config[section][key] = value
        for name, level in self._saved_log_levels.items():
            logging.getLogger(name).setLevel(level)

    def serve_forever(self) -> None:
        """Block until Ctrl-C (or SIGTERM), then stop."""
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, signal.default_int_handler)  # -> KeyboardInterrupt
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- controls ---------------------------------------------------------------------------

    def reset(self, *, faults: Iterable[str] | None = None,
              create_latency: float | None = None, backup_latency: float | None = None,
              ttl_latency: float | None = None, stack_instance_latency: float | None = None,
              consistency_lag: float | None = None,
              chaos: float | None = None, seed: int | None = None) -> None:
        """Clear all AWS state and the API-call counts; warm Lambda workers stay.

        Faults, latency, lag and chaos stay as they are unless given (chaos given restarts its
        sequence from `seed`).  Executions still running are stopped first, without status-change
        events, so nothing leaks into what comes next.
        """
        from moto.moto_api._internal.models import moto_api_backend

        if faults is not None:
            self.set_faults(faults)
        self.configure(create_latency=create_latency, backup_latency=backup_latency, ttl_latency=ttl_latency,
                       stack_instance_latency=stack_instance_latency)
        if consistency_lag is not None:
            self.set_consistency_lag(consistency_lag)
        if chaos is not None:
            self.set_chaos(chaos, seed)
        executions.silence_and_stop_running_executions()
        stack_sets.abandon_running_operations()
        moto_api_backend.reset()
        self.consistency.forget()
        self.reset_api_calls()

    def set_faults(self, faults: Iterable[str]) -> None:
        """Replace the active faults; a bad spec raises ValueError and changes nothing."""
        self._faults.replace(list(faults))

    def faults(self) -> list[dict[str, Any]]:
        return self._faults.describe()

    def set_create_latency(self, seconds: float) -> None:
        self.configure(create_latency=seconds)

    def configure(self, **settings: Any) -> dict[str, float]:
        """Set any of TIMING_SETTINGS (None: leave as is); all are checked before any changes."""
        unknown = set(settings) - set(TIMING_SETTINGS)
        if unknown:
            raise ValueError(f"unknown setting(s) {sorted(unknown)}; expected some of {sorted(TIMING_SETTINGS)}")
        checked = {key: checked_timing(key, value) for key, value in settings.items() if value is not None}
        for key, value in checked.items():
            setattr(self, key, value)
        return self.timing()

    def timing(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in TIMING_SETTINGS}

    def set_consistency_lag(self, seconds: float) -> None:
        """How long a read may show the state before a write (0: never); a bad value changes nothing."""
        self.consistency.set_seconds(seconds)

    def set_chaos(self, rate: float, seed: int | None = None) -> None:
        """Fail orchestrator calls at `rate`, from the start of `seed`'s sequence (None: a random seed)."""
        self.chaos.configure(rate, seed)

    def settings(self) -> dict[str, Any]:
        """The timing settings, the read lag and the chaos rate and seed."""
        return {**self.timing(), "consistency_lag": self.consistency.seconds,
                "chaos": self.chaos.rate, "seed": self.chaos.seed}

    def api_calls(self) -> dict[str, int]:
        with self._api_calls_lock:
            return dict(self._api_calls)

    def reset_api_calls(self) -> None:
        with self._api_calls_lock:
            self._api_calls.clear()

    # -- the WSGI front ---------------------------------------------------------------------

    def _wsgi(self, moto_app: Callable[..., Any]) -> Callable[..., Any]:
        def application(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
            path = environ.get("PATH_INFO", "")
            if path.startswith(CONTROL_PREFIX):
                return self._control(environ, start_response)
            if path.startswith("/moto-api"):
                return moto_app(environ, start_response)
            call = identify_call(environ)
            with self._api_calls_lock:
                self._api_calls[call.name] += 1
            # IAM first, as AWS authorizes a request before the service acts on it: an ended session
            # is refused, and a role's sessions meet its permissions as they were before a change
            # still propagating.
            expired = iam_enforcement.expired_session_response(call, environ, self.clock.time())
            if expired is not None:
                return _reply(start_response, *expired)
            denied = iam_enforcement.check(call, environ, self.consistency.permissions_before)
            if denied is not None:
                return _reply(start_response, *denied)
            error_code = self._faults.take(call.service, call.operation, call.user_agent)
            if error_code is not None:
                status, headers, body = error_response(
                    call.protocol, call.service, call.operation, error_code, buffer_body(environ)
                )
                headers.append(("Content-Length", str(len(body))))
                start_response(f"{status} {HTTPStatus(status).phrase}", headers)
                return [body]
            injected = self.chaos.decide(call, environ)
            if injected is not None:
                if injected.error == TIMEOUT:
                    drop_connection(environ)
                return _reply(start_response, *error_response(
                    call.protocol, call.service, call.operation, injected.error, message=injected.message
                ))
            with patching.serving_request(iam_enforcement.caller_arns(environ)):
                # moto answers fully inside this call (its responses are lists of bytes); reads
                # may answer from before a recent write (local/faults/consistency.py).
                return self.consistency.serve(call, environ, start_response, moto_app)

        return application

    def _control(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        method = environ["REQUEST_METHOD"]
        action = environ["PATH_INFO"][len(CONTROL_PREFIX):].strip("/")
        try:
            body = _json_body(environ)
            if action == "api-calls" and method == "GET":
                result: Any = self.api_calls()
            elif action == "api-calls" and method == "DELETE":
                self.reset_api_calls()
                result = {}
            elif action == "faults" and method == "GET":
                result = self.faults()
            elif action == "faults" and method == "POST":
                if not isinstance(body, list):
                    raise ValueError("expected a JSON list of fault specs")
                self.set_faults(body)
                result = self.faults()
            elif action == "config" and method == "GET":
                result = self.settings()
            elif action == "config" and method == "POST":
                self._configure(body)
                result = self.settings()
            elif action == "chaos" and method == "GET":
                result = self.chaos.describe()
            elif action == "clock" and method == "GET":
                result = self.clock.describe()
            elif action == "clock" and method == "POST":
                if not isinstance(body, dict) or set(body) != {"advance_seconds"}:
                    raise ValueError('expected {"advance_seconds": SECONDS}')
                self.clock.advance(body["advance_seconds"])
                result = self.clock.describe()
            elif action == "reset" and method == "POST":
                self.reset()
                result = {}
            else:
                return _json_reply(start_response, "404 Not Found",
                                   {"error": f"no control {method} {CONTROL_PREFIX}{action}"})
        except (ValueError, TypeError) as error:
            return _json_reply(start_response, "400 Bad Request", {"error": str(error)})
        return _json_reply(start_response, "200 OK", result)

    def _configure(self, body: Any) -> None:
        """POST /_fileferry/config: every value is checked first, so a bad one changes nothing."""
        strictness = {"consistency_lag", "chaos", "seed"}
        if not isinstance(body, dict) or not body or set(body) - set(TIMING_SETTINGS) - strictness:
            raise ValueError(f"expected a JSON object with some of {sorted({*TIMING_SETTINGS, *strictness})}")
        timing = {key: checked_timing(key, value) for key, value in body.items() if key in TIMING_SETTINGS}
        if "seed" in body and not isinstance(body["seed"], int | type(None)):
            raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {body['seed']!r}")
        lag = checked_consistency_lag(body.get("consistency_lag", self.consistency.seconds))
        rate = checked_chaos_rate(body.get("chaos", self.chaos.rate))
        seed = checked_seed(body.get("seed", self.chaos.seed))
        self.configure(**timing)
        self.consistency.set_seconds(lag)
        if "chaos" in body or "seed" in body:
            self.chaos.configure(rate, seed)


def _reply(start_response: Callable[..., Any], status: int, headers: list[tuple[str, str]],
           body: bytes) -> list[bytes]:
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]


def _fault_specs_from_env() -> list[str]:
    return [spec for spec in os.environ.get(FAULTS_ENV, "").split(",") if spec.strip()]


def _json_body(environ: dict[str, Any]) -> Any:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    raw = environ["wsgi.input"].read(length) if length else b""
    return json.loads(raw) if raw.strip() else None


def _json_reply(start_response: Callable[..., Any], status: str, payload: Any) -> list[bytes]:
    body = json.dumps(payload).encode("utf-8")
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body)))])
    return [body]
