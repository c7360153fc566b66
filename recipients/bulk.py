"""Multi-row INSERTs for imports, without the ORM's per-value overhead.

Django's bulk_create prepares every value through the field and rebuilds the SQL for every
batch, which costs more than the database itself on a 100,000-row import. Here the caller
passes values already in database form (see `db_datetime`, `db_json`); the statement for a
full batch is built once and reused. The SQL (multi-row VALUES, ON CONFLICT … DO UPDATE SET
col = EXCLUDED.col) is the same on SQLite ≥ 3.24 and PostgreSQL.
"""

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models

BATCH_ROWS = 500  # rows x at most 10 columns stays far below SQLite's 32,766 parameters
IN_BATCH = 5000


def db_datetime(value: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(value)


def db_json(value: Any) -> str:
    return json.dumps(value)


def from_db_json(value: Any) -> Any:
    """Django reads JSON columns as text on both backends (and decodes in the field)."""
    return json.loads(value) if isinstance(value, str | bytes) else value


def _column(model: type[models.Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _array_type(model: type[models.Model], name: str) -> str:
    return model._meta.get_field(name).db_type(connection).split("(")[0] + "[]"


def select_in(
    model: type[models.Model],
    columns: Sequence[str],
    key: str,
    values: Sequence[Any],
    *,
    where: str = "",
    params: Sequence[Any] = (),
) -> list[tuple]:
    """SELECT `columns` FROM `model` WHERE `key` IN (`values`) [AND `where`], as raw rows."""
    if not values:
        return []
    names = ", ".join(_column(model, c) for c in columns)
    head = f"SELECT {names} FROM {connection.ops.quote_name(model._meta.db_table)} WHERE "
    tail = f" AND {where}" if where else ""
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter, not thousands of placeholders for the driver to splice.
            sql = f"{head}{_column(model, key)} = ANY(%s::{_array_type(model, key)}){tail}"
            cursor.execute(sql, [list(values), *params])
            return cursor.fetchall()
        for start in range(0, len(values), IN_BATCH):
            batch = list(values[start : start + IN_BATCH])
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(f"{head}{_column(model, key)} IN ({marks}){tail}", [*batch, *params])
            rows.extend(cursor.fetchall())
    return rows


def insert_rows(
    model: type[models.Model],
    columns: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> None:
    """INSERT `rows` into `model`'s table; with `conflict` and `update`, an upsert that
    overwrites only the `update` columns of an existing row."""
    if not rows:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(_column(model, c) for c in columns)
    suffix = ""
    if conflict:
        targets = ", ".join(_column(model, c) for c in conflict)
        sets = ", ".join(f"{_column(model, c)} = EXCLUDED.{_column(model, c)}" for c in update)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        suffix = f" ON CONFLICT ({targets}) {action}"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            _copy_insert(cursor, table, names, rows, suffix)
            return
        one = "(" + ", ".join(["%s"] * len(columns)) + ")"

        def statement(n: int) -> str:
            return f"INSERT INTO {table} ({names}) VALUES {', '.join([one] * n)}{suffix}"

        full = statement(BATCH_ROWS)
        for start in range(0, len(rows), BATCH_ROWS):
            batch = rows[start : start + BATCH_ROWS]
            sql = full if len(batch) == BATCH_ROWS else statement(len(batch))
            cursor.execute(sql, [value for row in batch for value in row])


def _copy_insert(
    cursor: Any, table: str, names: str, rows: Sequence[Sequence[Any]], suffix: str
) -> None:
    """PostgreSQL: COPY into a temporary staging table (several times faster than any INSERT
    with parameters on this machine), then one INSERT … SELECT with the conflict clause.
    The staging table has the target's column types and lives until the transaction ends."""
    stage = connection.ops.quote_name("stage_" + table.strip('"'))
    cursor.execute(
        f"CREATE TEMPORARY TABLE IF NOT EXISTS {stage} ON COMMIT DROP AS "
        f"SELECT {names} FROM {table} WITH NO DATA"
    )
    cursor.execute(f"TRUNCATE {stage}")
    with cursor.cursor.copy(f"COPY {stage} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM {stage}{suffix}")
