"""Issue 11's table, rows #1, #2, #6 and #8, as they were reproduced: each must now be refused
with nothing changed. Also: controls a role may not use are not shown to it."""

import pytest
import rq
from django.urls import reverse
from django_rq import get_connection

from campaigns.models import Campaign
from queueing.models import Message, MessageStatus
from recipients.models import List, Subscription, Suppression
from tests.mailhub.test_role_matrix import a_queued_job, queue_index

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("role", ["noperm", "viewer"])
def test_row_1_test_send_to_an_attacker_with_a_real_recipient_is_refused(
    client_for, campaign_in, person, role
) -> None:
    campaign = campaign_in(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_test", args=[campaign.pk])
    to = ", ".join(f"attacker{i}@evil.example" for i in range(50))
    response = client_for(role).post(url, {"to": to, "recipient": person.email})
    assert response.status_code == 403
    assert not Message.objects.exists()
    assert b"Jane" not in response.content


def test_row_1_test_send_with_a_recipient_needs_the_right_to_see_recipients(
    client_for, user_for, campaign_in, person
) -> None:
    """test_send alone sends with a sample person; a real person's data also needs
    view_recipient (as the preview does, row #8)."""
    from django.contrib.auth.models import Permission
    from django.test import Client

    campaign = campaign_in(Campaign.Status.DRAFT)
    url = reverse("admin:campaigns_campaign_test", args=[campaign.pk])
    tester = user_for("tester")
    tester.user_permissions.add(Permission.objects.get(codename="test_send"))
    client = Client()
    client.force_login(tester)
    assert client.post(url, {"to": "t@example.org", "recipient": person.email}).status_code == 403
    assert not Message.objects.exists()
    page = client.get(url)
    assert page.status_code == 200 and b'name="recipient"' not in page.content
    assert client.post(url, {"to": "t@example.org"}).status_code == 302
    assert Message.objects.filter(is_test=True, recipient_id=None).count() == 1


def post_action(client, model: str, action: str, pk: int, **fields):
    return client.post(
        reverse(f"admin:{model}_changelist"),
        {"action": action, "_selected_action": [pk], "index": 0, "apply": "1", **fields},
    )


def test_row_2_viewer_cannot_run_message_or_consent_actions(
    client_for, queued_message, failed_message, person
) -> None:
    viewer = client_for("viewer")
    double = List.objects.create(slug="double", name="Double", opt_in=List.OptIn.DOUBLE)
    news = Subscription.objects.get(recipient=person)
    messages_before = Message.objects.count()

    post_action(viewer, "queueing_message", "cancel_messages", queued_message.pk)
    post_action(viewer, "queueing_message", "retry_messages", failed_message.pk)
    post_action(
        viewer, "recipients_recipient", "suppress", person.pk, reason="complaint", scope="all"
    )
    post_action(viewer, "recipients_recipient", "subscribe_to_list", person.pk, list=double.pk)
    post_action(
        viewer, "recipients_recipient", "unsubscribe_from_list", person.pk, list=news.list_id
    )

    queued_message.refresh_from_db()
    failed_message.refresh_from_db()
    assert queued_message.status == MessageStatus.QUEUED
    assert failed_message.status == MessageStatus.FAILED
    assert not Suppression.objects.exists()
    assert not Subscription.objects.filter(list=double).exists()
    assert Subscription.objects.get(pk=news.pk).status == Subscription.Status.SUBSCRIBED
    assert Message.objects.count() == messages_before  # no confirmation email queued


@pytest.mark.parametrize("role", ["viewer", "sender"])
def test_row_2_unsuppress_is_lifting_and_needs_lift_suppression(
    client_for, person, suppressed, role
) -> None:
    client = client_for(role)
    post_action(client, "recipients_recipient", "unsuppress", person.pk, reason="because")
    post_action(client, "recipients_suppression", "lift", suppressed.pk, reason="because")
    assert Suppression.objects.filter(pk=suppressed.pk).exists()


def test_row_2_the_manager_may_lift_from_either_list(client_for, person, suppressed) -> None:
    manager = client_for("manager")
    post_action(manager, "recipients_recipient", "unsuppress", person.pk, reason="asked us")
    assert not Suppression.objects.exists()


@pytest.mark.parametrize("mounted", ["rq_pages", "admin_dashboard"])
@pytest.mark.parametrize("role", ["noperm", "viewer", "sender"])
def test_row_6_django_rq_pages_refuse_staff_without_their_permission(
    client_for, role, mounted
) -> None:
    queue = a_queued_job()
    (job_id,) = queue.job_ids
    index = queue_index("transactional")
    prefix = "django_rq:" if mounted == "rq_pages" else "admin:django_rq_"
    client = client_for(role)
    for name, args in (
        ("clear", [index]),
        ("delete_job", [index, job_id]),
        ("requeue_all", [index]),
        ("jobs", [index]),
        ("home", []),
    ):
        response = client.post(reverse(prefix + name, args=args), {"post": "yes"})
        assert response.status_code == 403, name
    assert rq.Queue("transactional", connection=get_connection("transactional")).job_ids == [job_id]


def test_row_6_the_dashboard_link_is_shown_only_to_those_who_may_use_it(client_for) -> None:
    assert b"django_rq" not in client_for("sender").get(reverse("admin:index")).content
    assert b"django_rq" in client_for("manager").get(reverse("admin:index")).content


def test_row_6_signed_out_visitors_are_sent_to_the_login(client) -> None:
    response = client.post(reverse("django_rq:clear", args=[queue_index("transactional")]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_row_8_preview_for_a_recipient_is_refused_without_the_permissions(
    client_for, user_for, template, person
) -> None:
    from django.contrib.auth.models import Permission
    from django.test import Client

    url = reverse("admin:campaigns_template_preview", args=[template.pk])
    response = client_for("noperm").get(url, {"recipient": person.email})
    assert response.status_code == 403
    assert b"Jane" not in response.content

    # Seeing templates is not seeing people: view_template alone previews a sample person.
    reader = user_for("reader")
    reader.user_permissions.add(Permission.objects.get(codename="view_template"))
    client = Client()
    client.force_login(reader)
    assert client.get(url, {"recipient": person.email}).status_code == 403
    page = client.get(url)
    assert page.status_code == 200 and b'name="recipient"' not in page.content

    shown = client_for("viewer").get(url, {"recipient": person.email})
    assert shown.status_code == 200 and b"jane@example.com" in shown.content


# --- controls a role may not use are not shown ---------------------------------------------


def test_viewer_sees_no_campaign_controls(client_for, campaign_in) -> None:
    sending = campaign_in(Campaign.Status.SENDING)
    change = reverse("admin:campaigns_campaign_change", args=[sending.pk])
    page = client_for("viewer").get(change).content.decode()
    for hidden in ("Send or schedule…", "Test send…", ">Pause<", "Cancel campaign"):
        assert hidden not in page
    assert ">Preview<" in page  # reading is allowed
    page = client_for("sender").get(change).content.decode()
    for shown in (">Pause<", ">Cancel campaign<"):
        assert shown in page


def test_viewer_sees_no_send_or_change_controls_in_the_lists(client_for, person) -> None:
    viewer = client_for("viewer")
    messages = viewer.get(reverse("admin:queueing_message_changelist")).content.decode()
    assert "Compose email" not in messages
    assert 'value="retry_messages"' not in messages
    assert 'value="cancel_messages"' not in messages
    people = viewer.get(reverse("admin:recipients_recipient_changelist")).content.decode()
    for hidden in ("subscribe_to_list", "unsubscribe_from_list", "suppress", "unsuppress"):
        assert f'value="{hidden}"' not in people
    assert "Import CSV" not in people
    lists = viewer.get(reverse("admin:recipients_list_changelist")).content.decode()
    assert "Import CSV" not in lists

    sender = client_for("sender")
    messages = sender.get(reverse("admin:queueing_message_changelist")).content.decode()
    assert "Compose email" in messages and 'value="cancel_messages"' in messages
    people = sender.get(reverse("admin:recipients_recipient_changelist")).content.decode()
    assert 'value="subscribe_to_list"' in people and "Import CSV" in people
    assert 'value="unsuppress"' not in people  # lifting is the manager's


def test_only_the_manager_is_offered_to_lift_a_suppression(client_for, suppressed) -> None:
    url = reverse("admin:recipients_suppression_changelist")
    assert 'value="lift"' not in client_for("sender").get(url).content.decode()
    assert 'value="lift"' in client_for("manager").get(url).content.decode()
