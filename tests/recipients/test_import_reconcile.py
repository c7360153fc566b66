"""An admin import whose job was lost (Redis flushed) is queued again by the reconciler; one
whose worker died is failed with the reason, nothing imported."""

from datetime import timedelta

import django_rq
import pytest
from django.utils import timezone

from queueing.reconciler import reconcile
from recipients.imports import reconcile as imports_reconcile
from recipients.imports.runs import JOB_TIMEOUT
from recipients.models import ImportRun, ImportUpload, Recipient
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db(transaction=True)

CSV = b"email,first_name\nada@example.com,Ada\nbob@example.com,Bob\n"


def queued_run(*, enqueued_ago: float | None) -> ImportRun:
    now = timezone.now()
    run = ImportRun.objects.create(
        list_slug="newsletter",
        filename="people.csv",
        source="admin",
        status=ImportRun.Status.QUEUED,
        size=len(CSV),
        expected_rows=2,
        enqueued_at=None if enqueued_ago is None else now - timedelta(seconds=enqueued_ago),
    )
    ImportUpload.objects.create(run=run, data=CSV)
    return run


def bulk_jobs() -> int:
    return django_rq.get_queue("bulk").count


def test_a_run_waiting_too_long_gets_a_job_again_and_is_imported():
    fresh = queued_run(enqueued_ago=10)
    stale = queued_run(enqueued_ago=imports_reconcile.REQUEUE_AFTER_SECONDS + 5)
    report = reconcile()
    assert report.steps["imports_requeued"] == 1
    assert bulk_jobs() == 1
    stale.refresh_from_db()
    assert stale.enqueued_at > timezone.now() - timedelta(seconds=5)
    # The next pass leaves it alone: its new job is waiting.
    assert imports_reconcile.import_runs_reconcile()["imports_requeued"] == 0
    run_worker_burst()
    stale.refresh_from_db()
    assert stale.status == ImportRun.Status.DONE and stale.created == 2
    assert Recipient.objects.count() == 2
    fresh.refresh_from_db()
    assert fresh.status == ImportRun.Status.QUEUED  # its own job may still be coming


def test_a_second_job_for_the_same_run_does_nothing():
    run = queued_run(enqueued_ago=imports_reconcile.REQUEUE_AFTER_SECONDS + 5)
    imports_reconcile.import_runs_reconcile()
    run.refresh_from_db()
    run.enqueued_at -= timedelta(seconds=imports_reconcile.REQUEUE_AFTER_SECONDS + 5)
    run.save(update_fields=["enqueued_at"])
    imports_reconcile.import_runs_reconcile()
    assert bulk_jobs() == 2
    run_worker_burst()
    run.refresh_from_db()
    assert run.status == ImportRun.Status.DONE and run.created == 2


def test_a_run_whose_worker_died_is_failed_with_the_reason():
    run = queued_run(enqueued_ago=60)
    ImportRun.objects.filter(pk=run.pk).update(
        status=ImportRun.Status.RUNNING,
        started_at=timezone.now() - timedelta(seconds=JOB_TIMEOUT + 120),
    )
    running = queued_run(enqueued_ago=60)
    ImportRun.objects.filter(pk=running.pk).update(
        status=ImportRun.Status.RUNNING, started_at=timezone.now()
    )
    assert imports_reconcile.import_runs_reconcile()["imports_lost"] == 1
    run.refresh_from_db()
    assert run.status == ImportRun.Status.FAILED
    assert "nothing was imported" in run.error
    assert not ImportUpload.objects.filter(run=run).exists()
    running.refresh_from_db()
    assert running.status == ImportRun.Status.RUNNING
