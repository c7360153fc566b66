"""The plain forms of scheduled_at, one by one (docs/API.md lists the same)."""

from datetime import UTC, datetime, timedelta

import pytest

from queueing.scheduled_at import ScheduleError, parse_scheduled_at

NOW = datetime(2026, 3, 10, 15, 20, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("now", NOW),
        ("in 1 hour", NOW + timedelta(hours=1)),
        ("In 30 Minutes", NOW + timedelta(minutes=30)),
        ("in an hour", NOW + timedelta(hours=1)),
        ("in 2 days", NOW + timedelta(days=2)),
        ("in 45 secs", NOW + timedelta(seconds=45)),
        ("in 1 week", NOW + timedelta(weeks=1)),
        ("tomorrow at 9am", datetime(2026, 3, 11, 9, 0, tzinfo=UTC)),
        ("tomorrow at 9:30 pm", datetime(2026, 3, 11, 21, 30, tzinfo=UTC)),
        ("today at 17:45", datetime(2026, 3, 10, 17, 45, tzinfo=UTC)),
        ("today at noon", datetime(2026, 3, 10, 12, 0, tzinfo=UTC)),
        ("tomorrow at 12am", datetime(2026, 3, 11, 0, 0, tzinfo=UTC)),
        ("2026-08-05T11:52:01Z", datetime(2026, 8, 5, 11, 52, 1, tzinfo=UTC)),
        ("2026-08-05T11:52:01.858+02:00", datetime(2026, 8, 5, 9, 52, 1, 858000, tzinfo=UTC)),
    ],
)
def test_accepted_forms(text, expected, settings):
    settings.TIME_ZONE = "UTC"
    assert parse_scheduled_at(text, NOW) == expected


def test_day_forms_use_the_servers_time_zone(settings):
    settings.TIME_ZONE = "Europe/Paris"
    assert parse_scheduled_at("tomorrow at 9am", NOW) == datetime(2026, 3, 11, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "someday",
        "in hour",
        "tomorrow at 25:00",
        "today at 13pm",
        "2026-08-05T11:52:01",
        "in -1 hour",
        "",
    ],
)
def test_refused_forms(text):
    with pytest.raises(ScheduleError):
        parse_scheduled_at(text, NOW)
