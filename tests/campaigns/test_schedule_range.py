"""A campaign scheduled at a time Python cannot place in UTC is a clear error (issue 11,
sizes and ranges), not a traceback when the time is stored or handed to RQ."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("at", ["9999-12-31T23:00-05:00", "0001-01-01T00:00+05:00"])
def test_a_schedule_out_of_range_is_refused(make_campaign, make_list, subscribe, at):
    news = make_list()
    subscribe(news, 1)
    campaign = make_campaign([news])
    with pytest.raises(CommandError, match="out of range"):
        call_command("send_campaign", str(campaign.pk), "--schedule", at, stdout=StringIO())
    campaign.refresh_from_db()
    assert campaign.status == "draft"
