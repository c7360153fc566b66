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


def policy(
    *,
    older_than: timedelta | None = None,
    delete: bool | None = None,
    delete_older_than: timedelta | None = None,
    now: datetime | None = None,
) -> PurgePolicy:
    """The cut-offs: the settings' unless a command gives its own. Deleting younger rows than
    MAILHUB_PURGE_DELETE_AFTER allows, or rows younger than those it blanks, is refused
    (FilterError): the setting is the floor a person at the command line cannot go under."""
    now = now or timezone.now()
    blank_age = older_than or setting_age("MAILHUB_PURGE_AFTER")
    if blank_age is None:
        raise FilterError("MAILHUB_PURGE_AFTER is empty: give --older-than (e.g. 90d).")
    floor = setting_age("MAILHUB_PURGE_DELETE_AFTER")
    delete_age = None
    if delete is None:  # the periodic run: as the settings say
        delete_age = floor
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
    return PurgePolicy(
        blank_before=now - blank_age,
        delete_before=now - delete_age if delete_age else None,
        webhook_events_before=now - webhook_age,
        batch_size=max(1, int(settings.MAILHUB_PURGE_BATCH_SIZE)),
        pause_seconds=max(0.0, float(settings.MAILHUB_PURGE_PAUSE_SECONDS)),
    )
