"""Generated table specs for the benchmark: valid names, a mix of the spec's five shapes."""

from __future__ import annotations

from lambdas.core.desired import TableSpec
from provisioner.blueprint.desired_state import FILEFERRY_TABLES, table_spec

NAME_FORMAT = "FileFerry-Bench-{:04d}"
MAX_TABLES = 9999  # the name format's four digits


def generated_tables(count: int, kms_key_id: str | None = None) -> list[TableSpec]:
    """`count` tables cycling through the spec's shapes: TTL or not, a GSI, composite keys."""
    if not 1 <= count <= MAX_TABLES:
        raise ValueError(f"--tables must be between 1 and {MAX_TABLES}, got {count}")
    shapes = list(FILEFERRY_TABLES.values())
    return [
        table_spec(NAME_FORMAT.format(number), {**shapes[(number - 1) % len(shapes)], "purpose": "benchmark"}, kms_key_id)
        for number in range(1, count + 1)
    ]
