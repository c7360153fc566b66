"""ImportRun bookkeeping: queue an upload for a worker, claim it, record how a run ended.

The admin's import page does not import: it stores the upload in the database (where a worker
on any machine can read it, up to MAILHUB_IMPORT_MAX_BYTES), records a "queued" ImportRun and,
once that is committed, enqueues a job on the "bulk" queue (recipients.jobs). The worker claims
the run (queued → running, a conditional update: a second job for it does nothing), imports,
and finishes it with the counts ("done") or the reason ("failed"); either way the upload is
deleted with that last write.

If Redis cannot be reached when the job is enqueued, the run is failed at once with a reason
that says so, and its upload deleted: the person who uploaded sees the error, nothing was
imported, and no run is left waiting for a job that does not exist.
"""

import io
import logging
from functools import partial
from typing import Any, BinaryIO

import django_rq
import redis
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from audit.services import audit_record
from recipients.exceptions import ImportFileError
from recipients.imports.reader import CsvReader, file_size
from recipients.imports.rows import RowParser
from recipients.imports.summary import ImportSummary
from recipients.models import ImportRun, ImportUpload, validate_list_slug

log = logging.getLogger(__name__)

IMPORT_JOB = "recipients.jobs.import_recipients"
IMPORT_QUEUE = "bulk"
JOB_TIMEOUT = 3600  # seconds; a 100,000-row import takes about ten
NOT_QUEUED = (
    "The import could not be queued: the job queue (Redis) is unreachable. Nothing was "
    "imported; upload the file again in a moment."
)
Status = ImportRun.Status


def import_submit(
    *,
    file: BinaryIO,
    filename: str,
    list_slug: str,
    encoding: str,
    created_by: AbstractBaseUser | None = None,
) -> ImportRun:
    """Queue `file` (binary) for import into `list_slug` by a worker; returns its ImportRun.

    Refuses, before storing anything, a file over MAILHUB_IMPORT_MAX_BYTES or with an unusable
    header (ImportFileError), an invalid slug (ValidationError) or an unknown encoding
    (LookupError). The run comes back "failed" (see `error`) if the job could not be queued."""
    limit = settings.MAILHUB_IMPORT_MAX_BYTES
    size = file_size(file)
    if size is not None and size > limit:
        raise _too_large(size, limit)
    data = file.read(limit + 1)
    if len(data) > limit:
        raise _too_large(len(data), limit)
    validate_list_slug(list_slug)
    _check_header(data, encoding)
    lines = data.count(b"\n") + (1 if data and not data.endswith(b"\n") else 0)
    with transaction.atomic():
        run = ImportRun.objects.create(
            list_slug=list_slug,
            filename=filename[-255:],
            source="admin",
            status=Status.QUEUED,
            encoding=encoding,
            size=len(data),
            expected_rows=max(lines - 1, 0),
            created_by=_user(created_by),
        )
        ImportUpload.objects.create(run=run, data=data)
        audit_record(
            actor=created_by,
            action="import.start",
            target=run,
            target_label=f"import of {run.filename or 'a file'} into {list_slug}",
            detail={"list": list_slug, "filename": run.filename, "size": run.size},
        )
        transaction.on_commit(partial(_enqueue, run.pk))
    run.refresh_from_db(fields=["status", "error"])
    return run


def _too_large(size: int, limit: int) -> ImportFileError:
    return ImportFileError(
        f"The file is {size / 1e6:,.1f} MB; imports from the admin take up to "
        f"{limit / 1e6:,.1f} MB (MAILHUB_IMPORT_MAX_BYTES). Split the file, or use the "
        "import_recipients command."
    )


def _check_header(data: bytes, encoding: str) -> None:
    """What is wrong with the file's opening (binary, undecodable, no email column) is said
    at once, without a worker; the rest of the file is the worker's to read."""
    reader = CsvReader(io.BytesIO(data), encoding, on_bytes=lambda n: None)
    RowParser(reject=lambda line, raw, reason: None).read_header(reader.header())


def _enqueue(run_id: int) -> None:
    if not import_run_enqueue(run_id=run_id):
        import_run_fail(run_id=run_id, error=NOT_QUEUED)


def import_run_enqueue(*, run_id: int) -> bool:
    """Put a job for this run on the queue (again); False if Redis cannot be reached. A second
    job for the same run does nothing (see import_run_claim)."""
    ImportRun.objects.filter(pk=run_id).update(enqueued_at=timezone.now())
    try:
        django_rq.get_queue(IMPORT_QUEUE).enqueue(
            IMPORT_JOB, run_id, job_timeout=JOB_TIMEOUT, result_ttl=0, failure_ttl=86400
        )
    except redis.RedisError as exc:
        log.warning("Import run #%s not queued (Redis unreachable): %s", run_id, exc)
        return False
    return True


def import_run_claim(*, run_id: int) -> ImportRun | None:
    """Take a queued run (queued → running); None if it is not queued (any more)."""
    if not ImportRun.objects.filter(pk=run_id, status=Status.QUEUED).update(
        status=Status.RUNNING, started_at=timezone.now()
    ):
        return None
    return ImportRun.objects.select_related("created_by").get(pk=run_id)


def import_run_upload(*, run: ImportRun) -> BinaryIO | None:
    """The stored file of a queued run, to read; None if it is gone."""
    data = ImportUpload.objects.filter(run=run).values_list("data", flat=True).first()
    return None if data is None else io.BytesIO(data)


def import_run_record(
    *,
    run: ImportRun | None,
    summary: ImportSummary,
    filename: str,
    source: str,
    created_by: AbstractBaseUser | None,
    report: str,
) -> ImportRun:
    """Record a finished import: a new run (the command), or the claimed `run` finished, its
    upload deleted. Called inside the import's transaction, so it holds with the data."""
    fields: dict[str, Any] = {
        "list": summary.list,
        "list_slug": summary.list.slug,
        "filename": filename[-255:],
        "source": source,
        "status": Status.DONE,
        "rows": summary.rows,
        "created": summary.created,
        "updated": summary.updated,
        "unchanged": summary.unchanged,
        "rejected": summary.rejected,
        "subscribed": summary.subscribed,
        "kept_unsubscribed": summary.kept_unsubscribed,
        "list_created": summary.list_created,
        "report": report,
        "duration_seconds": summary.duration_seconds,
        "created_by": _user(created_by),
    }
    if run is None:
        return ImportRun.objects.create(**fields)
    for name, value in fields.items():
        setattr(run, name, value)
    run.save()
    ImportUpload.objects.filter(run=run).delete()
    return run


def import_run_fail(*, run_id: int, error: str) -> None:
    """Finish a run that imported nothing, with the reason; its upload is deleted."""
    with transaction.atomic():
        ImportRun.objects.filter(pk=run_id).exclude(status=Status.DONE).update(
            status=Status.FAILED, error=error
        )
        ImportUpload.objects.filter(run_id=run_id).delete()


def _user(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None
