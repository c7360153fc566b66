"""The campaign endpoints: list, read, send or schedule, pause, resume, cancel, with a key of
scope `campaigns`, through the services the admin uses; refusals in Resend's shape that
change nothing; a campaign sent through the API reaching the sandbox with a real worker."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from campaigns import selectors as campaign_selectors
from campaigns.models import Campaign, Template
from campaigns.services import campaign_create, template_create
from queueing.models import ApiScope, Message
from recipients.models import List, Recipient, Subscription
from tests.api.conftest import ApiClient, assert_error
from tests.conftest import run_worker_burst

BODY = """<mjml><mj-body><mj-section><mj-column>
<mj-text>Hello {{ recipient.first_name }}!</mj-text>
<mj-button href="{{ unsubscribe_url }}">Unsubscribe</mj-button>
</mj-column></mj-section></mj-body></mjml>"""


@pytest.fixture
def capi(make_key) -> ApiClient:
    return ApiClient(make_key(name="marketing", scopes=(ApiScope.CAMPAIGNS,)).secret)


@pytest.fixture
def template(db) -> Template:
    return template_create(
        name="Newsletter",
        slug="newsletter",
        subject="News for {{ recipient.first_name }}",
        body=BODY,
    )


@pytest.fixture
def news(db) -> List:
    return List.objects.create(slug="news", name="News")


def subscribe(lst: List, count: int) -> None:
    for i in range(count):
        person, _ = Recipient.objects.get_or_create(
            email=f"user{i}@example.com", defaults={"first_name": f"User{i}"}
        )
        Subscription.objects.create(
            recipient=person,
            list=lst,
            status=Subscription.Status.SUBSCRIBED,
            source="admin",
            subscribed_at=timezone.now(),
        )


@pytest.fixture
def make_campaign(template, news) -> Callable[..., Campaign]:
    def make(name: str = "Spring", lists: list[List] | None = None) -> Campaign:
        return campaign_create(
            name=name, template=template, lists=[news] if lists is None else lists
        )

    return make


def _ok(response) -> dict:
    assert response.status_code == 200, response.content
    return response.json()


def _status(campaign: Campaign) -> str:
    campaign.refresh_from_db()
    return campaign.status


# --- reads ---


@pytest.mark.django_db
def test_read_one_shows_status_progress_and_rates(capi, make_campaign):
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(
        status=Campaign.Status.SENDING,
        audience_size=10,
        queued=8,
        sent=4,
        failed=1,
        delivered=2,
        started_at=timezone.now() - timedelta(seconds=10),
    )
    body = _ok(capi.get(f"/campaigns/{campaign.pk}"))
    assert body["object"] == "campaign" and body["id"] == str(campaign.pk)
    assert body["name"] == "Spring" and body["status"] == "sending"
    assert body["template"] == "newsletter" and body["lists"] == ["news"]
    assert body["from"] and body["subject"] == "News for {{ recipient.first_name }}"
    progress = body["progress"]
    assert progress["audience"] == 10 and progress["total"] == 10 and progress["queued"] == 8
    assert (progress["sent"], progress["failed"], progress["done"], progress["pending"]) == (
        4,
        1,
        5,
        3,
    )
    assert progress["percent"] == 50.0 and progress["per_second"] > 0
    assert progress["eta_seconds"] is not None and progress["fanout_finished"] is False
    assert body["engagement"]["delivered"] == 2
    assert body["rates"]["failed"] == 20.0 and body["rates"]["delivered"] == 50.0


@pytest.mark.django_db
def test_unknown_ids_are_not_found(capi, make_campaign):
    campaign = make_campaign()
    for path in (
        f"/campaigns/{campaign.pk + 1000}",
        "/campaigns/abc",
        "/campaigns/99999999999999999999999",
        "/campaigns/-1",
    ):
        assert_error(capi.get(path), 404, "not_found", "Campaign not found")
    for action in ("send", "pause", "resume", "cancel"):
        assert_error(capi.post(f"/campaigns/{campaign.pk + 1000}/{action}"), 404, "not_found")
    assert _status(campaign) == "draft"


@pytest.mark.django_db
def test_list_is_newest_first_with_cursors(capi, make_campaign):
    first, second, third = (make_campaign(name=n) for n in ("one", "two", "three"))

    def ids(body: dict) -> list[str]:
        return [c["id"] for c in body["data"]]

    page = _ok(capi.get("/campaigns?limit=2"))
    assert page["object"] == "list" and page["has_more"] is True
    assert ids(page) == [str(third.pk), str(second.pk)]
    page = _ok(capi.get(f"/campaigns?limit=2&after={second.pk}"))
    assert ids(page) == [str(first.pk)] and page["has_more"] is False
    page = _ok(capi.get(f"/campaigns?limit=1&before={first.pk}"))
    assert ids(page) == [str(second.pk)] and page["has_more"] is True
    assert ids(_ok(capi.get("/campaigns"))) == [str(third.pk), str(second.pk), str(first.pk)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("limit=0", "`limit`"),
        ("limit=101", "`limit`"),
        ("limit=ten", "`limit`"),
        ("after=1&before=2", "not both"),
        ("after=424242", "not a campaign id"),
        ("before=abc", "not a campaign id"),
    ],
)
def test_list_refuses_bad_queries(capi, make_campaign, query, fragment):
    make_campaign()
    assert_error(capi.get(f"/campaigns?{query}"), 422, "validation_error", fragment)


@pytest.mark.django_db
def test_list_reads_are_bounded(capi, make_campaign, news):
    """A page costs the same number of queries for 2 campaigns as for 12, and nothing
    counts rows: progress comes from the campaigns' counters."""
    other = List.objects.create(slug="offers", name="Offers")

    def page_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            _ok(capi.get("/campaigns?limit=100"))
        return [q["sql"] for q in queries.captured_queries]

    for i in range(2):
        make_campaign(name=f"c{i}", lists=[news, other])
    page_queries()  # the key's first use writes its last-used time (once a minute)
    few = page_queries()
    for i in range(2, 12):
        make_campaign(name=f"c{i}", lists=[news, other])
    many = page_queries()
    assert len(many) == len(few), many
    assert not [sql for sql in many if "COUNT(" in sql.upper()], many


