"""CloudFormation stacks of the resources this project deploys, from a template at a TemplateURL (``stacks``), and
StackSets that create them in many accounts and Regions (``stack_sets``)."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.cloudformation import stack_sets, stacks

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (stacks, stack_sets):
        behaviour.install()
