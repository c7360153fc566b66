"""Roles: three groups of staff, defined here in code and kept in step with the database.

`ROLES` maps each role (a Group of that name) to the permissions it holds, as
"app_label.codename" or a pattern with `*` ("queueing.view_*" is every view permission of
queueing's models, including models added later); an entry starting with `-` takes away
what it names from what the others give. `CUSTOM_PERMISSIONS` are the permissions
that are not a model's add/change/delete/view, created here rather than in `Meta.permissions`
so that adding one never needs a migration in the app that owns the model.

`sync_roles` runs after every `migrate` (a post_migrate receiver, connected in
mailhub.apps): it creates the custom permissions and sets each group's permissions to exactly
what this map says, adding what is missing and removing what was dropped or added by hand. A
fresh database gets the roles, an old one gets the map's changes. Giving a person a role is
adding them to the group (and marking them staff).
"""

import fnmatch
import logging
from collections.abc import Iterable

from django.apps import AppConfig, apps
from django.contrib.auth.models import Group, Permission
from django.contrib.contenttypes.models import ContentType
from django.db import DEFAULT_DB_ALIAS, transaction

log = logging.getLogger(__name__)

# (app_label, model) → [(codename, name)]. A permission on a model names the thing it acts on.
CUSTOM_PERMISSIONS: dict[tuple[str, str], list[tuple[str, str]]] = {
    ("campaigns", "campaign"): [
        ("send_campaign", "Can send, schedule, pause, resume and cancel a campaign"),
        ("test_send", "Can send a campaign as a test"),
        ("acknowledge_guard", "Can acknowledge a campaign's guard-rail flag"),
    ],
    ("queueing", "message"): [
        ("retry_message", "Can retry a failed message"),
        ("cancel_message", "Can cancel a queued or scheduled message"),
        ("pause_sending", "Can pause and resume all sending"),
        ("view_metrics", "Can read the Prometheus metrics (/metrics)"),
    ],
    ("recipients", "suppression"): [
        ("lift_suppression", "Can lift a suppression"),
    ],
    ("recipients", "recipient"): [
        ("forget_recipient", "Can erase a person's data (forget them)"),
    ],
}

PRODUCT_APPS = ("queueing", "recipients", "campaigns")

# API keys, the idempotency records behind them, and their webhook endpoints (whose URLs
# and secrets belong with the key) and deliveries are the manager's alone (even to read).
MANAGER_ONLY = (
    "-queueing.*_apikey",
    "-queueing.*_apiidempotencykey",
    "-queueing.*_webhookendpoint",
    "-queueing.*_webhookdelivery",
)

VIEWER = (*(f"{app}.view_*" for app in PRODUCT_APPS), *MANAGER_ONLY)
# Lifting a sender domain pause is the pause's change permission: manager only, through
# queueing.* below (a sender may not send into a refusal Resend has just given).

SENDER = (
    *VIEWER,
    # mail
    "queueing.add_message",
    "queueing.retry_message",
    "queueing.cancel_message",
    # people, lists and consent (suppressing yes; lifting or editing a suppression no)
    "recipients.add_recipient",
    "recipients.change_recipient",
    "recipients.add_list",
    "recipients.change_list",
    "recipients.add_subscription",
    "recipients.change_subscription",
    "recipients.add_suppression",
    "recipients.add_importrun",
    # templates and campaigns
    "campaigns.add_template",
    "campaigns.change_template",
    "campaigns.add_campaign",
    "campaigns.change_campaign",
    "campaigns.send_campaign",
    "campaigns.test_send",
)

MANAGER = (
    *(f"{app}.*" for app in PRODUCT_APPS),
    "audit.view_auditentry",
    "django_rq.admin",  # django-rq's pages: see mailhub/rq_access.py
    # Admin login lock-outs (django-axes): read them, and clear one by deleting its attempt.
    "axes.view_accessattempt",
    "axes.delete_accessattempt",
    "axes.view_accessfailurelog",
    "axes.view_accesslog",
)

ROLES: dict[str, tuple[str, ...]] = {
    "viewer": VIEWER,
    "sender": SENDER,
    "manager": MANAGER,
}


def _key(permission: Permission) -> str:
    return f"{permission.content_type.app_label}.{permission.codename}"


def resolve(patterns: Iterable[str], permissions: Iterable[Permission]) -> list[Permission]:
    """The permissions the patterns name, less those an exclusion (`-pattern`) names, in a
    stable order."""
    patterns = list(patterns)
    include = [pat for pat in patterns if not pat.startswith("-")]
    exclude = [pat[1:] for pat in patterns if pat.startswith("-")]

    def named(permission: Permission, pats: list[str]) -> bool:
        return any(fnmatch.fnmatchcase(_key(permission), pat) for pat in pats)

    return sorted((p for p in permissions if named(p, include) and not named(p, exclude)), key=_key)


def unknown_entries(patterns: Iterable[str], permissions: Iterable[Permission]) -> list[str]:
    """Entries of the map that name no permission (a typo, or a model that is gone)."""
    keys = [_key(p) for p in permissions]
    return [pat for pat in patterns if not fnmatch.filter(keys, pat.removeprefix("-"))]


def create_custom_permissions(using: str = DEFAULT_DB_ALIAS) -> None:
    for (app_label, model_name), entries in CUSTOM_PERMISSIONS.items():
        model = apps.get_model(app_label, model_name)
        content_type = ContentType.objects.db_manager(using).get_for_model(
            model, for_concrete_model=False
        )
        for codename, name in entries:
            Permission.objects.using(using).update_or_create(
                content_type=content_type, codename=codename, defaults={"name": name}
            )


def sync_roles(using: str = DEFAULT_DB_ALIAS) -> None:
    """Create the custom permissions and make each role's group hold exactly its map entry.
    Idempotent; safe to run any number of times."""
    with transaction.atomic(using=using):
        create_custom_permissions(using)
        everything = list(Permission.objects.using(using).select_related("content_type"))
        for role, patterns in ROLES.items():
            for entry in unknown_entries(patterns, everything):
                log.warning(
                    "Role %r names %r, which is no permission in this database", role, entry
                )
            group, _ = Group.objects.using(using).get_or_create(name=role)
            group.permissions.set(resolve(patterns, everything))


def _last_app_with_models() -> AppConfig:
    return [config for config in apps.get_app_configs() if config.models_module is not None][-1]


def sync_roles_after_migrate(sender: AppConfig, using: str = DEFAULT_DB_ALIAS, **kwargs) -> None:
    """post_migrate is sent once per app; the roles are synced on the last one, when every
    app's content types and default permissions exist."""
    if sender.label == _last_app_with_models().label:
        sync_roles(using)
