"""Issue 11, addresses, sizes and ranges, through the real doors: the `send_email` command,
the admin compose page, the service, a real worker and the Resend sandbox.

Each table row of the issue is kept as its own test (#3, #3b, #12 in its three cases), and
so is the compose form's sentence (`"Doe, John" <john@example.com>` refused, and an error
naming only the first word of a bad input).
"""

import html
import io
import tracemalloc
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.utils import timezone

from queueing.models import Message, MessageStatus
from queueing.services import AttachmentInput, message_create
from queueing.validation import max_message_bytes
from recipients.models import Suppression

pytestmark = pytest.mark.django_db(transaction=True)

COMPOSE = "/admin/queueing/message/compose/"


def run(*args: str) -> Message:
    out = io.StringIO()
    call_command("send_email", *args, stdout=out)
    return Message.objects.get(pk=int(out.getvalue().strip().splitlines()[-1]))


def refused(*args: str) -> str:
    with pytest.raises(CommandError) as info:
        run(*args)
    assert Message.objects.count() == 0
    return str(info.value)


# --- #3: a quoted name hides nothing from the suppression list ---


@pytest.mark.parametrize(
    "to", ['"Bob, Jr" <bob@example.com>', '"nobody@example.org, Bob" <bob@example.com>']
)
def test_row_3_a_quoted_name_is_kept_and_the_suppression_list_sees_bob(to, sandbox, deliver_all):
    Suppression.objects.create(email="bob@example.com", reason=Suppression.Reason.HARD_BOUNCE)
    message = run("--to", to, "--subject", "Hi", "--text", "x")
    assert message.to == [to]  # stored with its quotes, one recipient
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SUPPRESSED
    assert "bob@example.com" in message.last_error
    assert sandbox.emails() == []


def test_row_3_an_unsuppressed_quoted_name_reaches_resend_quoted(sandbox, deliver_all):
    to = '"Carol \\"CJ\\", Jr" <carol@example.com>'
    message = run("--to", to, "--subject", "Hi", "--text", "x")
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT
    (email,) = sandbox.emails()
    assert email["request"]["to"] == [to]


# --- #3b: the allowed-sender check reads the address, not the name ---


def test_row_3b_a_sender_domain_in_the_name_does_not_pass_the_check(settings):
    settings.MAILHUB_ALLOWED_SENDER_DOMAINS = ["example.com"]
    base = ("--to", "a@example.com", "--subject", "Hi", "--text", "x")
    error = refused(*base, "--from", '"mailhub@example.com, x" <ceo@bank.com>')
    assert "Sender domain 'bank.com' is not allowed" in error
    assert "is not allowed" in refused(*base, "--from", "ceo@bank.com")
    message = run(*base, "--from", '"ceo@bank.com, x" <mailhub@example.com>')
    assert message.from_email == '"ceo@bank.com, x" <mailhub@example.com>'


# --- #12: send_email's three cases ---


@pytest.mark.parametrize(
    "at", ["9999-12-31T23:00-05:00", "0001-01-01T00:00+05:00", "9999-12-31T23:59"]
)
def test_row_12_a_date_out_of_range_is_a_clear_error(at):
    error = refused("--to", "a@example.com", "--subject", "x", "--text", "y", "--at", at)
    assert "out of range" in error or "days ahead" in error
    assert "Traceback" not in error


def test_row_12_two_addresses_in_one_to_are_two_recipients():
    message = run("--to", "a@example.com, b@example.com", "--subject", "x", "--text", "y")
    assert message.to == ["a@example.com", "b@example.com"]


def test_row_12_a_bad_address_in_a_list_is_refused_naming_the_whole_value():
    error = refused("--to", "a@example.com, b@", "--subject", "x", "--text", "y")
    assert "'a@example.com, b@'" in error


def test_row_12_a_60_mb_html_file_is_refused_unread(tmp_path):
    page = tmp_path / "huge.html"
    with page.open("wb") as file:
        file.truncate(60_000_000)  # sparse: 60 MB as far as anyone can tell, no disk used
    tracemalloc.start()
    try:
        error = refused("--to", "a@example.com", "--subject", "x", "--html-file", str(page))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "60,000,000 bytes" in error and "40,000,000" in error
    assert peak < 5_000_000  # the file was never read into memory


def test_text_file_is_read_and_checked_like_html_file(tmp_path, settings):
    settings.MAILHUB_MAX_MESSAGE_BYTES = 100
    notes = tmp_path / "notes.txt"
    notes.write_text("hello", encoding="utf-8")
    message = run("--to", "a@example.com", "--subject", "x", "--text-file", str(notes))
    assert message.text == "hello"
    notes.write_text("x" * 101, encoding="utf-8")
    Message.objects.all().delete()
    error = refused("--to", "a@example.com", "--subject", "x", "--text-file", str(notes))
    assert "101 bytes" in error and "at most 100 bytes" in error


def test_a_time_without_an_offset_is_read_in_time_zone(settings):
    settings.TIME_ZONE = "America/New_York"
    local = (timezone.now() + timedelta(days=2)).astimezone(ZoneInfo("America/New_York"))
    naive = local.replace(tzinfo=None, second=0, microsecond=0)
    message = run(
        "--to", "a@example.com", "--subject", "x", "--text", "y", "--at", naive.isoformat()
    )
    assert message.scheduled_at == naive.replace(tzinfo=ZoneInfo("America/New_York"))


