"""Transient faults at random: ``--chaos RATE --seed N``.

Each AWS call a deployed function makes, and each Lambda Invoke the Step Functions interpreter
makes, fails with probability RATE with a transient error the service really returns, in its wire
protocol (the error bodies of ``local.faults.injected.error_response``).  Calls from deploy.py, the AWS CLI
and tests are never hit.  The same seed gives the same sequence of decisions: call k (counting only
the calls chaos applies to, in the order they reach the emulator) fails, or not, with the same
error kind on every run with that seed.  With concurrent calls the order they arrive in is up to
the machine; the sequence is not.

The errors, per service (each from the service's API reference or its "Common Errors" page):

- throttling: DynamoDB ``ThrottlingException`` (400), IAM/STS ``Throttling`` (400, awsQuery),
  Lambda ``TooManyRequestsException`` (429), others ``ThrottlingException`` (400);
- an internal error: DynamoDB ``InternalServerError`` (500), IAM ``ServiceFailure`` (500), Lambda
  ``ServiceException`` (500), others ``InternalFailure`` (500);
- ``ServiceUnavailable`` (503, "Common Errors" of every service; DynamoDB "Error handling");
- a request timeout: the connection is closed with no answer, as when a request times out between
  the client and the service; botocore raises ``ConnectionClosedError`` (one of the connection
  errors its retry logic treats as transient).  The interpreter's Invoke is never timed out this way
  (Step Functions sees Lambda's own errors: ``Lambda.ServiceException``, ``Lambda.TooManyRequestsException``).
"""

from __future__ import annotations

import contextlib
import math
import random
import re
import socket
import threading
from dataclasses import dataclass
from typing import Any

from local.iam import enforcement as iam_enforcement
from local.aws_calls import AwsCall
from local.faults.injected import HANDLER_USER_AGENT_APP_ID

TIMEOUT = "RequestTimeout"  # the connection closed with no answer (see the module docstring)
_MAX_REMEMBERED = 1000

# (error code, message AWS sends with it)
_THROTTLING = ("ThrottlingException", "Rate exceeded")
_UNAVAILABLE = ("ServiceUnavailable", "The request has failed due to a temporary failure of the server.")
_INTERNAL_FAILURE = ("InternalFailure",
                     "The request processing has failed because of an unknown error, exception or failure.")
_TIMEOUT = (TIMEOUT, "")

_ERRORS: dict[str, tuple[tuple[str, str], ...]] = {
    # DynamoDB Developer Guide, "Error handling with DynamoDB": 400 ThrottlingException,
    # 500 InternalServerError, 503 ServiceUnavailable.
    "dynamodb": (("ThrottlingException", "Rate of requests exceeds the allowed throughput."),
                 ("InternalServerError", "Internal server error"), _UNAVAILABLE, _TIMEOUT),
    # IAM API reference: ServiceFailureException (code ServiceFailure, 500); awsQuery throttling.
    "iam": (("Throttling", "Rate exceeded"),
            ("ServiceFailure", "The request processing has failed because of an unknown error, exception or failure."),
            _UNAVAILABLE, _TIMEOUT),
    "sts": (("Throttling", "Rate exceeded"), _INTERNAL_FAILURE, _UNAVAILABLE, _TIMEOUT),
    # Lambda API reference: TooManyRequestsException (429), ServiceException (500).
    "lambda": (("TooManyRequestsException", "Rate Exceeded."),
               ("ServiceException", "The AWS Lambda service encountered an internal error."),
               _UNAVAILABLE, _TIMEOUT),
}
_DEFAULT_ERRORS = (_THROTTLING, _INTERNAL_FAILURE, _UNAVAILABLE, _TIMEOUT)
# The interpreter's Invoke: the errors Step Functions reports as Lambda.<code> (its docs name
# Lambda.ServiceException and Lambda.TooManyRequestsException as the transient ones to retry).
_INTERPRETER_INVOKE_ERRORS = _ERRORS["lambda"][:2]

_HANDLER_MARK = f"app/{HANDLER_USER_AGENT_APP_ID}"
_ACCESS_KEY = re.compile(r"Credential=([^/,\s]*)/")
_MOTO_INTERPRETER_KEY = "ak"  # moto's interpreter, for a state machine with no role to act as


