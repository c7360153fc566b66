"""The recipients endpoints: create or update (double opt-in through subscription_create),
read, unsubscribe and resubscribe, delete (suppressed, consent history kept), every bad input
refused in Resend's shape with nothing stored, and the `recipients` scope."""

from typing import Any

import pytest

from queueing.models import ApiScope, Message
from queueing.models import Source as MessageSource
from recipients import services
from recipients.models import List, Recipient, Subscription, SubscriptionEvent, Suppression
from recipients.selectors import suppressed_addresses
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db

Kind = SubscriptionEvent.Kind


@pytest.fixture
def rec(api_as, make_key):
    return api_as(make_key(name="crm", scopes=[ApiScope.RECIPIENTS]).secret)


@pytest.fixture
def news(db) -> List:
    return List.objects.create(slug="news", name="News")


@pytest.fixture
def digest(db) -> List:
    return List.objects.create(slug="digest", name="Digest", opt_in=List.OptIn.DOUBLE)


def create(rec, **body: Any) -> dict[str, Any]:
    response = rec.post("/recipients", body)
    assert response.status_code in (200, 201), response.content
    return response.json()


def subscription(body: dict[str, Any], slug: str) -> dict[str, Any]:
    return next(s for s in body["subscriptions"] if s["list"] == slug)


def nothing_stored() -> None:
    assert not Recipient.objects.exists()
    assert not Subscription.objects.exists()
    assert not SubscriptionEvent.objects.exists()
    assert not Message.objects.exists()


# --- create or update ---


def test_create_by_email_with_names_attributes_and_a_list(rec, news):
    response = rec.post(
        "/recipients",
        {
            "email": " Ada@Example.org ",
            "first_name": "Ada",
            "last_name": "Lovelace",
            "attributes": {"plan": "pro", "seats": 3},
            "lists": ["news"],
        },
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["object"] == "recipient"
    assert (body["email"], body["first_name"], body["last_name"]) == (
        "ada@example.org",
        "Ada",
        "Lovelace",
    )
    assert body["attributes"] == {"plan": "pro", "seats": 3}
    assert body["suppression"] is None
    sub = subscription(body, "news")
    assert (sub["status"], sub["source"], sub["receives_campaigns"]) == ("subscribed", "api", True)
    assert sub["subscribed_at"] is not None
    assert Recipient.objects.get().pk == body["id"]
    assert not Message.objects.exists()  # single opt-in: no email


def test_double_opt_in_list_leaves_it_pending_and_queues_a_confirmation(rec, digest):
    body = create(rec, email="ada@example.org", lists=["digest"])
    sub = subscription(body, "digest")
    assert (sub["status"], sub["receives_campaigns"]) == ("pending", False)
    assert sub["confirmation_sent_at"] is not None
    message = Message.objects.get()
    assert message.to == ["ada@example.org"]
    assert (message.priority, message.status, message.source) == (
        "transactional",
        "queued",
        MessageSource.API,
    )
    assert message.recipient_id == body["id"]
    assert "Digest" in message.subject and "/confirm/" in message.text
    kinds = set(SubscriptionEvent.objects.values_list("kind", flat=True))
    assert kinds == {Kind.CONFIRMATION_SENT}

    again = create(rec, email="ada@example.org", lists=["digest"])  # a sync repeating itself
    assert subscription(again, "digest")["status"] == "pending"
    assert Message.objects.count() == 1  # one confirmation per window


def test_update_by_external_id_changes_only_what_is_given(rec):
    first = rec.post(
        "/recipients",
        {
            "email": "ada@example.org",
            "external_id": "u-1",
            "first_name": "Ada",
            "attributes": {"a": 1},
        },
    )
    assert first.status_code == 201
    response = rec.post(
        "/recipients", {"external_id": "u-1", "last_name": "King", "attributes": {"b": 2}}
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["id"] == first.json()["id"]
    assert (body["email"], body["first_name"], body["last_name"]) == (
        "ada@example.org",
        "Ada",
        "King",
    )
    assert body["attributes"] == {"b": 2}  # replaced, not merged
    assert Recipient.objects.count() == 1


def test_an_external_id_is_given_to_the_recipient_found_by_address(rec):
    created = create(rec, email="ada@example.org")
    body = create(rec, email="ADA@example.org", external_id="u-7")
    assert body["id"] == created["id"] and body["external_id"] == "u-7"
    assert rec.get("/recipients/external_id:u-7").json()["id"] == created["id"]


def test_an_unknown_external_id_without_an_address_is_refused(rec):
    response = rec.post("/recipients", {"external_id": "u-9", "first_name": "Ada"})
    assert_error(response, 422, "missing_required_field", "`email`", "u-9")
    nothing_stored()


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        # found by external id, another address: the address cannot change
        ({"external_id": "u-1", "email": "new@example.org"}, "cannot be changed"),
        # the two identities are two people
        ({"external_id": "u-1", "email": "bob@example.org"}, "two different recipients"),
        # found by address, which has another external id
        ({"external_id": "u-3", "email": "bob@example.org", "first_name": "X"}, "`u-2`"),
    ],
)
def test_identities_that_disagree_are_refused_and_change_nothing(rec, body, fragment):
    create(rec, email="ada@example.org", external_id="u-1", first_name="Ada")
    create(rec, email="bob@example.org", external_id="u-2", first_name="Bob")
    assert_error(rec.post("/recipients", body), 422, "validation_error", fragment)
    assert set(Recipient.objects.values_list("email", "external_id", "first_name")) == {
        ("ada@example.org", "u-1", "Ada"),
        ("bob@example.org", "u-2", "Bob"),
    }


