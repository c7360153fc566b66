"""Which campaign an unsubscribe came from: the signed `c=` parameter of unsubscribe links.

Campaigns put `c=<campaign id>:<signature>` on the unsubscribe link and the RFC 8058 one-click
URL of every email (django.core.signing with a salt of its own, on SECRET_KEY), so the figure
cannot be pushed onto a campaign by editing a URL. The views verify it and announce every
unsubscribe through a link with `link_unsubscribed` (recipients may not import campaigns):
campaigns counts a verified campaign once per person. A forged, stale or absent parameter
only loses the attribution; the person is unsubscribed all the same.
"""

from django.core import signing
from django.dispatch import Signal

PARAMETER = "c"
SALT = "mailhub.recipients.unsubscribe-campaign"

# Sent after an unsubscribe through a link (the page or one-click), in the request:
# `recipient` (the Recipient), `campaign_id` (int, verified) or None.
link_unsubscribed = Signal()


def campaign_signature(campaign_id: int) -> str:
    """`<id>:<signature>`: the value of the `c` parameter for this campaign."""
    return signing.Signer(salt=SALT).sign(str(int(campaign_id)))


def campaign_from_signature(value: str | None) -> int | None:
    """The campaign id a `c` value names, if its signature is good; None otherwise."""
    if not value or len(value) > 100:
        return None
    try:
        plain = signing.Signer(salt=SALT).unsign(value)
    except signing.BadSignature:
        return None
    return int(plain) if plain.isdigit() and len(plain) <= 18 else None
