"""DynamoDB as AWS behaves: table status (CREATING, UPDATING), TTL's timing rules, backups, point-in-time
recovery, tag values."""


def install() -> None:
    """Patch moto with this service's behaviours (an Emulator's start; local/patching.py undoes them)."""
    # Imported here, so that importing the package patches nothing and loads no moto.
    from local.dynamodb import backups, continuous_backups, encryption, tables, tags, ttl

    # In this order: wrappers of one moto method stack, the last one outermost.
    for behaviour in (tables, ttl, backups, continuous_backups, encryption, tags):
        behaviour.install()