def test_an_external_id_another_recipient_has_is_refused(rec):
    create(rec, email="ada@example.org", external_id="u-1")
    create(rec, email="bob@example.org")
    response = rec.post("/recipients", {"email": "bob@example.org", "external_id": "u-1"})
    # found by external id (Ada), but the address is Bob's: two people
    assert_error(response, 422, "validation_error", "two different recipients")
    assert Recipient.objects.get(email="bob@example.org").external_id is None


# --- bad input: Resend's shape, the field named, nothing stored ---


@pytest.mark.parametrize(
    ("body", "status", "name", "fragment"),
    [
        (
            {"email": "ada@example.org", "lists": ["news", "nope"]},
            422,
            "validation_error",
            "Unknown list `nope`",
        ),
        ({"email": "not-an-address"}, 422, "validation_error", "`email`"),
        (
            {"email": "ada@example.org", "attributes": ["a"]},
            422,
            "validation_error",
            "`attributes`",
        ),
        ({"email": "ada@example.org", "attributes": "x"}, 422, "validation_error", "`attributes`"),
        (
            {"email": "ada@example.org", "attributes": {"blob": "x" * 17000}},
            422,
            "validation_error",
            "the limit is 16384",
        ),
        (
            {"email": "ada@example.org", "colour": "blue"},
            422,
            "validation_error",
            "Unknown field `colour`",
        ),
        (
            {"email": "ada@example.org", "first_name": "x" * 151},
            422,
            "validation_error",
            "`first_name`",
        ),
        (
            {"email": "ada@example.org", "external_id": "x" * 256},
            422,
            "validation_error",
            "`external_id`",
        ),
        (
            {"email": "ada@example.org", "external_id": "  "},
            422,
            "validation_error",
            "`external_id`",
        ),
        ({"email": "ada@example.org", "lists": []}, 422, "validation_error", "`lists`"),
        ({"email": "ada@example.org", "lists": "news"}, 422, "validation_error", "`lists`"),
        ({"email": "ada@example.org", "lists": ["n"] * 51}, 422, "validation_error", "`lists`"),
        ({"email": "ada@example.org", "first_name": "A\x00da"}, 422, "validation_error", "NUL"),
        ({"email": "ada@example.org", "attributes": {"k": "\x00"}}, 422, "validation_error", "NUL"),
        ({"first_name": "Ada"}, 422, "missing_required_field", "`email`"),
        (b'{"email": "ada@example.org", "attributes": {"a": NaN}}', 422, "validation_error", "NaN"),
        ({"email": 5}, 422, "validation_error", "`email`"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    rec, news, body, status, name, fragment
):
    assert_error(rec.post("/recipients", body), status, name, fragment)
    nothing_stored()


def test_a_body_that_is_not_an_object_or_not_json(rec):
    assert_error(rec.post("/recipients", ["ada@example.org"]), 422, "validation_error")
    assert_error(rec.post("/recipients", b"{nope"), 400, "validation_error", "not valid JSON")
    nothing_stored()


# --- read ---


def test_read_by_id_address_or_external_id(rec, news):
    created = create(rec, email="ada@example.org", external_id="u-42", lists=["news"])
    for key in (str(created["id"]), "ADA@example.org", "external_id:u-42"):
        response = rec.get(f"/recipients/{key}")
        assert response.status_code == 200, (key, response.content)
        assert response.json() == created


def test_unknown_recipient_is_404_and_a_path_naming_nothing_422(rec):
    for key in ("999", "nobody@example.org", "external_id:nope", "9" * 40):
        assert_error(rec.get(f"/recipients/{key}"), 404, "not_found", "Recipient not found")
        assert_error(rec.call("DELETE", f"/recipients/{key}"), 404, "not_found")
        assert_error(rec.post(f"/recipients/{key}/unsubscribe", {}), 404, "not_found")
    assert_error(rec.get("/recipients/ada"), 422, "validation_error", "`external_id:`")


# --- unsubscribe and resubscribe ---


def test_unsubscribe_from_one_list_then_from_everything(rec, news, digest):
    created = create(rec, email="ada@example.org", lists=["news", "digest"])
    key = f"/recipients/{created['id']}"
    body = rec.post(f"{key}/unsubscribe", {"lists": ["news"]}).json()
    assert subscription(body, "news")["status"] == "unsubscribed"
    assert subscription(body, "news")["unsubscribed_at"] is not None
    assert subscription(body, "digest")["status"] == "pending"
    assert body["suppression"] is None
    event = SubscriptionEvent.objects.get(kind=Kind.UNSUBSCRIBED)
    assert (event.source, event.list) == ("api", news)
    assert "crm [mh_" in event.detail  # the key that asked

    response = rec.post(f"{key}/unsubscribe", {})
    assert response.status_code == 200, response.content
    suppression = response.json()["suppression"]
    assert (suppression["reason"], suppression["scope"]) == ("unsubscribe", "marketing")
    assert suppressed_addresses(["ada@example.org"], marketing=True)
    assert not suppressed_addresses(["ada@example.org"], marketing=False)


def test_unsubscribe_needs_a_body_and_a_null_list_is_not_everything(rec, news):
    created = create(rec, email="ada@example.org", lists=["news"])
    key = f"/recipients/{created['id']}/unsubscribe"
    assert_error(rec.post(key, None), 422, "validation_error", "`body`")
    assert_error(rec.post(key, {"lists": None}), 422, "validation_error", "leave `lists` out")
    assert not Suppression.objects.exists()
    assert Subscription.objects.get().status == Subscription.Status.SUBSCRIBED


def test_unsubscribe_with_an_unknown_list_changes_nothing(rec, news):
    created = create(rec, email="ada@example.org", lists=["news"])
    response = rec.post(f"/recipients/{created['id']}/unsubscribe", {"lists": ["news", "nope"]})
    assert_error(response, 422, "validation_error", "Unknown list `nope`")
    assert Subscription.objects.get().status == Subscription.Status.SUBSCRIBED
    assert_error(
        rec.post(f"/recipients/{created['id']}/unsubscribe", {"list": ["news"]}),
        422,
        "validation_error",
        "Unknown field `list`",
    )


def test_resubscribe_after_unsubscribing_from_everything(rec, news, digest):
    created = create(rec, email="ada@example.org", lists=["news"])
    key = f"/recipients/{created['id']}"
    rec.post(f"{key}/unsubscribe", {})
    rec.post(f"{key}/unsubscribe", {"lists": ["news"]})

    # a list while the person's own global unsubscribe stands: refused, saying what to do
    response = rec.post(f"{key}/resubscribe", {"lists": ["digest"]})
    assert_error(response, 422, "validation_error", "resubscribe without `lists` first")
    assert not Subscription.objects.filter(list=digest).exists()
    # so does a create-or-update that would join a list
    assert_error(
        rec.post("/recipients", {"email": "ada@example.org", "lists": ["digest"]}),
        422,
        "validation_error",
        "unsubscribed from all marketing email",
    )
    # ... but one that only repeats what is there does not
    assert (
        rec.post("/recipients", {"email": "ada@example.org", "first_name": "Ada"}).status_code
        == 200
    )

    lifted = rec.post(f"{key}/resubscribe", {}).json()
    assert lifted["suppression"] is None
    assert subscription(lifted, "news")["status"] == "unsubscribed"  # left one by one: stays

    body = rec.post(f"{key}/resubscribe", {"lists": ["news", "digest"]}).json()
    assert subscription(body, "news")["status"] == "subscribed"
    assert subscription(body, "digest")["status"] == "pending"
    assert Message.objects.get().to == ["ada@example.org"]  # digest's confirmation
    assert SubscriptionEvent.objects.filter(kind=Kind.UNSUPPRESSED, source="api").count() == 1


@pytest.mark.parametrize("reason", ["hard_bounce", "complaint", "manual"])
def test_an_address_suppressed_by_others_cannot_be_resubscribed(rec, news, reason):
    created = create(rec, email="ada@example.org")
    services.suppression_create(email="ada@example.org", reason=reason)
    key = f"/recipients/{created['id']}"
    for body in ({}, {"lists": ["news"]}):
        assert_error(rec.post(f"{key}/resubscribe", body), 422, "validation_error", "staff can")
    assert_error(
        rec.post("/recipients", {"email": "ada@example.org", "lists": ["news"]}),
        422,
        "validation_error",
        "staff can",
    )
    assert not Subscription.objects.exists()
    assert Suppression.objects.get().reason == reason


# --- delete ---


def test_delete_keeps_the_suppression_and_the_consent_history(rec, news, digest):
    created = create(
        rec,
        email="ada@example.org",
        external_id="u-1",
        first_name="Ada",
        attributes={"city": "London"},
        lists=["news", "digest"],
    )
    services.subscription_confirm(subscription=Subscription.objects.get(list=digest))
    confirmation = Message.objects.get()

    response = rec.call("DELETE", "/recipients/external_id:u-1")
    assert response.status_code == 200, response.content
    assert response.json() == {"object": "recipient", "id": created["id"], "deleted": True}

    # the person's data is gone...
    assert not Recipient.objects.exists()
    assert not Subscription.objects.exists()
    assert_error(rec.get(f"/recipients/{created['id']}"), 404, "not_found")
    assert_error(rec.get("/recipients/ada@example.org"), 404, "not_found")
    # ...the address stays suppressed for all mail...
    suppression = Suppression.objects.get()
    assert (suppression.email, suppression.reason, suppression.scope) == (
        "ada@example.org",
        "deleted",
        "all",
    )
    assert suppressed_addresses(["ada@example.org"], marketing=False)
    # ...and the consent history stays, keyed by address
    events = SubscriptionEvent.objects.filter(email="ada@example.org")
    assert not events.filter(recipient__isnull=False).exists()
    kinds = list(events.order_by("id").values_list("kind", flat=True))
    assert kinds[:3] == [Kind.SUBSCRIBED, Kind.CONFIRMATION_SENT, Kind.CONFIRMED]
    assert kinds[3:] == [Kind.DELETED, Kind.DELETED, Kind.SUPPRESSED, Kind.DELETED]
    per_list = {e.list.slug: e.detail for e in events.filter(kind=Kind.DELETED, list__isnull=False)}
    assert "subscribed (source api, subscribed" in per_list["digest"]
    assert "confirmed 20" in per_list["digest"]
    assert "crm [mh_" in events.filter(kind=Kind.DELETED, list__isnull=True).get().detail
    # the confirmation message keeps its own copy of the address
    confirmation.refresh_from_db()
    assert confirmation.recipient_id is None and confirmation.to == ["ada@example.org"]

    # a sync job cannot bring the person back; nothing is stored by trying
    response = rec.post("/recipients", {"email": "ada@example.org", "first_name": "Ada"})
    assert_error(response, 422, "validation_error", "was deleted")
    assert not Recipient.objects.exists()


def test_delete_replaces_an_earlier_suppression_reason_and_notes_it(rec):
    created = create(rec, email="ada@example.org")
    services.suppression_create(email="ada@example.org", reason="unsubscribe", scope="marketing")
    assert rec.call("DELETE", f"/recipients/{created['id']}").status_code == 200
    suppression = Suppression.objects.get()
    assert (suppression.reason, suppression.scope) == ("deleted", "all")
    assert "Global unsubscribe" in suppression.note


# --- keys and scopes ---


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/recipients", {"email": "ada@example.org"}),
        ("GET", "/recipients/ada@example.org", None),
        ("POST", "/recipients/ada@example.org/unsubscribe", {}),
        ("POST", "/recipients/ada@example.org/resubscribe", {}),
        ("DELETE", "/recipients/ada@example.org", None),
    ],
)
def test_every_endpoint_needs_the_recipients_scope(api_as, make_key, method, path, body):
    Recipient.objects.create(email="ada@example.org", first_name="Ada")
    send_only = api_as(make_key(scopes=[ApiScope.SEND]).secret)
    response = send_only.call(method, path, body)
    assert_error(response, 401, "restricted_api_key", "`recipients` scope")
    assert_error(api_as(None).call(method, path, body), 401, "missing_api_key")
    assert_error(api_as("mh_nope_nope").call(method, path, body), 403, "invalid_api_key")
    recipient = Recipient.objects.get()
    assert recipient.first_name == "Ada" and not Suppression.objects.exists()


