"""The messages admin in a real Chromium at 1280 px: a composed email followed to "sent" by a
real worker through the sandbox, a retry from a message's page, what a viewer is not shown,
django-rq's pages without script errors; screenshots, light and dark, in var/screenshots/."""

from pathlib import Path

import django_rq
import pytest
import rq
from django.contrib.auth.models import Group
from django_rq.settings import get_queues_list

from queueing.models import FailureCode, Message, MessageStatus
from queueing.services import message_create

# Browser and real workers: the PostgreSQL pass (tests/conftest.py skips e2e on SQLite).
pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTH = 1280


def shoot(page, name: str) -> None:
    """Full-page screenshots of the page as it is, light and dark."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(SCREENSHOTS / f"{name}-{scheme}.png"), full_page=True)
    page.emulate_media(color_scheme="light")


def fits_the_width(page) -> None:
    """Nothing wider than the window, every column of the list in view (its box scrolls
    sideways otherwise), and no date or badge cut short."""
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    results = "document.querySelector('#changelist .results')"
    assert page.evaluate(f"{results}.scrollWidth <= {results}.clientWidth + 1")
    cut = page.evaluate(
        """() => [...document.querySelectorAll(
              '#result_list td.field-created_short,'
              + ' #result_list td.field-status_badge')]
            .filter(td => td.scrollWidth > td.clientWidth + 1).length"""
    )
    assert cut == 0


def watch_errors(page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
    page.on(
        "console",
        lambda msg: (
            errors.append(f"console {msg.type}: {msg.text}")
            if msg.type in ("error", "warning")
            else None
        ),
    )
    return errors


def test_a_composed_email_reaches_sent_on_its_page(admin_page, live_server, start_worker):
    page = admin_page
    page.set_viewport_size({"width": WIDTH, "height": 900})
    errors = watch_errors(page)
    start_worker()
    page.goto(f"{live_server.url}/admin/queueing/message/")
    page.click("text=Compose email")
    page.fill("#id_to", "Ada Lovelace <ada@example.com>\nbob@example.com")
    page.fill("#id_subject", "Hello from the admin, with a subject long enough to be cut short")
    page.fill("#id_html", "<h1>Hello</h1><p>Hi <b>there</b>, this is the HTML part.</p>")
    page.fill("#id_text", "Hi there, this is the text part.")
    page.click("input[name=_send]")
    page.wait_for_selector(".messagelist .success")
    # The page follows the worker by itself (mailhub/message_live.js): no reload here.
    page.wait_for_selector(".field-status_badge .mh-badge--success", timeout=30_000)
    assert page.inner_text(".field-status_badge").strip().endswith("Sent")
    assert Message.objects.get().status == MessageStatus.SENT
    assert "accepted by Resend" in page.inner_text("#mh-timeline")
    frame = page.frame_locator("iframe.mh-preview")
    assert frame.locator("h1").inner_text() == "Hello"
    assert page.get_attribute("iframe.mh-preview", "sandbox") == ""
    page.click("#mh-source summary")
    assert "<h1>Hello</h1>" in page.inner_text("#mh-source pre")
    # Times were rewritten into the browser's zone.
    assert page.locator("time.mh-time[data-local]").count() > 0
    shoot(page, "message-page")

    for i in range(12):
        message_create(to=[f"person{i}@example.com"], subject=f"Reminder {i} " * 8, text="x")
    page.goto(f"{live_server.url}/admin/queueing/message/")
    fits_the_width(page)
    shoot(page, "message-list")
    assert errors == []


def test_a_failed_message_is_retried_from_its_page(admin_page, live_server, start_worker):
    message = message_create(to=["retry@example.com"], subject="Try again", text="x")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED, failure_code=FailureCode.ATTEMPTS_EXHAUSTED
    )
    page = admin_page
    errors = watch_errors(page)
    page.goto(f"{live_server.url}/admin/queueing/message/{message.pk}/change/")
    assert "Failed" in page.inner_text(".field-status_badge")
    start_worker()
    page.click("#mh-retry")
    page.wait_for_selector(".messagelist .success")
    assert "queued again" in page.inner_text(".messagelist")
    page.wait_for_selector(".field-status_badge .mh-badge--success", timeout=30_000)
    assert "retried by hand by staff" in page.inner_text("#mh-timeline")
    assert errors == []


def test_a_viewer_sees_no_retry_cancel_or_send_controls(browser, live_server, django_user_model):
    failed = message_create(to=["f@example.com"], subject="Failed", text="x")
    Message.objects.filter(pk=failed.pk).update(
        status=MessageStatus.FAILED, failure_code=FailureCode.REJECTED
    )
    queued = message_create(to=["q@example.com"], subject="Queued", text="x")
    user = django_user_model.objects.create_user("vera", password="s3cret-pass", is_staff=True)
    user.groups.add(Group.objects.get(name="viewer"))
    context = browser.new_context(viewport={"width": WIDTH, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "vera")
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    page.goto(f"{live_server.url}/admin/queueing/message/")
    assert page.locator("text=Compose email").count() == 0
    assert page.locator("select[name=action]").count() == 0
    for message in (failed, queued):
        page.goto(f"{live_server.url}/admin/queueing/message/{message.pk}/change/")
        assert page.locator("#mh-retry, #mh-cancel, #mh-send-again").count() == 0
        assert page.locator("input[type=submit]").count() == 0
    # A hand-made POST is refused and changes nothing.
    response = page.request.post(
        f"{live_server.url}/admin/queueing/message/{failed.pk}/retry/",
        headers={"X-CSRFToken": context.cookies()[0]["value"] if context.cookies() else ""},
    )
    assert response.status in (403,)
    assert Message.objects.get(pk=failed.pk).status == MessageStatus.FAILED
    context.close()


def test_django_rq_pages_run_without_script_errors(admin_page, live_server):
    queue = rq.Queue("transactional", connection=django_rq.get_connection("transactional"))
    queue.enqueue("queueing.jobs.drain_queue", "transactional")
    index = [q["name"] for q in get_queues_list()].index("transactional")
    page = admin_page
    errors = watch_errors(page)
    for path in ("", f"workers/{index}/", f"queues/{index}/", f"queues/{index}/finished/"):
        page.goto(f"{live_server.url}/admin/rq/{path}")
        page.wait_for_load_state("load")
    # The jobs list's action checkboxes work (Django's actions.js set them up).
    page.goto(f"{live_server.url}/admin/rq/queues/{index}/")
    page.check("tr input.action-select")
    assert page.locator("tr.selected").count() == 1  # actions.js marks the row
    assert "1 of 1 selected" in page.inner_text("span.action-counter")
    page.goto(f"{live_server.url}/admin/rq/workers/{index}/")
    page.wait_for_load_state("load")
    page.wait_for_timeout(300)  # a ready handler's error arrives just after load
    assert errors == []
