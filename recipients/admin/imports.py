"""The admin's CSV import pages: upload (the file is queued for a worker), the run's page
(progress while a worker imports, then the outcome), and the rejected rows' download.

Nothing here imports: the upload goes to recipients.imports.runs.import_submit, and a worker
runs the import (recipients.jobs), so the web process is never tuned or held up by one.
"""

import re
import unicodedata

from django.contrib.admin import AdminSite
from django.contrib.admin.helpers import AdminForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.utils.http import content_disposition_header

from recipients.exceptions import ImportFileError
from recipients.forms import ImportForm
from recipients.imports.progress import progress_read
from recipients.imports.runs import import_submit
from recipients.models import ImportRun, List

REFRESH_SECONDS = 1
# Starting an import creates an ImportRun; reading runs and their reports needs its view.
START_IMPORT = "recipients.add_importrun"
VIEW_IMPORTS = "recipients.view_importrun"


def import_page(site: AdminSite, request: HttpRequest) -> HttpResponse:
    """The upload form; a valid upload is queued and answered with a redirect to its run."""
    if not request.user.has_perm(START_IMPORT):
        return HttpResponse("You may not import recipients.", status=403)
    status = 200
    if request.method == "POST":
        form = ImportForm(request.POST, request.FILES)
        status = 400
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                run = import_submit(
                    file=upload,
                    filename=upload.name,
                    list_slug=form.cleaned_data["list_slug"],
                    encoding=form.cleaned_data["encoding"],
                    created_by=request.user,
                )
            except ImportFileError as exc:
                form.add_error("file", f"{exc} Nothing was imported.")
            except ValidationError as exc:
                form.add_error("list_slug", exc.messages)
            except LookupError:
                form.add_error("encoding", "Unknown encoding.")
            else:
                if run.status != ImportRun.Status.FAILED:
                    return redirect("admin:recipients_import_run", pk=run.pk)
                form.add_error(None, run.error)
                status = 503
    else:
        form = ImportForm(initial={"list_slug": request.GET.get("list", "")})
    return TemplateResponse(
        request,
        "recipients/admin/import.html",
        {
            **site.each_context(request),
            "title": "Import recipients",
            "form": form,
            "adminform": AdminForm(form, form.fieldsets, {}),
            "lists": List.objects.values_list("slug", "name"),
            "opts": List._meta,
        },
        status=status,
    )


def import_run_page(site: AdminSite, request: HttpRequest, pk: int) -> HttpResponse:
    """One import: waiting, its progress while it runs (the page refreshes itself), and then
    its counts and rejected rows, or why it failed."""
    user = request.user
    if not (user.has_perm(START_IMPORT) or user.has_perm(VIEW_IMPORTS)):
        return HttpResponse("You may not see imports.", status=403)
    run = get_object_or_404(ImportRun.objects.select_related("list"), pk=pk)
    live = progress_read(run.pk) if run.status == ImportRun.Status.RUNNING else None
    percent = None
    if live is not None and run.expected_rows:
        percent = min(100, round(100 * live.rows / run.expected_rows))
    return TemplateResponse(
        request,
        "recipients/admin/import_run.html",
        {
            **site.each_context(request),
            "title": f"Import of {run.filename or 'a file'}",
            "run": run,
            "live": live,
            "percent": percent,
            "refresh": None if run.is_finished else REFRESH_SECONDS,
            "opts": List._meta,
        },
    )


def import_report(site: AdminSite, request: HttpRequest, pk: int) -> HttpResponse:
    """The rejected rows of a run, as the CSV file it was given plus line and reason."""
    if not request.user.has_perm(VIEW_IMPORTS):
        return HttpResponse("You may not see import reports.", status=403)
    run = get_object_or_404(ImportRun, pk=pk)
    response = HttpResponse(run.report, content_type="text/csv; charset=utf-8")
    name = download_name(run.filename, suffix="-rejected.csv")
    response["Content-Disposition"] = content_disposition_header(True, name)
    return response


def download_name(filename: str, *, suffix: str, default: str = "import") -> str:
    """A download's file name from an uploaded one: its stem (no folders, no extension) in
    ASCII letters, digits, `.`, `_` and `-` only, then `suffix`. The upload's name is the
    uploader's text; quotes, semicolons or line breaks must not reach the header."""
    stem = filename.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    ascii_stem = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_stem).strip("._-")[:100]
    return f"{safe or default}{suffix}"
