"""Holes a second reading of the API found, kept closed."""

import pytest

from queueing.models import Message
from tests.api.conftest import assert_error, email

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("when", ["in 999999 weeks", "in 999999 days"])
def test_a_time_too_far_away_is_refused_not_a_500(api, when):
    assert_error(api.post("/emails", email(scheduled_at=when)), 422, "validation_error")
    assert not Message.objects.exists()


def test_a_time_too_far_away_is_refused_when_rescheduling(api):
    sent = api.post("/emails", email(scheduled_at="in 1 hour")).json()
    response = api.patch(f"/emails/{sent['id']}", {"scheduled_at": "in 999999 weeks"})
    assert_error(response, 422, "validation_error", "too far")


@pytest.mark.parametrize("field", ["subject", "html", "text"])
def test_a_lone_surrogate_is_refused_not_a_500(api, field):
    body = email(**{field: "Hi \ud800 there"})
    assert_error(api.post("/emails", body), 422, "validation_error", "surrogate")
    assert not Message.objects.exists()


def test_a_lone_surrogate_in_a_permissive_batch_fails_only_its_item(api):
    good, bad = email(), email(subject="\udfff")
    answer = api.post("/emails/batch", [good, bad], headers={"x-batch-validation": "permissive"})
    assert answer.status_code == 200, answer.content
    assert [e["index"] for e in answer.json()["errors"]] == [1]
    assert Message.objects.count() == 1


@pytest.mark.parametrize("template_id", ["²", "٣", "9" * 40])
def test_unicode_or_huge_digit_template_ids_are_slugs_not_a_500(api, template_id):
    body = email(html=None, template={"id": template_id})
    response = api.post("/emails", body)
    assert response.status_code == 422, response.content
    assert not Message.objects.exists()
