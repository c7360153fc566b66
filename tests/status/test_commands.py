"""mailhub_status, pause_sending and resume_sending: output, options, bad input."""

import json
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from audit.models import AuditEntry
from campaigns.models import Campaign
from queueing.models import OperatorPause
from queueing.sending_gate import current_pause
from queueing.services import message_create

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_status_prints_readable_tables():
    message_create(to=["a@example.com"], subject="Hi", text="Hi")
    Campaign.objects.create(
        name="Autumn", status="sending", queued=100, sent=40, started_at=timezone.now()
    )
    out = run("mailhub_status")
    assert "Sending: on" in out
    backlog = out.split("Backlog\n", 1)[1].splitlines()
    assert backlog[0].split() == [
        "queued", "transactional", "queued", "bulk", "scheduled", "frozen", "batches",
        "oldest", "queued",
    ]  # fmt: skip
    assert backlog[2].split()[:4] == ["1", "0", "0", "0"]
    assert "Autumn" in out and "40" in out
    assert "Workers (0 alive)" in out


def test_status_shows_a_pause():
    call_command("pause_sending", "--reason", "DNS move", stdout=None)
    assert "SENDING PAUSED (operator, until resumed): DNS move" in run("mailhub_status")


def test_json_is_one_document():
    data = json.loads(run("mailhub_status", "--json"))
    assert data["backlog"]["queued"] == {
        "transactional": {"count": 0, "capped": False},
        "bulk": {"count": 0, "capped": False},
    }


def test_watch_refreshes_until_the_count():
    out = run("mailhub_status", "--json", "--watch", "0.01", "--count", "3")
    lines = out.strip().splitlines()
    assert len(lines) == 3
    assert all("backlog" in json.loads(line) for line in lines)
    assert run("mailhub_status", "--watch", "0.01", "--count", "2").count("Backlog") == 2


@pytest.mark.parametrize(
    "args, words",
    [
        (["--watch", "abc"], "expected a number of seconds more than 0, got 'abc'"),
        (["--watch", "0"], "expected a number of seconds more than 0"),
        (["--watch", "nan"], "expected a number of seconds more than 0"),
        (["--count", "2"], "--count goes with --watch"),
        (["--watch", "1", "--count", "0"], "--count must be at least 1"),
        (["--colour"], "unrecognized arguments"),
    ],
)
def test_status_bad_options(args, words):
    with pytest.raises(CommandError, match=words):
        call_command("mailhub_status", *args)


def test_pause_for_minutes_then_resume():
    out = run("pause_sending", "--reason", "Provider maintenance", "--minutes", "30")
    assert out.startswith("Sending paused until ")
    pause = OperatorPause.objects.get()
    left = pause.until - timezone.now()
    assert timedelta(minutes=29) < left <= timedelta(minutes=30)
    assert current_pause().reason == "Provider maintenance"
    assert run("resume_sending").strip() == "Sending resumed."
    assert current_pause() is None
    assert OperatorPause.objects.get().lifted_at is not None
    assert run("resume_sending").strip() == "Sending was not paused."


def test_a_new_pause_replaces_the_old_one():
    run("pause_sending", "--reason", "first")
    run("pause_sending", "--reason", "second")
    assert list(OperatorPause.objects.filter(lifted_at__isnull=True).values_list("reason")) == [
        ("second",)
    ]


@pytest.mark.parametrize(
    "args, words",
    [
        ([], "the following arguments are required: --reason"),
        (["--reason", "  "], "--reason may not be empty"),
        (["--reason", "x", "--minutes", "0"], "--minutes must be more than 0"),
        (["--reason", "x", "--minutes", "-5"], "--minutes must be more than 0"),
        (["--reason", "x", "--minutes", "inf"], "--minutes must be more than 0"),
        (["--reason", "x", "--minutes", "soon"], "invalid float value: 'soon'"),
        (["--reason", "x", "--by", "nobody"], "No active user named 'nobody'"),
    ],
)
def test_pause_bad_options_store_nothing(args, words):
    with pytest.raises(CommandError, match=words):
        call_command("pause_sending", *args)
    assert not OperatorPause.objects.exists()


def test_by_names_the_person_in_the_audit_log(django_user_model):
    manager = django_user_model.objects.create_user("ops", is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    viewer = django_user_model.objects.create_user("looker", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    with pytest.raises(CommandError, match="looker may not pause or resume sending"):
        call_command("pause_sending", "--reason", "x", "--by", "looker")
    run("pause_sending", "--reason", "DNS", "--by", "ops")
    run("resume_sending", "--by", "ops")
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "actor__username"))
    assert entries == [("sending.pause", "ops"), ("sending.resume", "ops")]
    assert OperatorPause.objects.get().created_by == manager
