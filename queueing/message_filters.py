"""The filters of the bulk commands (requeue_messages, cancel_messages) and the ages of the
purge: one parser, so `90m`, `24h`, `7d` and ISO dates mean the same everywhere.

Errors are `FilterError` (a ValueError) with a sentence for people; the commands turn it into
a CommandError."""

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from queueing.models import FailureCode, Message, MessageStatus

_DURATION = re.compile(r"(\d{1,6})([mhdw])")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
ERROR_CONTAINS_MAX = 200


class FilterError(ValueError):
    """An option a person gave that cannot be used, with why and what to write instead."""


def parse_duration(value: str, option: str) -> timedelta:
    """`90m`, `24h`, `7d` or `2w` (a positive whole number and a unit) as a timedelta."""
    match = _DURATION.fullmatch((value or "").strip().lower())
    if not match or int(match.group(1)) == 0:
        raise FilterError(
            f"{option} {value!r} is not a duration: write a positive whole number and a unit, "
            "m (minutes), h (hours), d (days) or w (weeks), e.g. 90m, 24h, 7d."
        )
    return timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})


def parse_since(value: str, option: str = "--since", now: datetime | None = None) -> datetime:
    """A duration back from now (`24h`) or an ISO date or date and time (`2026-01-31`,
    `2026-01-31T12:00+00:00`; without an offset, read in TIME_ZONE)."""
    now = now or timezone.now()
    text = (value or "").strip()
    if _DURATION.fullmatch(text.lower()):
        return now - parse_duration(text, option)
    try:
        when = parse_datetime(text)
        if when is None and (day := parse_date(text)) is not None:
            when = datetime(day.year, day.month, day.day)
    except ValueError:  # well-formed but impossible, e.g. 2026-02-30
        when = None
    if when is None:
        raise FilterError(
            f"{option} {value!r} is neither a duration (90m, 24h, 7d) nor an ISO date or time "
            "(2026-01-31, 2026-01-31T12:00+00:00)."
        )
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > now:
        raise FilterError(f"{option} {value!r} is in the future.")
    return when


@dataclass(frozen=True)
class MessageFilter:
    """Which messages a bulk command acts on. Always one or more statuses; the rest narrow."""

    statuses: tuple[str, ...]
    campaign_id: int | None = None
    since: datetime | None = None
    failure_codes: tuple[str, ...] = field(default_factory=tuple)
    error_contains: str = ""

    def queryset(self) -> QuerySet[Message]:
        rows = Message.objects.filter(status__in=self.statuses)
        if self.campaign_id is not None:
            rows = rows.filter(campaign_id=self.campaign_id)
        if self.since is not None:
            rows = rows.filter(created_at__gte=self.since)
        if self.failure_codes:
            rows = rows.filter(failure_code__in=self.failure_codes)
        if self.error_contains:
            rows = rows.filter(Q(last_error__icontains=self.error_contains))
        return rows.order_by()

    def describe(self) -> str:
        """The filter in words, for the command's first line and the audit entry."""
        parts = [f"status {' or '.join(self.statuses)}"]
        if self.campaign_id is not None:
            parts.append(f"campaign {self.campaign_id}")
        if self.since is not None:
            parts.append(f"created since {self.since.isoformat(timespec='seconds')}")
        if self.failure_codes:
            parts.append(f"failure code {' or '.join(self.failure_codes)}")
        if self.error_contains:
            parts.append(f"error containing {self.error_contains!r}")
        return ", ".join(parts)

    def as_detail(self) -> dict[str, object]:
        return {
            "statuses": list(self.statuses),
            "campaign": self.campaign_id,
            "since": self.since.isoformat() if self.since else None,
            "failure_codes": list(self.failure_codes),
            "error_contains": self.error_contains,
        }


def build_filter(
    *,
    statuses: list[str] | None,
    allowed: tuple[str, ...],
    campaign: int | None = None,
    since: str | None = None,
    failure_codes: list[str] | None = None,
    error_contains: str | None = None,
) -> MessageFilter:
    """Check the options of a bulk command and make its filter. `allowed`: the statuses this
    command can act on (the first ones are the default)."""
    chosen = tuple(dict.fromkeys(statuses or allowed))
    for status in chosen:
        if status not in allowed:
            known = " (not a status)" if status not in MessageStatus.values else ""
            raise FilterError(
                f"--status {status!r}{known}: this command acts only on {', '.join(allowed)}."
            )
    codes = tuple(dict.fromkeys(failure_codes or ()))
    for code in codes:
        if code not in FailureCode.values:
            raise FilterError(
                f"--failure-code {code!r} is not a failure code; use one of "
                f"{', '.join(FailureCode.values)}."
            )
    if codes and MessageStatus.FAILED not in chosen:
        raise FilterError("--failure-code only narrows failed messages (--status failed).")
    if campaign is not None and campaign <= 0:
        raise FilterError(f"--campaign {campaign} is not a campaign id.")
    text = (error_contains or "").strip()
    if error_contains is not None and not text:
        raise FilterError("--error-contains needs some text.")
    if len(text) > ERROR_CONTAINS_MAX:
        raise FilterError(f"--error-contains is longer than {ERROR_CONTAINS_MAX} characters.")
    return MessageFilter(
        statuses=chosen,
        campaign_id=campaign,
        since=parse_since(since) if since is not None else None,
        failure_codes=codes,
        error_contains=text,
    )
