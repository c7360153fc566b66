"""Streaming CSV import: upsert recipients by email in bulk chunks and subscribe them to a list.

The file is read row by row (never whole), validated, and written a chunk of rows at a time.
On SQLite: one SELECT of the existing rows, one INSERT … ON CONFLICT (email) DO UPDATE for new
and changed recipients, one INSERT for new subscriptions. On PostgreSQL the chunk is copied
into a staging table and written set-based on the server (recipients.csv_import_pg). Only the
set of addresses seen so far is kept in memory (to report duplicate rows). The import adds
one "subscribed" event to the list's timeline, not one per person.

The whole import is one transaction: a file-level error (wrong encoding, not CSV, no email
column), found on any line, stores nothing. A bad row is only rejected, with its reason, in
the report. An empty cell never overwrites a stored value; unknown columns are merged into
`attributes`. Importing sends no email.
"""

import csv
import io
import json
import queue
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, TypeVar

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from tqdm import tqdm

from recipients import csv_import_pg
from recipients.bulk import db_datetime, db_json, from_db_json, insert_rows, select_in
from recipients.models import (
    ImportRun,
    List,
    Recipient,
    Source,
    Subscription,
    SubscriptionEvent,
)
from recipients.normalise import MAX_EMAIL_LENGTH, is_common_address, normalise_email
from recipients.services import list_get_or_create
from recipients.tokens import new_unsubscribe_token, new_unsubscribe_tokens

T = TypeVar("T")
SWITCH_INTERVAL = 0.0005  # seconds; see _read_ahead
CHUNK_SIZE = 5000
# PostgreSQL works set-based per chunk, so fewer, larger chunks cost less per row.
SERVER_CHUNK_SIZE = 10_000
RECIPIENT_COLUMNS = (
    "email",
    "first_name",
    "last_name",
    "external_id",
    "attributes",
    "unsubscribe_token",
    "created_at",
    "updated_at",
)
SUBSCRIPTION_COLUMNS = (
    "recipient",
    "list",
    "status",
    "source",
    "subscribed_at",
    "confirmed_at",
    "created_at",
    "updated_at",
)
SUBSCRIBED = Subscription.Status.SUBSCRIBED.value
IMPORT = Source.IMPORT.value
# Header spellings (after lower-casing, and " " and "-" → "_") mapped to Recipient fields.
FIELD_ALIASES = {
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "external_id": "external_id",
    "externalid": "external_id",
}
FIELD_MAX_LENGTH = {"first_name": 150, "last_name": 150, "external_id": 255}
# The opening bytes of files people upload by mistake instead of a CSV export.
BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive (an .xlsx or .ods spreadsheet?)",
    b"\xd0\xcf\x11\xe0": "an old Excel (.xls) or Word document",
    b"%PDF": "a PDF document",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"\x1f\x8b": "a gzip archive",
}
UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


class ImportFileError(Exception):
    """The file cannot be imported at all; nothing was stored."""


@dataclass
class ImportSummary:
    list: List
    list_created: bool = False
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    subscribed: int = 0  # newly subscribed to the list by this import
    kept_unsubscribed: int = 0  # people who had left the list: not subscribed again
    duration_seconds: float = 0.0
    import_run: ImportRun | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return (
            f"{self.rows:,} rows: {self.created:,} created, {self.updated:,} updated, "
            f"{self.unchanged:,} unchanged, {self.rejected:,} rejected; "
            f"{self.subscribed:,} newly subscribed to {self.list.slug!r}"
            + (f", {self.kept_unsubscribed:,} kept unsubscribed" if self.kept_unsubscribed else "")
            + (" (list created)" if self.list_created else "")
            + f" in {self.duration_seconds:.1f} s"
        )


@dataclass
class _Row:
    line: int
    raw: list[str]
    email: str
    fields: dict[str, str]  # non-empty first_name / last_name / external_id
    attributes: dict[str, str]


