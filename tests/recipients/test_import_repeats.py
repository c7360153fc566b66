"""CSV import: rows that repeat an earlier line, found a batch at a time in a scratch database.

What earlier batches claimed is kept in a scratch SQLite file, not in the process, so these
tests run the same file with batches and chunks of every size, from one row up: the
rejections, their reasons and the report must not depend on where batches or chunks end."""

import csv
import io
import sqlite3

import pytest

from recipients.exceptions import ImportFileError
from recipients.imports import repeats
from recipients.imports.postgres import PostgresWriter
from recipients.imports.service import recipients_import
from recipients.imports.sqlite import SqliteWriter
from recipients.models import Recipient, Subscription

pytestmark = pytest.mark.django_db

LONG = "x" * 151
FILE = (
    "email,first_name,external_id\n"
    "ann@example.com,Ann,x-1\n"  # 2: claims ann and x-1
    "bob@example.com,Bob,x-2\n"  # 3
    "cat@example.com,Cat,\n"  # 4
    "ANN@Example.com,Again,\n"  # 5: duplicate of 2
    "dan@example.com,Dan,x-1\n"  # 6: x-1 is ann's; dan claims nothing
    "dan@example.com,Dan,x-4\n"  # 7: so this is no duplicate, and claims dan
    f"eve@example.com,{LONG},\n"  # 8: too long; claims nothing
    "eve@example.com,Eve,\n"  # 9: claims eve
    "not-an-address,Bad,\n"  # 10: rejected while parsing
    "Dan@example.com,,\n"  # 11: duplicate of 7
    f"bob@example.com,{LONG},\n"  # 12: duplicate of 3 (the repeat is named first)
    "fay@example.com,Fay,x-2\n"  # 13: x-2 is bob's
    "bob@example.com,Bob,\n"  # 14: duplicate of 3
    "gus@example.com,Gus,own-1\n"  # 15: own-1 belongs to someone in the database
    "GUS@example.com,Gus,\n"  # 16: duplicate of 15 (which claimed gus all the same)
    "hal@example.com,Hal,\n"  # 17
)
REJECTED = [
    ["5", "duplicate of line 2 (ann@example.com)"],
    ["6", "external_id 'x-1' is also given to ann@example.com"],
    ["8", "first_name is 151 characters; the limit is 150"],
    ["10", "'not-an-address' is not a valid email address."],
    ["11", "duplicate of line 7 (dan@example.com)"],
    ["12", "duplicate of line 3 (bob@example.com)"],
    ["13", "external_id 'x-2' is also given to bob@example.com"],
    ["14", "duplicate of line 3 (bob@example.com)"],
    ["15", "external_id 'own-1' belongs to owner@example.com"],
    ["16", "duplicate of line 15 (gus@example.com)"],
]
IMPORTED = {
    "ann@example.com",
    "bob@example.com",
    "cat@example.com",
    "dan@example.com",
    "eve@example.com",
    "hal@example.com",
}


def run(text: str) -> tuple:
    report = io.StringIO()
    summary = recipients_import(file=io.BytesIO(text.encode()), list_slug="news", report=report)
    return summary, list(csv.reader(io.StringIO(report.getvalue())))


@pytest.fixture(
    params=[(1, 1), (2, 3), (3, 2), (4, 7), (7, 4), (None, 1), (None, None)],
    ids=lambda sizes: "batch={}-chunk={}".format(*(n or "default" for n in sizes)),
)
def chunk_size(request, monkeypatch):
    """The repeats' batch size and the writers' chunk size, small enough that repeats span
    batches, and batches and chunks end in different places."""
    batch, chunk = request.param
    if batch:
        monkeypatch.setattr(repeats, "BATCH", batch)
    if chunk:
        monkeypatch.setattr(SqliteWriter, "chunk_size", chunk)
        monkeypatch.setattr(PostgresWriter, "chunk_size", chunk)
    return request.param


@pytest.fixture
def owner(db) -> Recipient:
    return Recipient.objects.create(email="owner@example.com", external_id="own-1")


