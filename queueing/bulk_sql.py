"""Set-based writes for the send path: many rows, each with its own values, in one statement.

A batch of 100 emails changes 100 rows at every step. The ORM's ways of doing that
(`bulk_update`'s CASE per column, or one UPDATE per row) cost more than the provider call
they record, so the send path writes through these two helpers instead:

- `update_rows`: on PostgreSQL one `UPDATE … FROM (VALUES …)`; on SQLite one prepared
  statement run per row (`executemany` inside the caller's transaction, which SQLite runs
  about as fast as a single statement).
- `insert_rows`: one multi-row `INSERT … VALUES` per chunk, on both databases.

Values are prepared by each column's model field, exactly as the ORM would store them.

On PostgreSQL these statements skip Django's cursor: with psycopg 3 it binds parameters on
the client, quoting every value into the SQL text in Python (about 100 µs per email for a
batch's rendered content), and the server then parses that text back. They run instead on a
psycopg `RawCursor` with native `$n` placeholders: the values travel apart from the SQL, which
costs a quarter of the client CPU and about a third less server time (benchmarks/bulk_sql.py).
"""

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from django.db import connection
from django.db.models import Model

# Well under SQLite's limit of 32,766 parameters per statement.
MAX_PARAMS = 30_000


# Fields whose database value is the Python value itself when it is a plain str/int/bool
# (or None): preparing them through the field costs more per row than the statement does.
_PLAIN_FIELDS = {
    "CharField", "TextField", "SlugField", "EmailField", "BooleanField", "IntegerField",
    "BigIntegerField", "PositiveIntegerField", "PositiveSmallIntegerField", "SmallIntegerField",
    "AutoField", "BigAutoField", "ForeignKey",
}  # fmt: skip
_PLAIN_VALUES = (str, int, bool, type(None))


def _is_plain(field) -> bool:
    if field.is_relation:
        field = field.target_field
    return field.get_internal_type() in _PLAIN_FIELDS


def _preparer(model: type[Model], column: str):
    """How to prepare one column's values, decided once: plain values pass as they are;
    others go through the field, the last one remembered (a write's rows share timestamps)."""
    field = model._meta.get_field(column)
    plain = _is_plain(field)
    last: list = [object(), None]

    def prep(value: Any) -> Any:
        if plain and type(value) in _PLAIN_VALUES:
            return value
        if value is not last[0]:
            last[0], last[1] = value, field.get_db_prep_save(value, connection)
        return last[1]

    return prep


def _column(model: type[Model], name: str) -> str:
    return connection.ops.quote_name(model._meta.get_field(name).column)


def _cast_type(model: type[Model], column: str) -> str:
    field = model._meta.get_field(column)
    if field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
        return "text"  # a cast to varchar(n) would silently truncate
    return field.db_type(connection)


def update_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Mapping[int, Sequence[Any]],
    *,
    set_also: Mapping[str, Any] | None = None,
    where: Mapping[str, Any] | None = None,
) -> int:
    """Set `columns` of each row (by primary key) to that row's values, and `set_also` to the
    same value on all of them, only where every `where` column equals its value. Returns the
    number of rows changed."""
    if not rows:
        return 0
    set_also = dict(set_also or {})
    where = dict(where or {})
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    pk = model._meta.pk.column
    common = [(_column(model, c), _preparer(model, c)(v)) for c, v in set_also.items()]
    conditions = [(_column(model, c), _preparer(model, c)(v)) for c, v in where.items()]
    preps = [_preparer(model, c) for c in columns]
    prepared = [
        (pk_value, [prep(v) for prep, v in zip(preps, values, strict=True)])
        for pk_value, values in rows.items()
    ]
    if connection.vendor != "postgresql":
        assignments = [f"{_column(model, c)} = %s" for c in columns]
        assignments += [f"{c} = %s" for c, _ in common]
        sql = f"UPDATE {table} SET {', '.join(assignments)} WHERE {quote(pk)} = %s" + "".join(
            f" AND {c} = %s" for c, _ in conditions
        )
        params = [
            [*values, *(v for _, v in common), pk_value, *(v for _, v in conditions)]
            for pk_value, values in prepared
        ]
        with connection.cursor() as cursor:
            cursor.executemany(sql, params)
            return cursor.rowcount
    changed = 0
    per_row = len(columns) + 1
    step = max(1, (MAX_PARAMS - len(common) - len(conditions)) // per_row)
    for start in range(0, len(prepared), step):
        changed += _update_values(
            model, table, pk, columns, prepared[start : start + step], common, conditions
        )
    return changed


def _update_values(model, table, pk, columns, chunk, common, conditions) -> int:
    quote = connection.ops.quote_name
    number = _placeholders()
    names = ["_pk", *(f"_v{i}" for i in range(len(columns)))]
    assignments = [
        f"{_column(model, c)} = CAST(v._v{i} AS {_cast_type(model, c)})"
        for i, c in enumerate(columns)
    ] + [f"{c} = {next(number)}" for c, _ in common]
    rows_sql = ", ".join(_row_sql(number, len(names)) for _ in chunk)
    sql = (
        f"UPDATE {table} SET {', '.join(assignments)} "
        f"FROM (VALUES {rows_sql}) AS v({', '.join(names)}) "
        f"WHERE {table}.{quote(pk)} = CAST(v._pk AS bigint)"
        + "".join(f" AND {table}.{c} = {next(number)}" for c, _ in conditions)
    )
    params = [
        *(v for _, v in common),
        *(p for pk_value, values in chunk for p in (pk_value, *values)),
        *(v for _, v in conditions),
    ]
    return _execute_native(sql, params)


def _placeholders() -> Iterator[str]:
    """PostgreSQL's own numbered placeholders, in the order the parameters are given."""
    return (f"${n}" for n in range(1, MAX_PARAMS * 2))


def _row_sql(number: Iterator[str], width: int) -> str:
    return "(" + ", ".join(next(number) for _ in range(width)) + ")"


def _execute_native(sql: str, params: list[Any]) -> int:
    """Run one `$n` statement on the connection Django holds (so inside its transaction),
    with Django's error wrapping and query log; returns the row count."""
    import psycopg  # only on PostgreSQL

    connection.ensure_connection()
    connection.validate_no_broken_transaction()
    started = time.monotonic()
    with connection.wrap_database_errors, psycopg.RawCursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        rowcount = cursor.rowcount
    if connection.queries_logged:
        took = time.monotonic() - started
        connection.queries_log.append({"sql": sql, "time": f"{took:.3f}"})
    return rowcount


def insert_rows(model: type[Model], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert rows of raw values (prepared by each column's field) in multi-row statements."""
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(_column(model, c) for c in columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    step = MAX_PARAMS // len(columns)
    preps = [_preparer(model, c) for c in columns]
    prepared = [[prep(v) for prep, v in zip(preps, row, strict=True)] for row in rows]
    native = connection.vendor == "postgresql"
    for start in range(0, len(prepared), step):
        chunk = prepared[start : start + step]
        params = [p for row in chunk for p in row]
        if native:
            number = _placeholders()
            rows_sql = ", ".join(_row_sql(number, len(columns)) for _ in chunk)
            _execute_native(f"INSERT INTO {table} ({names}) VALUES {rows_sql}", params)
        else:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"INSERT INTO {table} ({names}) VALUES {', '.join([row_sql] * len(chunk))}",
                    params,
                )
    return len(prepared)
