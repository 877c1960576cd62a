"""How the emulator's behaviour modules change moto: one registry of patches, undone when it stops.

Each behaviour module (``dynamodb_tables``, ``dynamodb_ttl``, ``dynamodb_backups``,
``map_concurrency``, ``aws_quirks`` ...) has an ``install()`` that calls ``patch``/``wrap`` here;
``Emulator.start`` installs them all and ``Emulator.stop`` restores moto with ``uninstall``.

Most patches apply only to requests served by the emulator's HTTP server (``in_emulator_request``),
so code in the same process that uses moto in-process (``mock_aws`` tests) keeps plain moto.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from local.clock import Clock
    from local.lambda_runner import LambdaRunner


class EmulatorSettings(Protocol):
    """What the behaviour modules read from the running Emulator."""

    create_latency: float
    backup_latency: float
    ttl_latency: float
    clock: Clock
    consistency: Any  # local.consistency.ConsistencyLag
    lambda_runner: LambdaRunner


_emulator: EmulatorSettings | None = None
_originals: list[tuple[Any, str, Any]] = []
_request_scope = threading.local()
_ABSENT = object()


def claim(emulator: EmulatorSettings) -> None:
    """Make `emulator` the running one; refuses a second (moto's state is process-global)."""
    global _emulator
    if _emulator is not None:
        raise RuntimeError("an Emulator is already running in this process (moto's state is global)")
    _emulator = emulator


def running_emulator() -> EmulatorSettings | None:
    return _emulator


def emulator() -> EmulatorSettings:
    """The running Emulator; only called from patches, which exist only while one runs."""
    if _emulator is None:
        raise RuntimeError("no Emulator is running")
    return _emulator


@contextlib.contextmanager
def serving_request() -> Iterator[None]:
    """Marks the current thread as handling a request that came through the emulator's server."""
    _request_scope.active = True
    try:
        yield
    finally:
        _request_scope.active = False


def in_emulator_request() -> bool:
    return _emulator is not None and getattr(_request_scope, "active", False)


def patch(owner: Any, name: str, replacement: Any) -> None:
    _originals.append((owner, name, owner.__dict__.get(name, _ABSENT)))
    setattr(owner, name, replacement)


def original(owner: Any, name: str) -> Callable[..., Any]:
    """moto's own owner.name, as it was before any patch."""
    for patched_owner, patched_name, saved in _originals:
        if patched_owner is owner and patched_name == name:
            # A patch of an inherited method calls the base class's.
            return getattr(super(owner, owner), name) if saved is _ABSENT else saved
    raise KeyError(f"{owner.__name__}.{name} is not patched")


def wrap(owner: Any, name: str, wrapper: Callable[..., Any]) -> None:
    """Patch the method owner.name with ``wrapper(previous, self, *args, **kwargs)``.

    Unlike ``patch`` + ``original``, wrappers stack: two behaviour modules may both wrap one method
    (DeleteTable is refused while a table is UPDATING and while a backup of it is CREATING).
    """
    previous = getattr(owner, name)

    @functools.wraps(previous)
    def wrapped(self: Any, *args: Any, **kwargs: Any) -> Any:
        return wrapper(previous, self, *args, **kwargs)

    patch(owner, name, wrapped)


def uninstall() -> None:
    """Restore every patched attribute, newest first, and forget the running Emulator."""
    global _emulator
    while _originals:
        owner, name, saved = _originals.pop()
        if saved is _ABSENT:
            delattr(owner, name)
        else:
            setattr(owner, name, saved)
    _emulator = None
