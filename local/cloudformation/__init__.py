"""CloudFormation stacks of the resources this project deploys, from a template at a TemplateURL."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.cloudformation import stacks

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (stacks,):
        behaviour.install()
