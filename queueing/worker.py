"""The RQ worker class mailhub's workers run (set as RQ["WORKER_CLASS"] in settings).

It is RQ's forking worker plus one duty: between jobs, and every few seconds while idle, it
runs the reconciler (at most one pass per interval across the whole fleet, by a Redis lock).
So `manage.py rqworker transactional events bulk --with-scheduler` is all there is to run.
"""

import gc
import logging
import math
import time

from django.conf import settings
from django.db import close_old_connections, connections
from django.utils.module_loading import autodiscover_modules
from rq import SimpleWorker, Worker
from rq.exceptions import StopRequested

from queueing.provider import get_provider
from queueing.reconciler import try_reconcile
from queueing.startup import refuse_unsafe_start

# Imported here, in the worker's main process, so that every forked job process inherits the
# job code (every app's `jobs` and `rendering`, the configured provider and its SDK, mjml)
# instead of importing it again in each job: that was about 5 % of a busy worker's CPU, and
# an import in the job would fall between taking a rate-limit slot and the call. A wrong
# MAILHUB_PROVIDER stops the worker here, at its start.
autodiscover_modules("jobs", "rendering")
get_provider()

log = logging.getLogger(__name__)


class ReconcilingWorkerMixin:
    _next_reconcile_at = 0.0

    def __init__(self, *args, **kwargs) -> None:
        # `manage.py rqworker` runs the system checks first; this also stops a worker started
        # any other way (`rq worker -w ...`, --skip-checks) on unsafe production settings.
        refuse_unsafe_start("worker")
        super().__init__(*args, **kwargs)

    def work(self, *args, **kwargs) -> bool:
        # `manage.py rqworker` passes INFO (its default verbosity) and RQ sets it on its
        # loggers here, which printed four INFO lines per job; RQ_LOG_LEVEL decides instead.
        if len(args) > 1:
            args = (args[0], settings.RQ_LOG_LEVEL, *args[2:])
        else:
            kwargs["logging_level"] = settings.RQ_LOG_LEVEL
        return super().work(*args, **kwargs)

    @property
    def dequeue_timeout(self) -> int:
        # Wake up at least once per reconcile interval even when no job arrives.
        return max(1, min(super().dequeue_timeout, math.ceil(settings.MAILHUB_RECONCILE_INTERVAL)))

    @property
    def should_run_maintenance_tasks(self) -> bool:
        return super().should_run_maintenance_tasks or time.monotonic() >= self._next_reconcile_at

    def run_maintenance_tasks(self) -> None:
        if super().should_run_maintenance_tasks:
            super().run_maintenance_tasks()
        if time.monotonic() >= self._next_reconcile_at:
            self._next_reconcile_at = time.monotonic() + settings.MAILHUB_RECONCILE_INTERVAL
            self._reconcile()

    def _reconcile(self) -> None:
        close_old_connections()
        try:
            try_reconcile(owner=self.name)
        except StopRequested:
            # RQ's warm shutdown (Ctrl-C, SIGTERM) raises this from its signal handler when the
            # worker is idle, wherever it happens to be; swallowed here, the worker would go on
            # and ignore a second signal within a second (the demo's Ctrl-C then hung).
            raise
        except Exception:
            # A database restart must not kill the worker; the next pass tries again.
            log.exception("Reconciler pass failed")
        finally:
            # Job processes are forked from this one: they must not inherit an open connection.
            connections.close_all()


class MailhubWorker(ReconcilingWorkerMixin, Worker):
    """Forks a child per job (RQ's default), so a crashing job cannot take the worker down."""

    def fork_work_horse(self, job, queue) -> None:
        # Move everything the worker has built so far out of the garbage collector's reach:
        # otherwise the child's first collection writes to every inherited object and the
        # kernel copies page after page (copy-on-write), which made each job ~3x slower.
        # Collect first, so the worker's own garbage is not frozen with it.
        gc.collect()
        gc.freeze()
        super().fork_work_horse(job, queue)


class MailhubSimpleWorker(ReconcilingWorkerMixin, SimpleWorker):
    """Runs jobs in its own process: for tests and platforms without fork."""
