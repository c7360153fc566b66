"""Every role against every admin action and custom admin view, by direct request (the test
client skips CSRF, as a hostile script would not need it either).

Each operation sets up what it acts on, makes the request, and says whether its change
happened. A role without the permission gets 403 from a custom view, or has an action refused
(it is not among the choices, so nothing runs), and nothing changes; a role with it succeeds.
"""

from collections.abc import Callable
from dataclasses import dataclass

import django_rq
import pytest
import rq
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django_rq.settings import get_queues_list

from campaigns.models import Campaign
from queueing.models import (
    ApiKey,
    DeliveryStatus,
    Message,
    MessageStatus,
    OperatorPause,
    ProviderWebhookEvent,
    SendBatch,
    SenderDomainPause,
    WebhookDelivery,
    WebhookEndpoint,
)
from queueing.sending_gate import operator_pause
from recipients.models import ImportRun, Recipient, Subscription, Suppression
from tests.mailhub.conftest import ROLES

SENDERS = {"sender", "manager", "superuser"}
MANAGERS = {"manager", "superuser"}
READERS = {"viewer", "sender", "manager", "superuser"}


@dataclass
class Case:
    send: Callable  # (client) -> response
    changed: Callable[[], bool] | None  # None: a page that changes nothing
    kind: str = "view"  # "view": refused with 403; "action": refused, not run


def action_post(url: str, action: str, pk: int, **fields) -> Callable:
    return lambda client: client.post(
        url, {"action": action, "_selected_action": [pk], "index": 0, "apply": "1", **fields}
    )


def message_retry(fx) -> Case:
    message = fx("failed_message")
    url = reverse("admin:queueing_message_changelist")
    return Case(
        action_post(url, "retry_messages", message.pk),
        lambda: Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED,
        "action",
    )


def message_cancel(fx) -> Case:
    message = fx("queued_message")
    url = reverse("admin:queueing_message_changelist")
    return Case(
        action_post(url, "cancel_messages", message.pk),
        lambda: Message.objects.get(pk=message.pk).status == MessageStatus.CANCELLED,
        "action",
    )


def message_compose(fx) -> Case:
    def send(client):
        return client.post(
            reverse("admin:queueing_message_compose"),
            {
                "from_email": "mailhub@example.com",
                "to": "x@example.org",
                "subject": "Hi",
                "text": "Hello",
                "priority": "transactional",
            },
        )

    return Case(send, lambda: Message.objects.filter(to=["x@example.org"]).exists())


def recipient_subscribe(fx) -> Case:
    person = fx("person")
    other = fx("make_list")("other")
    url = reverse("admin:recipients_recipient_changelist")
    return Case(
        action_post(url, "subscribe_to_list", person.pk, list=other.pk),
        lambda: Subscription.objects.filter(recipient=person, list=other).exists(),
        "action",
    )


def recipient_unsubscribe(fx) -> Case:
    person = fx("person")
    subscription = Subscription.objects.get(recipient=person)
    url = reverse("admin:recipients_recipient_changelist")
    return Case(
        action_post(url, "unsubscribe_from_list", person.pk, list=subscription.list_id),
        lambda: (
            Subscription.objects.get(pk=subscription.pk).status == Subscription.Status.UNSUBSCRIBED
        ),
        "action",
    )


def recipient_suppress(fx) -> Case:
    person = fx("person")
    url = reverse("admin:recipients_recipient_changelist")
    return Case(
        action_post(url, "suppress", person.pk, reason="complaint", scope="all", note=""),
        lambda: Suppression.objects.filter(email=person.email).exists(),
        "action",
    )


def recipient_forget(fx) -> Case:
    person = fx("person")
    url = reverse("admin:recipients_recipient_changelist")
    return Case(
        action_post(url, "forget", person.pk, confirm="on"),
        lambda: not Recipient.objects.filter(pk=person.pk).exists(),
        "action",
    )