@pytest.mark.django_db
def test_keys_without_the_campaigns_scope_are_refused(api, api_as, make_campaign):
    campaign = make_campaign()
    for response in (
        api.get("/campaigns"),
        api.get(f"/campaigns/{campaign.pk}"),
        api.post(f"/campaigns/{campaign.pk}/send"),
        api.post(f"/campaigns/{campaign.pk}/cancel"),
    ):
        assert_error(response, 401, "restricted_api_key", "`campaigns` scope")
    assert_error(api_as(None).post(f"/campaigns/{campaign.pk}/send"), 401, "missing_api_key")
    assert_error(api_as("mh_nope_nope").get("/campaigns"), 403, "invalid_api_key")
    assert _status(campaign) == "draft"


# --- send and schedule ---


@pytest.mark.django_db(transaction=True)
def test_a_campaign_sent_through_the_api_reaches_the_sandbox(
    capi, make_campaign, news, sandbox, deliver_all
):
    subscribe(news, 3)
    campaign = make_campaign()
    body = _ok(capi.post(f"/campaigns/{campaign.pk}/send"))
    assert body["status"] == "sending" and body["progress"]["audience"] == 3
    assert body["started_at"] is not None
    deliver_all(timeout=30)
    body = _ok(capi.get(f"/campaigns/{campaign.pk}"))
    assert body["status"] == "sent" and body["finished_at"] is not None
    assert body["progress"]["sent"] == 3 and body["progress"]["percent"] == 100.0
    received = sorted(e["request"]["to"][0] for e in sandbox.emails())
    assert received == ["user0@example.com", "user1@example.com", "user2@example.com"]
    assert sandbox.emails(to="user1@example.com")[0]["request"]["subject"] == "News for User1"
    # Never twice: a second send is refused and nothing new is queued.
    assert_error(
        capi.post(f"/campaigns/{campaign.pk}/send"),
        422,
        "validation_error",
        "The campaign is sent; it cannot be sent",
        "never sent twice",
    )
    assert Message.objects.filter(campaign=campaign).count() == 3


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("scheduled_at", "expected"),
    [
        ("in 2 hours", timedelta(hours=2)),
        ("tomorrow at 9am", None),
        ("2099-08-05T11:52:01Z", None),
    ],
)
def test_schedule_takes_the_forms_of_the_emails_endpoint(
    capi, make_campaign, news, scheduled_at, expected
):
    subscribe(news, 2)
    campaign = make_campaign()
    before = timezone.now()
    body = _ok(capi.post(f"/campaigns/{campaign.pk}/send", {"scheduled_at": scheduled_at}))
    assert body["status"] == "scheduled" and body["started_at"] is None
    when = datetime.fromisoformat(body["scheduled_at"])
    assert when > before
    if expected is not None:
        assert before + expected <= when <= timezone.now() + expected
    campaign.refresh_from_db()
    assert campaign.status == "scheduled"
    assert abs(campaign.scheduled_at - when) < timedelta(milliseconds=1)  # JSON keeps ms
    assert campaign.frozen_at is not None  # frozen when scheduled, as in the admin


