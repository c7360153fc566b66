"""The imports' step of every reconciler pass (registered in RecipientsConfig.ready).

- A run still queued long after its job was put on the queue may have lost that job (Redis
  flushed or restarted): a job is queued again. A second job for a run does nothing.
- A run still "running" after the job's time limit lost its worker (killed, or stopped by
  RQ's timeout). The import is one transaction, so nothing of it was stored: the run is failed
  with a reason that says so, and its upload deleted.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from recipients.imports.runs import JOB_TIMEOUT, import_run_enqueue, import_run_fail
from recipients.models import ImportRun

REQUEUE_AFTER_SECONDS = 300
WORKER_LOST = (
    "The worker running this import stopped before it finished (killed, or over its time "
    "limit); nothing was imported. Upload the file again."
)
Status = ImportRun.Status


def import_runs_reconcile() -> dict[str, int]:
    now = timezone.now()
    waiting = ImportRun.objects.filter(status=Status.QUEUED).filter(
        Q(enqueued_at__lt=now - timedelta(seconds=REQUEUE_AFTER_SECONDS))
        | Q(enqueued_at__isnull=True, created_at__lt=now - timedelta(seconds=REQUEUE_AFTER_SECONDS))
    )
    requeued = sum(
        import_run_enqueue(run_id=pk) for pk in waiting.values_list("pk", flat=True)[:20]
    )
    lost = list(
        ImportRun.objects.filter(
            status=Status.RUNNING, started_at__lt=now - timedelta(seconds=JOB_TIMEOUT + 60)
        ).values_list("pk", flat=True)[:20]
    )
    for pk in lost:
        import_run_fail(run_id=pk, error=WORKER_LOST)
    return {"imports_requeued": requeued, "imports_lost": len(lost)}
