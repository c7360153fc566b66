"""The capped paginator lives with queueing's admin (queueing/admin_pagination.py), which the
messages list uses too; re-exported here for the recipients lists."""

from queueing.admin_pagination import COUNT_CAP, CappedCountPaginator

__all__ = ["COUNT_CAP", "CappedCountPaginator"]
