"""The purge's cut-offs, from the settings or a command's options."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from queueing.message_filters import FilterError, parse_duration


@dataclass(frozen=True)
class PurgePolicy:
    # Messages (and final SendBatch rows) created before this lose bodies and attachments.
    blank_before: datetime
    # Messages created before this are deleted, events and all (None: never).
    delete_before: datetime | None
    # Processed raw webhook events received before this are deleted.
    webhook_events_before: datetime
    # A message or batch first attempted since this may still be retried: left alone, however
    # old its row (a message scheduled long ago, a batch held by a pause).
    first_attempt_before: datetime
    batch_size: int
    pause_seconds: float


def setting_age(name: str) -> timedelta | None:
    """A duration setting (90d, 24h, …); empty, "0" or "never" means none."""
    value = str(getattr(settings, name) or "").strip()
    if value.lower() in ("", "0", "never"):
        return None
    try:
        return parse_duration(value, name)
    except FilterError as exc:
        raise FilterError(f"The setting {exc}") from None


# A message younger than the retry window plus this margin may still be retried (by hand or by
# the worker): blanking it would queue an empty email, and detaching it from its failed batch
# would let it go alone under its own key (a possible second copy). Hence a floor of its own.
RETRY_MARGIN = timedelta(hours=24)
MIN_MESSAGE_AGE = timedelta(hours=48)
# Resend retries a webhook for about 27.5 h (its docs: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and
# 10 h more after the first try); a processed event deleted before then would be taken as new
# when it comes again. With a margin:
MIN_WEBHOOK_AGE = timedelta(hours=48)


def min_message_age() -> timedelta:
    window = timedelta(seconds=float(settings.MAILHUB_RETRY_WINDOW_SECONDS))
    return max(MIN_MESSAGE_AGE, window + RETRY_MARGIN)


def _check_floor(age: timedelta, floor: timedelta, what: str, setting: str) -> None:
    if age < floor:
        raise FilterError(
            f"{what} ({age}) is refused: it is younger than {floor} "
            f"({setting}); a younger row may still be retried or received again."
        )


def policy(
    *,
    older_than: timedelta | None = None,
    delete: bool | None = None,
    delete_older_than: timedelta | None = None,
    now: datetime | None = None,
) -> PurgePolicy:
    """The cut-offs: the settings' unless a command gives its own. Deleting younger rows than
    MAILHUB_PURGE_DELETE_AFTER allows, or rows younger than those it blanks, is refused
    (FilterError): the setting is the floor a person at the command line cannot go under. So are
    ages under the retry window plus a day (min_message_age) and webhook ages under 48 h. The
    periodic run deletes rows only with MAILHUB_PURGE_PERIODIC_DELETE."""
    now = now or timezone.now()
    blank_age = older_than or setting_age("MAILHUB_PURGE_AFTER")
    if blank_age is None:
        raise FilterError("MAILHUB_PURGE_AFTER is empty: give --older-than (e.g. 90d).")
    message_floor = min_message_age()
    _check_floor(
        blank_age,
        message_floor,
        "--older-than" if older_than else "MAILHUB_PURGE_AFTER",
        "MAILHUB_RETRY_WINDOW_SECONDS plus a day, at least 48 h",
    )
    floor = setting_age("MAILHUB_PURGE_DELETE_AFTER")
    delete_age = None
    if delete is None:  # the periodic run: deletes only when asked to (off by default)
        delete_age = floor if settings.MAILHUB_PURGE_PERIODIC_DELETE else None
    elif delete:
        if floor is None:
            raise FilterError(
                "--delete is refused: MAILHUB_PURGE_DELETE_AFTER is empty (rows are kept)."
            )
        delete_age = delete_older_than or floor
        if delete_age < floor:
            raise FilterError(
                f"--delete is refused: rows younger than MAILHUB_PURGE_DELETE_AFTER "
                f"({settings.MAILHUB_PURGE_DELETE_AFTER}) are never deleted."
            )
    if delete_age is not None and delete_age < blank_age:
        raise FilterError(
            "--delete is refused: rows would be deleted younger than the age at which their "
            "bodies are blanked (--older-than); deleting is for the longer age."
        )
    webhook_age = setting_age("MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER") or timedelta(days=30)
    _check_floor(
        webhook_age,
        MIN_WEBHOOK_AGE,
        "MAILHUB_PURGE_WEBHOOK_EVENTS_AFTER",
        "Resend retries a webhook for about 27.5 h; at least 48 h",
    )
    return PurgePolicy(
        blank_before=now - blank_age,
        delete_before=now - delete_age if delete_age else None,
        webhook_events_before=now - webhook_age,
        first_attempt_before=now - message_floor,
        batch_size=max(1, int(settings.MAILHUB_PURGE_BATCH_SIZE)),
        pause_seconds=max(0.0, float(settings.MAILHUB_PURGE_PAUSE_SECONDS)),
    )
