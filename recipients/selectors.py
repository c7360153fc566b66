"""Reads about who may be emailed; the single place the sending rules live.

- Transactional mail (password resets, receipts) is stopped only by all-mail suppressions:
  hard bounces, complaints, staff decisions.
- Marketing mail is stopped by those and by marketing-only suppressions (a global unsubscribe),
  and when it goes to a list, also needs a subscription that is "subscribed" and, for a
  double opt-in list, confirmed.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Count, Exists, OuterRef, Q, QuerySet

from queueing.addresses import bare_address
from queueing.bulk_sql import select_in
from recipients.forgotten import forgotten_labels
from recipients.models import List, Recipient, Subscription, Suppression
from recipients.normalise import normalise_email
from recipients.tokens import looks_like_unsubscribe_token


def suppressed_addresses(addresses: Iterable[str], *, marketing: bool) -> dict[str, str]:
    """Map each address that may not receive this kind of mail to the reason why.

    Transactional mail is stopped only by all-mail suppressions (bounces, complaints, manual);
    marketing mail is stopped by marketing-only ones (a newsletter unsubscribe) as well.
    """
    bare = {bare_address(a) for a in addresses if a}
    if not bare:
        return {}
    # Erased people's addresses are held as keyed hashes (recipients.forgotten): asked for in
    # the same IN (…) on the same unique index.
    hashed = forgotten_labels(bare)
    # Raw rows (bulk_sql): every batch sent asks this for its 100-odd addresses, and the
    # ORM's IN (…) cost more to build than the indexed read.
    rows = select_in(
        Suppression,
        ("email", "reason", "scope"),
        "email",
        [*bare, *hashed],
        where=None if marketing else {"scope": Suppression.Scope.ALL},
    )
    return {
        hashed.get(email, email): (
            f"{Suppression.Reason(reason).label} ({Suppression.Scope(scope).label.lower()})"
        )
        for email, reason, scope in rows
    }


@dataclass(frozen=True)
class Decision:
    """May this address receive this mail? `code` is for programs, `reason` for people."""

    allowed: bool
    code: str = "ok"
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def may_receive(email: str, *, marketing: bool, list: List | None = None) -> Decision:
    """The rules above, for one address (and, for marketing to a list, that list)."""
    try:
        address = normalise_email(bare_address(email) or email)
    except ValidationError as exc:
        return Decision(False, "invalid_address", exc.messages[0])
    blocked = suppressed_addresses([address], marketing=marketing)
    if blocked:
        return Decision(False, "suppressed", f"Suppressed: {blocked[address]}.")
    if list is None or not marketing:
        return Decision(True)
    subscription = (
        Subscription.objects.filter(recipient__email=address, list=list)
        .select_related("list")
        .first()
    )
    if subscription is None:
        return Decision(False, "not_subscribed", f"Not subscribed to the list {list.name!r}.")
    if subscription.status == Subscription.Status.UNSUBSCRIBED:
        when = (
            f" on {subscription.unsubscribed_at:%Y-%m-%d}" if subscription.unsubscribed_at else ""
        )
        return Decision(False, "unsubscribed", f"Unsubscribed from {list.name!r}{when}.")
    if not subscription.receives_campaigns:
        return Decision(
            False, "unconfirmed", f"The subscription to {list.name!r} is not confirmed yet."
        )
    return Decision(True)


def receiving_subscriptions(lists: Iterable[List] | QuerySet[List]) -> QuerySet[Subscription]:
    """Subscriptions that receive campaigns: subscribed, and confirmed on double opt-in lists."""
    return Subscription.objects.filter(
        list__in=lists, status=Subscription.Status.SUBSCRIBED
    ).filter(Q(confirmed_at__isnull=False) | Q(list__opt_in=List.OptIn.SINGLE))


def eligible_recipients(
    lists: Iterable[List] | QuerySet[List],
    *,
    marketing: bool = True,
    after: int = 0,
    upto: int | None = None,
) -> QuerySet[Recipient]:
    """Campaign fan-out: each recipient once, however many of `lists` they are on, who is
    subscribed (confirmed where the list needs it) and not suppressed for this kind of mail;
    only ids in (after, upto] (upto None: no end).

    Evaluated in the database (EXISTS subqueries, no joins that multiply rows), so it can be
    iterated in chunks or used in an INSERT … SELECT over millions of recipients. The id range
    is put on the subscriptions too: PostgreSQL does not carry a range across the EXISTS's
    join, and without it hashes every subscription of the lists for each chunk (see
    docs/PERFORMANCE.md, fan-out)."""
    lists = list(lists) if not isinstance(lists, QuerySet) else lists
    subscribed = receiving_subscriptions(lists).filter(recipient=OuterRef("pk"))
    recipients = Recipient.objects.all()
    if after:
        subscribed = subscribed.filter(recipient_id__gt=after)
        recipients = recipients.filter(pk__gt=after)
    if upto is not None:
        subscribed = subscribed.filter(recipient_id__lte=upto)
        recipients = recipients.filter(pk__lte=upto)
    suppressions = Suppression.objects.filter(email=OuterRef("email"))
    if not marketing:
        suppressions = suppressions.filter(scope=Suppression.Scope.ALL)
    return recipients.filter(Exists(subscribed)).exclude(Exists(suppressions)).order_by("pk")


def subscriptions_bound(lists: Iterable[List], *, after: int, count: int) -> int | None:
    """The recipient id by which `count` subscriptions to `lists` (of any status) after
    recipient `after` are reached, or None if fewer remain: where a fan-out chunk of at most
    `count` people ends. One index-only range scan of the (recipient, list) unique index."""
    ids = (
        Subscription.objects.filter(list__in=list(lists), recipient_id__gt=after)
        .order_by("recipient_id")
        .values_list("recipient_id", flat=True)
    )
    return next(iter(ids[count - 1 : count]), None)


def recipient_by_token(token: str) -> Recipient | None:
    """The recipient an unsubscribe token belongs to, or None (also for malformed tokens)."""
    if not looks_like_unsubscribe_token(token):
        return None
    return Recipient.objects.filter(unsubscribe_token=token).first()


def recipient_by_email(email: str) -> Recipient | None:
    try:
        address = normalise_email(email)
    except ValidationError:
        return None
    return Recipient.objects.filter(email=address).first()


def recipient_by_external_id(external_id: str) -> Recipient | None:
    """The recipient another service knows by this id (stored stripped), or None."""
    value = external_id.strip()
    if not value:
        return None
    return Recipient.objects.filter(external_id=value).first()


def recipient_by_id(pk: int) -> Recipient | None:
    return Recipient.objects.filter(pk=pk).first()


def recipient_subscriptions(recipient: Recipient) -> QuerySet[Subscription]:
    """A recipient's subscriptions with their lists, in the lists' slug order (the API's)."""
    return recipient.subscriptions.select_related("list").order_by("list__slug")


def subscription_of(recipient: Recipient, list: List) -> Subscription | None:
    return (
        Subscription.objects.filter(recipient=recipient, list=list).select_related("list").first()
    )


def suppression_for(email: str) -> Suppression | None:
    """The suppression on `email` (already in canonical form), if any."""
    return Suppression.objects.filter(email=email).first()


def preference_subscriptions(recipient: Recipient) -> QuerySet[Subscription]:
    """The lists a recipient sees and manages on the preference page: every list they have a
    subscription row for (subscribed, pending or unsubscribed), and no other.

    "Lists they may join" adds nothing: a List has no flag that opens it to self-service, so
    no list is offered to people who were never on it (a list's name would otherwise reach
    everyone holding any token). Internal lists appear under a neutral name
    (recipients.public_names)."""
    return recipient.subscriptions.select_related("list").order_by(
        "list__internal", "list__name", "list_id"
    )


def recipient_list_by_slug(recipient: Recipient, slug: str) -> List | None:
    """The list with this slug if `recipient` has a subscription to it (any status), else None
    (also when no list has the slug: callers cannot tell the two apart)."""
    if not slug:
        return None
    return List.objects.filter(slug=slug, subscriptions__recipient=recipient).first()


def lists_with_counts() -> QuerySet[List]:
    """Lists with subscriber counts per status (lists are few; the counts use the index)."""
    status = Subscription.Status
    return List.objects.annotate(
        subscribed_count=Count("subscriptions", filter=Q(subscriptions__status=status.SUBSCRIBED)),
        pending_count=Count("subscriptions", filter=Q(subscriptions__status=status.PENDING)),
        unsubscribed_count=Count(
            "subscriptions", filter=Q(subscriptions__status=status.UNSUBSCRIBED)
        ),
    )


def export_rows(list: List) -> QuerySet[Recipient]:
    """Recipients subscribed to `list` (status subscribed), for export, in a stable order."""
    on_list = Subscription.objects.filter(
        recipient=OuterRef("pk"), list=list, status=Subscription.Status.SUBSCRIBED
    )
    return Recipient.objects.filter(Exists(on_list)).order_by("pk")
