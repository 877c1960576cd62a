"""When each KMS key stopped being usable, so that services that depend on it can react as AWS's do.

moto keeps a key's state (Enabled, Disabled, PendingDeletion) but not since when. DisableKey and
ScheduleKeyDeletion stamp the emulator's clock on the key; EnableKey and CancelKeyDeletion clear it
(a cancelled deletion leaves the key Disabled, KMS API reference CancelKeyDeletion: so the stamp stays
until it is enabled). local/dynamodb/encryption.py reads it.

These four take a key ID or a key ARN on AWS (KMS API reference, KeyId); moto's look a key up by its ID
only (HTTP 500 for an ARN), so the ARN is reduced to the ID first.
"""

from __future__ import annotations

from typing import Any

from moto.kms.models import KmsBackend

from local import patching

_UNUSABLE_SINCE = "_fileferry_unusable_since"


def install() -> None:
    patching.wrap(KmsBackend, "disable_key", _stamping)
    patching.wrap(KmsBackend, "schedule_key_deletion", _stamping)
    patching.wrap(KmsBackend, "enable_key", _clearing)
    patching.wrap(KmsBackend, "cancel_key_deletion", _by_id)


def unusable_since(key: Any) -> float | None:
    """Emulator-clock seconds since the epoch at which `key` (a moto Key) became unusable; None: it is usable."""
    if key is None or getattr(key, "key_state", "Enabled") == "Enabled":
        return None
    return getattr(key, _UNUSABLE_SINCE, None)


def _by_id(previous: Any, self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
    return previous(self, self.get_key_id(key_id), *args, **kwargs)


def _stamping(previous: Any, self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
    key_id = self.get_key_id(key_id)
    answer = previous(self, key_id, *args, **kwargs)
    key = self.keys.get(key_id)
    emulator = patching.running_emulator()
    if key is not None and emulator is not None and getattr(key, _UNUSABLE_SINCE, None) is None:
        setattr(key, _UNUSABLE_SINCE, emulator.clock.time())
    return answer


def _clearing(previous: Any, self: KmsBackend, key_id: str, *args: Any, **kwargs: Any) -> Any:
    key_id = self.get_key_id(key_id)
    answer = previous(self, key_id, *args, **kwargs)
    key = self.keys.get(key_id)
    if key is not None and hasattr(key, _UNUSABLE_SINCE):
        delattr(key, _UNUSABLE_SINCE)
    return answer
