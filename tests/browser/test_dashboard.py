"""The dashboard in a real browser: live numbers as a real worker sends, a retry from the page,
a viewer without controls, and screenshots at 1280 px, light and dark (var/screenshots/)."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone
from rq import Worker

from campaigns.models import Campaign
from campaigns.services.statistics import daily_stats_add
from queueing.connection import get_redis
from queueing.live_rates import live_rates_add
from queueing.models import BatchStatus, FailureCode, Message, MessageStatus, SendBatch
from queueing.services import message_create
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
WIDTH = 1280


@pytest.fixture(autouse=True)
def quick_refresh(settings):
    settings.MAILHUB_DASHBOARD_REFRESH_SECONDS = 0.5


def sign_in(browser, live_server, django_user_model, *, role: str | None = None, dark=False):
    if role is None:
        django_user_model.objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
        username = "staff"
    else:
        user = django_user_model.objects.create_user(role, password="s3cret-pass", is_staff=True)
        user.groups.add(Group.objects.get(name=role))
        username = role
    context = browser.new_context(
        viewport={"width": WIDTH, "height": 900},
        color_scheme="dark" if dark else "light",
        timezone_id="Europe/Paris",
    )
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "s3cret-pass")
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return context, page


def figure(page, key: str) -> str:
    return page.inner_text(f'[data-figure="{key}"] .mh-value')


def failed(subject: str) -> Message:
    message = message_create(to=["broken@example.com"], subject=subject, text="Hi")
    Message.objects.filter(pk=message.pk).update(
        status=MessageStatus.FAILED,
        failure_code=FailureCode.REJECTED,
        last_error="422 validation_error: the `to` field is invalid",
    )
    return message


def sending_campaign() -> Campaign:
    return Campaign.objects.create(
        name="Autumn newsletter",
        status=Campaign.Status.SENDING,
        audience_size=2400,
        queued=2400,
        sent=1130,
        failed=4,
        started_at=timezone.now() - timedelta(minutes=7),
    )


def test_live_numbers_change_as_a_real_worker_sends(
    browser, live_server, django_user_model, start_worker
):
    context, page = sign_in(browser, live_server, django_user_model)
    try:
        assert figure(page, "sent-hour") == "0"
        loaded = int(page.get_attribute("#content-main", "data-loaded"))
        # Queued before any worker runs: the backlog shows them.
        for n in range(6):
            message_create(to=[f"person{n}@example.com"], subject=f"Hello {n}", text="Hi")
        page.wait_for_function(
            "document.querySelector('[data-figure=\"queued-transactional\"] .mh-value')"
            ".textContent === '6'",
            timeout=10_000,
        )
        start_worker()
        # The worker sends them; the page follows without a reload.
        page.wait_for_function(
            "document.querySelector('[data-figure=\"sent-hour\"] .mh-value').textContent === '6'",
            timeout=30_000,
        )
        assert figure(page, "queued-transactional") == "0"
        assert figure(page, "sent-today") == "6"
        assert int(page.get_attribute("#content-main", "data-loaded")) > loaded + 1
        page.wait_for_selector("[data-worker]", timeout=15_000)
        assert page.locator("#mh-chart svg rect.mh-bar-sent").count() == 60
    finally:
        context.close()


def test_retry_a_failed_message_from_the_dashboard(browser, live_server, django_user_model):
    message = failed("Rejected once")
    context, page = sign_in(browser, live_server, django_user_model)
    try:
        row = page.locator(f'#mh-failures tr[data-message="{message.pk}"]')
        row.locator("input[data-action=retry]").click()
        page.wait_for_selector("#mh-notice:not([hidden])")
        assert "queued again" in page.inner_text("#mh-notice")
        assert wait_until(
            lambda: Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED, 5
        )
        # Gone from the latest failures once the page refreshed.
        page.wait_for_selector(f'#mh-failures tr[data-message="{message.pk}"]', state="detached")
    finally:
        context.close()


def test_pause_and_resume_sending_from_the_dashboard(browser, live_server, django_user_model):
    context, page = sign_in(browser, live_server, django_user_model)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.fill("#mh-sending input[name=reason]", "DNS change at 14:00")
        page.click("input[data-action=pause-sending]")
        page.wait_for_selector('[data-pause-source="operator"]')
        assert "DNS change at 14:00" in page.inner_text("#mh-sending")
        page.click("input[data-action=resume-sending]")
        page.wait_for_selector('[data-pause-source="operator"]', state="detached")
    finally:
        context.close()


def test_a_pause_reason_typed_slowly_survives_the_refreshes(
    browser, live_server, django_user_model
):
    """The page refreshes every few seconds; a manager typing why sending stops keeps the
    text and the focus across two refreshes, then pauses."""
    context, page = sign_in(browser, live_server, django_user_model)
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        reason = page.locator("#mh-sending input[name=reason]")
        reason.click()
        page.keyboard.type("DNS ")
        loaded = int(page.get_attribute("#content-main", "data-loaded"))
        page.wait_for_function(
            f"Number(document.querySelector('#content-main').dataset.loaded) >= {loaded + 2}",
            timeout=15_000,
        )
        page.keyboard.type("change")
        assert reason.input_value() == "DNS change"
        page.click("input[data-action=pause-sending]")
        page.wait_for_selector('[data-pause-source="operator"]')
        assert "DNS change" in page.inner_text("#mh-sending")
    finally:
        context.close()


def test_a_viewer_sees_no_controls(browser, live_server, django_user_model):
    failed("Rejected")
    campaign = sending_campaign()
    context, page = sign_in(browser, live_server, django_user_model, role="viewer")
    try:
        page.wait_for_selector(f'tr[data-campaign="{campaign.pk}"]')
        page.wait_for_selector("#mh-failures tr[data-message]")
        assert page.locator("#content-main input[type=submit]").count() == 0
        assert page.locator("#content-main [data-action]").count() == 0
        assert "Autumn newsletter" in page.inner_text("#mh-campaigns")
        # The admin's shared badge and local time (queueing/badges.py, local_time.js).
        row = page.locator(f'tr[data-campaign="{campaign.pk}"]')
        assert row.locator(".mh-badge.mh-badge--progress").inner_text() == "sending"
        assert page.locator("#mh-failures time.mh-time[data-local]").count() >= 1
    finally:
        context.close()


@pytest.mark.parametrize("dark", [False, True], ids=["light", "dark"])
def test_screenshots(browser, live_server, django_user_model, dark):
    """The dashboard with a campaign in flight, failures and a pause, at 1280 px."""
    sending_campaign()
    failed("Your invoice for November")
    failed("Password reset")
    for n in range(3):
        message_create(to=[f"queued{n}@example.com"], subject="Waiting", text="Hi")
    now = timezone.now()
    hour = {"sent": 0, "failed": 0}
    for back in range(60):
        minute = {"sent": 40 + (back * 37) % 90, "failed": 3 if back % 11 == 0 else 0}
        live_rates_add(minute, at=now - timedelta(minutes=back))
        hour = {k: hour[k] + minute[k] for k in hour}
    daily_stats_add(day=timezone.localdate(), counts={"sent": hour["sent"] + 1200, "failed": 31})
    worker = Worker(["transactional", "events", "bulk"], connection=get_redis(), name="web-1.4711")
    worker.register_birth()
    worker.set_state("busy")
    worker.heartbeat()
    SendBatch.objects.create(
        idempotency_key="shot",
        priority="bulk",
        status=BatchStatus.SENDING,
        size=100,
        claimed_by=worker.name,
        lease_expires_at=now + timedelta(seconds=50),
    )
    context, page = sign_in(browser, live_server, django_user_model, dark=dark)
    try:
        page.wait_for_selector("tr[data-campaign]")
        page.wait_for_selector("tr[data-worker]")
        overflow = page.evaluate("document.documentElement.scrollWidth")
        assert overflow <= WIDTH, f"the page is {overflow} px wide at {WIDTH} px"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = f"dashboard-{'dark' if dark else 'light'}.png"
        page.screenshot(path=str(SCREENSHOTS / name), full_page=True)
    finally:
        context.close()
        worker.register_death()
