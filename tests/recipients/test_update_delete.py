"""recipient_update and recipient_delete, and the lookup by external id (used by the HTTP API
and open to the admin): what changes, what is refused, what a deletion keeps."""

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEntry
from recipients import selectors, services
from recipients.models import Recipient, Source, SubscriptionEvent, Suppression

pytestmark = pytest.mark.django_db


def test_update_changes_only_the_given_fields_and_says_which(admin_user):
    ada, _ = services.recipient_get_or_create(email="ada@example.org", first_name="Ada")
    changed = services.recipient_update(
        recipient=ada, last_name=" King ", attributes={"plan": "pro"}, created_by=admin_user
    )
    assert changed == ["last_name", "attributes"]
    ada.refresh_from_db()
    assert (ada.first_name, ada.last_name, ada.attributes) == ("Ada", "King", {"plan": "pro"})
    assert services.recipient_update(recipient=ada, first_name="Ada") == []
    entry = AuditEntry.objects.get(action="recipient.update")
    assert entry.detail == {"fields": ["last_name", "attributes"]}


def test_update_refuses_a_taken_external_id_and_too_long_names():
    services.recipient_get_or_create(email="ada@example.org", external_id="u-1")
    bob, _ = services.recipient_get_or_create(email="bob@example.org")
    with pytest.raises(ValidationError) as taken:
        services.recipient_update(recipient=bob, external_id="u-1")
    assert "external_id" in taken.value.message_dict
    with pytest.raises(ValidationError) as long:
        services.recipient_update(recipient=bob, first_name="x" * 151)
    assert "first_name" in long.value.message_dict
    assert bob.first_name == ""  # the object is left as stored
    bob.refresh_from_db()
    assert (bob.external_id, bob.first_name) == (None, "")


def test_an_empty_external_id_clears_it_and_lookup_by_external_id():
    ada, _ = services.recipient_get_or_create(email="ada@example.org", external_id="u-1")
    assert selectors.recipient_by_external_id(" u-1 ") == ada
    assert selectors.recipient_by_external_id("") is None
    services.recipient_update(recipient=ada, external_id="")
    assert selectors.recipient_by_external_id("u-1") is None


def test_delete_without_subscriptions_suppresses_and_records(admin_user):
    ada, _ = services.recipient_get_or_create(email="ada@example.org", first_name="Ada")
    suppression = services.recipient_delete(
        recipient=ada, source=Source.ADMIN, created_by=admin_user
    )
    assert (suppression.reason, suppression.scope) == ("deleted", "all")
    assert not Recipient.objects.exists()
    kinds = list(
        SubscriptionEvent.objects.order_by("id").values_list("kind", "email", "created_by")
    )
    assert kinds == [
        ("suppressed", "ada@example.org", admin_user.pk),
        ("deleted", "ada@example.org", admin_user.pk),
    ]
    actions = set(AuditEntry.objects.values_list("action", "target_label"))
    assert actions == {
        ("suppression.create", "ada@example.org"),
        ("recipient.delete", "ada@example.org"),
    }


def test_delete_of_a_bounced_address_keeps_it_suppressed_for_all_mail():
    ada, _ = services.recipient_get_or_create(email="ada@example.org")
    services.suppression_create(email="ada@example.org", reason="hard_bounce", note="550")
    services.recipient_delete(recipient=ada, source=Source.API)
    suppression = Suppression.objects.get()
    assert (suppression.reason, suppression.scope) == ("deleted", "all")
    assert suppression.note == "550\nwas: Hard bounce (All mail)"
