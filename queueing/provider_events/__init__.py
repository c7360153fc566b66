"""Provider events (Resend's webhooks): stored raw at the door, applied later by workers.

- `store`: the endpoint's one write, a raw row per svix-id (a duplicate changes nothing), and
  a coalesced request for processing on commit.
- `processing`: a worker job takes a bounded batch of unprocessed rows (locked, so two workers
  never take the same one), applies them and tells the listeners, in one transaction; a batch
  that raises is applied again event by event, and an event that still raises keeps its
  error on its row.
- `apply`: one batch onto its messages: the lookups (Resend's id, else the mailhub_message
  tag), the timeline, the status by rank, the ProviderEvent values for the listeners.
- `ranking`: the status moves up PROVIDER_STATUS_RANK, shared with recording (which applies
  again, at `sent`, an event that came while a worker still held the message).
- `reprocess`: events kept with an error, processed again by hand (command, admin action).
"""