def test_a_recipients_key_cannot_send(rec):
    response = rec.post(
        "/emails", {"from": "a@example.com", "to": "b@example.org", "subject": "s", "text": "t"}
    )
    assert_error(response, 401, "restricted_api_key", "`send` scope")


def test_the_openapi_description_has_the_recipients_endpoints(client):
    paths = client.get("/api/openapi.json").json()["paths"]
    assert {"post"} <= set(paths["/api/recipients"])
    assert {"get", "delete"} <= set(paths["/api/recipients/{recipient}"])
    assert "post" in paths["/api/recipients/{recipient}/unsubscribe"]
    assert "post" in paths["/api/recipients/{recipient}/resubscribe"]


def test_a_repeated_sync_request_does_not_rejoin_a_list_the_person_left(rec, news, digest):
    body = {"email": "ada@example.org", "first_name": "Ada", "lists": ["news", "digest"]}
    created = create(rec, **body)
    rec.post(f"/recipients/{created['id']}/unsubscribe", {"lists": ["news", "digest"]})
    confirmations = Message.objects.count()
    again = create(rec, **body)  # the sync job sends the same request again
    assert subscription(again, "news")["status"] == "unsubscribed"
    assert subscription(again, "digest")["status"] == "unsubscribed"
    assert Message.objects.count() == confirmations  # no new confirmation email
    # Rejoining is the person's word, through resubscribe with the list named.
    back = rec.post(f"/recipients/{created['id']}/resubscribe", {"lists": ["news"]}).json()
    assert subscription(back, "news")["status"] == "subscribed"
