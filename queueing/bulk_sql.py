"""Set-based SQL for many rows, each with its own values: the one bulk-SQL module of mailhub
(one concern; longer than most modules because both databases' statements are spelled out).

A batch of 100 emails changes 100 rows at every step, and a CSV import writes thousands of
recipients per chunk. The ORM's ways of doing that (`bulk_update`'s CASE per column, one UPDATE
per row, `bulk_create` preparing every value and rebuilding its SQL per batch) cost more than
the work they record, so those writes go through these helpers instead:

- `update_rows`: set each row's own values, by primary key, with optional guards.
- `insert_rows`: multi-row `INSERT … VALUES`, optionally an upsert (`ON CONFLICT`).
- `select_in`: raw rows whose key is in a (long) list of values.

Values are prepared by each column's model field, exactly as the ORM would store them.

Where the databases differ, the two ways sit side by side below as paired functions with the
same signature (`_update_postgresql` / `_update_sqlite`, `_insert_postgresql` /
`_insert_sqlite`), and `_paths()` is the one place that chooses between them:

- PostgreSQL: one `UPDATE … FROM (VALUES …)`, its guards compared with columns of the
  VALUES list (see `_update_values`); the writes skip Django's cursor. Bound on the client
  (Django's cursor with DATABASE_SERVER_SIDE_BINDING=false), every value is quoted into the
  SQL text in Python (about 100 µs per email for a batch's rendered content) and parsed back
  by the server. They run instead on a psycopg `RawCursor` with native `$n` placeholders
  whatever that setting: the values travel apart from the SQL, which costs a quarter of the
  client CPU and about a third less server time (benchmarks/bulk_sql.py). `select_in` uses
  Django's cursor (server-bound by default).
- SQLite: one prepared UPDATE run per row (`executemany` inside the caller's transaction, which
  SQLite runs about as fast as a single statement); INSERTs through Django's cursor.
"""

import functools
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, NamedTuple

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

Prepared = list[tuple[Any, list[Any]]]  # (primary key, the row's prepared values)
Assignments = list[tuple[str, Any]]  # (quoted column, prepared value)
Guards = list[tuple[str, Any, str]]  # (quoted column, prepared value, its SQL type)


def _is_plain(field) -> bool:
    if field.is_relation:
        field = field.target_field
    return field.get_internal_type() in _PLAIN_FIELDS


def _preparer(model: type[Model], column: str) -> Callable[[Any], Any]:
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


