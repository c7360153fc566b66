"""Suppression reviews: provider events that would suppress someone but name several
addresses without saying which. Read-only; each address links to the Suppressions "add" page
filled in, and "mark reviewed" closes the ones dealt with (change permission, audited)."""

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from recipients.admin.causes import campaign_link, event_link, message_link
from recipients.event_services import suppression_reviews_close
from recipients.models import Suppression, SuppressionReview


class OpenFilter(admin.SimpleListFilter):
    title = "reviewed"
    parameter_name = "open"

    def lookups(self, request, model_admin):
        return [("yes", "Waiting for review"), ("no", "Reviewed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(reviewed_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(reviewed_at__isnull=False)
        return queryset


@admin.register(SuppressionReview)
class SuppressionReviewAdmin(admin.ModelAdmin):
    list_display = [
        "occurred_at",
        "kind",
        "reason",
        "address_links",
        "cause_campaign",
        "reviewed_at",
    ]
    list_filter = [OpenFilter, "kind", "reason"]
    search_fields = ["addresses"]
    fields = [
        "kind",
        "reason",
        "address_links",
        "detail",
        "occurred_at",
        "created_at",
        "cause_event",
        "cause_message",
        "cause_campaign",
        "reviewed_at",
        "reviewed_by",
    ]
    readonly_fields = fields
    actions = ["mark_reviewed"]
    ordering = ["-created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # made by provider events only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the record stays; "mark reviewed" closes it

    @admin.display(description="addresses (suppress…)")
    def address_links(self, obj: SuppressionReview) -> str:
        # A soft bounce only counts towards a suppression: suggest staff's own reason for it.
        reason = obj.reason if obj.reason != Suppression.Reason.SOFT_BOUNCES else "manual"
        note = f"from suppression review #{obj.pk}: {obj.detail}"
        add = reverse("admin:recipients_suppression_add")
        return format_html_join(
            ", ",
            '<a href="{}?{}">{}</a>',
            (
                (add, urlencode({"email": address, "reason": reason, "note": note}), address)
                for address in obj.addresses
            ),
        ) or format_html("-")

    @admin.display(description="event")
    def cause_event(self, obj: SuppressionReview) -> str:
        return event_link(obj.raw_event_id)

    @admin.display(description="message")
    def cause_message(self, obj: SuppressionReview) -> str:
        return message_link(obj.message_id)

    @admin.display(description="campaign")
    def cause_campaign(self, obj: SuppressionReview) -> str:
        return campaign_link(obj.campaign_id)

    @admin.action(description="Mark reviewed", permissions=["change"])
    def mark_reviewed(self, request, queryset):
        closed = suppression_reviews_close(reviews=queryset, reviewed_by=request.user)
        messages.success(request, f"{closed} review(s) marked reviewed.")