def checked_chaos_rate(rate: Any) -> float:
    """The probability a call fails: a number from 0 to 1."""
    try:
        value = float(rate)
    except (TypeError, ValueError):
        value = math.nan
    if isinstance(rate, bool) or not 0 <= value <= 1:  # also refuses NaN
        raise ValueError(f"chaos rate must be a number from 0 to 1, got {rate!r}")
    return value


def checked_seed(seed: Any) -> int | None:
    """A seed: a whole number from 0 to 2**63-1, or None (a random one is chosen)."""
    if seed is None:
        return None
    if isinstance(seed, bool) or not isinstance(seed, int | str):
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    try:
        value = int(seed)
    except ValueError:
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}") from None
    if not 0 <= value < 2**63:
        raise ValueError(f"seed must be a whole number from 0 to 2**63-1, got {seed!r}")
    return value


def _caller(call: AwsCall, environ: dict[str, Any]) -> str | None:
    """"function", "interpreter" (its Lambda Invoke only) or None (an operator: never hit).

    Callers are told apart by their credentials (local/iam/enforcement.py: a function signs with
    its role's session as assumed by Lambda, the interpreter with the state machine role's as
    assumed by Step Functions); the Lambda runner's User-Agent mark also names a function's calls.
    """
    session = iam_enforcement.principal_for(environ)
    if _HANDLER_MARK in call.user_agent or (session is not None and session.assumed_by == iam_enforcement.LAMBDA_SERVICE):
        return "function"
    if (call.service, call.operation) != ("lambda", "Invoke"):
        return None
    if session is not None and session.assumed_by == iam_enforcement.STATES_SERVICE:
        return "interpreter"
    key = _ACCESS_KEY.search(environ.get("HTTP_AUTHORIZATION", ""))
    return "interpreter" if key is not None and key.group(1) == _MOTO_INTERPRETER_KEY else None


@dataclass(frozen=True)
class Injected:
    number: int  # the how-manieth call chaos applied to (from 1)
    call: str
    error: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"n": self.number, "call": self.call, "error": self.error}


class Chaos:
    """The seeded decisions; thread-safe (one request per server thread)."""

    def __init__(self, rate: float = 0.0, seed: int | None = None):
        self._lock = threading.Lock()
        self.configure(rate, seed)

    def configure(self, rate: float, seed: int | None = None) -> None:
        """Set the rate and (re)start the sequence from `seed` (None: a random seed, reported)."""
        rate, seed = checked_chaos_rate(rate), checked_seed(seed)
        if seed is None:
            seed = random.SystemRandom().randrange(2**32)
        with self._lock:
            self.rate, self.seed = rate, seed
            self._random = random.Random(seed)
            self._calls = 0
            self._injected: list[Injected] = []

    def describe(self) -> dict[str, Any]:
        with self._lock:
            return {"rate": self.rate, "seed": self.seed, "calls": self._calls,
                    "injected": [i.as_dict() for i in self._injected]}

    def decide(self, call: AwsCall, environ: dict[str, Any]) -> Injected | None:
        """The fault this call gets, or None; draws the next decision only for calls chaos applies to."""
        if self.rate <= 0:
            return None
        caller = _caller(call, environ)
        if caller is None:
            return None
        errors = _INTERPRETER_INVOKE_ERRORS if caller == "interpreter" else _ERRORS.get(call.service, _DEFAULT_ERRORS)
        with self._lock:
            self._calls += 1
            # Two draws per call whatever happens, so decision k depends on the seed alone.
            fails, pick = self._random.random() < self.rate, self._random.random()
            if not fails:
                return None
            code, message = errors[int(pick * len(errors))]
            injected = Injected(self._calls, call.name, code, message)
            self._injected.append(injected)
            del self._injected[:-_MAX_REMEMBERED]
            return injected


def drop_connection(environ: dict[str, Any]) -> None:
    """Close the client's connection with no answer (werkzeug treats the raise as a dropped client)."""
    connection = environ.get("werkzeug.socket")
    if connection is not None:
        with contextlib.suppress(OSError):
            connection.shutdown(socket.SHUT_RDWR)
    raise ConnectionAbortedError("chaos: request timed out with no answer")
