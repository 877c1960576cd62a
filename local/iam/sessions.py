"""STS sessions on the emulator's clock: an sts:AssumeRole session ends DurationSeconds after it began.

moto dates a session's Expiration by the host's time; the emulator's clock may run ahead of it (tests move
it forward), so the session is dated by that clock instead, and local/iam/enforcement.py refuses a request
signed with it once that clock passes its Expiration, as AWS does (STS API reference, AssumeRole:
DurationSeconds; Common Errors: ExpiredTokenException).
"""

from __future__ import annotations

import datetime
from typing import Any

from moto.sts.models import AssumedRole

from local import patching


def install() -> None:
    patching.patch(AssumedRole, "__init__", _assumed_role_init)


def _assumed_role_init(self: AssumedRole, *args: Any, **kwargs: Any) -> None:
    patching.original(AssumedRole, "__init__")(self, *args, **kwargs)
    emulator = patching.running_emulator()
    if emulator is not None:
        # moto's Expiration is naive UTC, host time + duration: move it by the clock's offset.
        self.expiration += datetime.timedelta(seconds=emulator.clock.offset_seconds)
