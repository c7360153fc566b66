"""CSV import: streaming upsert, rejected rows, file errors, idempotency, the command."""

import csv
import io
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection

from queueing.models import Message
from recipients.exceptions import ImportFileError
from recipients.imports import postgres
from recipients.imports.service import recipients_import
from recipients.imports.tuning import SWITCH_INTERVAL
from recipients.management.commands import import_recipients as command
from recipients.models import (
    ImportRun,
    List,
    Recipient,
    Subscription,
    SubscriptionEvent,
)

pytestmark = pytest.mark.django_db

GOOD = (
    "Email,First Name,last_name,external_id,plan\n"
    "Ann@Example.com,Ann,Archer,u-1,pro\n"
    "bob@example.com,Bob,,u-2,\n"
)


def run(text: str | bytes, slug: str = "news", **kwargs):
    data = text.encode() if isinstance(text, str) else text
    report = io.StringIO()
    summary = recipients_import(file=io.BytesIO(data), list_slug=slug, report=report, **kwargs)
    return summary, list(csv.reader(io.StringIO(report.getvalue())))


def test_import_creates_recipients_maps_columns_and_subscribes():
    summary, report = run(GOOD)
    assert (summary.created, summary.updated, summary.unchanged, summary.rejected) == (2, 0, 0, 0)
    ann = Recipient.objects.get(email="ann@example.com")
    assert (ann.first_name, ann.last_name, ann.external_id) == ("Ann", "Archer", "u-1")
    assert ann.attributes == {"plan": "pro"}
    assert Recipient.objects.get(email="bob@example.com").attributes == {}
    news = List.objects.get(slug="news")
    assert summary.list_created and news.opt_in == List.OptIn.SINGLE
    assert Subscription.objects.filter(list=news, status="subscribed", source="import").count() == 2
    # One line on the list's timeline for the whole import, naming the count and the run.
    event = SubscriptionEvent.objects.get(kind="subscribed", list=news)
    assert event.recipient is None and event.source == "import"
    assert f"2 recipients subscribed by import run #{summary.import_run.pk}" in event.detail
    assert report == []  # nothing rejected, nothing written
    assert not Message.objects.exists()  # importing sends no email


def test_reimporting_the_same_file_changes_nothing():
    run(GOOD)
    before = list(Recipient.objects.order_by("pk").values())
    events = SubscriptionEvent.objects.count()
    summary, _ = run(GOOD)
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 2)
    assert summary.subscribed == 0
    assert list(Recipient.objects.order_by("pk").values()) == before  # updated_at untouched
    assert SubscriptionEvent.objects.count() == events


def test_changed_rows_are_updated_empty_cells_do_not_overwrite_and_attributes_merge():
    run(GOOD)
    token = Recipient.objects.get(email="ann@example.com").unsubscribe_token
    summary, _ = run(
        "email,first_name,last_name,country\nANN@example.com,Annie,,NL\nbob@example.com,,,\n"
    )
    assert (summary.created, summary.updated, summary.unchanged) == (0, 1, 1)
    ann = Recipient.objects.get(email="ann@example.com")
    assert (ann.first_name, ann.last_name) == ("Annie", "Archer")
    assert ann.attributes == {"plan": "pro", "country": "NL"}
    assert ann.unsubscribe_token == token


def test_rejected_rows_are_reported_with_reasons_and_the_rest_imported():
    text = (
        "email,first_name,external_id\n"
        "ok@example.com,Ok,e-1\n"
        "not-an-email,Bad,\n"
        ",Empty,\n"
        "OK@example.com,Duplicate,\n"
        "other@example.com,Clash,e-1\n"
        "extra@example.com,Too,many,fields\n"
        f"long@example.com,{'x' * 151},\n"
        "fine@example.com,Fine,\n"
    )
    summary, report = run(text)
    assert (summary.created, summary.rejected, summary.rows) == (2, 6, 8)
    assert report[0] == ["line", "reason", "email", "first_name", "external_id"]
    reasons = {row[0]: row[1] for row in report[1:]}
    assert "not a valid email" in reasons["3"]
    assert "empty" in reasons["4"]
    assert reasons["5"] == "duplicate of line 2 (ok@example.com)"
    assert "external_id 'e-1'" in reasons["6"]
    assert "4 fields; the header has 3" in reasons["7"]
    assert "first_name is 151 characters" in reasons["8"]
    assert report[1][2:] == ["not-an-email", "Bad", ""]  # the row as given
    assert set(Recipient.objects.values_list("email", flat=True)) == {
        "ok@example.com",
        "fine@example.com",
    }


