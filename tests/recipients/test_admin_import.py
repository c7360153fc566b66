"""The admin's CSV import: the page queues the file, a real worker imports it, and the run's
page shows progress and then the outcome or the reason it failed."""

import re
import sys

import pytest
import redis
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from redis.backoff import NoBackoff
from redis.retry import Retry
from rq import Queue

from queueing.models import Message
from recipients import jobs
from recipients.imports import runs
from recipients.imports.tuning import SWITCH_INTERVAL
from recipients.models import ImportRun, ImportUpload, List, Recipient, Subscription
from tests.conftest import run_worker_burst, wait_until

pytestmark = pytest.mark.django_db(transaction=True)

GOOD = b"email,first_name\na@example.com,A\nbroken,B\n"


def upload(client, data: bytes, *, slug: str = "newsletter", encoding: str = "utf-8-sig"):
    return client.post(
        reverse("admin:recipients_import"),
        {
            "file": SimpleUploadedFile("people.csv", data, content_type="text/csv"),
            "list_slug": slug,
            "encoding": encoding,
        },
    )


def test_the_page_queues_the_file_and_a_worker_imports_it(admin_client, monkeypatch):
    # The web process imports nothing and never tunes the interpreter.
    tuned_in_web = []
    monkeypatch.setattr(sys, "setswitchinterval", tuned_in_web.append)
    response = upload(admin_client, GOOD)
    assert response.status_code == 302
    run = ImportRun.objects.get()
    assert response.url == reverse("admin:recipients_import_run", args=[run.pk])
    assert (run.status, run.source, run.list_slug, run.expected_rows) == (
        "queued",
        "admin",
        "newsletter",
        2,
    )
    assert run.created_by is not None
    assert ImportUpload.objects.filter(run=run).exists()
    assert not Recipient.objects.exists() and not List.objects.exists()
    waiting = admin_client.get(response.url)
    assert b"Waiting for a worker" in waiting.content
    assert b'http-equiv="refresh"' in waiting.content  # the page refreshes itself
    monkeypatch.undo()
    assert tuned_in_web == []

    # The worker's job process is tuned for the import, and restored afterwards.
    tuned_in_job = []
    real = jobs.import_run_execute

    def spy(**kwargs):
        tuned_in_job.append(sys.getswitchinterval())
        return real(**kwargs)

    monkeypatch.setattr(jobs, "import_run_execute", spy)
    before = sys.getswitchinterval()
    run_worker_burst()
    assert tuned_in_job == [min(before, SWITCH_INTERVAL)]
    assert sys.getswitchinterval() == before

    run.refresh_from_db()
    assert (run.status, run.rows, run.created, run.rejected, run.subscribed) == ("done", 2, 1, 1, 1)
    assert run.list == List.objects.get(slug="newsletter") and run.list_created
    assert not ImportUpload.objects.exists()  # deleted with the outcome
    page = admin_client.get(response.url)
    assert b'http-equiv="refresh"' not in page.content
    assert b'id="import-summary"' in page.content
    report_url = reverse("admin:recipients_import_report", args=[run.pk])
    assert report_url.encode() in page.content
    report = admin_client.get(report_url)
    assert report["Content-Type"].startswith("text/csv")
    assert b"broken" in report.content and b"not a valid email address" in report.content
    assert Subscription.objects.get().recipient.email == "a@example.com"
    assert not Message.objects.exists()  # importing sends no email


@pytest.mark.slow
def test_progress_is_shown_while_a_worker_imports(admin_client, start_worker):
    rows = 40_000
    data = b"email,first_name\n" + b"".join(
        b"user%d@example.com,N%d\n" % (i, i) for i in range(rows)
    )
    response = upload(admin_client, data)
    assert response.status_code == 302
    start_worker()
    read: list[int] = []

    def finished() -> bool:
        page = admin_client.get(response.url).content.decode()
        if found := re.search(r"Processed (\d+) of about (\d+) rows", page):
            assert int(found[2]) == rows
            read.append(int(found[1]))
        return 'data-status="done"' in page

    assert wait_until(finished, timeout=90, interval=0.05)
    assert any(0 < n < rows for n in read), read  # seen part-way, from the web process
    assert ImportRun.objects.get().created == rows


