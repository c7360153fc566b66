"""Every write on templates and campaigns: create, send (or schedule), pause, resume, cancel,
test send, and the counters the worker's status changes feed.

One module per concern; this package is the public entry point, so callers import from
`campaigns.services` and never depend on how the concerns are split:

- `templates`: validate and create templates;
- `drafts`: create a campaign (a draft) and validate its attribute filter;
- `sending`: check that a campaign can be sent, send or schedule it, start due ones;
- `lifecycle`: pause, resume, cancel;
- `counters`: the counters the worker's status changes feed, and sending → sent;
- `test_sends`: send a campaign to test addresses.

The modules import each other, never this package, so importing it cannot close a cycle.
"""

from campaigns.services.counters import (
    FINAL_COUNTERS,
    campaign_counters_apply,
    campaign_finish_if_done,
)
from campaigns.services.drafts import campaign_create, validate_attribute_filter
from campaigns.services.lifecycle import campaign_cancel, campaign_pause, campaign_resume
from campaigns.services.sending import (
    SendPlan,
    campaign_check_sendable,
    campaign_send,
    campaigns_start_due,
)
from campaigns.services.templates import template_create, template_validate
from campaigns.services.test_sends import campaign_test_send

__all__ = [
    "FINAL_COUNTERS",
    "SendPlan",
    "campaign_cancel",
    "campaign_check_sendable",
    "campaign_counters_apply",
    "campaign_create",
    "campaign_finish_if_done",
    "campaign_pause",
    "campaign_resume",
    "campaign_send",
    "campaign_test_send",
    "campaigns_start_due",
    "template_create",
    "template_validate",
    "validate_attribute_filter",
]
