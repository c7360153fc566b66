"""`manage.py demo_setup` seeds what the demo shows, with a real worker sending to the
sandbox, and running it twice adds nothing."""

import io

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from campaigns.models import Campaign, Template
from mailhub import demo_data
from queueing.models import Message
from recipients.models import ImportRun, Recipient, Subscription
from tests.conftest import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("demo_setup", "--password", "pw-demo", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def snapshot() -> dict[str, int]:
    return {
        "recipients": Recipient.objects.count(),
        "subscriptions": Subscription.objects.count(),
        "imports": ImportRun.objects.count(),
        "templates": Template.objects.count(),
        "campaigns": Campaign.objects.count(),
        "messages": Message.objects.count(),
    }


def test_demo_setup_seeds_a_sent_and_a_sending_campaign_and_twice_is_safe(start_worker):
    start_worker()
    out = run("--newsletter-size", "30", "--customers-size", "400", "--wait", "60")
    assert "Sending 'Spring newsletter (demo)' to 30 people." in out
    assert "Sending 'Summer sale (demo)' to 400 people" in out

    admin = get_user_model().objects.get(username="admin")
    assert admin.is_superuser and admin.check_password("pw-demo")
    assert Subscription.objects.filter(list__slug="newsletter").count() == 30
    assert Subscription.objects.filter(list__slug="customers").count() == 400
    assert Template.objects.filter(slug=demo_data.TEMPLATE_SLUG).exists()
    sent = Campaign.objects.get(name=demo_data.SENT_NAME)
    assert sent.status == Campaign.Status.SENT and sent.sent == 30
    live = Campaign.objects.get(name=demo_data.LIVE_NAME)
    # Started after the first was sent; the worker may already have finished it.
    assert live.status in (Campaign.Status.SENDING, Campaign.Status.SENT)
    assert live.audience_size == 400 and live.started_at >= sent.finished_at
    assert Message.objects.filter(subject__startswith="Welcome to mailhub, ").count() == 3

    # The second campaign's messages are written by the worker's fan-out job, after the
    # command returned: compare once they are all there.
    assert wait_until(
        lambda: Campaign.objects.filter(pk=live.pk, fanout_finished_at__isnull=False).exists(),
        30,
    )
    before = snapshot()
    assert before["messages"] == 30 + 400 + 4
    out = run("--newsletter-size", "30", "--customers-size", "400", "--wait", "0")
    assert snapshot() == before
    assert "Sending" not in out and "Imported" not in out


def test_without_a_worker_it_says_the_first_campaign_is_still_sending(db):
    out = run("--newsletter-size", "5", "--customers-size", "5", "--wait", "0.5")
    assert "still sending after 0.5 s: is a worker running" in out
    assert Campaign.objects.filter(status=Campaign.Status.SENDING).count() == 2


@pytest.mark.parametrize(
    "args, error",
    [
        (("--customers-size", "0"), "--customers-size must be between 1 and 1,000,000"),
        (("--newsletter-size", "2000000"), "--newsletter-size must be between"),
        (("--wait", "-1"), "--wait must be 0 or more"),
    ],
)
def test_bad_options_are_refused_before_anything_is_stored(db, args, error):
    with pytest.raises(CommandError, match=error):
        run(*args)
    assert not get_user_model().objects.exists() and not Campaign.objects.exists()