def _table(model: type[Model]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


def _cast_type(model: type[Model], column: str) -> str:
    field = model._meta.get_field(column)
    if field.get_internal_type() in ("CharField", "TextField", "SlugField", "EmailField"):
        return "text"  # a cast to varchar(n) would silently truncate
    return field.db_type(connection)


# --- the public helpers ----------------------------------------------------------------------


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
    common = [(_column(model, c), _preparer(model, c)(v)) for c, v in (set_also or {}).items()]
    conditions = [
        (_column(model, c), _preparer(model, c)(v), _cast_type(model, c))
        for c, v in (where or {}).items()
    ]
    preps = [_preparer(model, c) for c in columns]
    prepared = [
        (pk_value, [prep(v) for prep, v in zip(preps, values, strict=True)])
        for pk_value, values in rows.items()
    ]
    return _paths().update(model, columns, prepared, common, conditions)


def insert_rows(
    model: type[Model],
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    conflict: Sequence[str] = (),
    update: Sequence[str] = (),
) -> int:
    """Insert rows of raw values (prepared by each column's field) in multi-row statements;
    returns the number of rows given. With `conflict` (the columns of a unique constraint),
    a row that already exists gets only its `update` columns overwritten (nothing, without
    `update`): an upsert that leaves every other column of the existing row alone."""
    preps = [_preparer(model, c) for c in columns]
    prepared = [[prep(v) for prep, v in zip(preps, row, strict=True)] for row in rows]
    if prepared:
        _paths().insert(model, columns, prepared, _on_conflict(model, conflict, update))
    return len(prepared)


def select_in(
    model: type[Model],
    columns: Sequence[str],
    key: str,
    values: Sequence[Any],
    *,
    where: Mapping[str, Any] | None = None,
) -> list[tuple]:
    """`columns` of the rows whose `key` is one of `values` (and every `where` column equals
    its value), as raw database values (JSON as text on SQLite), in no particular order."""
    if not values:
        return []
    names = ", ".join(_column(model, c) for c in columns)
    guards = [(_column(model, c), _preparer(model, c)(v)) for c, v in (where or {}).items()]
    tail = "".join(f" AND {c} = %s" for c, _ in guards)
    prep = _preparer(model, key)
    step = MAX_PARAMS - len(guards)
    rows: list[tuple] = []
    with connection.cursor() as cursor:
        for start in range(0, len(values), step):
            batch = [prep(v) for v in values[start : start + step]]
            marks = ", ".join(["%s"] * len(batch))
            cursor.execute(
                f"SELECT {names} FROM {_table(model)} WHERE {_column(model, key)} IN ({marks}){tail}",
                [*batch, *(v for _, v in guards)],
            )
            rows.extend(cursor.fetchall())
    return rows


def _on_conflict(model: type[Model], conflict: Sequence[str], update: Sequence[str]) -> str:
    """The `ON CONFLICT` clause (the same on PostgreSQL and SQLite ≥ 3.24), or nothing."""
    if not conflict:
        return ""
    targets = ", ".join(_column(model, c) for c in conflict)
    sets = ", ".join(f"{_column(model, c)} = EXCLUDED.{_column(model, c)}" for c in update)
    return f" ON CONFLICT ({targets}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")


# --- PostgreSQL: native `$n` statements on a RawCursor ---------------------------------------


