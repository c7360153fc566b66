"""The admin's import page: upload a CSV, run the import, show the summary and the report."""

from django.contrib.admin import AdminSite
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from recipients.csv_import import ImportFileError, recipients_import
from recipients.forms import ImportForm
from recipients.models import List


def import_view(site: AdminSite, request: HttpRequest) -> HttpResponse:
    summary = None
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                summary = recipients_import(
                    file=upload.file,
                    list_slug=form.cleaned_data["list_slug"],
                    filename=upload.name,
                    source="admin",
                    created_by=request.user,
                    encoding=form.cleaned_data["encoding"],
                )
            except ImportFileError as exc:
                form.add_error("file", f"{exc} Nothing was imported.")
            except ValidationError as exc:
                form.add_error("list_slug", exc.messages)
        if summary is None:
            status = 400
    else:
        form = ImportForm(initial={"list_slug": request.GET.get("list", "")})
    return TemplateResponse(
        request,
        "recipients/admin/import.html",
        {
            **site.each_context(request),
            "title": "Import recipients",
            "form": form,
            "summary": summary,
            "lists": List.objects.values_list("slug", "name"),
            "opts": List._meta,
        },
        status=status,
    )
