"""Importing a CSV file of recipients into a list, and the worker's side of a queued import.

`recipients_import` streams the file (recipients.imports.reader), validates each row
(.rows), writes chunks through the database's writer (.writers) and records the run (.runs).
Memory stays the size of a few chunks however long the file: the addresses seen so far (to
report duplicate rows) are kept in a scratch SQLite file (.repeats). The import adds one
"subscribed" event to the list's timeline, not one per person.

The whole import is one transaction: a file-level error (wrong encoding, not CSV, no email
column), found on any line, stores nothing. A bad row is only rejected, with its reason, in
the report. An empty cell never overwrites a stored value; unknown columns are merged into
`attributes`. Importing sends no email.

It changes nothing process-wide: the callers that exist for an import (the worker's job, the
command) tune the interpreter for it (recipients.imports.tuning).
"""

import time
from collections.abc import Iterator
from typing import IO, Any, BinaryIO

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from recipients.exceptions import ImportFileError
from recipients.imports.progress import Progress, StoredProgress
from recipients.imports.read_ahead import read_ahead
from recipients.imports.reader import CsvReader, file_size
from recipients.imports.repeats import Repeats
from recipients.imports.report import Rejections
from recipients.imports.rows import Row, RowParser, chunks
from recipients.imports.runs import (
    import_run_claim,
    import_run_fail,
    import_run_record,
    import_run_upload,
)
from recipients.imports.summary import ImportSummary
from recipients.imports.writers import writer_for_database
from recipients.models import ImportRun, Source, SubscriptionEvent
from recipients.services import list_get_or_create
from recipients.timeline import event_record


def recipients_import(
    *,
    file: BinaryIO,
    list_slug: str,
    filename: str = "",
    source: str = "command",
    created_by: AbstractBaseUser | None = None,
    report: IO[str] | None = None,
    progress: Progress | None = None,
    encoding: str = "utf-8-sig",
    run: ImportRun | None = None,
) -> ImportSummary:
    """Import a CSV file (opened in binary mode) into the list `list_slug`.

    Raises ImportFileError for an unusable file (nothing stored), ValidationError for a bad
    slug, LookupError for an unknown encoding. Rejected rows go to `report` as CSV (line,
    reason, the row as given); progress goes to `progress`. The run is recorded as a new
    ImportRun, or into `run` (a claimed run of the admin's, finished with it)."""
    started = time.monotonic()
    progress = progress or Progress()
    progress.start(file_size(file))
    try:
        with transaction.atomic():
            target, list_created = list_get_or_create(slug=list_slug)
            summary = ImportSummary(list=target, list_created=list_created)
            with Rejections(summary) as rejections:
                _write_rows(file, encoding, summary, rejections, progress)
                report_text = rejections.text()
                summary.first_rejections = sorted(rejections.first)
            summary.duration_seconds = time.monotonic() - started
            summary.import_run = import_run_record(
                run=run,
                summary=summary,
                filename=filename or getattr(file, "name", "") or "",
                source=source,
                created_by=created_by,
                report=report_text,
            )
            if summary.subscribed:
                # One line on the list's consent timeline for the whole import, not one per
                # person: the subscriptions themselves carry source "import" and
                # subscribed_at, and the import run names the file, the counts and who ran it.
                event_record(
                    kind=SubscriptionEvent.Kind.SUBSCRIBED,
                    email="",
                    list=target,
                    source=Source.IMPORT,
                    detail=(
                        f"{summary.subscribed:,} recipients subscribed by import run "
                        f"#{summary.import_run.pk} "
                        f"({summary.import_run.filename or 'no file name'})"
                    ),
                    created_by=summary.import_run.created_by,
                )
    finally:
        progress.close()
    if report is not None and report_text:
        report.write(report_text)
    return summary


def _write_rows(
    file: BinaryIO,
    encoding: str,
    summary: ImportSummary,
    rejections: Rejections,
    progress: Progress,
) -> None:
    def reject_record(line: int, raw: list[str], reason: str) -> None:
        # A record the reader refuses (it spans lines) is a row of the file all the same.
        summary.rows += 1
        rejections.parsed(line, raw, reason)

    reader = CsvReader(file, encoding, on_bytes=progress.read, reject=reject_record)
    parser = RowParser(reject=rejections.parsed)
    header = reader.header()
    header_lines = reader.line
    parser.read_header(header)
    rejections.start(header)
    writer = writer_for_database(summary.list, summary, rejections.written)

    def valid_rows() -> Iterator[Row]:
        for line, raw in reader:
            summary.rows += 1
            row = parser.parse(line, raw)
            if row is not None:
                yield row

    with Repeats(reject=rejections.repeated) as repeats:
        # Each chunk goes with its last line, so that progress counts the lines written, not
        # the ones read (which run up to a few chunks ahead). The repeats are found in the
        # parsing thread, with everything else that precedes the database's work.
        prepared = (
            (chunk[-1].line, writer.prepare(chunk))
            for chunk in chunks(repeats.claimed(valid_rows()), writer.chunk_size)
        )
        items = read_ahead(prepared) if writer.read_ahead else prepared
        try:
            for last_line, item in items:
                writer.write(item)
                progress.written(last_line - header_lines)
            writer.finish()
        finally:
            items.close()  # the parsing thread is done with the scratch file before it closes


def import_run_execute(*, run_id: int) -> dict[str, Any]:
    """Import a queued run's upload (the worker's job): claims the run, imports, finishes it.
    Returns the counts, or what happened instead; a file the import refuses fails the run
    with the reason, and an unexpected error fails it too before it is raised."""
    run = import_run_claim(run_id=run_id)
    if run is None:
        return {"skipped": "not queued"}
    upload = import_run_upload(run=run)
    if upload is None:
        error = "The uploaded file is gone; nothing was imported. Upload it again."
        import_run_fail(run_id=run_id, error=error)
        return {"failed": error}
    try:
        summary = recipients_import(
            file=upload,
            list_slug=run.list_slug,
            filename=run.filename,
            source=run.source,
            created_by=run.created_by,
            progress=StoredProgress(run_id),
            encoding=run.encoding,
            run=run,
        )
    except ImportFileError as exc:
        error = f"{exc} Nothing was imported."
    except ValidationError as exc:
        error = " ".join(exc.messages)
    except LookupError:
        error = f"Unknown encoding {run.encoding!r}; nothing was imported."
    except Exception as exc:
        import_run_fail(
            run_id=run_id,
            error=f"The import stopped with an unexpected error ({type(exc).__name__}); "
            "nothing was imported.",
        )
        raise
    else:
        return {"created": summary.created, "updated": summary.updated, "rows": summary.rows}
    import_run_fail(run_id=run_id, error=error)
    return {"failed": error}
