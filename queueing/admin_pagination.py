"""A paginator for tables too large to count on every page view (messages, recipients,
suppressions)."""

from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.utils.functional import cached_property

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: on a million-row table an exact COUNT(*) on every page
    view costs more than the page itself. Beyond the cap the last pages are not linked, and
    the list says "more than 10,000" (`is_capped`)."""

    cap = COUNT_CAP

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            return object_list.order_by()[: self.cap + 1].count()
        return len(object_list)

    @property
    def is_capped(self) -> bool:
        return self.count > self.cap
