"""The messages admin through Django's test client: list, filters, search, capped count, a
message's page, its buttons by role, and the read-only send batches."""

import re
import uuid
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from queueing.models import (
    BatchStatus,
    EventKind,
    FailureCode,
    Message,
    MessageEvent,
    MessageStatus,
    SendBatch,
)
from queueing.services import message_create
from tests.campaigns.conftest import make_campaign, make_list, template  # noqa: F401

pytestmark = pytest.mark.django_db
LIST = "/admin/queueing/message/"


@pytest.fixture
def staff(client_as):
    return client_as  # tests/conftest.py's signed-in client for a role


@pytest.fixture
def manager(staff) -> Client:
    return staff("manager")


def failed(message: Message, code: str = FailureCode.REJECTED) -> Message:
    Message.objects.filter(pk=message.pk).update(status=MessageStatus.FAILED, failure_code=code)
    message.refresh_from_db()
    return message


def page(client: Client, url: str, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def listed(html: str) -> list[int]:
    """Message ids shown in the list, in order."""
    return [
        int(pk) for pk in re.findall(r'<th class="field-id"><a href="[^"]*/(\d+)/change/', html)
    ]


# --- the list ---


def test_the_list_shows_badges_short_subjects_and_local_times(manager):
    message_create(
        to=["Ada <ada@example.com>", "b@example.com"],
        cc=["c@example.com"],
        subject="A long subject " * 10,
        text="x",
    )
    html = page(manager, LIST)
    assert '<span class="mh-badge mh-badge--neutral">Queued</span>' in html
    assert 'class="mh-ellipsis"' in html
    assert "Ada &lt;ada@example.com&gt;" in html and "+2" in html
    assert '<time class="mh-time mh-time--short" datetime="' in html
    assert "mailhub/badges.css" in html and "mailhub/local_time.js" in html


def test_the_list_counts_at_most_the_cap(manager, monkeypatch):
    monkeypatch.setattr("queueing.admin_pagination.CappedCountPaginator.cap", 3)
    for i in range(5):
        message_create(to=[f"p{i}@example.com"], subject=f"S{i}", text="x")
    with CaptureQueriesContext(connection) as queries:
        html = page(manager, LIST)
    assert "more than 3 messages" in html
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    # One count, of a subquery limited to cap + 1 rows; never a count of the whole table.
    assert counts and all("LIMIT 4" in sql for sql in counts), counts
    monkeypatch.setattr("queueing.admin_pagination.CappedCountPaginator.cap", 10)
    assert "5 messages" in page(manager, LIST)


def test_no_facet_counts_and_no_unindexed_sort(manager):
    """ "Show counts" would count the whole table once per filter; sorting by subject or
    status would sort every row: neither is offered, and asking anyway counts nothing."""
    message_create(to=["p@example.com"], subject="S", text="x")
    html = page(manager, LIST)
    assert "_facets" not in html
    assert "o=2" not in html and "o=4" not in html  # the Subject and Status columns
    with CaptureQueriesContext(connection) as queries:
        page(manager, LIST, _facets="1")
    counts = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert counts and all("LIMIT" in sql for sql in counts), counts


def test_filters(manager):
    a = message_create(to=["a@example.com"], subject="A", text="x")
    b = failed(message_create(to=["b@example.com"], subject="B", text="x", priority="bulk"))
    c = message_create(to=["c@example.com"], subject="C", text="x", source="api")
    assert listed(page(manager, LIST, status__exact="failed")) == [b.pk]
    assert listed(page(manager, LIST, priority__exact="bulk")) == [b.pk]
    assert listed(page(manager, LIST, source__exact="api")) == [c.pk]
    assert listed(page(manager, LIST, failure_code__exact="rejected")) == [b.pk]
    assert sorted(listed(page(manager, LIST, campaign="none"))) == sorted([a.pk, b.pk, c.pk])
    assert listed(page(manager, LIST, campaign="12345")) == []
    today = page(manager, LIST, **{"created_at__gte": "2000-01-01 00:00:00+00:00"})
    assert sorted(listed(today)) == sorted([a.pk, b.pk, c.pk])


def test_the_campaign_filter_offers_campaigns_by_name(manager, make_campaign):  # noqa: F811
    campaign = make_campaign(name="Spring sale")
    message = message_create(to=["a@example.com"], subject="A", text="x")
    Message.objects.filter(pk=message.pk).update(campaign=campaign)
    html = page(manager, LIST)
    assert "Spring sale" in html
    assert listed(page(manager, LIST, campaign=str(campaign.pk))) == [message.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"status__exact": "bogus"},
        {"campaign": "abc"},
        {"campaign": "9" * 40},
        {"priority__exact": "\x00"},
        {"created_at__gte": "not-a-date"},
        {"nosuchfield": "1"},
        {"q": "\x00"},
        {"q": "@" * 3000},
        {"o": "99"},
        {"p": "999"},
    ],
)
def test_bad_list_input_is_never_a_500(manager, params):
    message_create(to=["a@example.com"], subject="A", text="x")
    response = manager.get(LIST, params)
    assert response.status_code in (200, 302), response.status_code


