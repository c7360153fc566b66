"""Recipients: search, filters, read-only subscriptions and timeline, and actions that change
consent (each through recipients.services, with an intermediate page)."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from queueing.personal_data import StillSending
from recipients import services
from recipients.admin.actions import action_form, intermediate_page, lift_suppressions
from recipients.admin.filters import (
    OnListFilter,
    SubscriptionStatusFilter,
    SuppressedFilter,
    suppressed_exists,
)
from recipients.admin.pagination import CappedCountPaginator
from recipients.forms import ChooseListForm, ForgetForm, SuppressForm
from recipients.models import Recipient, Source, Subscription, SubscriptionEvent
from recipients.personal_data import PersonNotFound, forget_person
from recipients.unsubscribe import preferences_url, unsubscribe_url

# People erased per action: each is a scan of the message table (queueing.personal_data).
FORGET_MAX = 20


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
    actions = ["subscribe_to_list", "unsubscribe_from_list", "suppress", "unsuppress", "forget"]
    paginator = CappedCountPaginator
    show_full_result_count = False
    ordering = ["-pk"]
    change_list_template = "recipients/admin/recipient_change_list.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(is_suppressed=suppressed_exists())

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
        return format_html(
            '<a href="{}">unsubscribe page</a> · <a href="{}">preference page</a>',
            unsubscribe_url(obj),
            preferences_url(obj),
        )

    def save_model(self, request, obj, form, change):
        obj.full_clean()
        super().save_model(request, obj, form, change)

    # --- actions (each has an intermediate page; the POST with "apply" does the work) ---
    # Each is offered, and runs, only for those holding its permission (mailhub/roles.py);
    # both the first POST and the "apply" one go through the same check.

    def has_subscribe_permission(self, request) -> bool:
        return request.user.has_perm("recipients.add_subscription")

    def has_unsubscribe_permission(self, request) -> bool:
        return request.user.has_perm("recipients.change_subscription")

    def has_suppress_permission(self, request) -> bool:
        return request.user.has_perm("recipients.add_suppression")

    def has_lift_permission(self, request) -> bool:
        # The same permission as SuppressionAdmin.lift: lifting is lifting, whichever list.
        return request.user.has_perm("recipients.lift_suppression")

    def has_forget_permission(self, request) -> bool:
        return request.user.has_perm("recipients.forget_recipient")

    @admin.action(description="Subscribe to a list…", permissions=["subscribe"])
    def subscribe_to_list(self, request, queryset):
        form = action_form(ChooseListForm, request)
        if not form.is_valid():
            return intermediate_page(
                self,
                request,
                queryset,
                form,
                title="Subscribe to a list",
                action="subscribe_to_list",
                note="On a double opt-in list each person gets a confirmation email and stays "
                "pending until they confirm.",
            )
        target = form.cleaned_data["list"]
        for recipient in queryset.iterator():
            services.subscription_create(
                recipient=recipient, list=target, source=Source.ADMIN, created_by=request.user
            )
        self.message_user(request, f"Subscribed {queryset.count():,} recipients to {target}.")
        return None

    @admin.action(description="Unsubscribe from a list…", permissions=["unsubscribe"])
    def unsubscribe_from_list(self, request, queryset):
        form = action_form(ChooseListForm, request)
        if not form.is_valid():
            return intermediate_page(
                self,
                request,
                queryset,
                form,
                title="Unsubscribe from a list",
                action="unsubscribe_from_list",
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

    @admin.action(description="Suppress…", permissions=["suppress"])
    def suppress(self, request, queryset):
        form = action_form(SuppressForm, request)
        if not form.is_valid():
            return intermediate_page(
                self, request, queryset, form, title="Suppress addresses", action="suppress"
            )
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

    @admin.action(description="Remove suppression (with a reason)…", permissions=["lift"])
    def unsuppress(self, request, queryset):
        return lift_suppressions(
            self, request, queryset, title="Remove suppressions", action="unsuppress"
        )

    @admin.action(description="Forget (erase their personal data)…", permissions=["forget"])
    def forget(self, request, queryset):
        count = queryset.count()
        if count > FORGET_MAX:
            self.message_user(
                request,
                f"Select at most {FORGET_MAX} people to forget at a time.",
                messages.ERROR,
            )
            return None
        form = action_form(ForgetForm, request)
        if not form.is_valid():
            return intermediate_page(
                self,
                request,
                queryset,
                form,
                title="Forget these people",
                action="forget",
                note="This cannot be undone. The audit log records that it was done, "
                "without their addresses.",
            )
        forgotten = 0
        for email in list(queryset.values_list("email", flat=True)):
            try:
                forget_person(email=email, actor=request.user)
                forgotten += 1
            except StillSending as exc:
                self.message_user(request, f"{email} not forgotten: {exc}.", messages.WARNING)
            except (PersonNotFound, ValidationError):  # gone meanwhile, or a malformed row
                self.message_user(request, f"{email} not forgotten: not found.", messages.WARNING)
        self.message_user(request, f"Forgot {forgotten:,} people.")
        return None
