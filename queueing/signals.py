"""Signals other apps use to follow messages without queueing importing them."""

from django.dispatch import Signal

# Sent inside the transaction that changes the statuses, so a receiver's writes (campaign
# counters) commit or roll back with them. `changes` maps (campaign_id, new_status) to how many
# messages moved there; test sends and messages without a campaign are left out.
campaign_messages_changed = Signal()