def recipients_import(
    *,
    file: BinaryIO,
    list_slug: str,
    filename: str = "",
    source: str = "command",
    created_by: AbstractBaseUser | None = None,
    report: IO[str] | None = None,
    progress: IO[str] | None = None,
    encoding: str = "utf-8-sig",
) -> ImportSummary:
    """Import a CSV file (opened in binary mode) into the list `list_slug`.

    Raises ImportFileError for an unusable file (nothing stored), ValidationError for a bad
    slug. Rejected rows go to `report` as CSV (line, reason, the row as given); `progress`
    gets a tqdm bar (by bytes read) when given."""
    started = time.monotonic()
    total = _size(file)
    bar = tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        desc="Importing",
        file=progress,
        disable=progress is None,
        mininterval=0.25,
    )
    # Rejected rows are collected here (memory, then disk past 1 MB) and handed out at the end.
    with (
        bar,
        tempfile.SpooledTemporaryFile(
            max_size=1 << 20, mode="w+", newline="", encoding="utf-8"
        ) as spool,
        transaction.atomic(),
    ):
        target, list_created = list_get_or_create(slug=list_slug)
        summary = ImportSummary(list=target, list_created=list_created)
        importer = _Importer(summary, csv.writer(spool))
        try:
            on_server = connection.vendor == "postgresql"
            size = SERVER_CHUNK_SIZE if on_server else CHUNK_SIZE
            chunks = _chunks(_rows(file, encoding, bar.update, importer), size)
            if on_server:
                for chunk, text in _read_ahead(map(importer.staged, chunks)):
                    importer.write_on_server(chunk, text)
                    bar.set_postfix_str(f"{summary.rows:,} rows", refresh=False)
            else:
                # SQLite works in this process, under the GIL: a parsing thread only competes.
                for chunk in chunks:
                    importer.write(chunk)
                    bar.set_postfix_str(f"{summary.rows:,} rows", refresh=False)
        except UnicodeDecodeError as exc:
            raise ImportFileError(_encoding_error(exc, encoding, importer.line)) from None
        except csv.Error as exc:
            raise ImportFileError(
                f"The file is not a valid CSV file (near line {importer.line}: {exc})."
            ) from None
        summary.duration_seconds = time.monotonic() - started
        spool.seek(0)
        report_text = spool.read() if summary.rejected else ""
        summary.import_run = ImportRun.objects.create(
            list=target,
            filename=(filename or getattr(file, "name", "") or "")[-255:],
            source=source,
            created=summary.created,
            updated=summary.updated,
            unchanged=summary.unchanged,
            rejected=summary.rejected,
            subscribed=summary.subscribed,
            report=report_text,
            duration_seconds=summary.duration_seconds,
            created_by=created_by if created_by and created_by.is_authenticated else None,
        )
        if summary.subscribed:
            # One line on the list's consent timeline for the whole import, not one per
            # person: the subscriptions themselves carry source "import" and subscribed_at,
            # and the import run names the file, the counts and who ran it.
            SubscriptionEvent.objects.create(
                list=target,
                email="",
                kind=SubscriptionEvent.Kind.SUBSCRIBED,
                source=IMPORT,
                detail=(
                    f"{summary.subscribed:,} recipients subscribed by import run "
                    f"#{summary.import_run.pk} ({summary.import_run.filename or 'no file name'})"
                ),
                created_by=summary.import_run.created_by,
            )
    if report is not None and report_text:
        report.write(report_text)
    return summary


