"""Holding back the messages of one sending domain that Resend refuses, until staff lift it.

When Resend refuses a message for its sender (an unverified domain, testing mode, a from
address it will not take), every further message from that domain would be refused the same
way. The refused message fails with Resend's words; the domain gets a pause here, stored in
the database (Redis may be flushed), and the claim (queueing.claims.claimable_messages) skips
queued messages whose `from_domain` is paused. They are not failed and spend no attempt; once
a person has fixed the domain at Resend and lifts the pause, they go.

Other domains keep sending: unlike the fleet-wide pause (queueing.sending_gate), this one
concerns one sender.
"""

import logging

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from audit.services import audit_record
from queueing.enqueue import request_drain_on_commit
from queueing.models import Priority, SenderDomainPause

log = logging.getLogger(__name__)


def active_pauses() -> QuerySet[SenderDomainPause]:
    return SenderDomainPause.objects.filter(lifted_at__isnull=True)


def paused_domains_subquery() -> QuerySet:
    """The paused domains, as a subquery for `from_domain__in` (read once per statement)."""
    return active_pauses().values("domain")


def sender_domain_pause(*, domain: str, reason: str, message_id: int | None = None) -> bool:
    """Hold this domain's messages back (idempotent: a domain already paused keeps its first
    reason). True if this call paused it."""
    domain = domain.strip().lower()
    if not domain:
        return False
    try:
        # A savepoint: a concurrent pause of the same domain must not spoil the caller's
        # transaction (the recording of the refusal).
        with transaction.atomic():
            SenderDomainPause.objects.create(domain=domain, reason=reason, message_id=message_id)
    except IntegrityError:
        return False  # already paused (by another worker, a moment ago)
    log.error("Messages from %s are held until staff lift the pause: %s", domain, reason)
    return True


def sender_domain_pause_lift(*, domain: str, actor: AbstractBaseUser | None = None) -> bool:
    """Let this domain's held messages go again (asks both queues for a drain on commit).
    False if the domain was not paused."""
    domain = domain.strip().lower()
    by = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        lifted = (
            active_pauses().filter(domain=domain).update(lifted_at=timezone.now(), lifted_by=by)
        )
        if lifted:
            audit_record(actor=by, action="sender_domain.lift", target_label=domain)
            for priority in Priority.values:
                request_drain_on_commit(priority)
    if lifted:
        log.warning("Sender domain %s lifted by %s", domain, by or "the system")
    return bool(lifted)