def test_external_id_owned_by_another_recipient_is_rejected():
    Recipient.objects.create(email="owner@example.com", external_id="u-9")
    summary, report = run("email,external_id\nthief@example.com,u-9\n")
    assert summary.rejected == 1
    assert "belongs to owner@example.com" in report[1][1]
    assert not Recipient.objects.filter(email="thief@example.com").exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"name,plan\nAnn,pro\n", "No email column"),
        (b"PK\x03\x04\x14\x00\x06\x00binary", "ZIP archive"),
        (b"%PDF-1.7\n...", "PDF"),
        (b"\xff\xfee\x00m\x00", "UTF-16"),
        (b"email\nok@example.com\nbad\x00row@example.com\n", "NUL"),
        (b"email,email_address\na@example.com,b@example.com\n", "both give 'email'"),
    ],
)
def test_unusable_files_raise_and_store_nothing(data, message):
    with pytest.raises(ImportFileError, match=message):
        run(data)
    assert not Recipient.objects.exists()
    assert not List.objects.exists()
    assert not ImportRun.objects.exists()


def test_wrong_encoding_deep_in_the_file_rolls_back_everything():
    rows = "".join(f"user{i}@example.com,Name{i}\n" for i in range(12_000)).encode()
    data = b"email,first_name\n" + rows + "late@example.com,Jos\u00e9\n".encode("latin-1")
    with pytest.raises(ImportFileError, match=r"not valid UTF-8: byte 0xe9.*--encoding"):
        run(data)
    assert not Recipient.objects.exists()
    assert not Subscription.objects.exists()


def test_latin1_file_imports_with_the_encoding_given():
    data = "email,first_name\njose@example.com,Jos\u00e9\n".encode("cp1252")
    summary, _ = run(data, encoding="cp1252")
    assert summary.created == 1
    assert Recipient.objects.get().first_name == "Jos\u00e9"


def test_utf8_bom_and_semicolons_are_understood():
    data = "\ufeffE-mail;Vorname\nkarl@example.de;Karl\n".encode()
    summary, _ = run(data)
    assert summary.created == 1
    assert Recipient.objects.get().attributes == {"Vorname": "Karl"}


def test_people_who_left_the_list_stay_unsubscribed(make_list):
    run(GOOD)
    Subscription.objects.filter(recipient__email="bob@example.com").update(status="unsubscribed")
    summary, _ = run(GOOD)
    assert summary.kept_unsubscribed == 1
    assert Subscription.objects.get(recipient__email="bob@example.com").status == "unsubscribed"


def test_pending_subscription_is_confirmed_by_the_import(make_list):
    digest = make_list("digest", double=True)
    ann = Recipient.objects.create(email="ann@example.com")
    Subscription.objects.create(recipient=ann, list=digest, status="pending", source="form")
    summary, _ = run(GOOD, slug="digest")
    assert (summary.created, summary.updated, summary.subscribed) == (1, 1, 2)
    sub = Subscription.objects.get(recipient=ann)
    assert (sub.status, sub.source) == ("subscribed", "import")
    assert sub.confirmed_at is not None


def test_import_into_double_opt_in_list_counts_as_confirmed(make_list):
    make_list("digest", double=True)
    run(GOOD, slug="digest")
    assert Subscription.objects.filter(confirmed_at__isnull=False).count() == 2


def mixed_import(make_list):
    """One file that creates, updates, leaves alone, confirms and keeps unsubscribed."""
    news = make_list("news")
    run(GOOD)
    Subscription.objects.filter(recipient__email="bob@example.com").update(status="unsubscribed")
    cat = Recipient.objects.create(email="cat@example.com")
    Subscription.objects.create(recipient=cat, list=news, status="pending", source="form")
    summary, report = run(
        "email,first_name,external_id\n"
        "ann@example.com,Annie,\n"  # changed
        "bob@example.com,,\n"  # unchanged, kept unsubscribed
        "cat@example.com,,\n"  # pending → subscribed
        "dan@example.com,Dan,u-1\n"  # new, but u-1 is Ann's
        "eve@example.com,Eve,u-5\n"  # new
    )
    counts = (summary.created, summary.updated, summary.unchanged, summary.rejected)
    assert counts == (1, 1, 2, 1)
    assert (summary.subscribed, summary.kept_unsubscribed) == (2, 1)
    assert [r[:2] for r in report[1:]] == [["5", "external_id 'u-1' belongs to ann@example.com"]]
    statuses = dict(Subscription.objects.values_list("recipient__email", "status"))
    assert statuses == {
        "ann@example.com": "subscribed",
        "bob@example.com": "unsubscribed",
        "cat@example.com": "subscribed",
        "eve@example.com": "subscribed",
    }
    assert Recipient.objects.get(email="ann@example.com").first_name == "Annie"
    assert not Recipient.objects.filter(email="dan@example.com").exists()