class _Importer:
    """Validates rows and writes chunks; keeps the counts and the report."""

    def __init__(self, summary: ImportSummary, report: Any) -> None:
        self.summary = summary
        self.report = report
        self.line = 1
        self.header: list[str] = []
        self.columns: list[tuple[int, str, bool]] = []  # (index, field or attribute, is_field)
        self.email_index = 0
        self.seen_emails: dict[str, int] = {}  # email → first line, for duplicate rows
        self.seen_external_ids: dict[str, str] = {}  # external_id → email in this file
        self.staging = False  # PostgreSQL: the staging table exists
        self.lock = threading.Lock()

    def read_header(self, header: list[str]) -> None:
        if not header or not any(h.strip() for h in header):
            raise ImportFileError("The file is empty: the first line must be a header row.")
        self.header = header
        taken: dict[str, str] = {}
        for index, name in enumerate(header):
            label = name.strip()
            if not label:
                continue  # unnamed columns (trailing commas from spreadsheets) are ignored
            key = label.lower().replace(" ", "_").replace("-", "_")
            target = FIELD_ALIASES.get(key)
            name_taken = target or label
            if name_taken in taken:
                raise ImportFileError(
                    f"Columns {taken[name_taken]!r} and {label!r} both give {name_taken!r}; "
                    "keep one."
                )
            taken[name_taken] = label
            self.columns.append((index, target or label, target is not None))
        emails = [i for i, name, is_field in self.columns if is_field and name == "email"]
        if not emails:
            found = ", ".join(repr(h.strip()) for h in header[:10] if h.strip()) or "none"
            raise ImportFileError(
                f"No email column: the header row has {found}. Name the address column 'email'."
            )
        self.email_index = emails[0]
        # What `parse` does with each other column, worked out once for the whole file.
        self.field_columns = [
            (i, name, FIELD_MAX_LENGTH[name])
            for i, name, is_field in self.columns
            if is_field and name != "email"
        ]
        self.attribute_columns = [(i, name) for i, name, is_field in self.columns if not is_field]
        self.report.writerow(["line", "reason", *header])

    def reject(self, line: int, raw: list[str], reason: str) -> None:
        with self.lock:  # rows are parsed in one thread and written in another
            self.summary.rejected += 1
            self.report.writerow([line, reason, *raw])

    def parse(self, line: int, raw: list[str]) -> _Row | None:
        width = len(self.header)
        if len(raw) != width and not (len(raw) > width and not any(raw[width:])):
            self.reject(line, raw, f"the row has {len(raw)} fields; the header has {width}")
            return None
        value = raw[self.email_index]
        email = value.strip().lower()
        # The common shape is accepted here without a call (the first check normalise_email
        # makes, so the decision is the same); anything else goes through normalise_email.
        if len(email) > MAX_EMAIL_LENGTH or not is_common_address(email):
            try:
                email = normalise_email(value)
            except ValidationError as exc:
                self.reject(line, raw, exc.messages[0])
                return None
        first = self.seen_emails.get(email)
        if first is not None:
            self.reject(line, raw, f"duplicate of line {first} ({email})")
            return None
        fields: dict[str, str] = {}
        for index, name, limit in self.field_columns:
            if value := raw[index].strip():
                if len(value) > limit:
                    self.reject(
                        line, raw, f"{name} is {len(value)} characters; the limit is {limit}"
                    )
                    return None
                fields[name] = value
        attributes = {
            name: value for index, name in self.attribute_columns if (value := raw[index].strip())
        }
        external_id = fields.get("external_id")
        if external_id:
            owner = self.seen_external_ids.setdefault(external_id, email)
            if owner != email:
                self.reject(line, raw, f"external_id {external_id!r} is also given to {owner}")
                return None
        self.seen_emails[email] = line
        return _Row(line, raw, email, fields, attributes)

    def write(self, chunk: list[_Row]) -> None:
        """Upsert one chunk of valid rows and subscribe them (SQLite; see write_on_server)."""
        existing = {
            email: (pk, first, last, ext, from_db_json(attrs))
            for pk, email, first, last, ext, attrs in select_in(
                Recipient,
                ("id", "email", "first_name", "last_name", "external_id", "attributes"),
                "email",
                [r.email for r in chunk],
            )
        }
        external_ids = [r.fields["external_id"] for r in chunk if "external_id" in r.fields]
        owners = dict(select_in(Recipient, ("external_id", "email"), "external_id", external_ids))
        upserts: list[tuple] = []
        ids: dict[str, int | None] = {}
        now = db_datetime(timezone.now())
        for row in chunk:
            external_id = row.fields.get("external_id")
            owner = owners.get(external_id) if external_id else None
            if owner is not None and owner != row.email:
                self.reject(row.line, row.raw, f"external_id {external_id!r} belongs to {owner}")
                continue
            old = existing.get(row.email)
            if old is None:
                self.summary.created += 1
                ids[row.email] = None
                values = (
                    row.fields.get("first_name", ""),
                    row.fields.get("last_name", ""),
                    external_id,
                    row.attributes,
                )
            else:
                pk, first, last, ext, attrs = old
                ids[row.email] = pk
                values = (
                    row.fields.get("first_name", first),
                    row.fields.get("last_name", last),
                    external_id or ext,
                    {**attrs, **row.attributes},
                )
                if values == (first, last, ext, attrs):
                    self.summary.unchanged += 1
                    continue
                self.summary.updated += 1
            first_name, last_name, ext_id, attributes = values
            upserts.append(
                (
                    row.email,
                    first_name,
                    last_name,
                    ext_id,
                    db_json(attributes),
                    new_unsubscribe_token(),
                    now,
                    now,
                )
            )
        # One statement for new and changed rows. The token and created_at of an existing
        # row are not in `update`, so its unsubscribe links never change.
        insert_rows(
            Recipient,
            RECIPIENT_COLUMNS,
            upserts,
            conflict=["email"],
            update=["first_name", "last_name", "external_id", "attributes", "updated_at"],
        )
        new_emails = [email for email, pk in ids.items() if pk is None]
        if new_emails:
            ids.update(select_in(Recipient, ("email", "id"), "email", new_emails))
        self.subscribe(ids)

    def write_on_server(self, chunk: list[_Row], text: str) -> None:
        """PostgreSQL: the same as `write`, set-based on the server (see csv_import_pg);
        `text` is the chunk as `staged` made it."""
        if not self.staging:
            csv_import_pg.create_stage()
            self.staging = True
        csv_import_pg.stage(text)
        clashes = csv_import_pg.external_id_clashes()
        if clashes:
            by_line = {row.line: row for row in chunk}
            for line, external_id, owner in clashes:
                self.reject(
                    line, by_line[line].raw, f"external_id {external_id!r} belongs to {owner}"
                )
        now = timezone.now()
        try:
            with transaction.atomic():  # a savepoint
                counts = csv_import_pg.write_new_and_changed(self.summary.list, now, IMPORT)
        except IntegrityError:
            # Someone else added one of these people or subscriptions meanwhile: the slower
            # statements with ON CONFLICT take them as they are now.
            created, updated, unchanged = csv_import_pg.upsert_recipients(now)
            subscribed, kept = csv_import_pg.subscribe(self.summary.list, now, IMPORT)
        else:
            created, updated, unchanged, subscribed, kept = counts
        self.summary.created += created
        self.summary.updated += updated
        self.summary.unchanged += unchanged
        self.summary.subscribed += subscribed
        self.summary.kept_unsubscribed += kept

    @staticmethod
    def staged(chunk: list[_Row]) -> tuple[list[_Row], str]:
        """`chunk` and its rows as COPY text for the staging table (PostgreSQL). Called in
        the parsing thread: it is pure Python, and the writing thread is then left with
        nothing but the database's work."""
        tokens = new_unsubscribe_tokens(len(chunk))
        dumps = json.dumps
        text = csv_import_pg.stage_text(
            (
                row.line,
                row.email,
                row.fields.get("first_name", ""),
                row.fields.get("last_name", ""),
                row.fields.get("external_id"),
                dumps(row.attributes),
                token,
            )
            for row, token in zip(chunk, tokens, strict=True)
        )
        return chunk, text

    def subscribe(self, ids: dict[str, int | None]) -> None:
        target = self.summary.list
        statuses = dict(
            select_in(
                Subscription,
                ("recipient", "status"),
                "recipient",
                list(ids.values()),
                where=f"{connection.ops.quote_name('list_id')} = %s",
                params=[target.pk],
            )
        )
        now = timezone.now()
        at = db_datetime(now)
        # An import vouches for consent, so on a double opt-in list its rows count as confirmed.
        confirmed_at = at if target.is_double_opt_in else None
        new: list[tuple] = []
        pending: list[int] = []
        subscribed = 0
        for pk in ids.values():
            status = statuses.get(pk)
            if status == Subscription.Status.SUBSCRIBED:
                continue
            if status == Subscription.Status.UNSUBSCRIBED:
                # Leaving a list is the person's decision; a file never overrides it.
                self.summary.kept_unsubscribed += 1
                continue
            if status == Subscription.Status.PENDING:
                pending.append(pk)
            else:
                new.append((pk, target.pk, SUBSCRIBED, IMPORT, at, confirmed_at, at, at))
            subscribed += 1
        if pending:
            Subscription.objects.filter(list=target, recipient_id__in=pending).update(
                status=SUBSCRIBED,
                source=Source.IMPORT,
                subscribed_at=now,
                confirmed_at=now,
                updated_at=now,
            )
        insert_rows(Subscription, SUBSCRIPTION_COLUMNS, new, conflict=["recipient", "list"])
        self.summary.subscribed += subscribed


