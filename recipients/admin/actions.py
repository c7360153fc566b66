"""What every action with a form shares: its intermediate page.

An action first answers with a page holding its form and the selection; the POST from that
page carries "apply" and does the work. Used by the recipient and suppression admins,
which share lifting suppressions too.
"""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse

from recipients import services
from recipients.forms import UnsuppressForm
from recipients.models import Source


def action_form(form_class: type[forms.Form], request: HttpRequest) -> forms.Form:
    """The action's form: bound when the intermediate page was submitted, empty before."""
    return form_class(request.POST if "apply" in request.POST else None)


def intermediate_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    form: forms.Form,
    *,
    title: str,
    action: str,
    note: str = "",
) -> TemplateResponse:
    """The page that asks for the action's form, listing (the first 20 of) the selection."""
    return TemplateResponse(
        request,
        "recipients/admin/action_form.html",
        {
            **model_admin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "action": action,
            "note": note,
            "queryset": queryset[:20],
            "count": queryset.count(),
            "selected": request.POST.getlist(admin.helpers.ACTION_CHECKBOX_NAME),
            "select_across": request.POST.get("select_across", "0"),
            "opts": model_admin.model._meta,
        },
    )


def lift_suppressions(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    title: str,
    action: str,
) -> TemplateResponse | None:
    """Lift the suppression of every selected address (recipients or suppressions), with the
    reason the form asks for; the intermediate page first."""
    form = action_form(UnsuppressForm, request)
    if not form.is_valid():
        return intermediate_page(model_admin, request, queryset, form, title=title, action=action)
    lifted = sum(
        services.suppression_delete(
            email=email,
            reason=form.cleaned_data["reason"],
            source=Source.ADMIN,
            created_by=request.user,
        )
        for email in queryset.values_list("email", flat=True).iterator()
    )
    model_admin.message_user(request, f"Lifted {lifted:,} suppressions.")
    return None
