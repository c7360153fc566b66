"""What every action with a form shares: its intermediate page.

An action first answers with a page holding its form and the selection; the POST from that
page carries "apply" and does the work. Used by the recipient and suppression admins.
"""

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


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
