"""The system's status: one selector (`system_status`) and its typed figures, read by the
admin dashboard, `manage.py mailhub_status` and the metrics."""

from mailhub.status.figures import SystemStatus
from mailhub.status.selectors import system_status

__all__ = ["SystemStatus", "system_status"]
