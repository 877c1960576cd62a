"""A Task whose Parallel branch (or execution) was stopped writes nothing more to the history.

AWS (Step Functions Developer Guide, "Parallel workflow state"): "If any branch fails, because of an
unhandled error or by transitioning to a Fail state, the entire Parallel state fails, and all of its
branches are stopped."  A stopped branch adds no events of its own after that.  moto's interpreter
stops a sibling branch by marking its frame stopped, but a Lambda task of that branch still in flight
carries on: when the invocation returns, the interpreter records the task's ``TaskSucceeded``, or,
when evaluating its result in the stopped frame raises, a ``TaskFailed`` ``States.Runtime`` (with a
cause such as "'NoneType' object has no attribute 'get'"), into the execution's history after the
Parallel state (and the execution) has failed: a reader of the history sees a branch go on after
it was stopped.

The emulator ends such a task quietly: a task that returns into a stopped frame records no
TaskSucceeded, and an error raised while the frame is no longer running no TaskFailed; the state
ends without an event, as the frame's stop already ended its branch.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.execute_state import ExecutionState
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import StateTaskService

from local import patching


class _ReturnedIntoStoppedFrame(Exception):
    """Raised in the task's own thread instead of recording its success in a stopped frame."""


class _StoppedWhileRunning(BaseException):
    """The task's frame was stopped while it ran; a BaseException so moto's `except Exception` lets it through."""


def install() -> None:
    patching.wrap(StateTaskService, "_after_eval_execution", _succeed_unless_stopped)
    patching.wrap(ExecutionState, "_evaluate_with_timeout", _evaluate_unless_stopped)
    patching.wrap(ExecutionState, "_eval_state", _eval_state_until_stopped)


def _succeed_unless_stopped(after_eval_execution: Any, self: StateTaskService, env: Any, *args: Any, **kwargs: Any) -> None:
    if not env.is_running():
        raise _ReturnedIntoStoppedFrame()
    after_eval_execution(self, env, *args, **kwargs)


def _evaluate_unless_stopped(evaluate: Any, self: ExecutionState, env: Any) -> None:
    try:
        evaluate(self, env)
    except Exception:
        if env.is_running():
            raise
        raise _StoppedWhileRunning() from None


def _eval_state_until_stopped(eval_state: Any, self: ExecutionState, env: Any) -> None:
    try:
        eval_state(self, env)
    except _StoppedWhileRunning:
        # The state's caller sees the frame is not running and returns without output or exit event.
        return
