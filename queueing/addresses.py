"""Addresses, parsed one way for every entry point: input → (display name, address).

RFC 5322 parsing is the standard library's (`email.headerregistry`, the parser behind the
`email` package's own headers): quoted names may hold commas, `@` and escaped quotes,
comments are dropped, and `Name <addr>` and a bare addr-spec both work. On top of it mailhub
refuses what it will not send: an empty value, line breaks and other control characters,
group syntax, more addresses than the field takes, anything the parser had to guess at, and
an addr-spec Django's `validate_email` refuses. What is stored and sent is always written
back by `format_address`, so a name is re-quoted (`"Bob, Jr" <bob@example.com>`), and the
suppression list, the allowed-sender check and the Resend payload all read the same parsed
address, never a string split again.

Errors are `AddressError` (a ValueError), whose message names the whole input; callers
that speak in fields (`queueing.validation`) wrap it.
"""

import re
from email.errors import HeaderDefect, ObsoleteHeaderDefect
from email.headerregistry import HeaderRegistry
from functools import lru_cache
from typing import NamedTuple

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# A plain dot-atom address (what nearly every stored address is) needs no parser; parsing
# costs twenty times more (benchmarks/campaign_render.py), a hundred times per batch.
_PLAIN_ADDRESS = re.compile(
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
)
# Line breaks would let a value add headers; other control characters have no place in an
# address or a name either (C1 controls included: U+0085 is a line break). Tab is whitespace in a header, but not in what people type.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
# One address, name included: a header line's length (RFC 5322). Bounds the parser's work.
MAX_ADDRESS_INPUT = 998
# Obsolete syntax (RFC 5322 section 4) the parser reads without guessing: a period in an
# unquoted name (`J. Doe <j@example.com>`), and empty list elements (`a@x.org,,b@x.org`).
# Other obsolete forms (routes, CFWS inside an addr-spec) are refused.
_TOLERATED = frozenset(
    {
        "period in 'phrase'",
        "comment found without atom",
        "empty element in address-list",
        "address-list entry with no content",
    }
)
_HINT = "use email@example.com or Name <email@example.com>"
# The `to` header class of the registry: built once (HeaderRegistry makes a class per call).
_ADDRESS_HEADER = HeaderRegistry()["to"]


class AddressError(ValueError):
    """Input that is not what the field takes; the message, for people, names all of it."""


class Mailbox(NamedTuple):
    """One parsed address: `name` may be empty; `address` is the addr-spec, domain in
    lower case (the local part is the sender's business)."""

    name: str
    address: str

    def __str__(self) -> str:
        return format_address(self.name, self.address)


def format_address(name: str, address: str) -> str:
    """`address`, or `name <address>` with the name quoted where RFC 5322 needs it."""
    name = name.strip()
    if not name:
        return address
    if _needs_quotes(name):
        escaped = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}" <{address}>'
    return f"{name} <{address}>"


# Characters an unquoted name (a run of atoms) may hold; non-ASCII is allowed (RFC 6532).
_ATOMS = re.compile(r"[^\x00-\x20\x7f()<>\[\]:;@\\,.\"]+(?: [^\x00-\x20\x7f()<>\[\]:;@\\,.\"]+)*")


def _needs_quotes(name: str) -> bool:
    return _ATOMS.fullmatch(name) is None


def parse_address(value: object) -> Mailbox:
    """Exactly one address, or AddressError."""
    text = _checked_text(value, limit=MAX_ADDRESS_INPUT)
    if _PLAIN_ADDRESS.fullmatch(text):
        return Mailbox("", _valid_addr_spec(text, text))
    mailboxes = _parse(text)
    if len(mailboxes) != 1:
        listed = ", ".join(m.address for m in mailboxes)
        raise AddressError(
            f"{text!r} holds {len(mailboxes)} addresses ({listed}); give one address here."
        )
    return mailboxes[0]


def parse_address_list(value: object, *, limit: int) -> list[Mailbox]:
    """Every address in a comma-separated list (a comma inside quotes is part of a name),
    or AddressError; never one silently left out. At most `limit` addresses."""
    text = _checked_text(value, limit=MAX_ADDRESS_INPUT * limit)
    if _PLAIN_ADDRESS.fullmatch(text):
        return [Mailbox("", _valid_addr_spec(text, text))]
    mailboxes = _parse(text)
    if len(mailboxes) > limit:
        raise AddressError(f"{len(mailboxes)} addresses given; the limit is {limit}.")
    return mailboxes


def bare_address(value: str) -> str:
    """`Name <A@Example.com>` → `a@example.com`: the form suppressions are stored in; ""
    when `value` holds no address. Never raises: the worker reads stored rows with it."""
    if _PLAIN_ADDRESS.fullmatch(value):
        return value.lower()
    mailbox = stored_mailbox(value)
    return mailbox.address.lower() if mailbox else ""


def sender_domain(from_email: str) -> str:
    """`Name <news@Mail.Example.com>` → `mail.example.com`: what a sender pause is kept by
    (queueing.sender_pauses); "" when there is no address to read. Read from the parsed
    address, never from the display name, whatever it holds."""
    mailbox = stored_mailbox(from_email)
    if mailbox is None:
        return ""
    local, at, domain = mailbox.address.rpartition("@")
    return domain.strip().lower() if at and local else ""


