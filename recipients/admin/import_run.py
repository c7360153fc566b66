"""Import runs: the history, read-only, each linking to its page and its rejected rows."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from recipients.models import ImportRun


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "filename",
        "list",
        "source",
        "status",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "report_link",
    ]
    list_filter = ["source", "status"]
    list_select_related = ["list"]
    readonly_fields = [f.name for f in ImportRun._meta.fields if f.name != "report"] + [
        "run_link",
        "report_link",
    ]
    exclude = ["report"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="rejected rows")
    def report_link(self, obj: ImportRun) -> str:
        if not obj.rejected:
            return "-"
        url = reverse("admin:recipients_import_report", args=[obj.pk])
        return format_html('<a href="{}">download report</a>', url)

    @admin.display(description="progress and outcome")
    def run_link(self, obj: ImportRun) -> str:
        url = reverse("admin:recipients_import_run", args=[obj.pk])
        return format_html('<a href="{}">the import\'s page</a>', url)