@pytest.mark.django_db
def test_send_with_now_or_an_empty_body_sends_now(capi, make_campaign, news):
    subscribe(news, 1)
    first, second = make_campaign(name="a"), make_campaign(name="b")
    assert _ok(capi.post(f"/campaigns/{first.pk}/send", {"scheduled_at": "now"}))["status"] == (
        "sending"
    )
    assert _ok(capi.post(f"/campaigns/{second.pk}/send", {}))["status"] == "sending"


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"scheduled_at": "next blue moon"}, ("`scheduled_at`", "tomorrow at 9am")),
        ({"scheduled_at": "2026-08-05T11:52:01"}, ("`scheduled_at`", "no time zone")),
        ({"scheduled_at": "2000-01-01T00:00:00Z"}, ("`scheduled_at`", "in the past")),
        ({"scheduled_at": 5}, ("`scheduled_at`",)),
        ({"colour": "red"}, ("Unknown field `colour`",)),
        (["in 1 hour"], ("`body`",)),
    ],
)
def test_bad_send_input_is_refused_and_changes_nothing(capi, make_campaign, news, body, fragments):
    subscribe(news, 2)
    campaign = make_campaign()
    assert_error(
        capi.post(f"/campaigns/{campaign.pk}/send", body), 422, "validation_error", *fragments
    )
    campaign.refresh_from_db()
    assert campaign.status == "draft" and campaign.frozen_at is None
    assert campaign.scheduled_at is None and campaign.audience_size == 0


@pytest.mark.django_db
def test_send_refusals_are_the_services(capi, make_campaign, news, template):
    # No lists, an audience of nobody, a template without an unsubscribe link.
    no_lists = make_campaign(name="no lists", lists=[])
    assert_error(
        capi.post(f"/campaigns/{no_lists.pk}/send"), 422, "validation_error", "no audience"
    )
    nobody = make_campaign(name="nobody")
    assert_error(
        capi.post(f"/campaigns/{nobody.pk}/send"), 422, "validation_error", "audience is empty"
    )
    subscribe(news, 1)
    Template.objects.filter(pk=template.pk).update(
        body_format="html", body="<p>Hi {{ recipient.first_name }}</p>"
    )
    bare = make_campaign(name="bare")
    assert_error(
        capi.post(f"/campaigns/{bare.pk}/send"), 422, "validation_error", "unsubscribe link"
    )
    for campaign in (no_lists, nobody, bare):
        campaign.refresh_from_db()
        assert campaign.status == "draft" and campaign.frozen_at is None
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_without_a_postal_address_a_campaign_is_refused_outside_debug(
    capi, make_campaign, news, settings
):
    settings.DEBUG = False
    settings.MAILHUB_POSTAL_ADDRESS = ""
    subscribe(news, 1)
    campaign = make_campaign()
    assert_error(
        capi.post(f"/campaigns/{campaign.pk}/send"),
        422,
        "validation_error",
        "MAILHUB_POSTAL_ADDRESS",
    )
    assert _status(campaign) == "draft"
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_malformed_body_is_refused(capi, make_campaign):
    campaign = make_campaign()
    assert_error(capi.post(f"/campaigns/{campaign.pk}/send", b"{nope"), 400, "validation_error")
    assert _status(campaign) == "draft"


