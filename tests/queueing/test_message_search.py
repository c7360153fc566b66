"""The searchable addresses (Message.to_address, MessageAddress), written by every door that
creates messages and backfilled by the migration; and the admin's search built on them."""

import importlib
import uuid
from types import SimpleNamespace

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from queueing.fanout import messages_fan_out
from queueing.models import Message, MessageAddress, Priority, Source
from queueing.selectors import SUBJECT_SEARCH_ROWS, message_search
from queueing.services import message_create, messages_create_many
from recipients.models import Recipient

pytestmark = pytest.mark.django_db


def others(message: Message) -> list[str]:
    return sorted(MessageAddress.objects.filter(message=message).values_list("address", flat=True))


def found(term: str) -> list[int]:
    return sorted(message_search(Message.objects.all(), term).values_list("pk", flat=True))


def test_message_create_stores_the_first_address_and_the_others_in_search_form():
    message = message_create(
        to=["Ada Lovelace <Ada@Example.COM>", "bob@example.com"],
        cc=["Carol <carol@EXAMPLE.org>"],
        bcc=["ada@example.com", "dan@example.net"],
        subject="Hi",
        text="Hello",
    )
    message.refresh_from_db()
    assert message.to_address == "ada@example.com"
    # The first address is not repeated; each other recipient once.
    assert others(message) == ["bob@example.com", "carol@example.org", "dan@example.net"]


def test_a_message_with_one_recipient_has_no_address_rows():
    message = message_create(to="solo@example.com", subject="Hi", text="Hello")
    assert Message.objects.get(pk=message.pk).to_address == "solo@example.com"
    assert not MessageAddress.objects.exists()


def test_messages_create_many_writes_every_message_s_addresses():
    first, second = messages_create_many(
        [
            {"to": ["a@example.com"], "subject": "A", "text": "x"},
            {"to": ["b@example.com", "c@example.com"], "subject": "B", "text": "x"},
        ]
    )
    assert Message.objects.get(pk=first.pk).to_address == "a@example.com"
    assert others(first) == []
    assert others(second) == ["c@example.com"]


def test_fan_out_fills_the_column_and_writes_no_address_rows():
    people = [Recipient.objects.create(email=f"p{i}@example.com") for i in range(3)]
    prototype = Message(
        from_email="news@example.com",
        to=[],
        subject="News",
        needs_render=True,
        priority=Priority.BULK,
        source=Source.CAMPAIGN,
    )
    seen, _, added = messages_fan_out(
        prototype=prototype,
        recipients=Recipient.objects.order_by("pk"),
        size=10,
        key_prefix="fanout-test-",
    )
    assert (seen, added) == (3, 3)
    stored = dict(Message.objects.values_list("recipient_id", "to_address"))
    assert stored == {p.pk: p.email for p in people}
    assert not MessageAddress.objects.exists()


def test_the_migration_backfills_rows_stored_before_it():
    message = message_create(
        to=["Old <OLD@example.com>"], cc=["cc@example.com"], subject="Old", text="x"
    )
    Message.objects.filter(pk=message.pk).update(to_address="")
    MessageAddress.objects.all().delete()
    migration = importlib.import_module("queueing.migrations.0012_message_search")
    # The migration's function, given the app registry and what it reads of the editor.
    migration.backfill(django_apps, SimpleNamespace(connection=connection))
    assert Message.objects.get(pk=message.pk).to_address == "old@example.com"
    assert others(message) == ["cc@example.com"]


def test_search_by_address_finds_any_recipient_whatever_its_case_or_name():
    to_ada = message_create(to=["Ada <ada@example.com>"], subject="One", text="x")
    cc_ada = message_create(to=["bob@example.com"], cc=["ADA@example.com"], subject="Two", text="x")
    message_create(to=["bob@example.com"], subject="Three", text="x")
    assert found("ada@example.com") == sorted([to_ada.pk, cc_ada.pk])
    assert found("  Ada Lovelace <ADA@EXAMPLE.COM> ") == sorted([to_ada.pk, cc_ada.pk])
    # Exact, not a prefix or a substring.
    assert found("ada@example") == []
    assert found("da@example.com") == []


def test_search_by_address_reads_the_indexed_column_not_the_json():
    message_create(to=["ada@example.com"], subject="One", text="x")
    with CaptureQueriesContext(connection) as queries:
        found("ada@example.com")
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"to_address" = ' in sql
    assert '"queueing_messageaddress"."address" = ' in sql
    assert '"queueing_message"."to"' not in sql


def test_search_by_uuid_provider_id_and_id():
    message = message_create(to=["a@example.com"], subject="Invoice 42", text="x")
    other = message_create(to=["b@example.com"], subject="Other", text="x")
    resend_id = str(uuid.uuid4())
    Message.objects.filter(pk=other.pk).update(provider_id=resend_id)
    assert found(str(message.uuid)) == [message.pk]
    assert found(str(message.uuid).upper()) == [message.pk]
    assert found(resend_id) == [other.pk]
    Message.objects.filter(pk=other.pk).update(provider_id="re_abc123")
    assert found("re_abc123") == [other.pk]
    assert found(f"#{message.pk}") == [message.pk]
    assert found(str(other.pk)) == [other.pk]


def test_subject_search_is_case_insensitive_and_bounded_to_the_newest_rows(monkeypatch):
    old = message_create(to=["a@example.com"], subject="Invoice March", text="x")
    new = message_create(to=["a@example.com"], subject="your INVOICE for April", text="x")
    assert found("invoice") == sorted([old.pk, new.pk])
    # Only the newest SUBJECT_SEARCH_ROWS messages are read: here, the newest one.
    monkeypatch.setattr("queueing.selectors.SUBJECT_SEARCH_ROWS", 1)
    assert found("invoice") == [new.pk]
    assert SUBJECT_SEARCH_ROWS >= 10_000


@pytest.mark.parametrize(
    "term",
    ["@", "@@", "<>@", "a" * 5000, "#", "#99999999999999999999999", "%", "_", "'; drop", "\x00"],
)
def test_odd_search_terms_find_nothing_and_never_raise(term):
    message_create(to=["a@example.com"], subject="Hello", text="x")
    assert found(term) == []
