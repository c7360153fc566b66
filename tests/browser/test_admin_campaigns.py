# ruff: noqa: F811 (fixtures imported from tests/campaigns/conftest.py are used as arguments)
"""Campaigns in the admin, in a real browser, sent by a real worker to the sandbox: create and
send one and watch its progress bar reach 100 % without reloading; pause and resume; a
viewer sees no controls. Screenshots at 1280 px, light and dark, go to var/screenshots/."""

from pathlib import Path

import pytest
from django.contrib.auth.models import Group

from campaigns.models import Campaign
from campaigns.services import campaign_send
from queueing.resend.webhook_signing import new_secret
from tests.campaigns.conftest import make_campaign, make_list, subscribe, template  # noqa: F401
from tests.conftest import ROOT, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SCREENSHOTS = ROOT / "var" / "screenshots"
VIEWPORT = {"width": 1280, "height": 900}
# Set on the page once; still there later only if the page was never loaded again.
MARK = "window.__notReloaded = true"
NOT_RELOADED = "window.__notReloaded === true"


def screenshots(page, name: str, schemes: tuple[str, ...] = ("light", "dark")) -> list[Path]:
    """The page at 1280 px in the light and the dark colour scheme."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    paths = []
    for scheme in schemes:
        page.emulate_media(color_scheme=scheme)
        path = SCREENSHOTS / f"{name}-{scheme}.png"
        page.screenshot(path=str(path), full_page=True)
        paths.append(path)
    page.emulate_media(color_scheme="light")
    return paths


def log_in(browser, live_server, username: str, password: str):
    # A viewer far from the server's UTC: the page shows times in the viewer's zone.
    context = browser.new_context(viewport=VIEWPORT, timezone_id="Asia/Tokyo")
    page = context.new_page()
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"{live_server.url}/admin/")
    return page


@pytest.fixture
def staff_page(browser, live_server, django_user_model):
    django_user_model.objects.create_superuser("staff", "staff@example.com", "s3cret-pass")
    page = log_in(browser, live_server, "staff", "s3cret-pass")
    yield page
    page.context.close()


def change_url(live_server, campaign: Campaign) -> str:
    return f"{live_server.url}/admin/campaigns/campaign/{campaign.pk}/change/"


def percent(page) -> str:
    return page.get_attribute("#campaign-panel .mh-progress", "aria-valuenow")


def test_create_and_send_a_campaign_and_watch_it_reach_100(
    staff_page,
    live_server,
    sandbox,
    settings,
    start_worker,
    template,
    make_list,
    subscribe,
):
    page = staff_page
    # The sandbox plays Resend's webhooks to the live server, so the statistics fill in.
    secret = new_secret()
    settings.RESEND_WEBHOOK_SECRETS = [secret]
    sandbox.configure(
        webhook_url=f"{live_server.url}/webhooks/resend",
        webhook_secret=secret,
        webhook_mix={"delivered": 6, "opened": 3, "clicked": 1},
        webhook_delay_max=0.05,
    )
    subscribe(make_list("news"), 120)
    page.goto(f"{live_server.url}/admin/campaigns/campaign/add/")
    assert page.locator("text=Fanout cursor").count() == 0
    page.fill("#id_name", "Browser spring")
    page.select_option("#id_template", label="Newsletter")
    page.select_option("#id_lists_from", label="News")
    page.click("#id_lists_add")
    page.click("input[name=_continue]")
    page.wait_for_selector("#campaign-panel")
    assert page.inner_text("[data-field=audience]") == "120"
    screenshots(page, "campaign-draft")

    page.click("text=Send or schedule…")
    page.click("input[value='Yes, send to 120 recipients']")
    page.wait_for_selector(".messagelist .success")
    assert page.inner_text("#campaign-panel .mh-badge") == "Sending"
    assert percent(page) == "0" and page.locator("input[name=_save]").count() == 0
    page.evaluate(MARK)

    start_worker(MAILHUB_TEST_RATE_LIMIT="1")  # about one batch of 100 a second
    page.wait_for_function(
        "document.querySelector('#campaign-panel .mh-progress').getAttribute('aria-valuenow') === '100'",
        timeout=60_000,
    )
    campaign = Campaign.objects.get(name="Browser spring")
    assert wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == "sent", 30)
    # Then the page loads once more for the finished campaign: its statistics, no controls.
    page.wait_for_selector("text=From Resend's webhooks", timeout=15_000)
    assert page.inner_text("#campaign-panel .mh-badge") == "Sent"
    assert "120 of 120" in page.inner_text(".campaign-figures")
    assert page.locator(".campaign-controls button").count() == 0  # Preview, a link, only
    started = page.locator(".field-when_started time.mh-time[data-local]")
    assert "GMT+9" in started.inner_text() and "GMT+9" in started.get_attribute("title")
    # The webhooks' figures, applied by the worker, on the page.
    assert wait_until(lambda: Campaign.objects.get(pk=campaign.pk).delivered == 120, 60)
    page.reload()
    assert '<td>Delivered</td><td class="num">120</td>' in page.content()
    screenshots(page, "campaign-sent")


def test_pause_and_resume_while_the_page_follows_the_counters(
    staff_page,
    live_server,
    start_worker,
    make_campaign,
    make_list,
    subscribe,
):
    page = staff_page
    news = make_list("news")
    subscribe(news, 1200)
    campaign = make_campaign([news], name="Browser summer")
    campaign_send(campaign=campaign)
    page.goto(change_url(live_server, campaign))
    page.evaluate(MARK)
    start_worker(MAILHUB_TEST_RATE_LIMIT="1")

    # The counters move on the same page (no reload), from the progress JSON.
    page.wait_for_function(
        "Number(document.querySelector('[data-field=sent]').textContent.replace(/\\D/g, '')) > 0",
        timeout=60_000,
    )
    assert page.evaluate(NOT_RELOADED)
    assert page.inner_text("[data-field=eta]") != "—"
    # Light only: switching the colour scheme of a page that redraws itself every second
    # once hung Chromium (a CI run stopped there for minutes); the sent page has both.
    screenshots(page, "campaign-sending", schemes=("light",))

    page.click("button:text('Pause')")
    page.wait_for_selector("button:text('Resume')")
    assert page.inner_text("#campaign-panel .mh-badge") == "Paused"
    assert page.locator("button:text('Pause')").count() == 0
    # Held: the batches already frozen (the one at the provider, the one prepared beside it)
    # finish, possibly through a retry; then nothing more is sent.
    at_pause = Campaign.objects.get(pk=campaign.pk).sent
    assert wait_until(lambda: not _sent_moves(campaign, 3.0), 40)
    held = Campaign.objects.get(pk=campaign.pk).sent
    assert held <= at_pause + 200 and held < 1200

    page.click("button:text('Resume')")
    page.wait_for_selector("button:text('Pause')")
    page.wait_for_function(
        "document.querySelector('#campaign-panel .mh-progress').getAttribute('aria-valuenow') === '100'",
        timeout=90_000,
    )
    assert wait_until(lambda: Campaign.objects.get(pk=campaign.pk).status == "sent", 30)
    assert Campaign.objects.get(pk=campaign.pk).sent == 1200


def _sent_moves(campaign: Campaign, seconds: float) -> bool:
    before = Campaign.objects.get(pk=campaign.pk).sent
    wait_until(lambda: False, seconds)
    return Campaign.objects.get(pk=campaign.pk).sent != before


def test_a_viewer_sees_no_send_or_pause_controls(
    browser,
    live_server,
    django_user_model,
    make_campaign,
    make_list,
    subscribe,
):
    viewer = django_user_model.objects.create_user("vera", password="v1ewer-pass", is_staff=True)
    viewer.groups.add(Group.objects.get(name="viewer"))
    news = make_list("news")
    subscribe(news, 3)
    draft = make_campaign([news], name="Draft")
    sending = make_campaign([news], name="Going")
    campaign_send(campaign=sending)
    page = log_in(browser, live_server, "vera", "v1ewer-pass")
    try:
        page.goto(change_url(live_server, draft))
        panel = page.inner_text("#campaign-panel")
        assert "Preview" in panel
        assert "Send or schedule" not in panel and "Test send" not in panel
        assert page.locator("input[name=_save]").count() == 0
        page.goto(change_url(live_server, sending))
        assert page.locator("#campaign-panel .mh-progress").count() == 1
        for label in ("Pause", "Resume", "Cancel campaign"):
            assert page.locator(f"button:text('{label}')").count() == 0
        assert page.locator("form[id^=campaign-control]").count() == 0
    finally:
        page.context.close()
