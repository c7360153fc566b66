"""PostgreSQL: parameters are bound by the server (DATABASE_SERVER_SIDE_BINDING, default on),
and can be turned off for a pooler that cannot keep prepared statements."""

import subprocess
import sys

import pytest
from django.db import connection

from tests.conftest import ROOT
from tests.mailhub.test_checks import clean_env

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="server-side binding is PostgreSQL's"
)


@pytest.mark.django_db
def test_statements_bind_their_parameters_on_the_server():
    with connection.cursor() as cursor:
        assert type(cursor.cursor).__name__ == "ServerBindingCursor"
        # A statement run more than psycopg's threshold of times is prepared once; the same
        # text keeps answering with the values of each run.
        for n in range(8):
            cursor.execute("SELECT %s::int + 1, %s::text", [n, f"run {n}"])
            assert cursor.fetchone() == (n + 1, f"run {n}")


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@pytest.mark.django_db
def test_turned_off_the_client_quotes_parameters_into_the_statement():
    # Django's own client-binding cursor, as before the setting.
    script = (
        "import django; django.setup()\n"
        "from django.db import connection\n"
        "with connection.cursor() as cursor:\n"
        "    cursor.execute('SELECT %s::text', ['it' + chr(39) + 's'])\n"
        "    print(type(cursor.cursor).__name__, cursor.fetchone()[0])\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=clean_env(
            DJANGO_SETTINGS_MODULE="tests.settings",
            DATABASE_URL=_test_database_url(),
            DATABASE_SERVER_SIDE_BINDING="false",
        ),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["Cursor", "it's"]
