"""STS as AWS answers it: who the caller is (``caller_identity``)."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.sts import caller_identity

    for behaviour in (caller_identity,):
        behaviour.install()