def recipient_unsuppress(fx) -> Case:
    person, _ = fx("person"), fx("suppressed")
    url = reverse("admin:recipients_recipient_changelist")
    return Case(
        action_post(url, "unsuppress", person.pk, reason="asked us"),
        lambda: not Suppression.objects.filter(email=person.email).exists(),
        "action",
    )


def suppression_lift(fx) -> Case:
    suppression = fx("suppressed")
    url = reverse("admin:recipients_suppression_changelist")
    return Case(
        action_post(url, "lift", suppression.pk, reason="asked us"),
        lambda: not Suppression.objects.filter(pk=suppression.pk).exists(),
        "action",
    )


def campaign_send(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_send", args=[campaign.pk])
    return Case(
        lambda client: client.post(url, {"scheduled_at": ""}),
        lambda: Campaign.objects.get(pk=campaign.pk).status == Campaign.Status.SENDING,
    )


def campaign_send_page(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_send", args=[campaign.pk])
    return Case(lambda client: client.get(url), None)


def campaign_test_send(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_test", args=[campaign.pk])
    return Case(
        lambda client: client.post(url, {"to": "t@example.org", "recipient": ""}),
        lambda: Message.objects.filter(is_test=True).exists(),
    )


def campaign_test_send_page(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_test", args=[campaign.pk])
    return Case(lambda client: client.get(url), None)


def campaign_lifecycle(action: str, before: str, after: str) -> Callable:
    def case(fx) -> Case:
        campaign = fx("campaign_in")(before)
        url = reverse(f"admin:campaigns_campaign_{action}", args=[campaign.pk])
        return Case(
            lambda client: client.post(url),
            lambda: Campaign.objects.get(pk=campaign.pk).status == after,
        )

    return case


def campaign_preview(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_preview", args=[campaign.pk])
    return Case(lambda client: client.get(url), None)


def campaign_progress(fx) -> Case:
    campaign = fx("campaign_in")(Campaign.Status.SENDING)
    url = reverse("admin:campaigns_campaign_progress", args=[campaign.pk])
    return Case(lambda client: client.get(url), None)


def campaign_edit(status: str) -> Callable:
    """Save the campaign's form: a draft's changes; any other status has no form to save."""

    def case(fx) -> Case:
        campaign = fx("campaign_in")(status)
        url = reverse("admin:campaigns_campaign_change", args=[campaign.pk])
        data = {
            "name": "Renamed",
            "template": campaign.template_id,
            "lists": [lst.pk for lst in campaign.lists.all()],
            "attribute_filter": "{}",
        }
        return Case(
            lambda client: client.post(url, data),
            lambda: Campaign.objects.get(pk=campaign.pk).name == "Renamed",
        )

    return case


def campaign_delete(status: str) -> Callable:
    def case(fx) -> Case:
        campaign = fx("campaign_in")(status)
        url = reverse("admin:campaigns_campaign_delete", args=[campaign.pk])
        return Case(
            lambda client: client.post(url, {"post": "yes"}),
            lambda: not Campaign.objects.filter(pk=campaign.pk).exists(),
        )

    return case


def template_preview(fx) -> Case:
    url = reverse("admin:campaigns_template_preview", args=[fx("template").pk])
    return Case(lambda client: client.get(url), None)


def template_preview_for_recipient(fx) -> Case:
    fx("person")
    url = reverse("admin:campaigns_template_preview", args=[fx("template").pk])
    return Case(lambda client: client.get(url, {"recipient": "jane@example.com"}), None)


def import_upload(fx) -> Case:
    fx("make_list")("news")

    def send(client):
        return client.post(
            reverse("admin:recipients_import"),
            {
                "file": SimpleUploadedFile("p.csv", b"email\na@example.com\n", "text/csv"),
                "list_slug": "news",
                "encoding": "utf-8-sig",
            },
        )

    return Case(send, lambda: ImportRun.objects.exists())


def import_page(fx) -> Case:
    return Case(lambda client: client.get(reverse("admin:recipients_import")), None)


def import_run_page(fx) -> Case:
    run = ImportRun.objects.create(list_slug="news", filename="a.csv", source="admin")
    url = reverse("admin:recipients_import_run", args=[run.pk])
    return Case(lambda client: client.get(url), None)


def import_report(fx) -> Case:
    run = ImportRun.objects.create(list_slug="news", filename="a.csv", rejected=1, report="x")
    url = reverse("admin:recipients_import_report", args=[run.pk])
    return Case(lambda client: client.get(url), None)


def a_queued_job() -> rq.Queue:
    """The "transactional" queue holding one job (put there directly: django_rq's own
    enqueue waits for the test's transaction to commit)."""
    queue = rq.Queue("transactional", connection=django_rq.get_connection("transactional"))
    queue.enqueue("queueing.jobs.drain_queue", "transactional")
    assert queue.count == 1
    return queue


def queue_index(name: str) -> int:
    return [q["name"] for q in get_queues_list()].index(name)


def rq_empty_queue(fx) -> Case:
    queue = a_queued_job()
    url = reverse("django_rq:clear", args=[queue_index("transactional")])
    return Case(lambda client: client.post(url), lambda: queue.count == 0)


def rq_dashboard(fx) -> Case:
    return Case(lambda client: client.get(reverse("django_rq:home")), None)


def rq_in_admin(fx) -> Case:
    url = reverse("admin:django_rq_dashboard_changelist")
    return Case(lambda client: client.get(url), None)


def audit_log(fx) -> Case:
    return Case(lambda client: client.get(reverse("admin:audit_auditentry_changelist")), None)


def sender_domain_lift(fx) -> Case:
    pause = SenderDomainPause.objects.create(domain="refused.example", reason="not verified")
    url = reverse("admin:queueing_senderdomainpause_changelist")
    return Case(
        action_post(url, "lift", pause.pk),
        lambda: SenderDomainPause.objects.get(pk=pause.pk).lifted_at is not None,
        "action",
    )


def api_keys(fx) -> Case:
    return Case(lambda client: client.get(reverse("admin:queueing_apikey_changelist")), None)


def api_key_create(fx) -> Case:
    url = reverse("admin:queueing_apikey_add")
    return Case(
        lambda client: client.post(url, {"name": "billing", "scopes": ["send"]}),
        lambda: ApiKey.objects.filter(name="billing").exists(),
    )


def webhook_endpoints(fx) -> Case:
    url = reverse("admin:queueing_webhookendpoint_changelist")
    return Case(lambda client: client.get(url), None)


def webhook_endpoint_create(fx) -> Case:
    key = ApiKey.objects.create(name="shop", prefix="mh_shop", digest="d" * 64, scopes=["send"])
    url = reverse("admin:queueing_webhookendpoint_add")
    return Case(
        lambda client: client.post(
            url, {"api_key": key.pk, "url": "https://hooks.example.com/x", "active": "on"}
        ),
        lambda: WebhookEndpoint.objects.filter(api_key=key).exists(),
    )


def webhook_delivery_retry(fx) -> Case:
    key = ApiKey.objects.create(name="shop", prefix="mh_shop", digest="e" * 64, scopes=["send"])
    endpoint = WebhookEndpoint.objects.create(
        api_key=key, url="https://hooks.example.com/x", secret="whsec_c2VjcmV0"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        raw_event_id=1,
        event_type="email.delivered",
        msg_id="msg_matrix",
        payload={},
        status=DeliveryStatus.FAILED,
    )
    url = reverse("admin:queueing_webhookdelivery_changelist")
    return Case(
        action_post(url, "retry_now", delivery.pk),
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING,
        "action",
    )


def message_send_again(fx) -> Case:
    message = fx("failed_message")
    url = reverse("admin:queueing_message_changelist")
    return Case(
        action_post(url, "send_again", message.pk),
        lambda: Message.objects.filter(subject=message.subject).count() == 2,
        "action",
    )


def webhook_reprocess(fx) -> Case:
    event = ProviderWebhookEvent.objects.create(
        svix_id="msg_matrix",
        type="email.delivered",
        body={"type": "email.delivered", "data": {"email_id": "re_unknown"}},
        error="failed before",
        attempts=3,
    )
    url = reverse("admin:queueing_providerwebhookevent_changelist")
    return Case(
        action_post(url, "reprocess_events", event.pk),
        lambda: ProviderWebhookEvent.objects.get(pk=event.pk).processed_at is not None,
        "action",
    )


def message_page_action(action: str, fixture: str, after) -> Callable:
    """A button on a message's page (retry, cancel, send again): a POST to its own view."""

    def case(fx) -> Case:
        message = fx(fixture)
        url = reverse(f"admin:queueing_message_{action}", args=[message.pk])
        return Case(lambda client: client.post(url), lambda: after(message))

    return case


def message_page(fx) -> Case:
    url = reverse("admin:queueing_message_change", args=[fx("failed_message").pk])
    return Case(lambda client: client.get(url), None)


def send_batch_page(fx) -> Case:
    message = fx("queued_message")
    batch = SendBatch.objects.create(
        idempotency_key="matrix", priority="transactional", status="done",
        member_ids=[message.pk], size=1,
    )  # fmt: skip
    url = reverse("admin:queueing_sendbatch_change", args=[batch.pk])
    return Case(lambda client: client.get(url), None)


def login_lockouts(fx) -> Case:
    return Case(lambda client: client.get(reverse("admin:axes_accessattempt_changelist")), None)


def metrics_page(fx) -> Case:
    return Case(lambda client: client.get(reverse("metrics")), None)


def dashboard_json(fx) -> Case:
    return Case(lambda client: client.get(reverse("admin:mailhub_status_json")), None)


def dashboard_retry(fx) -> Case:
    message = fx("failed_message")
    url = reverse("admin:mailhub_message_retry", args=[message.pk])
    return Case(
        lambda client: client.post(url),
        lambda: Message.objects.get(pk=message.pk).status == MessageStatus.QUEUED,
    )


def dashboard_campaign(action: str, before: str, after: str) -> Callable:
    def case(fx) -> Case:
        campaign = fx("campaign_in")(before)
        url = reverse("admin:mailhub_campaign_action", args=[campaign.pk, action])
        return Case(
            lambda client: client.post(url),
            lambda: Campaign.objects.get(pk=campaign.pk).status == after,
        )

    return case


def dashboard_pause_sending(fx) -> Case:
    url = reverse("admin:mailhub_sending_pause")
    return Case(
        lambda client: client.post(url, {"reason": "maintenance"}),
        lambda: OperatorPause.objects.filter(lifted_at__isnull=True).exists(),
    )


def dashboard_resume_sending(fx) -> Case:
    operator_pause(reason="maintenance")
    url = reverse("admin:mailhub_sending_resume")
    return Case(
        lambda client: client.post(url),
        lambda: not OperatorPause.objects.filter(lifted_at__isnull=True).exists(),
    )


OPERATIONS: dict[str, tuple[Callable[..., Case], set[str]]] = {
    "message_retry": (message_retry, SENDERS),
    "message_cancel": (message_cancel, SENDERS),
    "message_compose": (message_compose, SENDERS),
    "recipient_subscribe": (recipient_subscribe, SENDERS),
    "recipient_unsubscribe": (recipient_unsubscribe, SENDERS),
    "recipient_suppress": (recipient_suppress, SENDERS),
    "recipient_unsuppress": (recipient_unsuppress, MANAGERS),
    "recipient_forget": (recipient_forget, MANAGERS),
    "suppression_lift": (suppression_lift, MANAGERS),
    "campaign_send": (campaign_send, SENDERS),
    "campaign_send_page": (campaign_send_page, SENDERS),
    "campaign_test_send": (campaign_test_send, SENDERS),
    "campaign_test_send_page": (campaign_test_send_page, SENDERS),
    "campaign_pause": (campaign_lifecycle("pause", "sending", "paused"), SENDERS),
    "campaign_resume": (campaign_lifecycle("resume", "paused", "sending"), SENDERS),
    "campaign_cancel": (campaign_lifecycle("cancel", "sending", "cancelled"), SENDERS),
    "campaign_preview": (campaign_preview, READERS),
    "campaign_progress": (campaign_progress, READERS),
    "campaign_edit_draft": (campaign_edit(Campaign.Status.DRAFT), SENDERS),
    "campaign_edit_sending": (campaign_edit(Campaign.Status.SENDING), set()),
    "campaign_edit_sent": (campaign_edit(Campaign.Status.SENT), set()),
    "campaign_delete_draft": (campaign_delete(Campaign.Status.DRAFT), MANAGERS),
    "campaign_delete_sent": (campaign_delete(Campaign.Status.SENT), set()),
    "template_preview": (template_preview, READERS),
    "template_preview_for_recipient": (template_preview_for_recipient, READERS),
    "import_upload": (import_upload, SENDERS),
    "import_page": (import_page, SENDERS),
    "import_run_page": (import_run_page, READERS),
    "import_report": (import_report, READERS),
    "rq_empty_queue": (rq_empty_queue, MANAGERS),
    "rq_dashboard": (rq_dashboard, MANAGERS),
    "rq_in_admin": (rq_in_admin, MANAGERS),
    "audit_log": (audit_log, MANAGERS),
    "sender_domain_lift": (sender_domain_lift, MANAGERS),
    "login_lockouts": (login_lockouts, MANAGERS),
    "message_send_again": (message_send_again, SENDERS),
    "message_page": (message_page, READERS),
    "message_page_retry": (
        message_page_action(
            "retry",
            "failed_message",
            lambda m: Message.objects.get(pk=m.pk).status == MessageStatus.QUEUED,
        ),
        SENDERS,
    ),
    "message_page_cancel": (
        message_page_action(
            "cancel",
            "queued_message",
            lambda m: Message.objects.get(pk=m.pk).status == MessageStatus.CANCELLED,
        ),
        SENDERS,
    ),
    "message_page_send_again": (
        message_page_action(
            "send_again",
            "failed_message",
            lambda m: Message.objects.filter(subject=m.subject).count() == 2,
        ),
        SENDERS,
    ),
    "send_batch_page": (send_batch_page, READERS),
    "webhook_reprocess": (webhook_reprocess, MANAGERS),
    "api_keys": (api_keys, MANAGERS),
    "api_key_create": (api_key_create, MANAGERS),
    "webhook_endpoints": (webhook_endpoints, MANAGERS),
    "webhook_endpoint_create": (webhook_endpoint_create, MANAGERS),
    "webhook_delivery_retry": (webhook_delivery_retry, MANAGERS),
    "metrics": (metrics_page, READERS),
    "dashboard_json": (dashboard_json, READERS),
    "dashboard_retry": (dashboard_retry, SENDERS),
    "dashboard_campaign_pause": (dashboard_campaign("pause", "sending", "paused"), SENDERS),
    "dashboard_campaign_resume": (dashboard_campaign("resume", "paused", "sending"), SENDERS),
    "dashboard_campaign_cancel": (dashboard_campaign("cancel", "sending", "cancelled"), SENDERS),
    "dashboard_pause_sending": (dashboard_pause_sending, MANAGERS),
    "dashboard_resume_sending": (dashboard_resume_sending, MANAGERS),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", OPERATIONS)
def test_role_matrix(request, client_for, role: str, operation: str) -> None:
    build, allowed = OPERATIONS[operation]
    case = build(request.getfixturevalue)
    client = client_for(role)
    response = case.send(client)
    if role in allowed:
        assert response.status_code in (200, 302), response.content[:500]
        if case.changed is not None:
            assert case.changed(), f"{role} may {operation}, but nothing changed"
        return
    if case.kind == "view":
        assert response.status_code == 403
    else:
        # An action the user may not run is not among the choices: refused before it runs
        # (the list again, or 403 for a user who may not even see the list).
        assert response.status_code in (200, 302, 403)
    if case.changed is not None:
        assert not case.changed(), f"{role} may not {operation}, yet it happened"