def test_search_through_the_list_by_address_uses_the_index(manager):
    ada = message_create(to=["bob@example.com"], bcc=["Ada@Example.com"], subject="A", text="x")
    message_create(to=["bob@example.com"], subject="B", text="x")
    with CaptureQueriesContext(connection) as queries:
        html = page(manager, LIST, q="ada@example.com")
    assert listed(html) == [ada.pk]
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert '"to_address" = ' in sql and '"queueing_message"."to" ' not in sql
    assert "An address (exact, any recipient)" in html


def test_search_through_the_list_by_uuid_and_subject(manager):
    a = message_create(to=["a@example.com"], subject="Your invoice", text="x")
    message_create(to=["b@example.com"], subject="Welcome", text="x")
    assert listed(page(manager, LIST, q=str(a.uuid))) == [a.pk]
    assert listed(page(manager, LIST, q="INVOICE")) == [a.pk]
    assert listed(page(manager, LIST, q=str(uuid.uuid4()))) == []


# --- a message's page ---


@pytest.fixture
def rich_message() -> Message:
    message = message_create(
        to=["Ada Lovelace <ada@example.com>", "bob@example.com"],
        cc=["carol@example.com"],
        reply_to=["help@example.com"],
        subject="Invoice",
        html='<p onclick="x()">Hi <b>Ada</b></p><script>alert(1)</script>"quoted"',
        text="Hi Ada, plain",
        headers={"X-Invoice": "42"},
        tags=[{"name": "kind", "value": "invoice"}],
    )
    MessageEvent.objects.create(message=message, kind=EventKind.ATTEMPT, detail="first try")
    return message


def test_the_page_shows_addresses_badge_preview_source_text_headers_and_timeline(
    manager, rich_message
):
    html = page(manager, f"{LIST}{rich_message.pk}/change/")
    # Addresses as people write them, not JSON.
    assert "Ada Lovelace &lt;ada@example.com&gt;<br>bob@example.com" in html
    assert "[&quot;" not in html and '["' not in html
    assert '<span class="mh-badge mh-badge--neutral">Queued</span>' in html
    # The HTML part in a sandboxed frame (no allow-scripts), as srcdoc, escaped.
    frame = re.search(r"<iframe[^>]*>", html).group(0)
    assert 'sandbox=""' in frame and "allow-scripts" not in frame and " src=" not in frame
    assert 'srcdoc="&lt;meta http-equiv=&quot;Content-Security-Policy&quot;' in frame
    assert "&lt;script&gt;alert(1)&lt;/script&gt;&quot;quoted&quot;" in frame
    assert "<script>alert(1)" not in html
    # The source behind a toggle, the text part, headers and tags, the timeline.
    assert '<details class="mh-source" id="mh-source"><summary>HTML source</summary>' in html
    assert "Hi Ada, plain" in html
    assert "X-Invoice" in html and "42" in html and "tag kind" in html
    assert "first try" in html and "mh-timeline" in html
    # Read-only: nothing to save or delete.
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    assert "deletelink" not in html
    # Pending: the page follows the worker.
    assert 'id="message-live" data-pending="1"' in html


def test_a_finished_message_s_page_stops_refreshing(manager, rich_message):
    failed(rich_message)
    html = page(manager, f"{LIST}{rich_message.pk}/change/")
    assert 'id="message-live">' in html
    assert '<span class="mh-badge mh-badge--danger">Failed</span>' in html


def test_buttons_follow_the_role_and_the_state(staff, rich_message):
    url = f"{LIST}{rich_message.pk}/change/"
    viewer, sender = staff("viewer"), staff("sender")
    queued_page = page(sender, url)
    assert 'id="mh-cancel"' in queued_page and 'id="mh-retry"' not in queued_page
    assert 'id="mh-send-again"' not in queued_page  # still pending
    failed(rich_message)
    failed_page = page(sender, url)
    assert 'id="mh-retry"' in failed_page and 'id="mh-send-again"' in failed_page
    assert 'id="mh-cancel"' not in failed_page
    viewer_page = page(viewer, url)
    assert not re.search(r'id="mh-(retry|cancel|send-again)"', viewer_page)
    # The list's actions, too: a viewer is offered none.
    assert 'name="action"' not in page(viewer, LIST)


