"""Suppressions: added through the service (normalised, on the timeline), lifted only with a
reason (plain delete is off), by people who may change them."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError

from audit.services import audit_record
from recipients import services
from recipients.admin.actions import lift_suppressions
from recipients.admin.pagination import CappedCountPaginator
from recipients.models import Source, Suppression


@admin.register(Suppression)
class SuppressionAdmin(admin.ModelAdmin):
    list_display = ["email", "reason", "scope", "created_at"]
    list_filter = ["reason", "scope"]
    search_fields = ["email"]
    fields = ["email", "reason", "scope", "note"]
    actions = ["lift"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ["-created_at"]

    def get_readonly_fields(self, request, obj=None):
        return ["email"] if obj else []

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
