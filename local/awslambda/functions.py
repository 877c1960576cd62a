"""moto's Lambda, made to run the function's code as AWS does (moto without Docker returns a canned string).

``install()`` applies these patches when an Emulator starts (local/patching.py restores moto when it
stops). They apply only to requests served by the emulator's HTTP server, so code in the same process
that uses moto in-process (``mock_aws`` tests) keeps plain moto behaviour.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from moto.awslambda.models import LambdaFunction
from moto.awslambda.responses import LambdaResponse
from moto.awslambda_simple.models import LambdaSimpleBackend
from moto.core.exceptions import JsonRESTError

from local import patching
from local.awslambda.runner import InvocationRefused

_original = patching.original
_in_emulator_request = patching.in_emulator_request


def install() -> None:
    patching.patch(LambdaSimpleBackend, "invoke", _lambda_invoke)
    patching.patch(LambdaResponse, "invoke", _lambda_invoke_response)
    patching.patch(LambdaFunction, "update_configuration", _update_function_configuration)
    for method in ("create_function", "update_function_code", "update_function_configuration"):
        patching.patch(LambdaSimpleBackend, method, _initialising_in_background(method))

# AWS runs the function's code; moto without Docker returns a canned string.


def _lambda_invoke(self: LambdaSimpleBackend, function_name: str, qualifier: str | None,
                   body: Any, headers: Any, response_headers: Any) -> bytes:
    if not _in_emulator_request():
        return _original(LambdaSimpleBackend, "invoke")(
            self, function_name, qualifier, body, headers, response_headers
        )
    function = self.get_function(function_name, qualifier)
    try:
        payload = patching.emulator().lambda_runner.invoke(
            function, qualifier, body, headers, response_headers
        )
    except InvocationRefused as refused:
        raise JsonRESTError(refused.code, str(refused)) from None
    response_headers["Content-Length"] = str(len(payload))
    return payload


def _initialising_in_background(method: str) -> Callable[..., Any]:
    """A function change, then its init phase started at once (Lambda's proactive initialisation)."""

    def change_then_initialise(self: LambdaSimpleBackend, *args: Any, **kwargs: Any) -> Any:
        result = _original(LambdaSimpleBackend, method)(self, *args, **kwargs)
        if _in_emulator_request():
            name = args[0]["FunctionName"] if method == "create_function" else args[0]
            patching.emulator().lambda_runner.initialise_in_background(self.get_function(name, None))
        return result

    return change_then_initialise


def _update_function_configuration(self: LambdaFunction, config_updates: dict[str, Any]) -> dict[str, Any]:
    # UpdateFunctionConfiguration takes TracingConfig (Lambda API reference); moto drops it, so turning
    # tracing on or off after the function was created never showed in GetFunctionConfiguration.
    if "TracingConfig" in config_updates:
        self.tracing_config = {"Mode": config_updates["TracingConfig"].get("Mode", "PassThrough")}
    return _original(LambdaFunction, "update_configuration")(self, config_updates)


def _lambda_invoke_response(self: LambdaResponse) -> Any:
    # Lambda takes Invoke's Qualifier from the query string.  moto looks for "qualifier" in the
    # JSON payload instead: a payload that is not an object (a Map item such as 6 or "a") fails
    # with HTTP 500, and a payload with a "qualifier" key selects a function version.
    qualifier = self.querystring.get("Qualifier", [None])[0]
    self._get_param = lambda name, if_none=None: qualifier if name == "qualifier" else if_none
    return _original(LambdaResponse, "invoke")(self)
