"""The ONE post-render step: what the `stepfunctions` SDK (2.3.0) cannot express.

The SDK renders the graph, Task/Choice/Wait/Pass/Succeed/Fail states, Retry and Catch, and
it knows `Comment` and the top-level `TimeoutSeconds`. It refuses or does not know the
newer ASL fields, so `definition.py` authors those as plain data and this module adds them
to the SDK's rendering. Pure dict transforms: this module never imports the SDK.

`post_render(sdk_definition, state_extras=..., retry_extras=..., retrier_extras=...)` does, in order:

1. Map states: `Iterator` becomes `ItemProcessor` (with `ProcessorConfig: {"Mode": "INLINE"}`)
   and a Map's `Parameters` become its `ItemSelector` (the SDK only knows the older names).
2. Every retrier of every state gets `retry_extras` (here `MaxDelaySeconds` and
   `JitterStrategy: "FULL"`; the SDK's Retry only knows ErrorEquals, IntervalSeconds,
   MaxAttempts and BackoffRate), except a retrier whose first error name is a key of
   `retrier_extras`: it gets that entry's fields instead (the table poll's own cap, no jitter).
3. Each state named in `state_extras` gets those fields (`ResultSelector`,
   `MaxConcurrencyPath`, Fail `ErrorPath`/`CausePath`, ...). An extra may only *add* a
   field: naming an unknown state or a field the SDK already rendered raises ValueError.
4. Canonical layout, so the committed JSON reads top-down and diffs stay small: keys in
   the conventional ASL order, states in reading order (depth-first from `StartAt`:
   choices in order, then `Default`, then `Next`, then catchers' targets).

The input is not modified.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from typing import Any

INLINE_PROCESSOR_CONFIG: dict[str, str] = {"Mode": "INLINE"}

# Conventional key orders; keys not listed keep their relative order, after the listed ones.
TOP_LEVEL_KEY_ORDER = ("Comment", "StartAt", "TimeoutSeconds", "Version", "States")
PROCESSOR_KEY_ORDER = ("Comment", "ProcessorConfig", "StartAt", "States")
STATE_KEY_ORDER = (
    "Type",
    "Comment",
    "InputPath",
    "Resource",
    "Parameters",
    "ItemsPath",
    "ItemSelector",
    "MaxConcurrency",
    "MaxConcurrencyPath",
    "ItemProcessor",
    "Iterator",
    "Branches",
    "Seconds",
    "SecondsPath",
    "Timestamp",
    "TimestampPath",
    "Choices",
    "Default",
    "Error",
    "ErrorPath",
    "Cause",
    "CausePath",
    "TimeoutSeconds",
    "TimeoutSecondsPath",
    "HeartbeatSeconds",
    "HeartbeatSecondsPath",
    "Result",
    "ResultSelector",
    "ResultPath",
    "OutputPath",
    "Retry",
    "Catch",
    "Next",
    "End",
)
RETRIER_KEY_ORDER = (
    "ErrorEquals",
    "IntervalSeconds",
    "MaxAttempts",
    "BackoffRate",
    "MaxDelaySeconds",
    "JitterStrategy",
)
CATCHER_KEY_ORDER = ("ErrorEquals", "ResultPath", "Next")


def post_render(
    sdk_definition: Mapping[str, Any],
    *,
    state_extras: Mapping[str, Mapping[str, Any]],
    retry_extras: Mapping[str, Any],
    retrier_extras: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The final ASL: the SDK's rendering plus what the SDK does not know (see module doc)."""
    definition = copy.deepcopy(dict(sdk_definition))
    for _, state in iter_states(definition):
        if state.get("Type") == "Map":
            _modernise_map(state)
    for _, state in iter_states(definition):
        for retrier in state.get("Retry", []):
            own = (retrier_extras or {}).get((retrier.get("ErrorEquals") or [None])[0])
            _add_fields(retrier, retry_extras if own is None else own, where="a retrier")
    _apply_state_extras(definition, state_extras)
    return canonical(definition)


def iter_states(machine: Mapping[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every (name, state) of a state machine, including those inside Map and Parallel states."""
    for name, state in machine.get("States", {}).items():
        yield name, state
        for key in ("ItemProcessor", "Iterator"):
            if key in state:
                yield from iter_states(state[key])
        for branch in state.get("Branches", []):
            yield from iter_states(branch)


def canonical(machine: Mapping[str, Any], *, key_order: tuple[str, ...] = TOP_LEVEL_KEY_ORDER) -> dict[str, Any]:
    """A copy with keys in conventional ASL order and states in reading order."""
    out = _ordered(machine, key_order)
    states = machine["States"]
    out["States"] = {name: _canonical_state(states[name]) for name in reading_order(machine)}
    return out


def reading_order(machine: Mapping[str, Any]) -> list[str]:
    """State names depth-first from StartAt; unreachable states (if any) last, as given."""
    states = machine["States"]
    seen: list[str] = []

    def visit(name: str) -> None:
        if name in seen or name not in states:
            return
        seen.append(name)
        state = states[name]
        for choice in state.get("Choices", []):
            visit(choice["Next"])
        if "Default" in state:
            visit(state["Default"])
        if "Next" in state:
            visit(state["Next"])
        for catcher in state.get("Catch", []):
            visit(catcher["Next"])

    visit(machine["StartAt"])
    return seen + [name for name in states if name not in seen]


def _modernise_map(state: dict[str, Any]) -> None:
    if "Iterator" in state:
        iterator = state.pop("Iterator")
        state["ItemProcessor"] = {"ProcessorConfig": dict(INLINE_PROCESSOR_CONFIG), **iterator}
    if "Parameters" in state:
        if "ItemSelector" in state:
            raise ValueError("Map state has both Parameters and ItemSelector")
        state["ItemSelector"] = state.pop("Parameters")


def _apply_state_extras(definition: dict[str, Any], state_extras: Mapping[str, Mapping[str, Any]]) -> None:
    states = dict(iter_states(definition))
    unknown = sorted(set(state_extras) - set(states))
    if unknown:
        raise ValueError(f"post-render extras name unknown state(s): {', '.join(unknown)}")
    for name, fields in state_extras.items():
        _add_fields(states[name], fields, where=f"state {name!r}")


def _add_fields(target: dict[str, Any], fields: Mapping[str, Any], *, where: str) -> None:
    clashes = sorted(set(fields) & set(target))
    if clashes:
        raise ValueError(f"post-render would overwrite {', '.join(clashes)} in {where}")
    target.update(copy.deepcopy(dict(fields)))


def _canonical_state(state: Mapping[str, Any]) -> dict[str, Any]:
    out = _ordered(state, STATE_KEY_ORDER)
    for key in ("ItemProcessor", "Iterator"):
        if key in out:
            out[key] = canonical(out[key], key_order=PROCESSOR_KEY_ORDER)
    if "Branches" in out:
        out["Branches"] = [canonical(branch, key_order=PROCESSOR_KEY_ORDER) for branch in out["Branches"]]
    if "Retry" in out:
        out["Retry"] = [_ordered(retrier, RETRIER_KEY_ORDER) for retrier in out["Retry"]]
    if "Catch" in out:
        out["Catch"] = [_ordered(catcher, CATCHER_KEY_ORDER) for catcher in out["Catch"]]
    return out


def _ordered(mapping: Mapping[str, Any], order: tuple[str, ...]) -> dict[str, Any]:
    rank = {key: index for index, key in enumerate(order)}
    keys = sorted(mapping, key=lambda key: rank.get(key, len(order)))  # stable: unlisted keep order
    return {key: mapping[key] for key in keys}
