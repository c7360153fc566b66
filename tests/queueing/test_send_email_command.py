"""`manage.py send_email`: every choice a flag, the id on the last line, clear errors."""

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from queueing.models import Message, MessageStatus

pytestmark = pytest.mark.django_db(transaction=True)


def run(*args: str) -> list[str]:
    out = io.StringIO()
    call_command("send_email", *args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_prints_the_new_message_id_alone_on_the_last_line():
    lines = run(
        "--to", "a@example.com", "--to", "B <b@example.com>", "--subject", "Hi", "--text", "x"
    )
    message = Message.objects.get()
    assert lines[-1] == str(message.pk)
    assert message.to == ["a@example.com", "B <b@example.com>"]
    assert message.source == "command" and message.status == MessageStatus.QUEUED


def test_html_file_priority_and_schedule(tmp_path):
    page = tmp_path / "mail.html"
    page.write_text("<h1>Digest</h1>", encoding="utf-8")
    lines = run(
        "--to",
        "a@example.com",
        "--subject",
        "Digest",
        "--html-file",
        str(page),
        "--priority",
        "bulk",
        "--at",
        (timezone.now() + timedelta(days=30)).isoformat(timespec="minutes"),
        "--from",
        "News <news@example.com>",
    )
    message = Message.objects.get(pk=int(lines[-1]))
    assert message.html == "<h1>Digest</h1>"
    assert message.priority == "bulk" and message.status == MessageStatus.SCHEDULED
    assert message.from_email == "News <news@example.com>"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--to", "nope", "--subject", "x", "--text", "y"], "to: 'nope' is not a valid address"),
        (["--to", "a@example.com", "--subject", "a\nb", "--text", "y"], "line break"),
        (
            ["--to", "a@example.com", "--subject", "x", "--text", "y", "--at", "tomorrow"],
            "not an ISO 8601 time",
        ),
        (
            [
                "--to",
                "a@example.com",
                "--subject",
                "x",
                "--text",
                "y",
                "--at",
                "2001-01-01T00:00+00:00",
            ],
            "in the past",
        ),
        (
            ["--to", "a@example.com", "--subject", "x", "--html-file", "/no/such/file.html"],
            "no such file",
        ),
        (["--to", "a@example.com", "--subject", "x", "--text", ""], "no body"),
    ],
)
def test_bad_input_is_a_clear_error_and_stores_nothing(args, fragment):
    with pytest.raises(CommandError, match=None) as info:
        run(*args)
    assert fragment in str(info.value)
    assert Message.objects.count() == 0


def test_a_body_is_required_by_the_parser():
    with pytest.raises(
        CommandError, match="one of the arguments --html --text --html-file --text-file is required"
    ):
        run("--to", "a@example.com", "--subject", "x")
