"""Guard rails (campaigns.services.guard_rails): a campaign with too many hard bounces or
complaints pauses itself; a finished one is flagged and holds the next campaign from its
sending domain until a manager acknowledges the flag."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from campaigns.event_stats import campaign_events_apply
from campaigns.models import Campaign
from campaigns.services import campaign_resume, campaign_send, campaigns_start_due
from queueing.models import HeldCampaign
from tests.campaigns.provider_events import Timeline

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def small_minimum(settings):
    settings.MAILHUB_GUARD_MIN_SENT = 20


def still_sending(campaign: Campaign) -> Campaign:
    """The campaign as if its fan-out were still adding people: sent messages, still sending
    (a real worker sent them; only the finish is undone)."""
    Campaign.objects.filter(pk=campaign.pk).update(status="sending", finished_at=None)
    campaign.refresh_from_db()
    return campaign


def hard_bounces(t: Timeline, messages) -> list:
    return [t.event(m, "bounced", bounce_type="Permanent") for m in messages]


def test_hard_bounces_past_the_threshold_pause_a_sending_campaign(sent_campaign, caplog):
    campaign, m = sent_campaign(20)
    campaign = still_sending(campaign)
    t = Timeline()
    campaign_events_apply(hard_bounces(t, m[:1]))  # 5 %: not past the 5 % threshold
    campaign.refresh_from_db()
    assert campaign.status == "sending" and campaign.pause_reason == ""
    # Soft bounces never trip it, however many.
    campaign_events_apply([t.event(x, "bounced", bounce_type="Transient") for x in m[10:20]])
    campaign.refresh_from_db()
    assert campaign.status == "sending"
    with caplog.at_level("WARNING", logger="campaigns.services.guard_rails"):
        campaign_events_apply(hard_bounces(t, m[1:2]))  # 2 of 20 = 10 %
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert campaign.pause_reason == ("guard rail: hard bounces 2 of 20 sent (10.00%, over 5.00%)")
    assert HeldCampaign.objects.filter(campaign_id=campaign.pk).exists()
    assert f"campaign {campaign.pk} (Spring) paused itself: hard bounces 2" in caplog.text
    # Resuming is the deliberate override: the reason goes, and the guard leaves it alone (it
    # finishes at once here, every message being final, and is not flagged either).
    campaign_resume(campaign=campaign)
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.pause_reason == ""
    assert campaign.guard_acknowledged_at is not None
    campaign_events_apply(hard_bounces(t, m[2:4]))
    campaign.refresh_from_db()
    assert campaign.bounced_hard == 4 and campaign.guard_flagged_at is None


def test_complaints_past_the_threshold_pause_it(sent_campaign):
    campaign, m = sent_campaign(20)
    campaign = still_sending(campaign)
    t = Timeline()
    campaign_events_apply([t.event(m[0], "delivered"), t.event(m[0], "complained")])
    campaign.refresh_from_db()
    assert campaign.status == "paused"
    assert campaign.pause_reason.startswith("guard rail: complaints 1 of 20 sent (5.00%")


def test_nothing_trips_below_the_minimum_of_sends(sent_campaign, settings):
    settings.MAILHUB_GUARD_MIN_SENT = 200
    campaign, m = sent_campaign(20)
    campaign = still_sending(campaign)
    campaign_events_apply(hard_bounces(Timeline(), m[:10]))
    campaign.refresh_from_db()
    assert campaign.status == "sending" and campaign.bounced_hard == 10


def test_a_finished_campaign_is_flagged_and_holds_its_domain_until_acknowledged(
    sent_campaign, make_campaign, make_list, subscribe, client, caplog
):
    campaign, m = sent_campaign(20, from_email="News <news@brand.example>")
    with caplog.at_level("WARNING", logger="campaigns.services.guard_rails"):
        campaign_events_apply(hard_bounces(Timeline(), m[:3]))
    campaign.refresh_from_db()
    assert campaign.status == "sent" and campaign.guard_flagged_at is not None
    assert campaign.guard_flag == "guard rail: hard bounces 3 of 20 sent (15.00%, over 5.00%)"
    assert "the next campaign from brand.example waits" in caplog.text

    others = make_list("others")
    subscribe(others, 2, start=100)
    same_domain = make_campaign([others], name="Next", from_email="promo@brand.example")
    with pytest.raises(ValidationError) as refused:
        campaign_send(campaign=same_domain)
    assert "campaigns from brand.example wait until a manager acknowledges" in str(refused.value)
    same_domain.refresh_from_db()
    assert same_domain.status == "draft"
    # Another domain is not held.
    elsewhere = make_campaign([others], name="Elsewhere", from_email="x@other.example")
    campaign_send(campaign=elsewhere)
    assert elsewhere.status == "sending"
    # A campaign scheduled before (or meanwhile) waits at its start.
    later = make_campaign([others], name="Later", from_email="later@brand.example")
    campaign_send(campaign=later, scheduled_at=timezone.now() + timezone.timedelta(hours=1))
    Campaign.objects.filter(pk=later.pk).update(scheduled_at=timezone.now())
    assert campaigns_start_due(campaign_id=later.pk) == 0
    later.refresh_from_db()
    assert later.status == "scheduled"

    # A sender may not acknowledge it; a manager may, through the admin action.
    users = get_user_model().objects
    sender = users.create_user("sender", "s@example.com", "pw", is_staff=True)
    sender.groups.add(Group.objects.get(name="sender"))
    manager = users.create_user("manager", "m@example.com", "pw", is_staff=True)
    manager.groups.add(Group.objects.get(name="manager"))
    changelist = reverse("admin:campaigns_campaign_changelist")
    action = {"action": "acknowledge_guard", "_selected_action": [campaign.pk]}
    client.force_login(sender)
    client.post(changelist, action)
    campaign.refresh_from_db()
    assert campaign.guard_acknowledged_at is None
    client.force_login(manager)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    assert "next campaign from its sending domain waits" in page.content.decode()
    response = client.post(changelist, action, follow=True)
    assert "1 guard-rail flag(s) acknowledged." in response.content.decode()
    campaign.refresh_from_db()
    assert campaign.guard_acknowledged_at and campaign.guard_acknowledged_by == manager

    assert campaigns_start_due(campaign_id=later.pk) == 1
    campaign_send(campaign=same_domain)
    assert same_domain.status == "sending"
    # Once acknowledged, later bounces on that campaign flag nothing again.
    campaign_events_apply(hard_bounces(Timeline(), m[3:6]))
    campaign.refresh_from_db()
    assert campaign.guard_flag.startswith("guard rail: hard bounces 3 of 20")


def test_the_statistics_panel_shows_figures_rates_and_links(sent_campaign, client):
    campaign, m = sent_campaign(4)
    t = Timeline()
    campaign_events_apply(
        [t.event(x, "delivered") for x in m]
        + [t.event(m[0], "clicked", link="https://example.com/spring-sale")]
    )
    boss = get_user_model().objects.create_superuser("boss", "b@example.com", "pw")
    client.force_login(boss)
    page = client.get(reverse("admin:campaigns_campaign_change", args=[campaign.pk]))
    html = page.content.decode()
    num = '<td class="num">'
    assert f"<td>Delivered</td>{num}4</td>{num}100.0% of sent</td>" in html
    assert f"<td>Clicked</td>{num}1</td>{num}25.0% of delivered</td>" in html
    assert (
        f'<td class="campaign-link">https://example.com/spring-sale</td>{num}1</td>{num}1</td>'
        in html
    )
