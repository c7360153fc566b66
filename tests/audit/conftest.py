"""The roles fixtures (a client per role, the rows actions act on) serve the audit tests too."""

from tests.mailhub.conftest import (  # noqa: F401
    campaign_in,
    client_for,
    failed_message,
    make_campaign,
    make_list,
    person,
    queued_message,
    subscribe,
    suppressed,
    template,
    user_for,
)
