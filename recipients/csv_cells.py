"""Spreadsheet formula escaping for the CSV files mailhub writes, and its undoing on import.

A spreadsheet runs a cell that begins with `=`, `+`, `-` or `@` (and, in some, after a tab or
carriage return) as a formula, so a recipient named `=HYPERLINK(...)` could run in the
spreadsheet of whoever opens an export. Such a cell is written with an apostrophe in front
(OWASP's advice: spreadsheets show it as text), and the import takes one apostrophe off again,
so an export imports back unchanged:

- `escape_value` (exports: values as stored) prefixes a value that begins with a formula
  character, also after apostrophes of its own (`'=x` is written `''=x`), so that the import's
  one-apostrophe undoing gives back exactly the stored value;
- `safe_cell` (the rejected-rows report: cells as given in a file) prefixes only a cell that
  begins with a formula character, so each cell means on re-import what it meant when given;
- `unescape_cell` (imports) removes one apostrophe from a cell that begins with apostrophes
  followed by a formula character. Other leading apostrophes are kept.
"""

FORMULA_STARTS = frozenset("=+-@\t\r")


def escape_value(value: str) -> str:
    """A stored value as a CSV cell no spreadsheet runs, that imports back as `value`."""
    # The first test keeps the common case (a plain value) to one look at one character.
    if value[:1] in FORMULA_STARTS or (
        value[:1] == "'" and value.lstrip("'")[:1] in FORMULA_STARTS
    ):
        return "'" + value
    return value


def safe_cell(cell: str) -> str:
    """A cell as given in a file, written so that no spreadsheet runs it."""
    return "'" + cell if cell and cell[0] in FORMULA_STARTS else cell


def unescape_cell(cell: str) -> str:
    """Undo the escaping of a cell read from a file (the caller checks `cell[:1] == "'"`)."""
    if cell.lstrip("'")[:1] in FORMULA_STARTS:
        return cell[1:]
    return cell
