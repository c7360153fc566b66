"""Normalisation, uniqueness and the unsubscribe token."""

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction

from recipients import services
from recipients.models import Recipient
from recipients.normalise import normalise_email

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("given", "stored"),
    [
        ("  Jane.Doe@Example.COM ", "jane.doe@example.com"),
        ("JANE@EXAMPLE.COM", "jane@example.com"),
        ("jane+news@example.co.uk", "jane+news@example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
        ("user@sub.xn--bcher-kva.example", "user@sub.xn--bcher-kva.example"),
    ],
)
def test_normalise_strips_and_lowercases_local_part_and_domain(given, stored):
    assert normalise_email(given) == stored


@pytest.mark.parametrize(
    "bad", ["", "   ", "no-at-sign", "two@@example.com", "a@b", "spaces in@example.com", "a@.com"]
)
def test_normalise_rejects_malformed_addresses(bad):
    with pytest.raises(ValidationError):
        normalise_email(bad)


def test_normalise_rejects_overlong_address():
    with pytest.raises(ValidationError, match="limit is 320"):
        normalise_email("a" * 64 + "@" + "b" * 300 + ".com")


def tricky_addresses() -> list[str]:
    """Valid and invalid shapes mixed: dots, quotes, IP literals, IDN, odd characters."""
    locals_ = [
        "a",
        "a.b",
        ".a",
        "a.",
        "a..b",
        "a+b",
        "a_b",
        "a-b",
        "o'hara",
        '"a b"',
        "a b",
        "a@b",
        "ä",
        "a!#$%&*/=?^`{|}~",
        "x" * 64,
        "x" * 65,
        "",
    ]
    domains = [
        "example.com",
        "sub.example.co.uk",
        "example",
        "-a.com",
        "a-.com",
        "a..com",
        "[127.0.0.1]",
        "[IPv6:::1]",
        "xn--bcher-kva.example",
        "bücher.example",
        "example.c",
        "example.123",
        "a_b.com",
        ("a" * 63) + ".com",
        ("a" * 64) + ".com",
        "localhost",
        "",
    ]
    return [f"{local}@{domain}" for local in locals_ for domain in domains] + ["", "@", "a@"]


def test_fast_path_of_normalise_accepts_only_what_validate_email_accepts():
    """The import's precompiled regex is a shortcut, never a different decision."""
    from django.core.validators import validate_email

    from recipients.normalise import is_common_address

    for address in tricky_addresses():
        email = address.strip().lower()
        if not is_common_address(email):
            continue
        validate_email(email)  # raises if the shortcut accepted something Django refuses
        assert normalise_email(address) == email


def test_recipient_is_stored_normalised_and_unique_whatever_the_case():
    first = Recipient.objects.create(email=" Jane@Example.com")
    assert first.email == "jane@example.com"
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.create(email="JANE@example.COM")


def test_database_refuses_a_non_canonical_email_written_around_the_model():
    Recipient.objects.create(email="jane@example.com")
    table = Recipient._meta.db_table
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (email, first_name, last_name, attributes, unsubscribe_token,"
            " created_at, updated_at) VALUES ('Bob@Example.com', '', '', '{}', 'tok-x-12345678901234567890',"
            " CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )


def test_get_or_create_finds_the_same_person_in_any_case():
    jane, created = services.recipient_get_or_create(email="Jane@Example.com", first_name="Jane")
    again, created_again = services.recipient_get_or_create(email="  JANE@example.com")
    assert created and not created_again
    assert again.pk == jane.pk


def test_get_or_create_rejects_a_malformed_address_and_stores_nothing():
    with pytest.raises(ValidationError) as exc:
        services.recipient_get_or_create(email="not an address")
    assert "email" in exc.value.message_dict
    assert not Recipient.objects.exists()


def test_external_id_is_unique_when_set_and_may_be_empty_for_many():
    Recipient.objects.create(email="a@example.com", external_id="u-1")
    Recipient.objects.create(email="b@example.com")
    Recipient.objects.create(email="c@example.com", external_id="  ")  # blank → NULL
    with pytest.raises(IntegrityError), transaction.atomic():
        Recipient.objects.create(email="d@example.com", external_id="u-1")
    assert Recipient.objects.filter(external_id__isnull=True).count() == 2


def test_unsubscribe_token_is_random_unique_opaque_and_never_changes():
    a = Recipient.objects.create(email="a@example.com")
    b = Recipient.objects.create(email="b@example.com")
    assert a.unsubscribe_token != b.unsubscribe_token
    assert len(a.unsubscribe_token) >= 43  # 256 random bits
    # Not derived from the person: the same address created again gets another token.
    first = a.unsubscribe_token
    a.delete()
    a = Recipient.objects.create(email="a@example.com")
    assert a.unsubscribe_token != first
    assert "example" not in a.unsubscribe_token.lower()
    token = a.unsubscribe_token
    a.first_name = "Ann"
    a.email = "A@example.com"
    a.save()
    a.refresh_from_db()
    assert a.unsubscribe_token == token
