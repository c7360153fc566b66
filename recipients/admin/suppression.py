"""Suppressions: added through the service (normalised, on the timeline), lifted only with a
reason (plain delete is off), by people who may change them. Those a provider event made show
their cause: the event, the message and the campaign."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from audit.services import audit_record
from recipients import services
from recipients.admin.actions import lift_suppressions
from recipients.admin.causes import campaign_link, event_link, message_link
from recipients.admin.pagination import CappedCountPaginator
from recipients.models import Source, Suppression

CAUSE_FIELDS = ["cause_event", "cause_message", "cause_campaign"]


class CauseFilter(admin.SimpleListFilter):
    title = "cause"
    parameter_name = "cause"

    def lookups(self, request, model_admin):
        return [("event", "A provider event"), ("other", "Staff or the person")]

    def queryset(self, request, queryset):
        if self.value() == "event":
            return queryset.filter(raw_event_id__isnull=False)
        if self.value() == "other":
            return queryset.filter(raw_event_id__isnull=True)
        return queryset


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "scope", "created_at", "cause_event", "cause_campaign"]
    list_filter = ["reason", "scope", CauseFilter]
    search_fields = ["email"]
    fields = ["email", "reason", "scope", "note"]
    actions = ["lift"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ["-created_at"]

    def get_fields(self, request, obj=None):
        return [*self.fields, *CAUSE_FIELDS] if obj else self.fields

    def get_readonly_fields(self, request, obj=None):
        return ["email", *CAUSE_FIELDS] if obj else []

    @admin.display(description="event")
    def cause_event(self, obj: Suppression) -> str:
        return event_link(obj.raw_event_id)

    @admin.display(description="message")
    def cause_message(self, obj: Suppression) -> str:
        return message_link(obj.message_id)

    @admin.display(description="campaign")
    def cause_campaign(self, obj: Suppression) -> str:
        return campaign_link(obj.campaign_id)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # lifting needs a reason: use the action

    def has_lift_permission(self, request) -> bool:
        return request.user.has_perm("recipients.lift_suppression")

    def save_model(self, request, obj, form, change):
        if change:
            # Editing (e.g. narrowing "all" to "marketing") is a partial lift: managers only
            # (change_suppression), and audited like one.
            super().save_model(request, obj, form, change)
            audit_record(
                actor=request.user,
                action="suppression.change",
                target_label=obj.email,
                detail={"changed": form.changed_data, "reason": obj.reason, "scope": obj.scope},
            )
            return
        try:
            created = services.suppression_create(
                email=obj.email,
                reason=obj.reason,
                scope=obj.scope,
                note=obj.note,
                source=Source.ADMIN,
                created_by=request.user,
            )
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return
        obj.pk = created.pk

    @admin.action(description="Lift suppression (with a reason)…", permissions=["lift"])
    def lift(self, request, queryset):
        return lift_suppressions(self, request, queryset, title="Lift suppressions", action="lift")
