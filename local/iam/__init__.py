"""IAM as AWS enforces it: accounts told apart by their keys (``accounts``), policy evaluation (``policy``), what each request asks (``requests``), who may call
(``enforcement``, applied to every request by the emulator), sessions on the emulator's clock (``sessions``), the tag values IAM refuses (``tags``), and the policy simulator
(``simulation``: SimulatePrincipalPolicy)."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.iam import accounts, sessions, simulation, tags

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (accounts, tags, sessions, simulation):
        behaviour.install()
