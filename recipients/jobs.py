"""RQ entry points: an ImportRun id in, a service call out."""

from recipients.imports.service import import_run_execute
from recipients.imports.tuning import short_switch_interval


def import_recipients(import_run_id: int) -> dict:
    # The job's process exists for this import, so the interpreter may be tuned for it.
    with short_switch_interval():
        return import_run_execute(run_id=import_run_id)
