"""deploy/postgres/message_table.sql, the optional autovacuum settings docs/DEPLOY.md
recommends, applies to the tables as the migrations make them (inside the test's transaction,
so nothing outlives the test)."""

import re

import pytest
from django.db import connection

from tests.conftest import ROOT

SCRIPT = ROOT / "deploy" / "postgres" / "message_table.sql"

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL storage parameters"),
]


def statements() -> list[str]:
    without_comments = re.sub(r"--[^\n]*", "", SCRIPT.read_text())
    return [s.strip() for s in without_comments.split(";") if s.strip()]


def test_the_script_sets_the_documented_parameters():
    with connection.cursor() as cursor:
        for statement in statements():
            cursor.execute(statement)
        cursor.execute(
            "SELECT relname, reloptions FROM pg_class WHERE relname = ANY(%s)",
            [["queueing_message", "queueing_sendbatch", "queueing_messageevent"]],
        )
        options = {name: dict(o.split("=") for o in opts or []) for name, opts in cursor.fetchall()}
    assert options["queueing_message"]["autovacuum_vacuum_scale_factor"] == "0.01"
    assert options["queueing_message"]["autovacuum_analyze_scale_factor"] == "0.005"
    assert options["queueing_sendbatch"]["autovacuum_vacuum_cost_limit"] == "2000"
    assert options["queueing_messageevent"]["autovacuum_vacuum_insert_scale_factor"] == "0.05"
    # fillfactor stays the default (docs/DEPLOY.md: the send path's updates are not HOT).
    assert "fillfactor" not in options["queueing_message"]
    # DEPLOY.md names the script and each value it sets.
    deploy = (ROOT / "docs" / "DEPLOY.md").read_text()
    assert "deploy/postgres/message_table.sql" in deploy
    for table in options.values():
        for name, value in table.items():
            assert f"{name} = {value}" in deploy, name
