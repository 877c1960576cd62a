"""DynamoDB as AWS behaves: table status (CREATING, UPDATING), TTL's timing rules, backups, tag values."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.dynamodb import backups, tables, tags, ttl

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (tables, ttl, backups, tags):
        behaviour.install()
