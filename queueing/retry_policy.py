"""When a failed attempt is tried again, and when mailhub stops trying.

- A transient failure waits base·2^(n-1) seconds (capped), times a random factor in
  [0.5, 1.5) so that workers that failed together do not retry together.
- Retries stop after MAILHUB_MAX_ATTEMPTS attempts, or once the next one would fall outside
  the retry window after the first attempt: the provider keeps idempotency keys for 24 hours,
  and a retry after that could deliver a second copy.
- When the provider refuses the API key or account, every worker pauses for
  NOT_ALLOWED_PAUSE_SECONDS before one of them tries again.
"""

import random
from datetime import datetime, timedelta

from django.conf import settings

NOT_ALLOWED_PAUSE_SECONDS = 60.0


def backoff_seconds(attempts: int) -> float:
    base = settings.MAILHUB_RETRY_BASE_SECONDS * (2 ** max(attempts - 1, 0))
    return min(base, settings.MAILHUB_RETRY_MAX_SECONDS) * (0.5 + random.random())


def retry_window_passed(first_attempt_at: datetime | None, at: datetime) -> bool:
    window = timedelta(seconds=settings.MAILHUB_RETRY_WINDOW_SECONDS)
    return first_attempt_at is not None and at > first_attempt_at + window


def retry_window_start(at: datetime) -> datetime:
    """The earliest first attempt a message may have had and still be retried at `at`."""
    return at - timedelta(seconds=settings.MAILHUB_RETRY_WINDOW_SECONDS)


def expired_error() -> str:
    hours = settings.MAILHUB_RETRY_WINDOW_SECONDS / 3600
    return (
        f"not sent within {hours:.0f} h of the first attempt; the provider forgets idempotency "
        "keys after 24 h, so mailhub stops rather than risk a second copy"
    )
