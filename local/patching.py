"""How the emulator's behaviour modules change moto: one registry of patches, undone when it stops.

Each service package (``local/dynamodb``, ``local/stepfunctions``, ...) has an ``install()`` that
installs its behaviour modules, each calling ``patch``/``wrap`` here; ``Emulator.start`` installs
them all and ``Emulator.stop`` restores moto with ``uninstall``.

Most patches apply only to requests served by the emulator's HTTP server (``in_emulator_request``),
so code in the same process that uses moto in-process (``mock_aws`` tests) keeps plain moto.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import importlib.metadata
import inspect
import logging
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from local import moto_internals
from local.moto_internals import ABSENT, INSTANCE_ATTRIBUTE, MOTO_VERSION, PATCH_POINTS

if TYPE_CHECKING:
    from local.clock import Clock
    from local.awslambda.runner import LambdaRunner


class EmulatorSettings(Protocol):
    """What the behaviour modules read from the running Emulator."""

    create_latency: float
    backup_latency: float
    ttl_latency: float
    stack_instance_latency: float
    clock: Clock
    consistency: Any  # local.faults.consistency.ConsistencyLag
    lambda_runner: LambdaRunner


LOG = logging.getLogger(__name__)

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
def serving_request(caller: tuple[str, ...] = ()) -> Iterator[None]:
    """Marks the current thread as handling a request that came through the emulator's server (or work AWS does
    for one, such as a StackSet operation's), made by `caller`: the ARNs a resource-based policy may name the
    principal by (a session's ARN and its role's; an operator's account principal)."""
    _request_scope.active, _request_scope.caller = True, caller
    try:
        yield
    finally:
        _request_scope.active, _request_scope.caller = False, ()


def in_emulator_request() -> bool:
    return _emulator is not None and getattr(_request_scope, "active", False)


def request_caller() -> tuple[str, ...]:
    """Who makes the request being served (see serving_request); () outside one."""
    return getattr(_request_scope, "caller", ()) if in_emulator_request() else ()


def patch(owner: Any, name: str, replacement: Any) -> None:
    """Replace owner.name; only a point local/moto_internals.py lists, so a moto upgrade checks it."""
    point = (owner_name(owner), name)
    if point not in PATCH_POINTS:
        raise KeyError(f"{point[0]}.{name} is patched but not listed in local/moto_internals.py PATCH_POINTS")
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


# -- the moto it was written for (local/moto_internals.py) ---------------------------------------


class IncompatibleMoto(Exception):
    """The installed moto differs where the embedded AWS patches it; the message is one line."""


def refusal(version: str, where: str) -> IncompatibleMoto:
    return IncompatibleMoto(
        f"the embedded AWS needs moto {MOTO_VERSION}, but moto {version} is installed and differs "
        f"where it patches moto ({where}); fix: {moto_internals.FIX}"
    )


def import_refusal(err: ImportError) -> IncompatibleMoto:
    """A moto internal that the emulator's modules import is gone (raised where ``local.emulator`` is imported)."""
    return refusal(installed_moto(), f"{type(err).__name__}: {err}")


def installed_moto() -> str:
    try:
        return importlib.metadata.version("moto")
    except importlib.metadata.PackageNotFoundError:
        return "none"


def owner_name(owner: Any) -> str:
    """The PATCH_POINTS name of a patched module or class."""
    if inspect.ismodule(owner):
        return owner.__name__
    return f"{owner.__module__}:{owner.__qualname__}"


def _resolve(owner: str) -> Any:
    module_name, _, class_name = owner.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name) if class_name else module


def _moto_attribute(owner: Any, name: str) -> Any:
    """moto's own owner.name even while a patch replaces it; _ABSENT where moto defines none."""
    for patched_owner, patched_name, saved in _originals:  # the first patch of a point saved moto's own
        if patched_owner is owner and patched_name == name:
            if saved is _ABSENT:
                return getattr(super(owner, owner), name, _ABSENT) if isinstance(owner, type) else _ABSENT
            return saved.__get__(None, owner) if hasattr(saved, "__get__") else saved
    return getattr(owner, name, _ABSENT)


def _found(owner: Any, name: str, expected: str) -> str:
    """What moto has at owner.name, in the terms of PATCH_POINTS."""
    if expected == INSTANCE_ATTRIBUTE:
        source = inspect.getsource(owner.__init__)
        return INSTANCE_ATTRIBUTE if f"self.{name} =" in source else f"no self.{name} set by __init__"
    own = owner.__dict__.get(name, _ABSENT)
    patched_here = any(o is owner and n == name for o, n, _ in _originals)
    if expected == ABSENT:
        return ABSENT if own is _ABSENT or patched_here else "defined by moto"
    attribute = _moto_attribute(owner, name)
    return "missing" if attribute is _ABSENT else str(inspect.signature(attribute))


def mismatches() -> list[str]:
    """Every patch point whose moto attribute differs from what its patch expects, as 'Owner.name: ...'."""
    found: list[str] = []
    for (owner, name), expected in PATCH_POINTS.items():
        label = f"{owner.rpartition(':')[2] or owner}.{name}"
        try:
            actual = _found(_resolve(owner), name, expected)
        except (ImportError, AttributeError, OSError, TypeError, ValueError) as err:
            actual = f"cannot be read ({type(err).__name__}: {err})"
        if actual != expected:
            found.append(f"{label}: expected {expected}, found {actual}")
    return found


def check() -> None:
    """Refuse a moto whose patch points moved; on another version whose points all match, warn once."""
    version = installed_moto()
    if version == MOTO_VERSION:
        return
    problems = mismatches()
    if problems:
        more = f" and {len(problems) - 1} more" if len(problems) > 1 else ""
        raise refusal(version, f"{problems[0].split(': expected')[0]}{more}")
    LOG.warning("moto %s is installed, not %s; every moto internal the embedded AWS patches still matches",
                version, MOTO_VERSION)
