"""Step Functions inline Map: at most 40 iterations at once, whatever MaxConcurrency says.

AWS (Step Functions Developer Guide, "Using Map state in Inline mode"): "In this mode, the Map state
supports up to 40 concurrent iterations."  moto's interpreter starts one worker per item when
MaxConcurrency is 0 (and MaxConcurrency workers otherwise), so a Map over 200 items ran 200
iterations at once.  The emulator caps the workers of an inline Map at 40; Distributed Maps are
not inline and keep their own concurrency.
"""

from __future__ import annotations

from typing import Any

from moto.stepfunctions.parser.asl.component.state.exec.state_map.iteration.inline_iteration_component import (
    InlineIterationComponent,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_map.max_concurrency import (
    DEFAULT_MAX_CONCURRENCY_VALUE,
)

from local import patching

INLINE_MAP_MAX_CONCURRENCY = 40


def install() -> None:
    patching.wrap(InlineIterationComponent, "_eval_body", _capped_eval_body)


def capped_concurrency(max_concurrency: int, item_count: int) -> int:
    """The workers an inline Map may run: MaxConcurrency (0: one per item), at most 40."""
    wanted = item_count if max_concurrency == DEFAULT_MAX_CONCURRENCY_VALUE else max_concurrency
    return min(wanted, INLINE_MAP_MAX_CONCURRENCY)


def _capped_eval_body(eval_body: Any, self: InlineIterationComponent, env: Any) -> None:
    # moto's _eval_body pops its input (max_concurrency, input_items, ...) from the stack top.
    eval_input = env.stack[-1]
    capped = capped_concurrency(eval_input.max_concurrency, len(eval_input.input_items or ()))
    if capped > 0:  # 0 items: moto starts no worker either way
        eval_input.max_concurrency = capped
    eval_body(self, env)