def test_a_schedule_beyond_the_horizon_is_refused(settings):
    settings.MAILHUB_MAX_SCHEDULE_DAYS = 30
    at = (timezone.now() + timedelta(days=31)).isoformat()
    error = refused("--to", "a@example.com", "--subject", "x", "--text", "y", "--at", at)
    assert "more than 30 days ahead (MAILHUB_MAX_SCHEDULE_DAYS)" in error
    at = (timezone.now() + timedelta(days=29)).isoformat()
    message = run("--to", "a@example.com", "--subject", "x", "--text", "y", "--at", at)
    assert message.status == MessageStatus.SCHEDULED


# --- item 7: a message over the size limit is refused when created ---


def test_a_message_over_the_size_limit_is_refused_with_both_numbers(settings):
    settings.MAILHUB_MAX_MESSAGE_BYTES = 1000
    with pytest.raises(ValidationError) as info:
        message_create(to="a@example.com", subject="x", html="é" * 501)  # 1,002 bytes
    assert "1,002 bytes" in str(info.value) and "limit is 1,000 bytes" in str(info.value)
    # Attachments count after base64: 747 bytes are 996 once encoded, 750 are 1,000.
    ok = AttachmentInput("a.bin", b"x" * 747)
    assert message_create(to="a@example.com", subject="x", html="abcd", attachments=[ok])
    with pytest.raises(ValidationError, match="1,001 bytes"):
        message_create(
            to="a@example.com",
            subject="x",
            html="a",
            attachments=[AttachmentInput("a.bin", b"x" * 750)],
        )
    assert Message.objects.count() == 1


def test_the_size_limit_never_exceeds_resends(settings):
    settings.MAILHUB_MAX_MESSAGE_BYTES = 10**10
    assert max_message_bytes() == 40_000_000


def test_the_service_refuses_an_item_holding_two_addresses():
    with pytest.raises(ValidationError) as info:
        message_create(to=["a@example.com, b@example.com"], subject="x", text="y")
    assert "holds 2 addresses (a@example.com, b@example.com)" in str(info.value)
    assert Message.objects.count() == 0


# --- the compose form: every address the command takes, errors naming the whole input ---


@pytest.fixture
def staff(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("staff", "s@example.com", "pw"))
    return client


def compose(client, **fields):
    data = {"from_email": "mailhub@example.com", "subject": "Hi", "text": "x"}
    data.update(priority="transactional", **fields)
    return client.post(COMPOSE, data)


def test_compose_accepts_a_quoted_name_with_a_comma(staff):
    response = compose(
        staff, to='"Doe, John" <john@example.com>', cc="a@example.com, b@example.com"
    )
    assert response.status_code == 302
    message = Message.objects.get()
    assert message.to == ['"Doe, John" <john@example.com>']
    assert message.cc == ["a@example.com", "b@example.com"]


def test_compose_accepts_what_the_command_accepts(staff):
    typed = '"Bob, Jr" <bob@example.com>, J. Doe <j@example.com>\nZoë <zoe@example.com>'
    assert compose(staff, to=typed).status_code == 302
    from_command = run("--to", typed.replace("\n", ", "), "--subject", "Hi", "--text", "x")
    from_form = Message.objects.exclude(pk=from_command.pk).get()
    assert (
        from_form.to
        == from_command.to
        == [
            '"Bob, Jr" <bob@example.com>',
            '"J. Doe" <j@example.com>',
            "Zoë <zoe@example.com>",
        ]
    )


@pytest.mark.parametrize(
    "typed",
    ["Doe, John <john@example.com>", "not an address at all", "a@example.com, b@"],
)
def test_compose_error_names_the_whole_bad_input(staff, typed):
    response = compose(staff, to=typed)
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert repr(typed) in page
    assert Message.objects.count() == 0


def test_compose_refuses_attachments_too_large_by_their_size(staff, settings):
    settings.MAILHUB_MAX_MESSAGE_BYTES = 1000
    upload = SimpleUploadedFile("big.bin", b"x" * 751)  # 1,004 bytes after base64
    response = compose(staff, to="a@example.com", attachments=upload)
    assert response.status_code == 200
    assert "1,004 bytes after base64" in html.unescape(response.content.decode())
    assert Message.objects.count() == 0


def test_compose_schedule_out_of_range_is_a_clear_error(staff):
    response = compose(staff, to="a@example.com", scheduled_at="9999-12-31T23:00")
    assert response.status_code == 200
    page = html.unescape(response.content.decode())
    assert "days ahead (MAILHUB_MAX_SCHEDULE_DAYS)" in page
    assert Message.objects.count() == 0


def test_compose_schedule_is_read_in_time_zone(staff, settings):
    settings.TIME_ZONE = "Europe/Paris"
    local = (timezone.now() + timedelta(days=1)).astimezone(ZoneInfo("Europe/Paris"))
    typed = local.strftime("%Y-%m-%dT%H:%M")
    assert compose(staff, to="a@example.com", scheduled_at=typed).status_code == 302
    expected = datetime.strptime(typed, "%Y-%m-%dT%H:%M").replace(tzinfo=ZoneInfo("Europe/Paris"))
    assert Message.objects.get().scheduled_at == expected
