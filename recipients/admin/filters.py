"""The recipient list's filters: EXISTS subqueries on indexed columns, never a join that
repeats a person or a count over the whole table."""

from django.contrib import admin
from django.db.models import Exists, OuterRef

from recipients.models import List, Subscription, Suppression


def suppressed_exists() -> Exists:
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
            return queryset.filter(suppressed_exists())
        if self.value() == "no":
            return queryset.exclude(suppressed_exists())
        return queryset