def _update_postgresql(
    model: type[Model],
    columns: Sequence[str],
    prepared: Prepared,
    common: Assignments,
    conditions: Guards,
) -> int:
    changed = 0
    step = max(1, (MAX_PARAMS - len(common)) // (len(columns) + 1 + len(conditions)))
    for start in range(0, len(prepared), step):
        changed += _update_values(
            model, columns, prepared[start : start + step], common, conditions
        )
    return changed


def _insert_postgresql(
    model: type[Model], columns: Sequence[str], prepared: list[list[Any]], suffix: str
) -> None:
    for chunk in _chunks(prepared, MAX_PARAMS // len(columns)):
        _execute_native(
            _insert_sql(model, tuple(columns), len(chunk), suffix),
            [p for row in chunk for p in row],
        )


def _update_values(
    model: type[Model],
    columns: Sequence[str],
    chunk: Prepared,
    common: Assignments,
    conditions: Guards,
) -> int:
    """One statement for the chunk. The guards (`status = 'queued'`, a claim token, a batch)
    are compared with columns of the VALUES list, repeated on every row, not with constants:
    a constant lets the planner estimate the guard on its own from the table's statistics,
    which lag a burst (ANALYZE saw every row sent; 10,000 are queued now). Estimating one
    queued row, it scanned the table (or the queued index) for them and joined each to the
    whole VALUES list: 100 x 1,800 comparisons, 150-350 ms per 100 rows, growing with the
    backlog. Compared with a column, the guard is a join condition; the rows are found by
    primary key (or one hash join), whatever the statistics say."""
    sql = _update_sql(
        model,
        tuple(columns),
        tuple(c for c, _ in common),
        tuple((c, cast) for c, _, cast in conditions),
        len(chunk),
    )
    guards = [v for _, v, _ in conditions]
    params = [
        *(v for _, v in common),
        *(p for pk_value, values in chunk for p in (pk_value, *values, *guards)),
    ]
    return _execute_native(sql, params)


@functools.lru_cache(maxsize=256)
def _update_sql(
    model: type[Model],
    columns: tuple[str, ...],
    common: tuple[str, ...],
    guards: tuple[tuple[str, str], ...],
    rows: int,
) -> str:
    """The statement's text for one shape (columns, guards, number of rows), built once per
    process: a batch writes the same shape every time, and numbering 1,300 placeholders
    cost more of the worker's CPU than sending the statement."""
    table = _table(model)
    pk = connection.ops.quote_name(model._meta.pk.column)
    number = _placeholders()
    names = [
        "_pk",
        *(f"_v{i}" for i in range(len(columns))),
        *(f"_g{i}" for i in range(len(guards))),
    ]
    assignments = [
        f"{_column(model, c)} = CAST(v._v{i} AS {_cast_type(model, c)})"
        for i, c in enumerate(columns)
    ] + [f"{c} = {next(number)}" for c in common]
    rows_sql = ", ".join(_row_sql(number, len(names)) for _ in range(rows))
    return (
        f"UPDATE {table} SET {', '.join(assignments)} "
        f"FROM (VALUES {rows_sql}) AS v({', '.join(names)}) "
        f"WHERE {table}.{pk} = CAST(v._pk AS bigint)"
        + "".join(
            f" AND {table}.{c} = CAST(v._g{i} AS {cast})" for i, (c, cast) in enumerate(guards)
        )
    )


@functools.lru_cache(maxsize=256)
def _insert_sql(model: type[Model], columns: tuple[str, ...], rows: int, suffix: str) -> str:
    """A multi-row INSERT's text for one shape, built once per process (see _update_sql)."""
    names = ", ".join(_column(model, c) for c in columns)
    number = _placeholders()
    rows_sql = ", ".join(_row_sql(number, len(columns)) for _ in range(rows))
    return f"INSERT INTO {_table(model)} ({names}) VALUES {rows_sql}{suffix}"


def _placeholders() -> Iterator[str]:
    """PostgreSQL's own numbered placeholders, in the order the parameters are given."""
    return (f"${n}" for n in range(1, MAX_PARAMS * 2))


def _row_sql(number: Iterator[str], width: int) -> str:
    return "(" + ", ".join(next(number) for _ in range(width)) + ")"


def _execute_native(sql: str, params: list[Any]) -> int:
    """Run one `$n` statement on the connection Django holds (so inside its transaction),
    with Django's error wrapping and query log; returns the row count."""
    import psycopg  # the driver, imported only on PostgreSQL

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


# --- SQLite: Django's cursor -----------------------------------------------------------------


def _update_sqlite(
    model: type[Model],
    columns: Sequence[str],
    prepared: Prepared,
    common: Assignments,
    conditions: Guards,
) -> int:
    assignments = [f"{_column(model, c)} = %s" for c in columns]
    assignments += [f"{c} = %s" for c, _ in common]
    pk = connection.ops.quote_name(model._meta.pk.column)
    sql = f"UPDATE {_table(model)} SET {', '.join(assignments)} WHERE {pk} = %s" + "".join(
        f" AND {c} = %s" for c, _, _ in conditions
    )
    params = [
        [*values, *(v for _, v in common), pk_value, *(v for _, v, _ in conditions)]
        for pk_value, values in prepared
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)
        return cursor.rowcount


def _insert_sqlite(
    model: type[Model], columns: Sequence[str], prepared: list[list[Any]], suffix: str
) -> None:
    names = ", ".join(_column(model, c) for c in columns)
    row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for chunk in _chunks(prepared, MAX_PARAMS // len(columns)):
            cursor.execute(
                f"INSERT INTO {_table(model)} ({names}) "
                f"VALUES {', '.join([row_sql] * len(chunk))}{suffix}",
                [p for row in chunk for p in row],
            )


# --- the one place the database is chosen ----------------------------------------------------


class _Paths(NamedTuple):
    update: Callable[..., int]
    insert: Callable[..., None]


_POSTGRESQL = _Paths(update=_update_postgresql, insert=_insert_postgresql)
_SQLITE = _Paths(update=_update_sqlite, insert=_insert_sqlite)


def _paths() -> _Paths:
    return _POSTGRESQL if connection.vendor == "postgresql" else _SQLITE


def _chunks(rows: list[list[Any]], size: int) -> Iterator[list[list[Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
