"""Admin for recipients, lists, subscriptions, suppressions and imports, one module per model
admin plus what they share (filters, the paginator, the actions' intermediate page).

Thin: every change goes through recipients.services (or the import's service), so the admin
records the same events as every other door. Built to stay fast with a million recipients: no
full-table counts (capped paginator, show_full_result_count off), EXISTS-based filters that
use the subscription indexes, exact (indexed) email search when the term is an address.
"""

# Importing the modules registers their model admins.
from recipients.admin import (  # noqa: F401
    import_run,
    mailing_list,
    recipient,
    suppression,
    suppression_review,
)
