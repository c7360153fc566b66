"""Unsubscribe links and RFC 8058 headers, for every marketing email (used by campaigns).

The token in these URLs is the recipient's stored random token: the same on every render of
every message to that person, revealing nothing, valid for as long as the recipient exists.
"""

from urllib.parse import quote, urlencode

from recipients.links import absolute_url
from recipients.models import List, Recipient


def _with_list(url: str, list: List | None) -> str:
    return f"{url}?{urlencode({'list': list.slug})}" if list is not None else url


def unsubscribe_url(recipient: Recipient, list: List | None = None) -> str:
    """The page a person opens from the footer: confirm leaving `list` (or all marketing)."""
    return _with_list(
        absolute_url("recipients:unsubscribe", token=recipient.unsubscribe_token), list
    )


def one_click_unsubscribe_url(recipient: Recipient, list: List | None = None) -> str:
    """The RFC 8058 target: a POST with `List-Unsubscribe=One-Click` unsubscribes at once."""
    return _with_list(absolute_url("recipients:one_click", token=recipient.unsubscribe_token), list)


def preferences_url(recipient: Recipient) -> str:
    return absolute_url("recipients:preferences", token=recipient.unsubscribe_token)


def list_unsubscribe_headers(
    recipient: Recipient, list: List | None = None, mailto: str | None = None
) -> dict[str, str]:
    """`List-Unsubscribe` (one-click URL, plus a mailto: when an address is given) and
    `List-Unsubscribe-Post`, as Gmail and Yahoo require of bulk senders (RFC 8058).

    The mailto subject carries the token so whoever reads that mailbox can find the person."""
    targets = [f"<{one_click_unsubscribe_url(recipient, list)}>"]
    if mailto:
        subject = quote(f"unsubscribe {recipient.unsubscribe_token}")
        targets.append(f"<mailto:{mailto.strip()}?subject={subject}>")
    return {
        "List-Unsubscribe": ", ".join(targets),
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
