"""Loading `timestamptz` values through psycopg's C parser on PostgreSQL.

Django registers its own loader for `timestamptz` (a subclass of psycopg's pure-Python
loader that replaces the parsed value's tzinfo with the connection's time zone). A worker
loads thousands of timestamps a second (every held message row has several), and that Python
parser was about 5 % of a worker's CPU in a py-spy profile (per value: benchmarks/bulk_sql.py).
This loader parses with psycopg's C loader and sets the same tzinfo, so the values are equal
and of the same kind as Django's.
"""

from typing import Any

from django.db.backends.signals import connection_created


def use_fast_timestamp_loader() -> None:
    connection_created.connect(_register, dispatch_uid="mailhub-fast-timestamptz")


def _register(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor != "postgresql":
        return
    import psycopg
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    oid = psycopg.adapters.types["timestamptz"].oid
    parser = psycopg.adapters.get_loader(oid, Format.TEXT)
    if parser is None or not parser.__module__.startswith("psycopg_binary"):
        return  # no C implementation here: Django's loader is as fast as it gets
    tz = connection.timezone

    class FastTzLoader(Loader):
        # Django re-registers its own loader on a cursor whose loader names another zone.
        timezone = tz

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._parse = parser(oid, context).load

        def load(self, data: Any) -> Any:
            return self._parse(data).replace(tzinfo=tz)

    connection.connection.adapters.register_loader(oid, FastTzLoader)