# --- pause, resume, cancel ---


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("status", "action", "message"),
    [
        ("draft", "pause", "The campaign is draft; it cannot be paused: only a sending campaign"),
        ("sent", "pause", "The campaign is sent; it cannot be paused"),
        ("sending", "resume", "The campaign is sending; it cannot be resumed: only a paused"),
        ("cancelled", "cancel", "The campaign is cancelled; it cannot be cancelled"),
        ("sent", "cancel", "The campaign is sent; it cannot be cancelled"),
        ("paused", "send", "The campaign is paused; it cannot be sent"),
    ],
)
def test_illegal_steps_say_why_and_change_nothing(capi, make_campaign, status, action, message):
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status=status)
    assert_error(capi.post(f"/campaigns/{campaign.pk}/{action}"), 422, "validation_error", message)
    assert _status(campaign) == status


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("read_as", "now", "action", "message"),
    [
        ("sending", "paused", "pause", "The campaign is paused; it cannot be paused"),
        ("paused", "cancelled", "resume", "The campaign is cancelled; it cannot be resumed"),
        ("draft", "sending", "send", "The campaign is sending; it cannot be sent"),
    ],
)
def test_a_step_that_loses_a_race_is_refused_with_the_status_now(
    capi, make_campaign, news, monkeypatch, read_as, now, action, message
):
    """The view read the campaign before someone else changed it: the service's conditional
    update refuses, and the answer names the status as it is now (not a 500)."""
    subscribe(news, 1)
    campaign = make_campaign()
    Campaign.objects.filter(pk=campaign.pk).update(status=now)
    stale = Campaign.objects.get(pk=campaign.pk)
    stale.status = read_as
    monkeypatch.setattr(campaign_selectors, "api_campaign", lambda campaign_id: stale)
    assert_error(capi.post(f"/campaigns/{campaign.pk}/{action}"), 422, "validation_error", message)
    assert _status(campaign) == now
    assert not Message.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_pause_holds_the_messages_and_resume_sends_them(
    capi, make_campaign, news, sandbox, deliver_all
):
    subscribe(news, 4)
    campaign = make_campaign()
    _ok(capi.post(f"/campaigns/{campaign.pk}/send"))
    assert _ok(capi.post(f"/campaigns/{campaign.pk}/pause"))["status"] == "paused"
    run_worker_burst()  # the fan-out writes the messages; the hold keeps them from going
    body = _ok(capi.get(f"/campaigns/{campaign.pk}"))
    assert body["status"] == "paused" and body["progress"]["queued"] == 4
    assert body["progress"]["sent"] == 0 and sandbox.emails() == []
    assert _ok(capi.post(f"/campaigns/{campaign.pk}/resume"))["status"] == "sending"
    deliver_all(timeout=30)
    body = _ok(capi.get(f"/campaigns/{campaign.pk}"))
    assert body["status"] == "sent" and body["progress"]["sent"] == 4
    assert len(sandbox.emails()) == 4


@pytest.mark.django_db(transaction=True)
def test_cancel_stops_a_campaign_and_its_unsent_messages(capi, make_campaign, news, sandbox):
    subscribe(news, 3)
    campaign = make_campaign()
    _ok(capi.post(f"/campaigns/{campaign.pk}/send"))
    _ok(capi.post(f"/campaigns/{campaign.pk}/pause"))
    run_worker_burst()  # messages written, held
    body = _ok(capi.post(f"/campaigns/{campaign.pk}/cancel"))
    assert body["status"] == "cancelled" and body["finished_at"] is not None
    assert body["progress"]["cancelled"] == 3 and body["progress"]["pending"] == 0
    run_worker_burst()
    assert sandbox.emails() == []
    assert set(Message.objects.filter(campaign=campaign).values_list("status", flat=True)) == {
        "cancelled"
    }
    assert_error(
        capi.post(f"/campaigns/{campaign.pk}/resume"),
        422,
        "validation_error",
        "The campaign is cancelled; it cannot be resumed",
    )


@pytest.mark.django_db
def test_a_draft_can_be_cancelled(capi, make_campaign):
    campaign = make_campaign()
    assert _ok(capi.post(f"/campaigns/{campaign.pk}/cancel"))["status"] == "cancelled"
    assert_error(capi.post(f"/campaigns/{campaign.pk}/send"), 422, "validation_error", "cancelled")


@pytest.mark.django_db
def test_openapi_describes_the_campaign_endpoints(client):
    spec = client.get("/api/openapi.json").json()
    paths = spec["paths"]
    for path in ("/api/campaigns", "/api/campaigns/{campaign_id}"):
        assert "get" in paths[path]
    for action in ("send", "pause", "resume", "cancel"):
        assert "post" in paths[f"/api/campaigns/{{campaign_id}}/{action}"]
    send = paths["/api/campaigns/{campaign_id}/send"]["post"]
    assert "requestBody" in send


@pytest.mark.django_db
def test_steps_through_the_api_are_in_the_audit_log_under_the_key(capi, make_campaign, news):
    from audit.models import AuditEntry

    subscribe(news, 1)
    campaign = make_campaign()
    assert capi.post(f"/campaigns/{campaign.pk}/send").status_code == 200
    assert capi.post(f"/campaigns/{campaign.pk}/cancel").status_code == 200
    entries = list(AuditEntry.objects.order_by("id").values_list("action", "actor", "actor_name"))
    assert [e[0] for e in entries] == ["campaign.send", "campaign.cancel"]
    assert all(actor is None and name.startswith("API key ") for _, actor, name in entries)
    campaign.refresh_from_db()
    assert campaign.sent_by is None  # a key is no user
