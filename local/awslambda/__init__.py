"""Lambda: each function's code runs on its runtime (``runner``, ``worker``, ``runtime``), as ``functions`` wires in."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.awslambda import functions

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (functions,):
        behaviour.install()
