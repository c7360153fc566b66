"""The messages list's own filters (the others are Django's, on the model's fields), and the
check of its parameters."""

from typing import Any

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.views.main import ChangeList
from django.db.models import QuerySet
from django.http import HttpRequest

from queueing import hooks

# Campaigns offered in the filter: the newest; an older one is reached by its id in the URL.
CAMPAIGN_CHOICES = 20


class CampaignFilter(admin.SimpleListFilter):
    """By campaign: the newest campaigns by name (from the campaigns app, through a hook:
    queueing never follows its string foreign key), or none. `?campaign=<id>` works for any
    campaign; a value that is not an id finds nothing rather than failing."""

    title = "campaign"
    parameter_name = "campaign"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        named = [(str(pk), name) for pk, name in hooks.campaign_names(CAMPAIGN_CHOICES)]
        return [("none", "No campaign"), *named]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        value = self.value()
        if value is None:
            return queryset
        if value == "none":
            return queryset.filter(campaign__isnull=True)
        if value.isascii() and value.isdigit() and len(value) < 19:
            return queryset.filter(campaign_id=int(value))
        return queryset.none()


class CheckedChangeList(ChangeList):
    """A list whose URL parameters may not hold control characters: PostgreSQL refuses a NUL
    in a string (an error, a 500, from Django's own field filters), and no filter value or
    search holds one. Refused the admin's way: the list again with `?e=1`."""

    def get_queryset(self, request: HttpRequest, exclude_parameters: Any = None) -> QuerySet:
        for values in request.GET.lists():
            if any(not v.isprintable() for v in values[1]):
                raise IncorrectLookupParameters("control characters in the list's parameters")
        return super().get_queryset(request, exclude_parameters)
