"""Step Functions as AWS runs it: executions, their history and events, inline Map concurrency, integrations."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.stepfunctions import executions, history, integrations, jsonpath, map_concurrency

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (map_concurrency, history, executions, jsonpath, integrations):
        behaviour.install()
