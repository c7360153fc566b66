"""Recording staff actions: the one write of the audit log.

Only a signed-in actor's action is recorded: with no actor (a worker, a webhook, the
reconciler, a public page) these functions do nothing, so services can call them
unconditionally and the log holds people's actions, not the system's traffic."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.contenttypes.models import ContentType
from django.db import models

from audit.models import AuditEntry

LABEL_LENGTH = AuditEntry._meta.get_field("target_label").max_length


@dataclass(frozen=True)
class NamedActor:
    """Someone who acts without signing in: an API key, named for the log and the timelines
    ("API key billing [mh_1a2b3c4d…]"). Recorded by that name, with no user."""

    label: str
    is_authenticated = True  # an actor, as far as the log is concerned

    def get_username(self) -> str:
        return self.label


def signed_in(user: AbstractBaseUser | None) -> AbstractBaseUser | None:
    """The user as an actor: an anonymous user (or none, e.g. the system) is no actor."""
    return user if user is not None and user.is_authenticated else None


def actor_name(user: AbstractBaseUser | None) -> str:
    """How an actor is named on timelines: the username, or "" for the system."""
    user = signed_in(user)
    return user.get_username() if user is not None else ""


def _entry(
    actor: AbstractBaseUser | None,
    action: str,
    target: models.Model | None,
    target_label: str,
    detail: dict[str, Any] | None,
) -> AuditEntry:
    user = signed_in(actor)
    entry = AuditEntry(
        actor=user if isinstance(user, AbstractBaseUser) else None,
        actor_name=actor_name(user),
        action=action,
        detail=detail or {},
        target_label=(target_label or (str(target) if target is not None else ""))[:LABEL_LENGTH],
    )
    if target is not None:
        entry.target_type = ContentType.objects.get_for_model(target, for_concrete_model=False)
        entry.target_id = str(target.pk)
    return entry


def audit_record(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    target: models.Model | None = None,
    target_label: str = "",
    detail: dict[str, Any] | None = None,
) -> AuditEntry | None:
    """Record that `actor` did `action` to `target` (a row) or to what `target_label` names.
    Called inside the service's transaction, so the entry holds exactly when the change does."""
    if signed_in(actor) is None:
        return None
    entry = _entry(actor, action, target, target_label, detail)
    entry.save()
    return entry


def audit_record_many(
    *,
    actor: AbstractBaseUser | None,
    action: str,
    targets: Iterable[models.Model],
    detail: dict[str, Any] | None = None,
) -> int:
    """The same action on several rows, in one INSERT; returns how many were recorded."""
    if signed_in(actor) is None:
        return 0
    entries = [_entry(actor, action, target, "", detail) for target in targets]
    AuditEntry.objects.bulk_create(entries)
    return len(entries)


def audit_entries_scrub(text: str, replacement: str) -> int:
    """Replace `text` (an erased person's address) wherever the log holds it: in the labels
    of its targets and in its details. Returns how many entries changed. The entries stay:
    who did what, and when, is the log's purpose; only the person's address goes."""
    needle = text.lower()
    changed = 0
    rows = AuditEntry.objects.filter(
        models.Q(target_label__icontains=text) | models.Q(detail__icontains=text)
    )
    for entry in rows.only("pk", "target_label", "detail"):
        entry.target_label = _replace(entry.target_label, needle, replacement)
        entry.detail = _replace_in(entry.detail, needle, replacement)
        entry.save(update_fields=["target_label", "detail"])
        changed += 1
    return changed


def _replace(value: str, needle: str, replacement: str) -> str:
    lowered = value.lower()
    out, start = [], 0
    while (at := lowered.find(needle, start)) >= 0:
        out += [value[start:at], replacement]
        start = at + len(needle)
    return "".join(out) + value[start:]


def _replace_in(value: Any, needle: str, replacement: str) -> Any:
    if isinstance(value, str):
        return _replace(value, needle, replacement)
    if isinstance(value, list):
        return [_replace_in(v, needle, replacement) for v in value]
    if isinstance(value, dict):
        return {k: _replace_in(v, needle, replacement) for k, v in value.items()}
    return value