def stored_mailbox(value: str) -> Mailbox | None:
    """A stored address read back: parsed as on the way in; for a row stored before names
    were quoted (`Bob, Jr <bob@example.com>`, validated then), the trailing `<address>`."""
    if _PLAIN_ADDRESS.fullmatch(value):
        return Mailbox("", value)
    mailbox = read_address(value)
    if mailbox:
        return mailbox
    name, bracket, rest = value.strip().rpartition("<")
    if bracket and rest.endswith(">") and "@" in rest:
        return Mailbox(name.strip().strip('"'), rest[:-1].strip())
    return None


def sendable_address(value: str) -> str:
    """A stored address as the provider gets it. One the parser reads as exactly one address
    goes as stored (new rows are stored written back; keeping the bytes keeps a retry's body
    the same across a deploy, as its Idempotency-Key needs). A row stored before names were
    quoted (`Bob, Jr <bob@example.com>`) goes written back from its trailing address."""
    if _PLAIN_ADDRESS.fullmatch(value) or read_address(value):
        return value
    mailbox = stored_mailbox(value)
    return str(mailbox) if mailbox else value


def read_address(value: str) -> Mailbox | None:
    """The one address in `value` as the RFC 5322 parser reads it, without judging the
    addr-spec (no fast path, no validate_email): None unless it holds exactly one."""
    try:
        mailboxes = _parse(_checked_text(value, limit=MAX_ADDRESS_INPUT), validate=False)
    except AddressError:
        return None
    return mailboxes[0] if len(mailboxes) == 1 else None


def _checked_text(value: object, *, limit: int) -> str:
    if not isinstance(value, str):
        raise AddressError(f"{value!r} is not an email address.")
    text = value.strip()
    if not text:
        raise AddressError("The email address is empty.")
    if _CONTROL.search(text):
        raise AddressError(f"{text!r} contains a line break or another control character.")
    if len(text) > limit:
        raise AddressError(f"{text[:40]!r}… is {len(text):,} characters; the limit is {limit:,}.")
    return text


# The parser costs ~0.1 ms a value, and a batch or a campaign repeats its sender on every
# message: results for values this short are kept per process (bounded; errors are not kept,
# they raise). Longer values are parsed each time, so hostile input cannot fill the cache.
CACHED_INPUT_LENGTH = 320


def _parse(text: str, *, validate: bool = True) -> list[Mailbox]:
    if len(text) <= CACHED_INPUT_LENGTH:
        return list(_parse_cached(text, validate))
    return _parse_uncached(text, validate=validate)


@lru_cache(maxsize=4096)
def _parse_cached(text: str, validate: bool) -> tuple[Mailbox, ...]:
    return tuple(_parse_uncached(text, validate=validate))


def _parse_uncached(text: str, *, validate: bool = True) -> list[Mailbox]:
    invalid = f"{text!r} is not a valid address: {_HINT}."
    try:
        header = _ADDRESS_HEADER("to", text)
    except Exception:  # the parser's own errors are not all HeaderParseError
        raise AddressError(invalid) from None
    for group in header.groups:
        if group.display_name is not None:
            raise AddressError(
                f"{text!r} uses group syntax ({group.display_name}: …;); list the addresses."
            )
    problems = [d for d in header.defects if _refused(d)]
    mailboxes = [a for g in header.groups for a in g.addresses]
    if not mailboxes:
        raise AddressError(invalid)
    parsed = []
    for mailbox in mailboxes:
        if not mailbox.domain:
            raise AddressError(_no_domain(text, mailbox.username, len(mailboxes)))
        parsed.append(Mailbox(mailbox.display_name.strip(), mailbox.addr_spec))
    if problems:
        raise AddressError(invalid)
    if not validate:
        return parsed
    return [Mailbox(m.name, _valid_addr_spec(m.address, text)) for m in parsed]


def _refused(defect: HeaderDefect) -> bool:
    return not (isinstance(defect, ObsoleteHeaderDefect) and str(defect) in _TOLERATED)


def _no_domain(text: str, word: str, count: int) -> str:
    if count > 1:
        return (
            f"{text!r} is not a valid address: {word!r} is not an address (a name with a "
            'comma needs quotes: "Doe, John" <john@example.com>).'
        )
    return f"{text!r} is not a valid address: {_HINT}."


def _valid_addr_spec(addr_spec: str, text: str) -> str:
    if addr_spec.startswith('"'):
        # RFC 5322 allows `"a b"@example.com`, Resend does not; and stored with its quotes it
        # would not match the same mailbox written without them (suppressions).
        raise AddressError(
            f"{text!r} has a quoted local part (before the @), which Resend does not accept."
        )
    try:
        validate_email(addr_spec)
    except ValidationError:
        raise AddressError(f"{text!r} is not a valid address: {_HINT}.") from None
    local, _, domain = addr_spec.rpartition("@")
    return f"{local}@{domain.lower()}"
