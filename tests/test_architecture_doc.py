"""docs/ARCHITECTURE.md against the code: its transition tables are queueing.state_machine's,
and every file path it names exists.

The tables are read from the page (the rows under "### Message transitions" and "### Batch
transitions": from | to | made by, `new` for no row yet) and compared with TRANSITIONS and
BATCH_TRANSITIONS. On a difference the failure prints the table as the code has it, to paste.
"""

import re
from pathlib import Path

import pytest

from queueing import state_machine

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "ARCHITECTURE.md"
NEW = "new"  # the page's word for "no row yet" (None in the tables)

TABLES = {
    "Message transitions": state_machine.TRANSITIONS,
    "Batch transitions": state_machine.BATCH_TRANSITIONS,
}

Row = tuple[str, str, str]  # from, to, made by


def _value(status) -> str:
    return NEW if status is None else str(getattr(status, "value", status))


def code_rows(table: dict) -> list[Row]:
    return [(_value(from_), _value(to), made_by) for (from_, to), made_by in table.items()]


def as_markdown(rows: list[Row]) -> str:
    lines = ["| from | to | made by |", "| --- | --- | --- |"]
    lines += [f"| `{from_}` | `{to}` | {made_by} |" for from_, to, made_by in rows]
    return "\n".join(lines)


def doc_rows(text: str, heading: str) -> list[Row]:
    """The table that follows `### <heading>` on the page, header and rule left out."""
    lines = text.splitlines()
    try:
        start = lines.index(f"### {heading}")
    except ValueError:
        pytest.fail(f"docs/ARCHITECTURE.md has no '### {heading}' heading")
    rows: list[Row] = []
    in_table = False
    for line in lines[start + 1 :]:
        if not line.startswith("|"):
            if in_table:
                break
            if line.startswith("#"):
                break
            continue
        in_table = True
        cells = [cell.strip().strip("`").strip() for cell in line.strip().strip("|").split("|")]
        if cells[:2] == ["from", "to"] or set("".join(cells)) <= set("-: "):
            continue
        assert len(cells) == 3, f"'{heading}': expected from | to | made by, got {line!r}"
        rows.append((cells[0], cells[1], cells[2]))
    assert rows, f"docs/ARCHITECTURE.md: no table under '### {heading}'"
    return rows


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("heading", list(TABLES))
def test_transition_table_matches_the_state_machine(doc: str, heading: str) -> None:
    expected = code_rows(TABLES[heading])
    drawn = doc_rows(doc, heading)
    drawn_pairs = [(from_, to) for from_, to, _ in drawn]
    expected_pairs = [(from_, to) for from_, to, _ in expected]
    assert len(drawn_pairs) == len(set(drawn_pairs)), f"'{heading}': a (from, to) pair twice"
    missing = sorted(set(expected_pairs) - set(drawn_pairs), key=str)
    extra = sorted(set(drawn_pairs) - set(expected_pairs), key=str)
    assert not missing and not extra, (
        f"docs/ARCHITECTURE.md '{heading}' differs from queueing.state_machine: "
        f"missing {missing}, not in the code {extra}. The table as the code has it:\n\n"
        + as_markdown(expected)
    )


@pytest.mark.parametrize("heading", list(TABLES))
def test_transition_table_says_who_makes_each_change(doc: str, heading: str) -> None:
    expected = {(f, t): by for f, t, by in code_rows(TABLES[heading])}
    drawn = {(f, t): by for f, t, by in doc_rows(doc, heading)}
    wrong = {pair: by for pair, by in drawn.items() if pair in expected and expected[pair] != by}
    assert not wrong, (
        f"docs/ARCHITECTURE.md '{heading}': 'made by' differs from queueing.state_machine "
        f"for {sorted(wrong, key=str)}. The table as the code has it:\n\n"
        + as_markdown(code_rows(TABLES[heading]))
    )


# A backticked name that is a path in the repository: no spaces, and a folder in it or a
# file ending. Paths starting with "/" are URLs (`/_sandbox/`), with ".." outside the repo.
_CODE_SPAN = re.compile(r"`([^`]+)`")
_PATH = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_./-]*")
_FILE_ENDINGS = (".py", ".md", ".example", ".toml", ".html", ".txt")
_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def named_paths(text: str) -> set[str]:
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    paths = set()
    for span in _CODE_SPAN.findall(text):
        if not _PATH.fullmatch(span) or span.startswith(".."):
            continue
        if "/" in span or span.endswith(_FILE_ENDINGS):
            paths.add(span)
    return paths


def test_every_path_named_exists(doc: str) -> None:
    missing = sorted(p for p in named_paths(doc) if not (ROOT / p).exists())
    missing += sorted(
        f"docs/{target}" for target in _LINK.findall(doc) if not (DOC.parent / target).exists()
    )
    assert not missing, f"docs/ARCHITECTURE.md names paths that do not exist: {missing}"


def test_the_path_check_sees_paths() -> None:
    text = "`queueing/hooks.py`, `.env.example`, `/_sandbox/`, `campaigns.services`, `a b/c`"
    assert named_paths(text) == {"queueing/hooks.py", ".env.example"}
