"""psycopg's C parser for timestamptz gives the values Django's own loader gives."""

import datetime

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("a PostgreSQL loader")


def test_timestamps_load_as_django_loads_them():
    from django.db.backends.postgresql.psycopg_any import BaseTzLoader

    class DjangoLoader(BaseTzLoader):
        timezone = connection.timezone

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT '2026-01-02 03:04:05.123456+05'::timestamptz, "
            "'1999-12-31 23:59:59-08:30'::timestamptz, now(), NULL::timestamptz"
        )
        row = cursor.fetchone()
        loader = connection.connection.adapters.get_loader(1184, 0)
    assert loader.__name__ == "FastTzLoader"
    django = DjangoLoader(1184, connection.connection)
    expected = [
        django.load(b"2026-01-02 03:04:05.123456+05"),
        django.load(b"1999-12-31 23:59:59-08:30"),
    ]
    assert list(row[:2]) == expected
    assert [value.tzinfo for value in row[:3]] == [datetime.UTC] * 3
    assert row[0] == datetime.datetime(2026, 1, 1, 22, 4, 5, 123456, tzinfo=datetime.UTC)
    assert row[3] is None