def test_one_chunk_mixing_every_case(make_list, monkeypatch):
    # The import itself changes nothing process-wide (the switch interval is tuned only by the
    # processes that exist for an import: the command and the worker's job).
    calls = []
    monkeypatch.setattr(sys, "setswitchinterval", calls.append)
    mixed_import(make_list)
    assert calls == []


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's write path")
def test_concurrent_writer_falls_back_to_on_conflict_statements(make_list, monkeypatch):
    """The one-statement write fails with a unique violation when another transaction added
    one of the people meanwhile; its savepoint is rolled back and the ON CONFLICT statements
    write the chunk instead, with the same result."""
    real = postgres.write_new_and_changed
    calls = []

    def clashing(*args, **kwargs):
        calls.append(real(*args, **kwargs))  # writes, then fails: all of it must roll back
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(postgres, "write_new_and_changed", clashing)
    mixed_import(make_list)
    assert calls


def test_bad_list_slug_is_refused_before_anything_is_stored():
    with pytest.raises(Exception, match="not a valid list slug"):
        run(GOOD, slug="Not A Slug")
    assert not Recipient.objects.exists()


def test_large_file_is_imported_in_chunks():
    rows = "".join(f"user{i}@example.com,N{i}\n" for i in range(12_345))
    summary, _ = run("email,first_name\n" + rows)
    assert summary.created == 12_345
    assert Subscription.objects.count() == 12_345
    assert len(set(Recipient.objects.values_list("unsubscribe_token", flat=True))) == 12_345


# --- the management command ------------------------------------------------------------------


def write(tmp_path: Path, text: str | bytes, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def test_command_prints_summary_and_progress_and_writes_the_report(tmp_path, capsys):
    path = write(tmp_path, GOOD + "broken,,,,\n")
    out, err = io.StringIO(), io.StringIO()
    call_command("import_recipients", str(path), "--list", "news", stdout=out)
    captured = capsys.readouterr()
    assert "2 created, 0 updated, 0 unchanged, 1 rejected" in out.getvalue()
    assert "Importing" in captured.err and "100%" in captured.err  # the tqdm bar
    report = tmp_path / "people.csv.rejected.csv"
    assert report.exists()
    assert "not a valid email address" in report.read_text()
    assert ImportRun.objects.get().rejected == 1
    del err


def test_command_shortens_the_switch_interval_while_it_imports_then_restores_it(
    tmp_path, monkeypatch
):
    seen = []
    real = command.recipients_import

    def spy(**kwargs):
        seen.append(sys.getswitchinterval())
        return real(**kwargs)

    monkeypatch.setattr(command, "recipients_import", spy)
    before = sys.getswitchinterval()
    call_command("import_recipients", str(write(tmp_path, GOOD)), "--list", "news", "--no-progress")
    assert seen == [min(before, SWITCH_INTERVAL)]
    assert sys.getswitchinterval() == before


def test_command_custom_report_path_and_no_report_when_clean(tmp_path):
    path = write(tmp_path, GOOD)
    call_command(
        "import_recipients",
        str(path),
        "--list",
        "news",
        "--report",
        str(tmp_path / "r.csv"),
        "--no-progress",
        stdout=io.StringIO(),
    )
    assert not (tmp_path / "r.csv").exists()


def test_command_fails_for_unusable_file_and_stores_nothing(tmp_path):
    path = write(tmp_path, "name\nAnn\n")
    with pytest.raises(CommandError, match=r"No email column.*Nothing was imported"):
        call_command("import_recipients", str(path), "--list", "news", "--no-progress")
    assert not List.objects.exists()


def test_command_fails_for_missing_file(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        call_command("import_recipients", str(tmp_path / "nope.csv"), "--list", "news")
