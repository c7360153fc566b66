"""Unsubscribes counted for the campaign they came from: the signed `c` parameter of the links
in the email, through the real pages (recipients.views) and the campaign's counter."""

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.utils import timezone

from campaigns.models import Campaign, DailyStats
from recipients.attribution import campaign_from_signature, campaign_signature
from recipients.models import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

ONE_CLICK = {"List-Unsubscribe": "One-Click"}


def one_click_url(sandbox, email: str) -> str:
    header = sandbox.emails(to=email)[0]["request"]["headers"]["List-Unsubscribe"]
    return re.search(r"<(http[^>]+)>", header).group(1)


def page_url(sandbox, email: str) -> str:
    html = sandbox.emails(to=email)[0]["request"]["html"]
    return re.search(r'href="(http[^"]+/u/[^"]+)"', html).group(1).replace("&amp;", "&")


def local(url: str, **query: str | None) -> str:
    """The path and query of `url`, with parameters replaced (None removes one)."""
    parts = urlsplit(url)
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in query.items():
        if value is None:
            params.pop(key, None)
        else:
            params[key] = value
    return f"{parts.path}?{urlencode(params)}" if params else parts.path


def unsubscribed(campaign: Campaign) -> int:
    campaign.refresh_from_db()
    return campaign.unsubscribed


def test_the_signature_cannot_be_forged():
    value = campaign_signature(42)
    assert value.startswith("42:") and campaign_from_signature(value) == 42
    assert campaign_from_signature(value.replace("42:", "43:")) is None
    assert campaign_from_signature("42") is None
    assert campaign_from_signature("") is None and campaign_from_signature(None) is None
    assert campaign_from_signature("x" * 500) is None


def test_one_click_with_a_valid_signature_counts_once_per_person(sent_campaign, sandbox, client):
    campaign, _ = sent_campaign(3)
    url = one_click_url(sandbox, "user0@example.com")
    assert parse_qs(urlsplit(url).query)["c"] == [campaign_signature(campaign.pk)]
    assert client.post(local(url), ONE_CLICK).status_code == 200
    assert unsubscribed(campaign) == 1
    assert client.post(local(url), ONE_CLICK).status_code == 200  # again: still one
    assert unsubscribed(campaign) == 1
    assert Subscription.objects.get(recipient__email="user0@example.com").status == "unsubscribed"
    # The page's link counts too (confirm page, then its POST keeps the query).
    page = page_url(sandbox, "user1@example.com")
    assert client.get(local(page)).status_code == 200
    assert unsubscribed(campaign) == 1  # a GET changes nothing
    assert client.post(local(page)).status_code == 200
    assert unsubscribed(campaign) == 2
    assert DailyStats.objects.get(date=timezone.localdate()).unsubscribed == 2


def test_forged_or_missing_signatures_unsubscribe_without_counting(
    sent_campaign, sandbox, client, make_campaign, make_list
):
    campaign, _ = sent_campaign(3)
    other = make_campaign([make_list("other")], name="Other")
    forged = campaign_signature(campaign.pk).split(":")[1]
    cases = {
        "user0@example.com": {"c": f"{other.pk}:{forged}"},  # another campaign, this signature
        "user1@example.com": {"c": None},  # none at all
        "user2@example.com": {"c": f"{campaign.pk}:not-a-signature"},
    }
    for email, query in cases.items():
        url = one_click_url(sandbox, email)
        assert client.post(local(url, **query), ONE_CLICK).status_code == 200
        assert Subscription.objects.get(recipient__email=email).status == "unsubscribed"
    assert unsubscribed(campaign) == 0 and unsubscribed(other) == 0


def test_a_valid_signature_on_someone_the_campaign_did_not_mail_counts_nothing(
    sent_campaign, sandbox, client, make_list, subscribe
):
    campaign, _ = sent_campaign(2)
    (outsider,) = subscribe(make_list("other"), 1, start=50)
    url = one_click_url(sandbox, "user0@example.com").replace(
        urlsplit(one_click_url(sandbox, "user0@example.com")).path.split("/")[2],
        outsider.unsubscribe_token,
    )
    assert client.post(local(url), ONE_CLICK).status_code == 200
    assert unsubscribed(campaign) == 0
