"""Reads about who may be emailed; the single place the sending rules live."""

from collections.abc import Iterable
from email.utils import parseaddr

from recipients.models import Suppression


def bare_address(value: str) -> str:
    """`Name <A@Example.com>` → `a@example.com`: the form suppressions are stored in."""
    return parseaddr(value)[1].strip().lower()


def suppressed_addresses(addresses: Iterable[str], *, marketing: bool) -> dict[str, str]:
    """Map each address that may not receive this kind of mail to the reason why.

    Transactional mail is stopped only by all-mail suppressions (bounces, complaints, manual);
    marketing mail is stopped by marketing-only ones (a newsletter unsubscribe) as well.
    """
    bare = {bare_address(a) for a in addresses if a}
    if not bare:
        return {}
    rows = Suppression.objects.filter(email__in=bare)
    if not marketing:
        rows = rows.filter(scope=Suppression.Scope.ALL)
    return {
        email: f"{Suppression.Reason(reason).label} ({Suppression.Scope(scope).label.lower()})"
        for email, reason, scope in rows.values_list("email", "reason", "scope")
    }