def test_repeats_name_the_line_that_first_gave_them_whatever_the_chunks(chunk_size, owner):
    summary, report = run(FILE)
    assert report[0] == ["line", "reason", "email", "first_name", "external_id"]
    assert [row[:2] for row in report[1:]] == REJECTED  # in line order
    assert report[6][2:] == ["bob@example.com", LONG, ""]  # the row as given
    assert (summary.rows, summary.created, summary.rejected) == (16, 6, 10)
    assert set(Recipient.objects.exclude(pk=owner.pk).values_list("email", flat=True)) == IMPORTED
    assert Recipient.objects.get(email="dan@example.com").external_id == "x-4"
    assert summary.first_rejections == [(int(line), reason) for line, reason in REJECTED]


def test_reimport_reports_the_same_repeats_and_changes_nothing(chunk_size, owner):
    run(FILE)
    summary, report = run(FILE)  # the same transaction: the seen table starts empty again
    assert [row[:2] for row in report[1:]] == REJECTED
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 6)
    assert Subscription.objects.filter(status="subscribed").count() == 6


def test_reimport_of_a_changed_file_repeats_against_this_file_only(chunk_size, owner):
    """A second file's lines are its own: an address the first file gave is no repeat, and a
    repeat in the second names the second file's line."""
    run(FILE)
    summary, report = run(
        "email,first_name\ncat@example.com,Kat\nzoe@example.com,Zoe\nCAT@example.com,Cat\n"
    )
    assert [row[:2] for row in report[1:]] == [["4", "duplicate of line 2 (cat@example.com)"]]
    assert (summary.created, summary.updated, summary.rejected) == (1, 1, 1)
    assert Recipient.objects.get(email="cat@example.com").first_name == "Kat"


def test_repeats_across_many_chunks_of_the_default_size():
    """Every address twice, the second time one chunk and a half later: thousands of repeats
    each found in the database, not in the chunk being written."""
    count = 12_000
    lines = [f"user{i}@example.com,N{i},e-{i}\n" for i in range(count)]
    again = [f"USER{i}@example.com,M{i},\n" for i in range(0, count, 3)]
    summary, report = run("email,first_name,external_id\n" + "".join(lines + again))
    assert (summary.created, summary.rejected) == (count, len(again))
    assert report[1][:2] == ["12002", "duplicate of line 2 (user0@example.com)"]
    assert report[-1][:2] == [
        str(count + 1 + len(again)),
        f"duplicate of line {count - 1} (user{count - 3}@example.com)",
    ]
    assert [int(row[0]) for row in report[1:]] == list(range(count + 2, count + 2 + len(again)))


def test_the_scratch_database_is_closed_after_the_import(monkeypatch):
    closed = []
    real_exit = repeats.Repeats.__exit__

    def exit_and_check(self, *exc):
        real_exit(self, *exc)
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            self._db.execute("SELECT 1")
        closed.append(True)

    monkeypatch.setattr(repeats.Repeats, "__exit__", exit_and_check)
    run(FILE)
    assert closed == [True]


def test_the_scratch_database_is_closed_when_the_import_fails(monkeypatch):
    """A file error deep in the file, after rows were claimed: nothing is stored, and the
    scratch database is closed all the same."""
    closed = []
    real_exit = repeats.Repeats.__exit__
    monkeypatch.setattr(repeats, "BATCH", 2)

    def exit_and_record(self, *exc):
        real_exit(self, *exc)
        closed.append(exc[0])

    monkeypatch.setattr(repeats.Repeats, "__exit__", exit_and_record)
    # Far enough into the file (past the reader's buffers) that rows were claimed first.
    many = "".join(f"p{i}@example.com,P,\n" for i in range(10_000)).encode()
    data = FILE.encode() + many + b"late@example.com,\xff\xfe,\n"
    with pytest.raises(ImportFileError, match=r"not UTF-8|decode|byte"):
        recipients_import(file=io.BytesIO(data), list_slug="news")
    assert closed == [ImportFileError]
    assert not Recipient.objects.exists()
