"""Process-wide tuning for the processes that exist for an import.

While the parsing thread reads ahead (recipients.imports.read_ahead), the writing thread needs
the GIL back each time the database answers, and the parsing thread hands it over only every
switch interval (5 ms by default): with ~30 answers and COPY blocks per chunk that was ~0.5 s
of a 100,000-row import spent waiting. A shorter interval fixes that, but it is a setting of
the whole interpreter: it is made only by the worker's import job (recipients.jobs) and the
`import_recipients` command, never in the web process, whose other requests it would slow.
"""

import sys
from collections.abc import Iterator
from contextlib import contextmanager

SWITCH_INTERVAL = 0.0005  # seconds


@contextmanager
def short_switch_interval() -> Iterator[None]:
    """The interpreter's switch interval at most SWITCH_INTERVAL inside, restored after."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, SWITCH_INTERVAL))
    try:
        yield
    finally:
        sys.setswitchinterval(before)
