"""queueing.addresses: one RFC 5322 parser for every entry point, tried on tricky forms.

The property tests generate display names full of what breaks naive splitting (commas,
quotes, backslashes, `@`, angle brackets, non-ASCII) and check that what mailhub writes
back parses to the same (name, address), that the suppression check reads the address, and
that a quoted comma never makes a second recipient.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from queueing.addresses import (
    _PLAIN_ADDRESS,
    AddressError,
    Mailbox,
    bare_address,
    format_address,
    parse_address,
    parse_address_list,
    read_address,
    sendable_address,
    stored_mailbox,
)

bounded = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

_ATEXT = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~-"
_LABEL = "abcdefghijklmnopqrstuvwxyz0123456789"
# What breaks naive splitting, plus non-ASCII letters. `?` is left out: `=?...?=` in a name
# is an RFC 2047 encoded word, which the parser decodes (on purpose: that is what it means).
_NAME_CHARS = st.one_of(
    st.sampled_from(list(" ,\"\\@<>().;:[]'!#x-_")),
    st.characters(
        categories=("Lu", "Ll", "Lo", "Nd", "Po", "Sm", "So", "Zs"),
        exclude_characters="?",
    ),
)

local_parts = st.lists(
    st.text(alphabet=_ATEXT.replace("?", ""), min_size=1, max_size=12), min_size=1, max_size=3
).map(".".join)
domains = st.builds(
    lambda labels, tld: ".".join([*labels, tld]),
    st.lists(st.text(alphabet=_LABEL, min_size=1, max_size=10), min_size=1, max_size=3),
    st.sampled_from(["com", "org", "example", "co.uk", "ORG", "Com"]),
)
addresses = st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains)
names = st.text(_NAME_CHARS, max_size=40).map(str.strip)


def canonical(address: str) -> str:
    local, _, domain = address.rpartition("@")
    return f"{local}@{domain.lower()}"


@bounded
@given(names, addresses)
def test_what_mailhub_writes_parses_back_to_the_same_name_and_address(name, address):
    written = format_address(name, address)
    assert parse_address(written) == Mailbox(name, canonical(address))
    # Normalising is idempotent: the stored form is its own normal form.
    assert str(parse_address(written)) == format_address(name, canonical(address))


@bounded
@given(names, addresses)
def test_the_suppression_check_and_the_payload_read_the_parsed_address(name, address):
    written = format_address(name, canonical(address))
    assert bare_address(written) == address.lower()
    assert stored_mailbox(written) == Mailbox(name, canonical(address))
    assert sendable_address(written) == written


@bounded
@given(st.lists(st.tuples(names, addresses), min_size=1, max_size=6))
def test_a_quoted_comma_never_makes_another_recipient(pairs):
    text = ", ".join(format_address(n, a) for n, a in pairs)
    assert parse_address_list(text, limit=50) == [Mailbox(n, canonical(a)) for n, a in pairs]


@bounded
@given(names, addresses, addresses)
def test_an_address_in_the_name_is_never_the_one_read(name, decoy, address):
    written = format_address(f"{decoy}, {name}", address)
    assert bare_address(written) == address.lower()
    assert parse_address(written).address == canonical(address)


@bounded
@given(st.text(max_size=80))
def test_any_input_is_an_address_or_a_clear_error(value):
    try:
        mailbox = parse_address(value)
    except AddressError as exc:
        assert str(exc)
        return
    # Whatever is accepted is stable: written back and parsed again, it is the same.
    assert parse_address(str(mailbox)) == mailbox
    assert bare_address(str(mailbox)) == mailbox.address.lower()


@bounded
@given(st.text(st.sampled_from(list('ab@., "\\<>();:x\n')), max_size=30))
def test_tricky_punctuation_is_an_address_list_or_a_clear_error(value):
    try:
        mailboxes = parse_address_list(value, limit=50)
    except AddressError as exc:
        assert str(exc)
        return
    assert parse_address_list(", ".join(map(str, mailboxes)), limit=50) == mailboxes


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("bob@example.com", ("", "bob@example.com")),
        ("Bob@Example.COM", ("", "Bob@example.com")),
        ("<bob@example.com>", ("", "bob@example.com")),
        ("Bob <bob@example.com>", ("Bob", "bob@example.com")),
        ('"Bob, Jr" <bob@example.com>', ("Bob, Jr", "bob@example.com")),
        (
            '"nobody@example.org, Bob" <bob@example.com>',
            ("nobody@example.org, Bob", "bob@example.com"),
        ),
        ('"Doe, John" <john@example.com>', ("Doe, John", "john@example.com")),
        ('"a \\"quoted\\" word" <q@example.com>', ('a "quoted" word', "q@example.com")),
        ('"back\\\\slash" <b@example.com>', ("back\\slash", "b@example.com")),
        ("Bob (the builder) <bob@example.com>", ("Bob", "bob@example.com")),
        ("bob@example.com (Bob)", ("", "bob@example.com")),
        ("J. Doe <j@example.com>", ("J. Doe", "j@example.com")),
        ("Zoë Łukasz <zoe@example.com>", ("Zoë Łukasz", "zoe@example.com")),
        ('"" <bob@example.com>', ("", "bob@example.com")),
        ("  Bob   <bob@example.com>  ", ("Bob", "bob@example.com")),
    ],
)
def test_tricky_forms_parse_to_name_and_address(value, expected):
    assert parse_address(value) == Mailbox(*expected)


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ("Bob", "Bob <b@example.com>"),
        ("Bob Smith", "Bob Smith <b@example.com>"),
        ("Bob, Jr", '"Bob, Jr" <b@example.com>'),
        ("J. Doe", '"J. Doe" <b@example.com>'),
        ('say "hi"', '"say \\"hi\\"" <b@example.com>'),
        ("a\\b", '"a\\\\b" <b@example.com>'),
        ("x@y.org", '"x@y.org" <b@example.com>'),
        ("Zoë", "Zoë <b@example.com>"),
        ("", "b@example.com"),
    ],
)
def test_names_are_quoted_when_written_back(name, written):
    assert format_address(name, "b@example.com") == written


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("bob@example.com\r\nBcc: eve@example.com", "line break"),
        ("Bob\u0085 <bob@example.com>", "line break"),
        ("bob@example.com\x00", "control character"),
        ("team: a@example.com, b@example.com;", "group syntax"),
        ("undisclosed-recipients:;", "group syntax"),
        ("a@example.com, b@example.com", "holds 2 addresses (a@example.com, b@example.com)"),
        ("Doe, John <john@example.com>", "'Doe' is not an address"),
        ("bob@example.com junk", "not a valid address"),
        ("Bob <bob@example.com", "not a valid address"),
        ("<@relay.example:bob@example.com>", "not a valid address"),
        ("bob@example", "not a valid address"),
        ("bob", "not a valid address"),
        ("Bob <>", "not a valid address"),
        ("a" * 990 + "@example.com", "the limit is 998"),
        (42, "is not an email address"),
    ],
)
def test_what_is_refused_and_the_message_names_the_whole_input(value, fragment):
    with pytest.raises(AddressError) as info:
        parse_address(value)
    message = str(info.value)
    assert fragment in message
    if isinstance(value, str) and value.strip() and len(value) < 100:
        assert repr(value.strip()) in message


def test_a_list_keeps_every_address_and_tolerates_empty_entries():
    assert parse_address_list(
        'a@example.com, "B, b" <b@example.com>,, c@example.com,', limit=50
    ) == [
        Mailbox("", "a@example.com"),
        Mailbox("B, b", "b@example.com"),
        Mailbox("", "c@example.com"),
    ]


def test_a_list_over_its_limit_is_refused():
    with pytest.raises(AddressError, match="3 addresses given; the limit is 2"):
        parse_address_list("a@example.com, b@example.com, c@example.com", limit=2)


def test_rows_stored_before_names_were_quoted_are_still_read():
    # Before, `"Bob, Jr" <bob@example.com>` was stored without its quotes.
    assert bare_address("Bob, Jr <Bob@Example.com>") == "bob@example.com"
    assert sendable_address("Bob, Jr <bob@example.com>") == '"Bob, Jr" <bob@example.com>'
    # One the parser reads as one address goes as stored: a retry's body stays the same.
    assert sendable_address("J. Doe <j@example.com>") == "J. Doe <j@example.com>"
    assert bare_address("not an address") == ""


@bounded
@given(st.from_regex(_PLAIN_ADDRESS, fullmatch=True))
def test_the_fast_path_reads_plain_addresses_as_the_parser_does(value):
    mailbox = read_address(value)
    assert mailbox is not None and bare_address(value) == mailbox.address.lower()
