"""Lists: subscriber counts by status, and the import pages (recipients.admin.imports)."""

from functools import partial

from django.contrib import admin
from django.urls import path, reverse
from django.utils.html import format_html

from recipients import selectors
from recipients.admin.imports import START_IMPORT, import_page, import_report, import_run_page
from recipients.models import List


@admin.register(List)
class ListAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "opt_in",
        "internal",
        "subscribed_count",
        "pending_count",
        "unsubscribed_count",
        "import_link",
    ]
    list_filter = ["internal", "opt_in"]
    # `internal` hides the name from recipients (recipients.public_names).
    fields = ["name", "slug", "description", "opt_in", "internal"]
    prepopulated_fields = {"slug": ["name"]}
    search_fields = ["name", "slug"]
    change_list_template = "recipients/admin/list_change_list.html"

    def get_queryset(self, request):
        return selectors.lists_with_counts()

    @admin.display(description="subscribed", ordering="subscribed_count")
    def subscribed_count(self, obj: List) -> int:
        return obj.subscribed_count

    @admin.display(description="pending", ordering="pending_count")
    def pending_count(self, obj: List) -> int:
        return obj.pending_count

    @admin.display(description="unsubscribed", ordering="unsubscribed_count")
    def unsubscribed_count(self, obj: List) -> int:
        return obj.unsubscribed_count

    def get_list_display(self, request):
        # The import link only for those who may import (recipients.admin.imports).
        shown = super().get_list_display(request)
        if request.user.has_perm(START_IMPORT):
            return shown
        return [name for name in shown if name != "import_link"]

    @admin.display(description="")
    def import_link(self, obj: List) -> str:
        url = reverse("admin:recipients_import") + f"?list={obj.slug}"
        return format_html('<a href="{}">Import CSV…</a>', url)

    def get_urls(self):
        site = self.admin_site
        own = [
            path(
                "import/",
                site.admin_view(partial(import_page, site)),
                name="recipients_import",
            ),
            path(
                "import/<int:pk>/",
                site.admin_view(partial(import_run_page, site)),
                name="recipients_import_run",
            ),
            path(
                "import/<int:pk>/report.csv",
                site.admin_view(partial(import_report, site)),
                name="recipients_import_report",
            ),
        ]
        return own + super().get_urls()