def _rows(
    file: BinaryIO, encoding: str, on_bytes: Callable[[int], Any], importer: _Importer
) -> Iterator[_Row]:
    """Valid rows, one at a time; rejected rows go to the report on the way."""
    buffered = io.BufferedReader(_CountingReader(file, on_bytes), buffer_size=1 << 16)
    head = buffered.peek(4096)[:4096]
    _refuse_binary(head)
    text = io.TextIOWrapper(buffered, encoding=encoding, newline="", errors="strict")
    reader = csv.reader(text, dialect=_dialect(head))
    header = next(reader, None)
    importer.read_header(header or [])
    for raw in reader:
        importer.line = reader.line_num
        if not raw or (len(raw) == 1 and not raw[0].strip()):
            continue  # blank line
        importer.summary.rows += 1
        row = importer.parse(reader.line_num, raw)
        if row is not None:
            yield row


def _chunks(rows: Iterator[_Row], size: int) -> Iterator[list[_Row]]:
    chunk: list[_Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _read_ahead(chunks: Iterator[T]) -> Iterator[T]:
    """`chunks`, parsed in a second thread while this one waits for the database to write
    the previous chunk: on two cores the CSV parsing and the database's work overlap.

    The parsing thread never touches the database; at most two parsed chunks wait in memory.
    An error in it (bad encoding, not CSV) is raised here, so the transaction rolls back; an
    error here (the database) stops it."""
    ready: queue.Queue = queue.Queue(maxsize=2)
    stop = threading.Event()
    done = object()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def parse() -> None:
        try:
            for chunk in chunks:
                if not put(chunk):
                    return
        except BaseException as exc:  # handed to the writing thread, raised there
            put(exc)
            return
        put(done)

    thread = threading.Thread(target=parse, name="csv-import-parser", daemon=True)
    # Each time the database answers, this thread needs the GIL back from the parsing one,
    # which hands it over only every switch interval (5 ms by default): with ~30 answers
    # and COPY blocks per chunk that was ~0.5 s of a 100,000-row import spent waiting.
    _short_switch_interval(True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()
        _short_switch_interval(False)


_switch = {"imports": 0, "interval": 0.0}
_switch_lock = threading.Lock()


def _short_switch_interval(on: bool) -> None:
    """Shorten the interpreter's switch interval while any import reads ahead (imports may
    run in several threads of one web process: the last to finish restores it)."""
    with _switch_lock:
        if on:
            if not _switch["imports"]:
                _switch["interval"] = sys.getswitchinterval()
                sys.setswitchinterval(min(_switch["interval"], SWITCH_INTERVAL))
            _switch["imports"] += 1
        else:
            _switch["imports"] -= 1
            if not _switch["imports"]:
                sys.setswitchinterval(_switch["interval"])


class _CountingReader(io.RawIOBase):
    """A raw stream over `file` that reports how many bytes were read (for the progress bar)."""

    def __init__(self, file: BinaryIO, on_bytes: Callable[[int], Any]) -> None:
        self.file, self.on_bytes = file, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.file.read(len(buffer))
        if isinstance(data, str):
            raise ImportFileError("The file must be opened in binary mode.")
        n = len(data)
        buffer[:n] = data
        self.on_bytes(n)
        return n

    def close(self) -> None:  # the caller owns the file
        pass


def _refuse_binary(head: bytes) -> None:
    if head.startswith(UTF16_BOMS):
        raise ImportFileError(
            'The file is UTF-16 (Excel\'s "Unicode Text"); save it as "CSV UTF-8" instead.'
        )
    for signature, kind in BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise ImportFileError(f"The file is not a CSV file: it is {kind}. Export it as CSV.")
    if b"\x00" in head:
        raise ImportFileError("The file is not a CSV file: it contains binary data (NUL bytes).")


def _dialect(head: bytes) -> type[csv.Dialect]:
    """Comma, semicolon (spreadsheets in many locales) or tab, whichever the header uses most."""
    first_line = head.split(b"\n", 1)[0]
    delimiter = max(b",;\t", key=first_line.count)
    dialect = csv.excel_tab if delimiter == ord("\t") else csv.excel
    if delimiter == ord(";"):

        class Semicolon(csv.excel):
            delimiter = ";"

        return Semicolon
    return dialect


def _encoding_error(exc: UnicodeDecodeError, encoding: str, line: int) -> str:
    name = "UTF-8" if encoding.replace("_", "-").lower().startswith("utf-8") else encoding
    byte = exc.object[exc.start : exc.start + 1].hex()
    return (
        f"The file is not valid {name}: byte 0x{byte} near line {line + 1} cannot be decoded. "
        'Save it as UTF-8 (Excel: "CSV UTF-8") or give its encoding (e.g. --encoding cp1252).'
    )


def _size(file: BinaryIO) -> int | None:
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    try:
        position = file.tell()
        end = file.seek(0, io.SEEK_END)
        file.seek(position)
        return end - position
    except (AttributeError, OSError, ValueError):
        return None
