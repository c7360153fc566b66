"""export_recipients: header first, one row per subscribed recipient."""

import csv
import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from recipients.imports.service import recipients_import
from recipients.models import Subscription

pytestmark = pytest.mark.django_db


def test_export_writes_header_and_subscribed_recipients_only(make_list, tmp_path):
    data = b"email,first_name,last_name,external_id,plan\na@example.com,A,Aa,1,pro\nb@example.com,B,,,\nc@example.com,C,,,free\n"
    recipients_import(file=io.BytesIO(data), list_slug="news")
    Subscription.objects.filter(recipient__email="c@example.com").update(status="unsubscribed")
    out = io.StringIO()
    call_command("export_recipients", "--list", "news", stdout=out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows == [
        ["email", "first_name", "last_name", "external_id", "plan"],
        ["a@example.com", "A", "Aa", "1", "pro"],
        ["b@example.com", "B", "", "", ""],
    ]
    target = tmp_path / "out.csv"
    call_command(
        "export_recipients", "--list", "news", "--output", str(target), stderr=io.StringIO()
    )
    assert target.read_text().splitlines()[0] == "email,first_name,last_name,external_id,plan"
    # An export imports back unchanged.
    with target.open("rb") as f:
        summary = recipients_import(file=f, list_slug="news")
    assert (summary.created, summary.updated, summary.unchanged) == (0, 0, 2)


def test_export_of_empty_list_is_just_the_header(make_list):
    make_list("empty")
    out = io.StringIO()
    call_command("export_recipients", "--list", "empty", stdout=out)
    assert out.getvalue().strip() == "email,first_name,last_name,external_id"


def test_export_of_unknown_list_fails_clearly(make_list):
    make_list("news")
    with pytest.raises(CommandError, match=r"No list with slug 'nope'\. Lists: news"):
        call_command("export_recipients", "--list", "nope")
