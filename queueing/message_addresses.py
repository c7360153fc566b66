"""The searchable addresses of a message: what the admin's address search looks up by index.

A message's first `to` address is kept on the row itself (`Message.to_address`); every other
recipient (the rest of `to`, cc and bcc: up to 49 more) is a `MessageAddress` row. Campaign
messages, nearly all of the table, have one recipient: fan-out fills the column in the same
INSERT and writes no extra rows. Every address is stored bare and lower-case
(`queueing.addresses.bare_address`), so `Ada <ADA@Example.com>` is found as ada@example.com;
the search is an exact match on that form (`queueing.selectors.message_search`).
"""

from collections.abc import Iterable

from queueing.addresses import bare_address
from queueing.models import Message, MessageAddress

# The longest address the column holds (RFC 5321's path limit is shorter still).
MAX_ADDRESS = 320


def search_form(value: str) -> str:
    """`Ada <ADA@Example.com>` → `ada@example.com`; "" for no address. What is stored, and
    what a search term is turned into before it is looked up."""
    return bare_address(value.strip())[:MAX_ADDRESS]


def first_address(to: list[str]) -> str:
    return search_form(to[0]) if to else ""


def other_addresses(message: Message) -> list[str]:
    """The message's recipients after its first `to`, in search form, each once."""
    first = first_address(message.to)
    seen: dict[str, None] = {}
    for value in (*message.to[1:], *message.cc, *message.bcc):
        address = search_form(value)
        if address and address != first:
            seen[address] = None
    return list(seen)


def address_rows(messages: Iterable[Message]) -> list[MessageAddress]:
    """Unsaved MessageAddress rows for saved messages' other recipients (none for most)."""
    return [
        MessageAddress(message_id=m.pk, address=address)
        for m in messages
        if len(m.to) + len(m.cc) + len(m.bcc) > 1
        for address in other_addresses(m)
    ]