def test_a_bad_file_is_refused_at_once_and_nothing_is_stored(admin_client):
    response = upload(admin_client, b"name\nAnn\n")
    assert response.status_code == 400
    assert b"No email column" in response.content
    assert b"Nothing was imported" in response.content
    assert not ImportRun.objects.exists() and not List.objects.exists()


def test_a_file_error_the_worker_finds_fails_the_run_with_its_reason(admin_client):
    rows = b"".join(b"user%d@example.com\n" % i for i in range(2000))
    data = b"email\n" + rows + "late@example.com,Jos\u00e9\n".encode("latin-1")
    response = upload(admin_client, data)
    assert response.status_code == 302  # the opening of the file is fine
    run_worker_burst()
    run = ImportRun.objects.get()
    assert run.status == "failed"
    assert "not valid UTF-8: byte 0xe9" in run.error and "Nothing was imported" in run.error
    page = admin_client.get(response.url)
    assert b'id="import-error"' in page.content and b"byte 0xe9" in page.content
    assert b'http-equiv="refresh"' not in page.content
    assert not Recipient.objects.exists() and not List.objects.exists()
    assert not ImportUpload.objects.exists()


def test_when_redis_is_unreachable_the_upload_is_refused_and_nothing_is_left_waiting(
    admin_client, monkeypatch
):
    # Nothing listens on port 1; no retries, to fail at once.
    unreachable = redis.Redis(host="127.0.0.1", port=1, retry=Retry(NoBackoff(), 0))
    monkeypatch.setattr(
        runs.django_rq, "get_queue", lambda name: Queue(name, connection=unreachable)
    )
    response = upload(admin_client, GOOD)
    assert response.status_code == 503
    assert b"could not be queued" in response.content
    run = ImportRun.objects.get()  # kept as the record of what happened, not left queued
    assert run.status == "failed" and "Redis" in run.error
    assert not ImportUpload.objects.exists()
    assert not Recipient.objects.exists() and not List.objects.exists()


def test_a_file_over_the_size_limit_is_refused(admin_client, settings):
    settings.MAILHUB_IMPORT_MAX_BYTES = 20
    response = upload(admin_client, GOOD)
    assert response.status_code == 400
    assert b"MAILHUB_IMPORT_MAX_BYTES" in response.content
    assert not ImportRun.objects.exists()


def test_import_pages_need_their_permissions(client, django_user_model):
    clerk = django_user_model.objects.create_user("clerk", password="pw", is_staff=True)
    client.force_login(clerk)
    run = ImportRun.objects.create(list_slug="news", filename="a.csv", source="admin", rejected=1)
    run_page = reverse("admin:recipients_import_run", args=[run.pk])
    report = reverse("admin:recipients_import_report", args=[run.pk])
    assert client.get(reverse("admin:recipients_import")).status_code == 403
    assert upload(client, GOOD).status_code == 403
    assert ImportRun.objects.count() == 1  # nothing queued
    assert client.get(run_page).status_code == 403
    assert client.get(report).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="view_importrun"))
    assert client.get(run_page).status_code == 200
    assert client.get(report).status_code == 200
    history = reverse("admin:recipients_importrun_change", args=[run.pk])
    assert run_page.encode() in client.get(history).content
    assert client.get(reverse("admin:recipients_import")).status_code == 403
    clerk.user_permissions.add(Permission.objects.get(codename="add_importrun"))
    assert upload(client, GOOD).status_code == 302


def test_the_import_page_is_laid_out_like_an_admin_form(admin_client):
    List.objects.create(slug="news", name="News")
    html = admin_client.get(reverse("admin:recipients_import")).content.decode()
    assert 'class="module aligned' in html
    assert '<label class="required" for="id_file">' in html
    assert re.search(r'<input type="text" name="list_slug"[^>]*class="vTextField"', html)
    assert '<datalist id="lists"><option value="news">News</option></datalist>' in html
