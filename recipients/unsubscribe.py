"""Unsubscribe links and RFC 8058 headers, for every marketing email (used by campaigns).

The token in these URLs is the recipient's stored random token: the same on every render of
every message to that person, revealing nothing, valid for as long as the recipient exists.
A campaign's links also carry the campaign, signed (recipients.attribution), so its
unsubscribes are counted where they came from.
"""

from urllib.parse import quote, urlencode

from recipients.attribution import PARAMETER, campaign_signature
from recipients.links import absolute_url
from recipients.models import List, Recipient


def _with_query(url: str, list: List | None, campaign_id: int | None) -> str:
    query = {}
    if list is not None:
        query["list"] = list.slug
    if campaign_id is not None:
        query[PARAMETER] = campaign_signature(campaign_id)
    return f"{url}?{urlencode(query)}" if query else url


def unsubscribe_url(
    recipient: Recipient, list: List | None = None, campaign_id: int | None = None
) -> str:
    """The page a person opens from the footer: confirm leaving `list` (or all marketing)."""
    return _with_query(
        absolute_url("recipients:unsubscribe", token=recipient.unsubscribe_token),
        list,
        campaign_id,
    )


def one_click_unsubscribe_url(
    recipient: Recipient, list: List | None = None, campaign_id: int | None = None
) -> str:
    """The RFC 8058 target: a POST with `List-Unsubscribe=One-Click` unsubscribes at once."""
    return _with_query(
        absolute_url("recipients:one_click", token=recipient.unsubscribe_token), list, campaign_id
    )


def preferences_url(recipient: Recipient) -> str:
    return absolute_url("recipients:preferences", token=recipient.unsubscribe_token)


def list_unsubscribe_headers(
    recipient: Recipient,
    list: List | None = None,
    mailto: str | None = None,
    campaign_id: int | None = None,
) -> dict[str, str]:
    """`List-Unsubscribe` (one-click URL, plus a mailto: when an address is given) and
    `List-Unsubscribe-Post`, as Gmail and Yahoo require of bulk senders (RFC 8058).

    The mailto subject carries the token so whoever reads that mailbox can find the person."""
    targets = [f"<{one_click_unsubscribe_url(recipient, list, campaign_id)}>"]
    if mailto:
        subject = quote(f"unsubscribe {recipient.unsubscribe_token}")
        targets.append(f"<mailto:{mailto.strip()}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
