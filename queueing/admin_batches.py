"""Send batches in the admin: read-only, each with its members (links to their messages).

A batch is a record of one /emails/batch request, frozen before its first call
(queueing.claims): nobody adds, edits or deletes one here.
"""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from queueing.admin_message_filters import CheckedChangeList
from queueing.admin_pagination import CappedCountPaginator
from queueing.admin_read_only import ReadOnlyAdminMixin
from queueing.badges import BADGE_CSS, batch_status_badge, message_status_badge
from queueing.local_times import LOCAL_TIME_JS, local_time
from queueing.models import SendBatch
from queueing.selectors import batch_members


@admin.register(SendBatch)
class SendBatchAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    show_facets = admin.ShowFacets.NEVER  # a count of every batch per filter
    list_display = ("id", "status_badge", "priority", "size", "attempts", "created", "sent")
    list_filter = ("status", "priority")
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ("-id",)
    fields = (
        "status_badge",
        "priority",
        "size",
        "attempts",
        "max_attempts",
        "created",
        "first_attempt",
        "next_attempt",
        "sent",
        "claimed_by",
        "lease_expires",
        "last_error",
        "idempotency_key",
        "members",
    )
    readonly_fields = fields

    class Media:
        css = {"all": [BADGE_CSS, "mailhub/messages_admin.css"]}
        js = [LOCAL_TIME_JS]

    def get_changelist(self, request: HttpRequest, **kwargs: Any) -> type[CheckedChangeList]:
        return CheckedChangeList

    @admin.display(description="Status", ordering="status")
    def status_badge(self, obj: SendBatch) -> str:
        return batch_status_badge(obj.status)

    @admin.display(description="Created", ordering="created_at")
    def created(self, obj: SendBatch) -> str:
        return local_time(obj.created_at)

    @admin.display(description="Sent", ordering="sent_at")
    def sent(self, obj: SendBatch) -> str:
        return local_time(obj.sent_at)

    @admin.display(description="First attempt")
    def first_attempt(self, obj: SendBatch) -> str:
        return local_time(obj.first_attempt_at)

    @admin.display(description="Next attempt")
    def next_attempt(self, obj: SendBatch) -> str:
        return local_time(obj.next_attempt_at)

    @admin.display(description="Lease expires")
    def lease_expires(self, obj: SendBatch) -> str:
        return local_time(obj.lease_expires_at)

    @admin.display(description="Members, in request order")
    def members(self, obj: SendBatch) -> str:
        rows = [
            (
                reverse("admin:queueing_message_change", args=[m.pk]),
                m.pk,
                message_status_badge(m.status),
                m.to[0] if m.to else "—",
                m.subject,
            )
            for m in batch_members(obj)
        ]
        if not rows:
            return "—"
        items = format_html_join(
            "",
            '<li><a href="{}">#{}</a> {} <span class="mh-ellipsis mh-ellipsis--short">{}</span>'
            ' <span class="mh-ellipsis">{}</span></li>',
            rows,
        )
        return format_html('<ol class="mh-members">{}</ol>', items)