def test_a_message_that_may_not_be_retried_has_no_retry_button(manager, rich_message):
    failed(rich_message, FailureCode.PROVIDER_FAILED)
    html = page(manager, f"{LIST}{rich_message.pk}/change/")
    assert 'id="mh-retry"' not in html and 'id="mh-send-again"' in html
    # A hand-made POST is refused with the dashboard's wording (queueing.services
    # message_retry_by_hand), and the message stays failed.
    answer = manager.post(f"{LIST}{rich_message.pk}/retry/", follow=True).content.decode()
    assert f"Message #{rich_message.pk} cannot be retried: Resend failed it" in answer
    assert Message.objects.get(pk=rich_message.pk).status == MessageStatus.FAILED


@pytest.mark.parametrize("action", ["retry", "cancel", "send-again"])
def test_page_actions_are_post_only_and_refused_without_permission(staff, rich_message, action):
    if action != "cancel":
        failed(rich_message)
    url = f"{LIST}{rich_message.pk}/{action}/"
    before = Message.objects.count(), Message.objects.get(pk=rich_message.pk).status
    assert staff("sender").get(url).status_code == 405
    assert staff("viewer").post(url).status_code == 403
    assert (Message.objects.count(), Message.objects.get(pk=rich_message.pk).status) == before


def test_page_actions_do_their_work(manager, rich_message):
    url = f"{LIST}{rich_message.pk}/"
    response = manager.post(url + "cancel/")
    assert response.status_code == 302
    assert Message.objects.get(pk=rich_message.pk).status == MessageStatus.CANCELLED
    response = manager.post(url + "send-again/")
    copy = Message.objects.exclude(pk=rich_message.pk).get()
    assert response["Location"].endswith(f"/{copy.pk}/change/")
    assert copy.to == rich_message.to and copy.status == MessageStatus.QUEUED
    failed(copy)
    assert manager.post(f"{LIST}{copy.pk}/retry/").status_code == 302
    assert Message.objects.get(pk=copy.pk).status == MessageStatus.QUEUED


def test_page_actions_on_a_missing_message_are_404(manager):
    assert manager.post(f"{LIST}999999/retry/").status_code == 404


# --- compose ---


def test_compose_is_laid_out_like_an_admin_form(manager):
    html = page(manager, f"{LIST}compose/")
    assert 'class="module aligned' in html
    assert '<label class="required" for="id_to">' in html
    assert 'class="vLargeTextField"' in html and 'class="vTextField"' in html
    assert "mailhub/compose.js" in html


def test_compose_reads_send_at_in_the_viewer_s_zone(manager):
    tokyo = ZoneInfo("Asia/Tokyo")
    when = (timezone.now() + timedelta(days=2)).astimezone(tokyo).replace(second=0, microsecond=0)
    response = manager.post(
        f"{LIST}compose/",
        {
            "from_email": "mailhub@example.com",
            "to": "x@example.org",
            "subject": "Later",
            "text": "Hello",
            "priority": "transactional",
            "scheduled_at": when.strftime("%Y-%m-%dT%H:%M"),
            "time_zone": "Asia/Tokyo",
        },
    )
    assert response.status_code == 302
    assert Message.objects.get().scheduled_at == when  # the same instant, typed in Tokyo


def test_compose_with_an_unknown_zone_reads_the_server_s(manager):
    when = timezone.localtime(timezone.now() + timedelta(days=2)).replace(second=0, microsecond=0)
    manager.post(
        f"{LIST}compose/",
        {
            "from_email": "mailhub@example.com",
            "to": "x@example.org",
            "subject": "Later",
            "text": "Hello",
            "priority": "transactional",
            "scheduled_at": when.strftime("%Y-%m-%dT%H:%M"),
            "time_zone": "../../etc/passwd",
        },
    )
    assert Message.objects.get().scheduled_at == when


# --- send batches ---


def test_send_batches_are_read_only_and_list_their_members(manager, staff):
    a = message_create(to=["a@example.com"], subject="First", text="x")
    b = message_create(to=["b@example.com"], subject="Second", text="x")
    batch = SendBatch.objects.create(
        idempotency_key="k1", priority="transactional", status=BatchStatus.DONE,
        member_ids=[b.pk, a.pk], size=2,
    )  # fmt: skip
    html = page(staff("viewer"), f"/admin/queueing/sendbatch/{batch.pk}/change/")
    links = re.findall(r'<a href="/admin/queueing/message/(\d+)/change/">', html)
    assert links == [str(b.pk), str(a.pk)]  # request order
    assert 'name="_save"' not in html and "deletelink" not in html
    assert '<span class="mh-badge mh-badge--success">Done</span>' in html
    listing = page(manager, "/admin/queueing/sendbatch/")
    assert f"/admin/queueing/sendbatch/{batch.pk}/change/" in listing
    assert manager.get("/admin/queueing/sendbatch/add/").status_code == 403
    assert manager.post(f"/admin/queueing/sendbatch/{batch.pk}/delete/").status_code == 403
    response = manager.post(f"/admin/queueing/sendbatch/{batch.pk}/change/", {"size": 5})
    assert response.status_code == 403
    assert SendBatch.objects.get(pk=batch.pk).size == 2
