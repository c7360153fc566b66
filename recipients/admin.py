"""Admin for recipients, lists, subscriptions and suppressions. Thin: every change goes through
recipients.services, so the admin records the same events as every other door.

Built to stay fast with a million recipients: no full-table counts (capped paginator,
show_full_result_count off), EXISTS-based filters that use the subscription indexes, exact
(indexed) email search when the term is an address.
"""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.html import format_html

from recipients import selectors, services
from recipients.admin_import import import_view
from recipients.forms import ChooseListForm, SuppressForm, UnsuppressForm
from recipients.models import (
    ImportRun,
    List,
    Recipient,
    Source,
    Subscription,
    SubscriptionEvent,
    Suppression,
)

COUNT_CAP = 10_000


class CappedCountPaginator(Paginator):
    """Counts at most COUNT_CAP rows: on a million-row table an exact COUNT(*) on every page
    view costs more than the page itself. Beyond the cap the last pages are not linked."""

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if isinstance(object_list, QuerySet):
            return object_list.order_by()[: COUNT_CAP + 1].count()
        return len(object_list)


def _suppressed_exists() -> Exists:
    return Exists(Suppression.objects.filter(email=OuterRef("email")))


class OnListFilter(admin.SimpleListFilter):
    title = "list"
    parameter_name = "list"

    def lookups(self, request, model_admin):
        return [(str(pk), name) for pk, name in List.objects.values_list("pk", "name")]

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        return queryset.filter(
            Exists(Subscription.objects.filter(recipient=OuterRef("pk"), list_id=self.value()))
        )


class SubscriptionStatusFilter(admin.SimpleListFilter):
    """Status on the list chosen in the list filter (or on any list)."""

    title = "subscription status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return Subscription.Status.choices

    def queryset(self, request, queryset):
        if self.value() not in Subscription.Status.values:
            return queryset
        subscriptions = Subscription.objects.filter(recipient=OuterRef("pk"), status=self.value())
        list_id = request.GET.get(OnListFilter.parameter_name)
        if list_id and list_id.isdigit():
            subscriptions = subscriptions.filter(list_id=list_id)
        return queryset.filter(Exists(subscriptions))


