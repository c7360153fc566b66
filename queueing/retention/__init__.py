"""Retention: what old messages keep and lose, in small batches (docs/OPERATIONS.md).

`policy.py` turns the settings (or a command's options) into cut-off times; `passes.py` holds
the passes, each a loop of short transactions over a few rows; `lock.py` makes sure only one
purge runs at a time across the fleet; `periodic.py` is the reconcile step that runs it inside
the workers, at most once per MAILHUB_PURGE_INTERVAL."""
