"""Addresses as the queue compares them: `Name <A@Example.com>` → `a@example.com`."""

import re
from email.utils import parseaddr

# A plain dot-atom address (what nearly every stored address is) comes out of parseaddr as it
# went in; parsing it costs twenty times more (benchmarks/campaign_render.py), a hundred
# times per batch.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)


def is_plain_address(value: str) -> bool:
    """True for `local@domain` in the plain dot-atom form, which parseaddr returns unchanged."""
    return _PLAIN_ADDRESS.fullmatch(value) is not None


def bare_address(value: str) -> str:
    """`Name <A@Example.com>` → `a@example.com`: the form suppressions are stored in."""
    if _PLAIN_ADDRESS.fullmatch(value):
        return value.lower()
    return parseaddr(value)[1].strip().lower()


def sender_domain(from_email: str) -> str:
    """`Name <news@Mail.Example.com>` → `mail.example.com`: what a sender pause is kept by
    (queueing.sender_pauses); "" when there is no address to read. Read from the angle
    brackets (or the whole value), never through the display name, whatever it holds."""
    value = from_email.strip()
    if value.endswith(">") and "<" in value:
        value = value[value.rindex("<") + 1 : -1]
    local, at, domain = value.rpartition("@")
    return domain.strip().lower() if at and local else ""
