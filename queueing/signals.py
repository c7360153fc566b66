"""Signals other apps use to follow messages without queueing importing them."""

from django.dispatch import Signal

# Sent inside the transaction that changes the statuses, so a receiver's writes (campaign
# counters) commit or roll back with them. `changes` maps (campaign_id, new_status) to how many
# messages moved there; test sends and messages without a campaign are left out.
campaign_messages_changed = Signal()

# The same changes for every message, campaign or not (test sends left out), as
# `changes: {new_status: count}` (negative when messages left it): the system's daily figures
# and live rates follow it. Sent in the same places as campaign_messages_changed.
messages_changed = Signal()
