"""The roles map and its sync after migrate: idempotent, repairs a tampered group, follows
the map when it changes, and names only permissions that exist."""

import pytest
from django.apps import apps
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command

from mailhub import roles

pytestmark = pytest.mark.django_db


def group_permissions(name: str) -> set[str]:
    group = Group.objects.get(name=name)
    return {
        f"{p.content_type.app_label}.{p.codename}"
        for p in group.permissions.select_related("content_type")
    }


def snapshot() -> dict[str, set[str]]:
    return {name: group_permissions(name) for name in roles.ROLES}


def test_a_migrated_database_has_the_three_roles_and_the_custom_permissions() -> None:
    assert set(Group.objects.values_list("name", flat=True)) >= {"viewer", "sender", "manager"}
    for (app_label, _model), entries in roles.CUSTOM_PERMISSIONS.items():
        for codename, _name in entries:
            assert Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).exists()


def test_every_entry_of_the_map_names_a_permission() -> None:
    everything = list(Permission.objects.select_related("content_type"))
    for role, patterns in roles.ROLES.items():
        assert roles.unknown_entries(patterns, everything) == [], role


def test_the_sync_is_idempotent() -> None:
    before = snapshot()
    permission_count = Permission.objects.count()
    roles.sync_roles()
    roles.sync_roles()
    assert snapshot() == before
    assert Permission.objects.count() == permission_count
    assert Group.objects.filter(name__in=roles.ROLES).count() == len(roles.ROLES)


def test_migrate_again_changes_nothing() -> None:
    before = snapshot()
    call_command("migrate", verbosity=0)
    assert snapshot() == before


def test_a_tampered_group_is_set_right_by_the_sync() -> None:
    viewer = Group.objects.get(name="viewer")
    lift = Permission.objects.get(codename="lift_suppression")
    viewer.permissions.add(lift)  # given by hand
    viewer.permissions.remove(Permission.objects.get(codename="view_message"))  # taken away
    Group.objects.get(name="sender").delete()  # gone altogether
    call_command("migrate", verbosity=0)  # the post_migrate receiver runs
    assert "recipients.lift_suppression" not in group_permissions("viewer")
    assert "queueing.view_message" in group_permissions("viewer")
    assert "campaigns.send_campaign" in group_permissions("sender")


def test_the_groups_follow_the_map_when_it_changes(monkeypatch) -> None:
    changed = {**roles.ROLES, "viewer": (*roles.VIEWER, "audit.view_auditentry")}
    monkeypatch.setattr(roles, "ROLES", changed)
    roles.sync_roles()
    assert "audit.view_auditentry" in group_permissions("viewer")
    monkeypatch.setattr(roles, "ROLES", {**changed, "viewer": ("queueing.view_message",)})
    roles.sync_roles()
    assert group_permissions("viewer") == {"queueing.view_message"}


def test_viewer_reads_every_model_of_the_product_and_changes_nothing() -> None:
    viewer = group_permissions("viewer")
    for app_label in roles.PRODUCT_APPS:
        for model in apps.get_app_config(app_label).get_models():
            if model._meta.model_name in (
                "apikey",
                "apiidempotencykey",
                "webhookendpoint",
                "webhookdelivery",
            ):
                continue  # managers only
            assert f"{app_label}.view_{model._meta.model_name}" in viewer
    assert all(p.split(".", 1)[1].startswith("view_") for p in viewer)
    assert "audit.view_auditentry" not in viewer  # managers only


def test_sender_may_not_lift_suppressions_pause_sending_or_read_the_audit_log() -> None:
    sender = group_permissions("sender")
    assert sender >= group_permissions("viewer")
    for forbidden in (
        "recipients.lift_suppression",
        "recipients.change_suppression",
        "queueing.pause_sending",
        "audit.view_auditentry",
        "django_rq.admin",
    ):
        assert forbidden not in sender
    for needed in (
        "queueing.add_message",
        "queueing.retry_message",
        "queueing.cancel_message",
        "campaigns.send_campaign",
        "campaigns.test_send",
        "recipients.add_importrun",
        "recipients.add_suppression",
    ):
        assert needed in sender


def test_manager_holds_everything_of_the_product() -> None:
    manager = group_permissions("manager")
    product = {
        f"{p.content_type.app_label}.{p.codename}"
        for p in Permission.objects.filter(
            content_type__app_label__in=roles.PRODUCT_APPS
        ).select_related("content_type")
    }
    assert manager >= product | {"audit.view_auditentry", "django_rq.admin"}
    assert manager >= group_permissions("sender")


def test_api_keys_are_for_managers_alone() -> None:
    from django.contrib.auth.models import Group

    from mailhub.roles import sync_roles

    sync_roles()
    for role in ("viewer", "sender"):
        codenames = set(Group.objects.get(name=role).permissions.values_list("codename", flat=True))
        manager_only = ("_apikey", "_apiidempotencykey", "_webhookendpoint", "_webhookdelivery")
        assert not {c for c in codenames if c.endswith(manager_only)}
        assert "view_message" in codenames
    manager = set(Group.objects.get(name="manager").permissions.values_list("codename", flat=True))
    assert {"add_apikey", "view_apikey", "change_apikey"} <= manager
    assert {"add_webhookendpoint", "view_webhookdelivery", "change_webhookdelivery"} <= manager
