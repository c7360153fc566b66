"""`scheduled_at` as the HTTP API accepts it: ISO 8601 with a zone, or a few plain forms.

Accepted (case-insensitive; listed in docs/API.md):
- ISO 8601 with a zone: `2026-08-05T11:52:01Z`, `2026-08-05T11:52:01.858+02:00`;
- `now`;
- `in N unit`, or `in a(n) unit`: unit is second(s), minute(s), min(s), hour(s), day(s),
  week(s) (`in 1 hour`, `in 30 minutes`, `in an hour`);
- `today at T`, `tomorrow at T`: T is `9am`, `9:30am`, `9 pm`, `17:00` or `noon`, in the
  server's TIME_ZONE.
Anything else is refused with a message that lists the forms. No Django models.
"""

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings

FORMS_HINT = (
    "Use ISO 8601 with a time zone (2026-08-05T11:52:01Z), or one of: `now`, `in 1 hour`, "
    "`in 30 minutes`, `in 2 days`, `today at 5pm`, `tomorrow at 9am`, `tomorrow at 17:30`."
)
_UNITS = {
    "second": "seconds",
    "sec": "seconds",
    "minute": "minutes",
    "min": "minutes",
    "hour": "hours",
    "day": "days",
    "week": "weeks",
}
_RELATIVE = re.compile(r"in\s+(\d{1,6}|an?)\s+(second|sec|minute|min|hour|day|week)s?")
_DAY_AT = re.compile(r"(today|tomorrow)\s+at\s+(noon|(\d{1,2})(?::(\d{2}))?\s*(am|pm)?)")


class ScheduleError(ValueError):
    """The text is not a form this module reads; the message says what is accepted."""


def parse_scheduled_at(text: str, now: datetime) -> datetime:
    """The moment `text` names, as an aware datetime; raises ScheduleError."""
    value = " ".join(text.strip().lower().split())
    if value == "now":
        return now
    if match := _RELATIVE.fullmatch(value):
        amount = 1 if match.group(1) in ("a", "an") else int(match.group(1))
        try:
            return now + timedelta(**{_UNITS[match.group(2)]: amount})
        except OverflowError:
            raise ScheduleError(f"`{text.strip()}` is too far in the future.") from None
    if match := _DAY_AT.fullmatch(value):
        return _day_at(match, now)
    return _iso(text.strip())


def _day_at(match: re.Match, now: datetime) -> datetime:
    day, _, hour_text, minute_text, half = match.groups()
    if match.group(2) == "noon":
        hour, minute = 12, 0
    else:
        hour, minute = int(hour_text), int(minute_text or 0)
        if half:
            if not 1 <= hour <= 12:
                raise ScheduleError(f"`{match.group(0)}`: with am/pm the hour is 1 to 12.")
            hour = hour % 12 + (12 if half == "pm" else 0)
        if hour > 23 or minute > 59:
            raise ScheduleError(f"`{match.group(0)}` is not a time of day.")
    zone = ZoneInfo(settings.TIME_ZONE)
    local = now.astimezone(zone).date() + timedelta(days=1 if day == "tomorrow" else 0)
    return datetime.combine(local, time(hour, minute), tzinfo=zone)


def _iso(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ScheduleError(f"`{text}` is not a date mailhub understands. {FORMS_HINT}") from None
    if moment.tzinfo is None:
        raise ScheduleError(f"`{text}` has no time zone: add one, e.g. Z or +02:00.")
    return moment
