"""One warm Lambda "container": imports a handler once, then runs invocations sent by the runner.

Started by local.lambda_runner as ``python lambda_worker.py TASK_ROOT HANDLER`` with the function's
environment.  Standard library only, so nothing but the function's own imports is loaded.

Protocol: frames of a 4-byte big-endian length plus UTF-8 JSON.  Requests arrive on the original
stdin, replies leave on the original stdout; both descriptors are moved aside at start, and fd 1
is pointed at stderr, so whatever the handler prints lands in the function's log, never in the
channel.  The first frame sent is the init outcome; then one reply per request.  EOF on the
request channel ends the worker.
"""

import decimal
import importlib
import json
import math
import os
import struct
import sys
import time
import traceback

_LENGTH = struct.Struct(">I")


def _send(channel, message):
    data = json.dumps(message).encode("utf-8")
    channel.write(_LENGTH.pack(len(data)) + data)
    channel.flush()


def _receive(channel):
    header = channel.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None
    (length,) = _LENGTH.unpack(header)
    return json.loads(channel.read(length).decode("utf-8"))


def _lambda_error(message, error_type, stack_trace, request_id=""):
    return {
        "errorMessage": message,
        "errorType": error_type,
        "requestId": request_id,
        "stackTrace": stack_trace,
    }


def _load_handler(handler):
    """Import the handler like the Lambda Python runtime does, with its error types and messages."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as error:
        return None, _lambda_error(
            f"Bad handler '{handler}': {error}", "Runtime.MalformedHandlerName", []
        )
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as error:
        return None, _lambda_error(
            f"Unable to import module '{module_name}': {error}", "Runtime.ImportModuleError", []
        )
    except SyntaxError as error:
        trace = [f'  File "{error.filename}" Line {error.lineno}\n    {error.text}']
        return None, _lambda_error(
            f"Syntax error in module '{module_name}': {error}", "Runtime.UserCodeSyntaxError", trace
        )
    except Exception as error:  # the module raised while being imported (init error)
        return None, _unhandled(error, "")
    function = getattr(module, function_name, None)
    if function is None:
        return None, _lambda_error(
            f"Handler '{function_name}' missing on module '{module_name}'",
            "Runtime.HandlerNotFound",
            [],
        )
    return function, None


def _unhandled(error, request_id):
    frames = traceback.extract_tb(error.__traceback__)
    while frames and frames[0].filename == __file__:  # the runtime's own frames, as Lambda drops them
        frames.pop(0)
    stack = traceback.format_list(frames)
    print(f"[ERROR] {type(error).__name__}: {error}", file=sys.stderr)
    traceback.print_exception(error, file=sys.stderr)
    return _lambda_error(str(error), type(error).__name__, stack, request_id)


class _ResultEncoder(json.JSONEncoder):
    """The runtime's marshaller: Decimals (DynamoDB numbers) become JSON numbers."""

    def default(self, o):
        if isinstance(o, decimal.Decimal):
            if o.is_nan():
                return math.nan
            return int(o) if o == o.to_integral_value() else float(o)
        return super().default(o)


class LambdaContext:
    """The context object of the Lambda Python runtime (awslambdaric's LambdaContext)."""

    def __init__(self, request_id, invoked_function_arn, deadline_ms, client_context):
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        # A string, as in the real runtime (it comes from the environment there too).
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.client_context = client_context
        self.identity = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(self._deadline_ms - int(time.time() * 1000), 0)

    def log(self, message):
        sys.stdout.write(str(message))
        sys.stdout.flush()

    def __repr__(self):
        return (
            f"LambdaContext([aws_request_id={self.aws_request_id},"
            f"function_name={self.function_name},function_version={self.function_version}])"
        )


def _invoke(handler, request):
    request_id = request["request_id"]
    os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
    version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
    print(f"START RequestId: {request_id} Version: {version}", file=sys.stderr, flush=True)
    started = time.monotonic()
    context = LambdaContext(
        request_id, request["invoked_function_arn"], request["deadline_ms"],
        request.get("client_context"),
    )
    try:
        result = handler(json.loads(request["event"]), context)
    except Exception as error:
        reply = {"error": _unhandled(error, request_id)}
    else:
        try:
            reply = {"payload": json.dumps(result, cls=_ResultEncoder, ensure_ascii=False)}
        except (TypeError, ValueError) as error:
            reply = {
                "error": _lambda_error(
                    f"Unable to marshal response: {error}", "Runtime.MarshalError", [], request_id
                )
            }
    sys.stdout.flush()
    duration_ms = (time.monotonic() - started) * 1000
    print(
        f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms",
        file=sys.stderr,
        flush=True,
    )
    return reply


def main():
    task_root, handler_name = sys.argv[1], sys.argv[2]
    sys.path[0] = task_root  # like /var/task: the zip root first, not this script's directory
    requests = os.fdopen(os.dup(0), "rb")
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)

    handler, init_error = _load_handler(handler_name)
    _send(replies, {"init_error": init_error} if init_error else {"ready": True})
    if init_error:
        return 1  # like Lambda: the sandbox is discarded, the next invocation starts afresh
    while True:
        request = _receive(requests)
        if request is None:
            return 0
        _send(replies, _invoke(handler, request))


if __name__ == "__main__":
    sys.exit(main())
