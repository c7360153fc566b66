"""queueing.bulk_sql: the same results on both databases, whichever path `_paths()` picks."""

import json

import pytest
from django.db import connection
from django.utils import timezone

from queueing import bulk_sql
from queueing.bulk_sql import insert_rows, select_in, update_rows
from queueing.models import Message, MessageStatus
from recipients.models import List, Recipient, Subscription

pytestmark = pytest.mark.django_db

COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "attributes",
    "unsubscribe_token",
    "created_at",
    "updated_at",
)


def rows(*people: tuple[str, str, dict, str]) -> list[tuple]:
    now = timezone.now()
    return [(email, name, "", attrs, token, now, now) for email, name, attrs, token in people]


def test_insert_rows_prepares_values_through_the_fields():
    added = insert_rows(Recipient, COLUMNS, rows(("a@example.com", "A", {"plan": "pro"}, "t-a")))
    assert added == 1
    stored = Recipient.objects.get()
    assert (stored.first_name, stored.attributes, stored.unsubscribe_token) == (
        "A",
        {"plan": "pro"},
        "t-a",
    )


def test_insert_rows_upsert_overwrites_only_the_update_columns():
    insert_rows(Recipient, COLUMNS, rows(("a@example.com", "A", {}, "t-a")))
    insert_rows(
        Recipient,
        COLUMNS,
        rows(("a@example.com", "Ann", {"x": "1"}, "t-new"), ("b@example.com", "B", {}, "t-b")),
        conflict=["email"],
        update=["first_name", "attributes"],
    )
    people = {r.email: r for r in Recipient.objects.all()}
    assert (people["a@example.com"].first_name, people["a@example.com"].attributes) == (
        "Ann",
        {"x": "1"},
    )
    assert people["a@example.com"].unsubscribe_token == "t-a"  # not in `update`
    assert people["b@example.com"].first_name == "B"


def test_insert_rows_with_conflict_and_no_update_leaves_existing_rows_alone():
    insert_rows(Recipient, COLUMNS, rows(("a@example.com", "A", {}, "t-a")))
    insert_rows(Recipient, COLUMNS, rows(("a@example.com", "Other", {}, "t-x")), conflict=["email"])
    assert Recipient.objects.get().first_name == "A"


def test_select_in_reads_raw_rows_by_key_with_equality_guards():
    news, other = List.objects.create(slug="news"), List.objects.create(slug="other")
    people = [Recipient.objects.create(email=f"p{i}@example.com") for i in range(3)]
    for person in people[:2]:
        Subscription.objects.create(recipient=person, list=news, status="subscribed")
    Subscription.objects.create(recipient=people[2], list=other, status="pending")
    found = select_in(
        Subscription,
        ("recipient", "status"),
        "recipient",
        [p.pk for p in people],
        where={"list": news.pk},
    )
    assert sorted(found) == [(people[0].pk, "subscribed"), (people[1].pk, "subscribed")]
    assert select_in(Subscription, ("status",), "recipient", []) == []
    (attributes,) = select_in(Recipient, ("attributes",), "email", ["p0@example.com"])[0]
    assert (json.loads(attributes) if isinstance(attributes, str) else attributes) == {}


def test_update_rows_sets_each_rows_values_only_where_the_guard_holds():
    news = List.objects.create(slug="news")
    a, b = (Recipient.objects.create(email=f"{n}@example.com") for n in "ab")
    sub_a = Subscription.objects.create(recipient=a, list=news, status="pending")
    sub_b = Subscription.objects.create(recipient=b, list=news, status="subscribed")
    now = timezone.now()
    changed = update_rows(
        Subscription,
        ("source",),
        {sub_a.pk: ("import",), sub_b.pk: ("api",)},
        set_also={"confirmed_at": now},
        where={"status": "pending"},
    )
    assert changed == 1
    sub_a.refresh_from_db()
    sub_b.refresh_from_db()
    assert (sub_a.source, sub_a.confirmed_at) == ("import", now)
    assert (sub_b.source, sub_b.confirmed_at) == ("", None)


def test_each_database_has_its_pair_of_paths():
    expected = bulk_sql._POSTGRESQL if connection.vendor == "postgresql" else bulk_sql._SQLITE
    assert bulk_sql._paths() is expected


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's planner")
def test_update_rows_finds_rows_by_key_when_the_statistics_lag_a_burst(monkeypatch):
    """ANALYZE saw every message sent; now 2,000 are queued (a burst the statistics have not
    seen) and a batch's 100 rows are written under the guard `status = 'queued'`. A guard
    compared with a constant made the planner expect one queued row, scan for all of them
    and compare each with every row of the VALUES list (a nested loop with a join filter:
    150-350 ms per 100 rows at 2,000 queued). Compared with a column of the VALUES list, the
    guard is a join condition and the rows are found by key or by one hash join."""
    now = timezone.now()
    Message.objects.bulk_create(
        Message(
            idempotency_key=f"k{i}", from_email="a@example.com", to=[f"p{i}@example.com"],
            subject="s", status=MessageStatus.SENT,
        )
        for i in range(2000)
    )  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE queueing_message")
    Message.objects.update(status=MessageStatus.QUEUED)
    plans = []
    original = bulk_sql._execute_native

    def explained(sql, params):
        with connection.cursor() as cursor:
            cursor.execute("SAVEPOINT plan")
        plans.append("\n".join(row[0] for row in _native_rows("EXPLAIN ANALYZE " + sql, params)))
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK TO SAVEPOINT plan")
        return original(sql, params)

    monkeypatch.setattr(bulk_sql, "_execute_native", explained)
    ids = list(Message.objects.order_by("pk").values_list("pk", flat=True)[1000:1100])
    columns = ("claimed_by", "updated_at", "subject", "html", "text", "headers", "needs_render")
    values = ("w", now, "Hello", "<p>Hi</p>" * 50, "Hi", {"X-A": "1"}, False)
    changed = update_rows(
        Message, columns, {pk: values for pk in ids}, where={"status": MessageStatus.QUEUED}
    )
    assert changed == 100
    assert plans and "Join Filter" not in plans[0], plans[0]


def _native_rows(sql: str, params: list) -> list[tuple]:
    import psycopg

    with psycopg.RawCursor(connection.connection) as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()