class SuppressedFilter(admin.SimpleListFilter):
    title = "suppressed"
    parameter_name = "suppressed"

    def lookups(self, request, model_admin):
        return [("yes", "Suppressed"), ("no", "Not suppressed")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(_suppressed_exists())
        if self.value() == "no":
            return queryset.exclude(_suppressed_exists())
        return queryset


class SubscriptionInline(admin.TabularInline):
    """Read-only: subscription changes are actions, so they are recorded as events."""

    model = Subscription
    extra = 0
    can_delete = False
    fields = ["list", "status", "source", "subscribed_at", "confirmed_at", "unsubscribed_at"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("list")


class EventInline(admin.TabularInline):
    model = SubscriptionEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "list", "source", "detail", "created_by"]
    readonly_fields = fields
    verbose_name = "event"
    verbose_name_plural = "consent timeline"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("list", "created_by")


@admin.register(Recipient)
class RecipientAdmin(admin.ModelAdmin):
    list_display = ["email", "first_name", "last_name", "external_id", "suppressed", "created_at"]
    list_filter = [OnListFilter, SubscriptionStatusFilter, SuppressedFilter]
    search_fields = ["email", "first_name", "last_name", "=external_id"]
    search_help_text = (
        "A full address or external id matches exactly (fast); other words match anywhere."
    )
    readonly_fields = ["unsubscribe_links", "created_at", "updated_at"]
    fields = [
        "email",
        "first_name",
        "last_name",
        "external_id",
        "attributes",
        "unsubscribe_links",
        "created_at",
        "updated_at",
    ]
    inlines = [SubscriptionInline, EventInline]
    actions = ["subscribe_to_list", "unsubscribe_from_list", "suppress", "unsuppress"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ["-pk"]
    change_list_template = "recipients/admin/recipient_change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(is_suppressed=_suppressed_exists())

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if "@" in term and " " not in term:
            # An address: use the unique index rather than scanning for a substring.
            return queryset.filter(email=term.lower()), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(boolean=True, ordering="is_suppressed")
    def suppressed(self, obj: Recipient) -> bool:
        return obj.is_suppressed

    @admin.display(description="Unsubscribe / preferences")
    def unsubscribe_links(self, obj: Recipient) -> str:
        if not obj.pk:
            return "-"
        from recipients.unsubscribe import preferences_url, unsubscribe_url

        return format_html(
            '<a href="{}">unsubscribe page</a> · <a href="{}">preference page</a>',
            unsubscribe_url(obj),
            preferences_url(obj),
        )

    def save_model(self, request, obj, form, change):
        obj.full_clean()
        super().save_model(request, obj, form, change)

    # --- actions (each has an intermediate page; the POST with "apply" does the work) ---

    def _intermediate(self, request, queryset, form, title: str, action: str, note: str = ""):
        return TemplateResponse(
            request,
            "recipients/admin/action_form.html",
            {
                **self.admin_site.each_context(request),
                "title": title,
                "form": form,
                "action": action,
                "note": note,
                "queryset": queryset[:20],
                "count": queryset.count(),
                "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                "select_across": request.POST.get("select_across", "0"),
                "opts": self.model._meta,
            },
        )

    @admin.action(description="Subscribe to a list…")
    def subscribe_to_list(self, request, queryset):
        form = ChooseListForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request,
                queryset,
                form,
                "Subscribe to a list",
                "subscribe_to_list",
                "On a double opt-in list each person gets a confirmation email and stays "
                "pending until they confirm.",
            )
        target = form.cleaned_data["list"]
        for recipient in queryset.iterator():
            services.subscription_create(
                recipient=recipient, list=target, source=Source.ADMIN, created_by=request.user
            )
        self.message_user(request, f"Subscribed {queryset.count():,} recipients to {target}.")
        return None

    @admin.action(description="Unsubscribe from a list…")
    def unsubscribe_from_list(self, request, queryset):
        form = ChooseListForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(
                request, queryset, form, "Unsubscribe from a list", "unsubscribe_from_list"
            )
        target = form.cleaned_data["list"]
        changed = 0
        for subscription in Subscription.objects.filter(list=target, recipient__in=queryset):
            changed += services.subscription_unsubscribe(
                subscription=subscription,
                source=Source.ADMIN,
                detail=f"unsubscribed from {target} in the admin",
                created_by=request.user,
            )
        self.message_user(request, f"Unsubscribed {changed:,} recipients from {target}.")
        return None

    @admin.action(description="Suppress…")
    def suppress(self, request, queryset):
        form = SuppressForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(request, queryset, form, "Suppress addresses", "suppress")
        for email in queryset.values_list("email", flat=True).iterator():
            services.suppression_create(
                email=email,
                reason=form.cleaned_data["reason"],
                scope=form.cleaned_data["scope"],
                note=form.cleaned_data["note"],
                source=Source.ADMIN,
                created_by=request.user,
            )
        self.message_user(request, f"Suppressed {queryset.count():,} addresses.")
        return None

    @admin.action(description="Remove suppression (with a reason)…")
    def unsuppress(self, request, queryset):
        form = UnsuppressForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return self._intermediate(request, queryset, form, "Remove suppressions", "unsuppress")
        lifted = sum(
            services.suppression_delete(
                email=email,
                reason=form.cleaned_data["reason"],
                source=Source.ADMIN,
                created_by=request.user,
            )
            for email in queryset.values_list("email", flat=True).iterator()
        )
        self.message_user(request, f"Lifted {lifted:,} suppressions.")
        return None


@admin.register(List)
class ListAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "slug",
        "opt_in",
        "subscribed_count",
        "pending_count",
        "unsubscribed_count",
        "import_link",
    ]
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

    @admin.display(description="")
    def import_link(self, obj: List) -> str:
        url = reverse("admin:recipients_import") + f"?list={obj.slug}"
        return format_html('<a href="{}">Import CSV…</a>', url)

    def get_urls(self):
        own = [
            path(
                "import/",
                self.admin_site.admin_view(self.import_page),
                name="recipients_import",
            ),
            path(
                "import/<int:pk>/report.csv",
                self.admin_site.admin_view(self.import_report),
                name="recipients_import_report",
            ),
        ]
        return own + super().get_urls()

    def import_page(self, request: HttpRequest) -> HttpResponse:
        if not (request.user.has_perm("recipients.add_recipient")):
            return HttpResponse("You may not import recipients.", status=403)
        return import_view(self.admin_site, request)

    def import_report(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm("recipients.view_importrun"):
            return HttpResponse("You may not see import reports.", status=403)
        run = get_object_or_404(ImportRun, pk=pk)
        response = HttpResponse(run.report, content_type="text/csv; charset=utf-8")
        name = (run.filename or "import").rsplit(".", 1)[0]
        response["Content-Disposition"] = f'attachment; filename="{name}-rejected.csv"'
        return response


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

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not request.user.has_perm("recipients.change_suppression"):
            actions.pop("lift", None)
        return actions

    def save_model(self, request, obj, form, change):
        if change:
            super().save_model(request, obj, form, change)
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

    @admin.action(description="Lift suppression (with a reason)…")
    def lift(self, request, queryset):
        form = UnsuppressForm(request.POST if "apply" in request.POST else None)
        if not form.is_valid():
            return TemplateResponse(
                request,
                "recipients/admin/action_form.html",
                {
                    **self.admin_site.each_context(request),
                    "title": "Lift suppressions",
                    "form": form,
                    "action": "lift",
                    "queryset": queryset[:20],
                    "count": queryset.count(),
                    "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
                    "select_across": request.POST.get("select_across", "0"),
                    "opts": self.model._meta,
                },
            )
        lifted = sum(
            services.suppression_delete(
                email=email,
                reason=form.cleaned_data["reason"],
                source=Source.ADMIN,
                created_by=request.user,
            )
            for email in queryset.values_list("email", flat=True)
        )
        self.message_user(request, f"Lifted {lifted:,} suppressions.")
        return None


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "filename",
        "list",
        "source",
        "created",
        "updated",
        "unchanged",
        "rejected",
        "report_link",
    ]
    list_filter = ["source"]
    list_select_related = ["list"]
    readonly_fields = [f.name for f in ImportRun._meta.fields if f.name != "report"] + [
        "report_link"
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
