"""The import writers: a chunk of new people is inserted without looking anyone up (the unique
indexes prove them new), and a chunk that meets people already stored is looked up."""

import csv
import io
import json

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from recipients.exceptions import ImportFileError
from recipients.imports import sqlite
from recipients.imports.postgres import PostgresWriter
from recipients.imports.rows import attributes_json
from recipients.imports.service import recipients_import
from recipients.imports.sqlite import SqliteWriter, merged_attributes
from recipients.models import Recipient, Subscription

pytestmark = pytest.mark.django_db
sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="the SQLite writer")
# The statement each writer runs once per chunk it looks up: SQLite's SELECT of the people the
# chunk names, PostgreSQL's search for external ids stored on someone else.
LOOKUP = "SELECT r.id, r.email" if connection.vendor == "sqlite" else "WITH clash AS"


def run(text: str, slug: str = "news"):
    report = io.StringIO()
    summary = recipients_import(file=io.BytesIO(text.encode()), list_slug=slug, report=report)
    return summary, list(csv.reader(io.StringIO(report.getvalue())))


@pytest.fixture
def statements():
    """The SQL run while the test runs (SQLite's writer runs it on the sqlite3 connection
    under Django's, PostgreSQL's through Django's cursor)."""
    if connection.vendor == "sqlite":
        seen: list[str] = []
        connection.ensure_connection()
        connection.connection.set_trace_callback(seen.append)
        yield lambda: list(seen)
        connection.connection.set_trace_callback(None)
    else:
        with CaptureQueriesContext(connection) as captured:
            yield lambda: [query["sql"] for query in captured.captured_queries]


def lookups(seen: list[str]) -> list[str]:
    """The lookups of stored people (by address or external id) among `seen`."""
    return [
        s
        for s in seen
        if s.startswith(("SELECT", "WITH clash", "WITH found"))
        and "recipients_recipient" in s
        and "max(id)" not in s
    ]


@pytest.fixture
def chunks_of_two(monkeypatch):
    monkeypatch.setattr(SqliteWriter, "chunk_size", 2)
    monkeypatch.setattr(PostgresWriter, "chunk_size", 2)


def test_new_people_are_inserted_without_looking_anyone_up(statements, chunks_of_two):
    summary, _ = run(
        "email,first_name,external_id,plan\n"
        "ann@example.com,Ann,x-1,pro\n"
        "bob@example.com,Bob,,\n"
        "cat@example.com,Cat,x-3,free\n"
    )
    assert (summary.created, summary.subscribed, summary.rejected) == (3, 3, 0)
    assert lookups(statements()) == []  # the unique indexes said they were new
    ann = Recipient.objects.get(email="ann@example.com")
    assert (ann.first_name, ann.external_id, ann.attributes) == ("Ann", "x-1", {"plan": "pro"})
    assert Recipient.objects.get(email="bob@example.com").attributes == {}
    assert Subscription.objects.filter(status="subscribed", source="import").count() == 3


def test_a_chunk_meeting_stored_people_is_looked_up_and_the_next_clean_one_is_not(
    statements, make_list, chunks_of_two
):
    """Chunks of two: new, new | new, stored (the INSERT fails on its second row and is rolled
    back) | new, someone else's external id (looked up again: the chunk before found people)
    | new, new (the chunk before found nobody: inserted without lookups)."""
    news = make_list("news")
    dan = Recipient.objects.create(email="dan@example.com", first_name="Dan")
    Recipient.objects.create(email="owner@example.com", external_id="own-1")
    summary, report = run(
        "email,first_name,external_id\n"
        "a@example.com,A,\n"
        "b@example.com,B,\n"
        "c@example.com,C,\n"
        "dan@example.com,Daniel,\n"
        "e@example.com,E,\n"
        "f@example.com,F,own-1\n"
        "g@example.com,G,\n"
        "h@example.com,H,\n"
    )
    looked_up = [s for s in statements() if s.startswith(LOOKUP)]
    counts = (summary.created, summary.updated, summary.unchanged, summary.rejected)
    assert counts == (6, 1, 0, 1)
    assert summary.subscribed == 7
    assert [r[:2] for r in report[1:]] == [
        ["7", "external_id 'own-1' belongs to owner@example.com"]
    ]
    assert Recipient.objects.filter(email="c@example.com").count() == 1
    dan.refresh_from_db()
    assert dan.first_name == "Daniel"
    subscribed = Subscription.objects.filter(list=news, status="subscribed")
    assert set(subscribed.values_list("recipient__email", flat=True)) == {
        "a@example.com",
        "b@example.com",
        "c@example.com",
        "dan@example.com",
        "e@example.com",
        "g@example.com",
        "h@example.com",
    }
    assert len(looked_up) == 2  # the second and third chunks only


