"""Composing an email in the admin, in a real browser, through to the sandbox."""

import os

import pytest

from queueing.models import Message, MessageStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_compose_queues_a_message_that_the_worker_sends(
    admin_page, live_server, sandbox, deliver_all
):
    page = admin_page
    page.goto(f"{live_server.url}/admin/queueing/message/")
    page.click("text=Compose email")
    page.fill("#id_to", "Ada Lovelace <ada@example.com>\nbob@example.com")
    page.fill("#id_subject", "Hello from the admin")
    page.fill("#id_html", "<p>Hi there</p>")
    page.click("input[name=_send]")
    page.wait_for_selector(".messagelist .success")
    assert "queued" in page.inner_text(".messagelist")

    message = Message.objects.get()
    assert message.to == ["Ada Lovelace <ada@example.com>", "bob@example.com"]
    assert message.source == "admin" and message.created_by.username == "staff"
    deliver_all()
    message.refresh_from_db()
    assert message.status == MessageStatus.SENT

    page.reload()
    assert "Sent" in page.inner_text(".field-status_badge")
    assert "accepted by Resend" in page.inner_text("body")
    page.screenshot(
        path=os.environ.get("SCREENSHOT_DIR", "/tmp") + "/admin-message.png", full_page=True
    )


def test_compose_shows_errors_and_stores_nothing(admin_page, live_server):
    page = admin_page
    page.goto(f"{live_server.url}/admin/queueing/message/compose/")
    page.fill("#id_to", "not-an-address")
    page.fill("#id_subject", "Broken")
    page.click("input[name=_send]")
    errors = page.inner_text(".errorlist")
    assert "not a valid address" in errors
    page.fill("#id_to", "ok@example.com")
    page.click("input[name=_send]")
    assert "no body" in page.inner_text(".errorlist")
    assert Message.objects.count() == 0
