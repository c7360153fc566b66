"""The import's email column takes an address alone; `Name <address>` is refused with a
reason that says what to write instead (read by queueing.addresses, as everywhere)."""

import csv
import io

import pytest

from recipients.imports.service import recipients_import
from recipients.models import Recipient

pytestmark = pytest.mark.django_db


def test_a_name_and_address_cell_is_rejected_with_the_address_to_write():
    rows = [
        ["email", "first_name"],
        ["Ann <Ann@Example.com>", "Ann"],
        ['"Doe, John" <john@example.com>', "John"],
        ["<bob@example.com>", "Bob"],
        ["Cat <cat@example", "Cat"],
        ["dan@example.com", "Dan"],
    ]
    data = io.StringIO()
    csv.writer(data).writerows(rows)
    report = io.StringIO()
    summary = recipients_import(
        file=io.BytesIO(data.getvalue().encode()), list_slug="news", report=report
    )
    reasons = {row[0]: row[1] for row in list(csv.reader(io.StringIO(report.getvalue())))[1:]}
    assert (summary.created, summary.rejected) == (1, 4)
    assert reasons["2"] == (
        "'Ann <Ann@Example.com>' holds a name and an address; give the address alone "
        "(ann@example.com) and the name in first_name and last_name."
    )
    assert "(john@example.com)" in reasons["3"]
    assert (
        reasons["4"] == "'<bob@example.com>' is not an address alone; write it as bob@example.com."
    )
    assert reasons["5"] == "'Cat <cat@example' is not a valid email address."
    assert list(Recipient.objects.values_list("email", flat=True)) == ["dan@example.com"]
