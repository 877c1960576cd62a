"""KMS: when a key stopped being usable (disabled, or pending deletion), on the emulator's clock."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.kms import key_states

    for behaviour in (key_states,):
        behaviour.install()
