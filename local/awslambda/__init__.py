"""Lambda: each function's code runs on its runtime (``runner``, ``worker``, ``runtime``), as ``functions`` wires in;
code from S3 is read as Lambda reads it (``code``)."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.awslambda import code, functions

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (functions, code):
        behaviour.install()
