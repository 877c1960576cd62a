"""The embedded AWS: moto's server with a Lambda runner, AWS quirks and fault injection."""

from local.emulator import Emulator

__all__ = ["Emulator"]
