"""A function's Lambda runtime: initialises it once, then forks one warm "container" per worker.

Started by local.awslambda.runner as ``python worker.py CONTROL_FD TASK_ROOT HANDLER`` with the
function's environment.  Standard library only, so nothing but the function's own imports is loaded.

The process imports the handler (Lambda's init phase) and reports the outcome on the control
socket.  Then, for every fork request (a frame naming the log stream, with a connected socket
passed along as SCM_RIGHTS), it forks a worker that starts from that initialised state, as
Lambda SnapStart restores a snapshot: a concurrent invocation costs a fork, not a Python start
and a second import of boto3.  Each worker serves invocations on its own socket; module state is
its own from the fork on.  When a worker exits, this process reaps it and reports its exit status
on the worker's socket, so the runner can say how the runtime ended.

Frames: a 4-byte big-endian length plus UTF-8 JSON.  fd 0 is /dev/null and fd 1 is pointed at
stderr (the function's log), so whatever a handler prints never reaches a channel.  EOF on a
worker's socket ends that worker; EOF on the control socket ends this process.
"""

import decimal
import importlib
import json
import math
import os
import select
import signal
import socket
import struct
import sys
import time
import traceback

_LENGTH = struct.Struct(">I")


_MAX_FORK_REQUEST = 4096


def _frame(message):
    data = json.dumps(message).encode("utf-8")
    return _LENGTH.pack(len(data)) + data


def _send(sock, message):
    sock.sendall(_frame(message))


def _receive_exact(sock, size, received=b""):
    while len(received) < size:
        chunk = sock.recv(size - len(received))
        if not chunk:
            return None
        received += chunk
    return received


def _receive(sock):
    header = _receive_exact(sock, _LENGTH.size)
    if header is None:
        return None
    body = _receive_exact(sock, _LENGTH.unpack(header)[0])
    return None if body is None else json.loads(body.decode("utf-8"))


def _receive_fork_request(control):
    """A fork request and the worker's socket; (None, None) once the runner has gone."""
    try:
        data, fds, _, _ = socket.recv_fds(control, _MAX_FORK_REQUEST, 1)
    except OSError:
        return None, None
    if not data or not fds:
        for fd in fds:
            os.close(fd)
        return None, None
    header = _receive_exact(control, _LENGTH.size, data[: _LENGTH.size])
    body = _receive_exact(control, _LENGTH.unpack(header)[0], data[_LENGTH.size:])
    return json.loads(body.decode("utf-8")), socket.socket(fileno=fds[0])


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
    sys.stderr.write(f"[ERROR] {type(error).__name__}: {error}\n")  # one write (see _invoke)
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
    # One write, its newline included: a line-buffered stream writes a text holding a newline at once.
    sys.stderr.write(f"END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration_ms:.2f} ms\n")
    sys.stderr.flush()
    return reply


def _serve(handler, channel):
    while True:
        request = _receive(channel)
        if request is None:
            return 0
        _send(channel, _invoke(handler, request))


def _run_worker(handler, channel, request, closed_in_worker):
    """The forked worker's whole life; never returns."""
    code = 1
    try:
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for other in closed_in_worker:
            other.close()
        os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = request["log_stream_name"]
        code = _serve(handler, channel)
    except SystemExit as exit_request:  # a handler called sys.exit()
        code = exit_request.code if isinstance(exit_request.code, int) else int(exit_request.code is not None)
    except BaseException:
        traceback.print_exc()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        os._exit(code)


def _reap(channels):
    """Report each exited worker's status on its socket (the runner may be waiting on it)."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        channel = channels.pop(pid, None)
        if channel is None:
            continue
        try:
            _send(channel, {"exit_status": os.waitstatus_to_exitcode(status)})
        except OSError:  # the runner already closed its end (it killed this worker)
            pass
        channel.close()


def _serve_forks(handler, control):
    channels = {}  # pid -> this process's copy of the worker's socket
    child_exited = _SelfPipe()
    signal.signal(signal.SIGCHLD, lambda *_: None)  # a handler, so the wakeup fd is written
    signal.set_wakeup_fd(child_exited.write_end)
    while True:
        ready = select.select([control, child_exited], [], [])[0]
        if child_exited in ready:
            child_exited.drain()
            _reap(channels)
        if control not in ready:
            continue
        request, channel = _receive_fork_request(control)
        if request is None:
            return 0
        pid = os.fork()
        if pid == 0:
            _run_worker(handler, channel, request, [control, child_exited, *channels.values()])
        channels[pid] = channel
        _send(control, {"pid": pid})


class _SelfPipe:
    """A pipe that signal handling writes to, so select() wakes when a worker exits."""

    def __init__(self):
        self.read_end, self.write_end = os.pipe()
        os.set_blocking(self.read_end, False)
        os.set_blocking(self.write_end, False)

    def fileno(self):
        return self.read_end

    def drain(self):
        try:
            while os.read(self.read_end, 4096):
                pass
        except BlockingIOError:
            pass

    def close(self):
        os.close(self.read_end)
        os.close(self.write_end)


def main():
    control_fd, task_root, handler_name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    # Like /var/task: the zip root first (then PYTHONPATH's runtime layer), never this script's directory.
    if sys.path and sys.path[0] == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    if not sys.path or sys.path[0] != task_root:
        sys.path.insert(0, task_root)
    control = socket.socket(fileno=control_fd)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    # Workers share the function's log file, where Lambda gives each environment a stream of its own:
    # unbuffered (PYTHONUNBUFFERED, so a killed worker loses nothing), print()'s text and newline are two writes, and
    # concurrent workers' lines interleave.  Line buffering makes each line one write (a line longer
    # than the 8 KiB buffer may still be split); a line is still written as soon as it ends.
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True, write_through=False)

    handler, init_error = _load_handler(handler_name)
    _send(control, {"init_error": init_error} if init_error else {"ready": True})
    if init_error:
        return 1  # like Lambda: the sandbox is discarded, the next invocation starts afresh
    return _serve_forks(handler, control)


if __name__ == "__main__":
    sys.exit(main())
