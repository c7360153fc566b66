"""From CSV lines to valid rows: the header's meaning, and every row checked on its own.

The header decides, once for the whole file, which column is the address, which map to
Recipient fields and which become attributes. A row is rejected (with its reason, through the
`reject` callback) when it has the wrong number of fields or a malformed or empty address. A
field over its length is only noted on the row (`problem`): whether an address or external_id
was already given on an earlier line is decided after parsing, a batch at a time, against a
scratch database (recipients.imports.repeats), and a repeated address is reported as such even
when the row is also too long. Nothing here grows with the file.

A cell that begins with apostrophes followed by a formula character (`'=...`, as mailhub's
exports and reports escape them) loses one apostrophe (recipients.csv_cells.unescape_cell).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii

from django.core.exceptions import ValidationError

from recipients.csv_cells import unescape_cell
from recipients.exceptions import ImportFileError
from recipients.normalise import MAX_EMAIL_LENGTH, is_common_address, normalise_email

Reject = Callable[[int, list[str], str], None]  # (line, the row as given, reason)

# Header spellings (after lower-casing, and " " and "-" → "_") mapped to Recipient fields.
FIELD_ALIASES = {
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "emailaddress": "email",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "external_id": "external_id",
    "externalid": "external_id",
}
FIELD_MAX_LENGTH = {"first_name": 150, "last_name": 150, "external_id": 255}


@dataclass(slots=True)
class Row:
    line: int
    raw: list[str]
    email: str
    fields: dict[str, str]  # non-empty first_name / last_name / external_id
    attributes: dict[str, str]
    # Why the row is rejected unless it repeats an earlier address (a field over its length):
    # a repeat is the reason given first, and repeats are found after parsing (.repeats).
    problem: str | None = None


class RowParser:
    """Reads the header once (`read_header`), then turns each line into a Row or a rejection."""

    def __init__(self, reject: Reject) -> None:
        self.reject = reject
        self.header: list[str] = []
        self.email_index = 0
        self.field_columns: list[tuple[int, str, int]] = []  # (index, field, max length)
        self.attribute_columns: list[tuple[int, str]] = []  # (index, attribute name)

    def read_header(self, header: list[str]) -> None:
        """Work out each column's meaning; ImportFileError if the header is unusable."""
        if not header or not any(h.strip() for h in header):
            raise ImportFileError("The file is empty: the first line must be a header row.")
        self.header = header
        taken: dict[str, str] = {}
        columns: list[tuple[int, str, bool]] = []  # (index, field or attribute, is_field)
        for index, name in enumerate(header):
            label = name.strip()
            if label.startswith("'"):
                label = unescape_cell(label)
            if not label:
                continue  # unnamed columns (trailing commas from spreadsheets) are ignored
            key = label.lower().replace(" ", "_").replace("-", "_")
            target = FIELD_ALIASES.get(key)
            name_taken = target or label
            if name_taken in taken:
                raise ImportFileError(
                    f"Columns {taken[name_taken]!r} and {label!r} both give {name_taken!r}; "
                    "keep one."
                )
            taken[name_taken] = label
            columns.append((index, target or label, target is not None))
        emails = [i for i, name, is_field in columns if is_field and name == "email"]
        if not emails:
            found = ", ".join(repr(h.strip()) for h in header[:10] if h.strip()) or "none"
            raise ImportFileError(
                f"No email column: the header row has {found}. Name the address column 'email'."
            )
        self.email_index = emails[0]
        # What `parse` does with each other column, worked out once for the whole file.
        self.field_columns = [
            (i, name, FIELD_MAX_LENGTH[name])
            for i, name, is_field in columns
            if is_field and name != "email"
        ]
        self.attribute_columns = [(i, name) for i, name, is_field in columns if not is_field]

    def parse(self, line: int, raw: list[str]) -> Row | None:
        """The row (valid, or with its `problem`), or None once `raw` has been rejected."""
        width = len(self.header)
        if len(raw) != width and not (len(raw) > width and not any(raw[width:])):
            self.reject(line, raw, f"the row has {len(raw)} fields; the header has {width}")
            return None
        value = raw[self.email_index]
        email = value.strip().lower()
        if "'" in email and email[0] == "'":  # (`in` first: the cheapest test per row)
            value = unescape_cell(value.strip())
            email = value.lower()
        # The common shape is accepted here without a call (the first check normalise_email
        # makes, so the decision is the same); anything else goes through normalise_email.
        if len(email) > MAX_EMAIL_LENGTH or not is_common_address(email):
            try:
                email = normalise_email(value)
            except ValidationError as exc:
                self.reject(line, raw, exc.messages[0])
                return None
        fields: dict[str, str] = {}
        for index, name, limit in self.field_columns:
            if value := raw[index].strip():
                if value[0] == "'":
                    value = unescape_cell(value)
                if len(value) > limit:
                    reason = f"{name} is {len(value)} characters; the limit is {limit}"
                    return Row(line, raw, email, fields, {}, problem=reason)
                fields[name] = value
        # A loop, not a comprehension: Python 3.11 makes a function call of every one.
        attributes: dict[str, str] = {}
        for index, name in self.attribute_columns:
            if value := raw[index].strip():
                attributes[name] = unescape_cell(value) if value[0] == "'" else value
        return Row(line, raw, email, fields, attributes)


def attributes_json(attributes: dict[str, str]) -> str:
    """json.dumps(attributes) of a row's attributes (text keys and values), built from its own
    string encoder: several times faster for a row's few short attributes."""
    if not attributes:
        return "{}"
    encode = encode_basestring_ascii
    return "{" + ", ".join([f"{encode(k)}: {encode(v)}" for k, v in attributes.items()]) + "}"


def new_person_values(row: Row) -> tuple[str, str, str, str | None, str]:
    """What a new person's row stores from an import row, in the writers' column order:
    email, first and last name, external id, attributes as JSON text."""
    fields = row.fields
    return (
        row.email,
        fields.get("first_name", ""),
        fields.get("last_name", ""),
        fields.get("external_id"),
        attributes_json(row.attributes),
    )


def chunks(rows: Iterable[Row], size: int) -> Iterator[list[Row]]:
    """`rows` in lists of `size` (the last one shorter)."""
    chunk: list[Row] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