@sqlite_only
def test_lookups_go_from_the_json_list_to_the_indexes():
    """json_each is kept outside each join: one index probe per value, never a scan of the
    list's subscriptions (what SQLite picked for the statuses without CROSS JOIN)."""
    connection.ensure_connection()
    db = connection.connection
    for statement, params in [
        (sqlite.PEOPLE, ("[]",)),
        (sqlite.OWNERS, ("[]",)),
        (sqlite.STATUSES, ("[]", 1)),
    ]:
        plan = [row[3] for row in db.execute(f"EXPLAIN QUERY PLAN {statement}", params)]
        assert plan[0].startswith("SCAN j"), plan
        assert plan[1].startswith("SEARCH") and "INDEX" in plan[1], plan


@pytest.mark.parametrize(
    "attributes",
    [
        {},
        {"plan": "pro"},
        {"plan": "pro", "country": "NL"},
        {"naam": "Zoë", "quote": 'say "hi"', "back\\slash": "tab\there", "ctl": "\x01\n"},
        {"emoji": "😀", "": ""},
    ],
)
def test_attributes_json_is_what_json_dumps_writes(attributes):
    assert attributes_json(attributes) == json.dumps(attributes)


def test_merged_attributes_decodes_only_what_differs():
    stored = json.dumps({"plan": "pro", "country": "NL"})
    assert merged_attributes(stored, {}) == (stored, False)
    assert merged_attributes(stored, {"plan": "pro", "country": "NL"}) == (stored, False)
    assert merged_attributes(stored, {"country": "NL"}) == (stored, False)
    text, changed = merged_attributes(stored, {"country": "BE", "tier": "1"})
    assert changed and json.loads(text) == {"plan": "pro", "country": "BE", "tier": "1"}


def dangling_subscription_is_accepted_until_commit(news) -> None:
    """The subscriptions' foreign keys are deferred (Django's default): a subscription of a
    recipient that does not exist is refused only when the constraints are checked. (In a
    savepoint rolled back after, so that the test's own check at the end passes.)"""
    with transaction.atomic():
        Subscription.objects.create(recipient_id=987_654_321, list=news, status="subscribed")
        with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        transaction.set_rollback(True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's constraint modes")
def test_the_subscription_checks_are_deferred_again_after_an_import(make_list, chunks_of_two):
    """PostgreSQL checks the subscriptions' foreign keys per statement while the import
    writes; afterwards the rest of the transaction has them deferred again."""
    news = make_list("news")
    summary, _ = run("email\na@example.com\nb@example.com\nc@example.com\n")
    assert summary.subscribed == 3
    dangling_subscription_is_accepted_until_commit(news)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's constraint modes")
def test_the_subscription_checks_are_deferred_again_after_a_failed_import(make_list, chunks_of_two):
    news = make_list("news")
    data = "email\n" + "".join(f"p{i}@example.com\n" for i in range(5000))
    with pytest.raises(ImportFileError):
        recipients_import(file=io.BytesIO(data.encode() + b"\xff\n"), list_slug="news")
    assert not Recipient.objects.exists()
    dangling_subscription_is_accepted_until_commit(news)
