"""The embedded AWS: moto's server with a Lambda runner, AWS's behaviours by service, and faults (local/emulator.py).

Importing this package loads no moto, so a moto the emulator was not written for can be told apart
(local/patching.py, local/moto_internals.py) before anything imports moto's internals.
"""
