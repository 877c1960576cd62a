"""moto's Step Functions interpreter, made fast enough to measure a workflow with: each JSONPath parsed once."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Iterator
from typing import Any

from moto.stepfunctions.parser.asl.component.common.path import (
    result_path as moto_result_path,
)
from moto.stepfunctions.parser.asl.utils import json_path as moto_json_path
from moto.stepfunctions.parser.models import StepFunctionsParserBackend

from local import patching


def install() -> None:
    for module, parsed_paths in _PARSED_PATHS.items():
        patching.patch(module, "parse", parsed_paths)
    patching.patch(StepFunctionsParserBackend, "_validate_definition", staticmethod(_validate_definition))


# moto's interpreter parses a state's JSONPaths (InputPath, Parameters' "x.$", ResultPath, ...)
# afresh on every evaluation, and jsonpath_ng builds its LALR tables for each parse: about 10 ms
# of CPU per path, most of a transition's cost, taken from the Lambda workers it runs beside.
# A parsed path is an immutable expression tree, so one per distinct path text is enough.  The
# paths of a definition are parsed when it is created or updated, as AWS compiles a state machine
# then, so not even an execution's first transitions parse; the parsed paths outlive an Emulator.
_PATH_FIELDS = frozenset({
    "InputPath", "OutputPath", "ResultPath", "ItemsPath", "Variable", "SecondsPath", "TimestampPath",
    "MaxConcurrencyPath", "ToleratedFailureCountPath", "ToleratedFailurePercentagePath", "ErrorPath",
    "CausePath", "HeartbeatSecondsPath", "TimeoutSecondsPath", "StringEqualsPath",
})


class _ParsedPaths:
    """A JSONPath parser that parses each distinct path once, even when threads ask at once."""

    _MAX_PATHS = 4096

    def __init__(self, parse: Callable[[str], Any]):
        self._parse = parse
        self._parsed: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __call__(self, path: str) -> Any:
        parsed = self._parsed.get(path)
        if parsed is not None:
            return parsed
        with self._lock:
            if path not in self._parsed:
                if len(self._parsed) >= self._MAX_PATHS:
                    self._parsed.clear()
                self._parsed[path] = self._parse(path)  # a bad path raises, and is not kept
            return self._parsed[path]


_PARSED_PATHS = {module: _ParsedPaths(module.parse) for module in (moto_json_path, moto_result_path)}


def _paths_in(node: Any) -> Iterator[str]:
    """Every JSONPath text in an ASL definition, context paths ($$) as moto evaluates them ($)."""
    if isinstance(node, list):
        for item in node:
            yield from _paths_in(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if isinstance(value, str) and (key in _PATH_FIELDS or key.endswith(".$")) and value.startswith("$"):
                yield value[1:] if value.startswith("$$") else value
            else:
                yield from _paths_in(value)


def _validate_definition(definition: str) -> None:
    patching.original(StepFunctionsParserBackend, "_validate_definition")(definition=definition)
    for path in set(_paths_in(json.loads(definition))):
        for parsed_paths in _PARSED_PATHS.values():
            with contextlib.suppress(Exception):  # not every path suits both parsers
                parsed_paths(path)
